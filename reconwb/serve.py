"""`reconwb serve`: one Jupyter server on the workspace folder: JupyterLab, Voila dashboards, the webhook receiver.

The configuration (`jupyter_config.py`) and the dashboards ship in the package (`reconwb.resources`), so the
server runs the same from a source checkout and from a `pip install`ed wheel.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from reconwb import resources
from reconwb.errors import InvalidInput
from reconwb.workspace import Workspace

try:
    import fcntl
except ImportError:  # not POSIX: no lock, a second server on the same folder is not detected
    fcntl = None  # type: ignore[assignment]

DASHBOARDS = ("reconciliation", "connections")  # the built-in ones, in the order `serve` prints them
SERVING_LOCK = ".reconwb-serving.lock"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server started next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    base: str, token: str, *, timeout: float = 120.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until the Jupyter server at `base` answers `/api/status`; RuntimeError if it died or never did."""
    deadline = time.monotonic() + timeout
    auth = {"Authorization": f"token {token}"}
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Jupyter server at {base} exited with code {process.returncode}")
        try:
            if httpx.get(f"{base}/api/status", headers=auth, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the Jupyter server at {base} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


@dataclass(frozen=True)
class ServerPlan:
    port: int
    token: str
    root: Path
    config: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def urls(self) -> dict[str, str]:
        q = f"?token={self.token}"
        found = {"lab": f"{self.base}/lab{q}"}
        own = resources.names(resources.DASHBOARDS, self.root)
        for name in [*DASHBOARDS, *(n for n in own if n not in DASHBOARDS)]:
            found[name] = f"{self.base}/voila/render/dashboards/{name}.ipynb{q}"
        return found

    def command(self) -> list[str]:
        root_user = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return [
            sys.executable,
            "-m",
            "jupyterlab",  # not `jupyter lab`: that looks for a `jupyter-lab` script on PATH
            f"--config={self.config}",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--no-browser",
            *root_user,
        ]


def plan(port: int = 8888, token: str | None = None, root: Path | None = None) -> ServerPlan:
    """A server on `root` (the workspace folder; default the current directory) with the shipped configuration."""
    return ServerPlan(
        port=port,
        token=token or secrets.token_urlsafe(24),
        root=(root or Path.cwd()).absolute(),
        config=resources.jupyter_config(),
    )


def serving_pid(root: Path) -> int | None:
    """The process id of the reconwb server serving folder `root` now, or None (0 when the id is unreadable).

    A server holds an advisory lock on `root/.reconwb-serving.lock` for as long as it runs (the Jupyter process
    inherits it, so the lock goes with the server even if `reconwb serve` itself is killed); a stale file left by
    a crash is free again.
    """
    path = root / SERVING_LOCK
    if fcntl is None or not path.is_file():
        return None
    with path.open("r") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = lock.read().strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(lock, fcntl.LOCK_UN)
    return None


def _claim(root: Path) -> int | None:
    """Lock `root` for one server; InvalidInput when another reconwb server already has it."""
    if fcntl is None:
        return None
    fd = os.open(root / SERVING_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        pid = serving_pid(root)
        raise InvalidInput(
            f"{root} is already served by another reconwb process{f' (pid {pid})' if pid else ''}; stop it first"
        ) from None
    return fd


def start(ws: Workspace, server: ServerPlan, *, quiet: bool = False) -> subprocess.Popen[bytes]:
    """Start the server in the background; kernels inherit the workspace through the environment."""
    env = {**os.environ, "RECONWB_DB": str(ws.db_path)}
    if ws.key_file and not os.environ.get("RECONWB_KEY"):
        env["RECONWB_KEY_FILE"] = str(ws.key_file)
    out = subprocess.DEVNULL if quiet else None
    server.root.mkdir(parents=True, exist_ok=True)
    fd = _claim(server.root)
    try:
        process = subprocess.Popen(server.command(), env=env, cwd=server.root, stdout=out, stderr=out,
                                   pass_fds=() if fd is None else (fd,))
        if fd is not None:
            os.ftruncate(fd, 0)
            os.write(fd, str(process.pid).encode())
    finally:
        if fd is not None:
            os.close(fd)  # the server process holds its own copy of the lock
    return process
