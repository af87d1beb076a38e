"""Which Chromium Playwright drives, and how it gets onto a fresh machine.

Playwright's own browser build is preferred; where it cannot be downloaded (closed networks), the system's
Chromium is used instead. `python -m reconwb.browser install` is what `make` runs: it leaves a usable Chromium or
says exactly what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def bundled_executable() -> Path | None:
    """Playwright's own Chromium, if it has been downloaded."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            path = Path(pw.chromium.executable_path)
    except Exception:
        return None
    return path if path.exists() else None


def system_executable() -> Path | None:
    explicit = os.environ.get("RECONWB_CHROMIUM")
    if explicit:
        return Path(explicit)
    for name in SYSTEM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch_options() -> dict[str, Any]:
    """Keyword arguments for `chromium.launch`: the system binary when Playwright's own is missing."""
    options: dict[str, Any] = {"headless": True, "args": list(LAUNCH_ARGS)}
    if bundled_executable() is None:
        system = system_executable()
        if system is None:
            raise RuntimeError(
                "no Chromium found: run `make install`, or `apt-get install chromium`, or set RECONWB_CHROMIUM"
            )
        options["executable_path"] = str(system)
    return options


def launch(pw: Playwright) -> Browser:
    return pw.chromium.launch(**launch_options())


def install() -> int:
    """Make sure a Chromium is available; return a process exit code."""
    if bundled_executable() or system_executable():
        print("chromium: available")
        return 0
    print("chromium: trying Playwright's download")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "playwright", "install", "chromium"], timeout=300, check=False
        )
        if done.returncode == 0 and bundled_executable():
            return 0
    except subprocess.TimeoutExpired:
        pass
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("chromium: Playwright's download failed; installing the system package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
        if system_executable():
            return 0
    print(
        "error: no Chromium for Playwright. Install one: `sudo apt-get install chromium` (Debian/Ubuntu),"
        " or `python -m playwright install --with-deps chromium`, or set RECONWB_CHROMIUM to a Chromium binary.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        sys.exit(install())
    print(launch_options())
