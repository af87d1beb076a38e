"""`reconwb demo`."""

from __future__ import annotations

from pathlib import Path

import click

from reconwb import demo
from reconwb.cli.base import cli, emit, table


def _text(r: dict) -> str:
    lines = [
        f"demo workspace: {r['workspace']}",
        table(r["connections"], ["name", "bank", "connector", "health", "transactions", "matched", "reason"]),
        f"deposits matched: {r['matched']}, waiting for review: {r['suggested']}, unmatched: {r['unmatched']},"
        f" pending at the bank: {r['pending']}",
        f"payments: {r['payments']}",
        f"webhooks delivered: {r['webhooks_delivered']} (received and verified by the demo endpoint:"
        f" {r['webhooks_received']}, {r['webhooks_by_type']})",
        f"failed logins counted by the bank portal: {r['bank_portal_failed_logins']}",
        *(f"banner [{b['connection']}] {b['title']}: {b['message']}" for b in r.get("banners", [])),
    ]
    if r["job"]:
        lines.append(f"pipeline job {r['job']['id']}: {r['job']['status']}, output {r['job']['output_path']}")
    return "\n".join(lines)


@cli.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the summary instead of serving JupyterLab.")
@click.option("--port", type=int, default=8888, show_default=True, help="Port of the Jupyter server.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document on stdout.")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=demo.DEMO_DIR,
              show_default=True, help="The demo workspace (a folder the demo makes).")
@click.option("--fresh", is_flag=True, help="Delete an earlier demo workspace in that folder and start over.")
def demo_cmd(no_serve: bool, port: int, as_json: bool, root: Path, fresh: bool) -> None:
    """Run the end-to-end demo on a workspace of its own (data/demo/ unless --dir says otherwise).

    It never touches other work: it refuses a folder it did not make, or one another reconwb process serves,
    and starts over an earlier demo only with --fresh.
    """
    def say(message: str) -> None:
        click.echo(message, err=True)

    running = demo.start(root, serve=not no_serve, port=port, fresh=fresh, say=say)
    try:
        say("running the pipeline job (sync, reconcile, deliver webhooks)…")
        result = demo.summary(running, demo.run_pipeline(running))
        emit(result, as_json, _text)
        if running.server is not None:
            say("\nJupyterLab and the dashboards (Ctrl-C stops everything the demo started):")
            for name, url in running.urls.items():
                say(f"  {name:>15}: {url}")
            running.server.wait()
    except KeyboardInterrupt:
        say("stopping")
    finally:
        running.close()
