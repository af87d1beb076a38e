"""`reconwb serve`."""

from __future__ import annotations

import signal

import click

from reconwb import serve
from reconwb.cli.base import cli, pass_ws
from reconwb.workspace import Workspace


@cli.command("serve")
@click.option("--port", type=int, default=8888, show_default=True)
@click.option("--token", envvar="RECONWB_SERVER_TOKEN", help="Server token (default: a random one, printed).")
@pass_ws
def serve_cmd(ws: Workspace, port: int, token: str | None) -> None:
    """JupyterLab on the workspace folder, the Voila dashboards and the webhook receiver, in one server on 127.0.0.1."""
    server = serve.plan(port=port, token=token, root=ws.data_dir)
    process = serve.start(ws, server)
    for name, url in server.urls().items():
        click.echo(f"{name:>15}: {url}")
    # A service manager (or a test) stops us with SIGTERM: take the Jupyter server and its kernels down too,
    # instead of leaving them running as orphans.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
    raise SystemExit(code)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
