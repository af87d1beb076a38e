"""`reconwb demo`."""

from __future__ import annotations

import click

from reconwb import demo
from reconwb.cli.base import cli, emit, json_option, table


@cli.command("demo")
@click.option("--no-serve", is_flag=True, help="Stop after the summary instead of serving JupyterLab.")
@json_option
def demo_cmd(no_serve: bool, as_json: bool) -> None:
    """Run the end-to-end demo on a fresh workspace under data/demo/."""
    result = demo.run()
    emit(
        result,
        as_json,
        lambda r: f"demo workspace: {r['workspace']}\n"
        + table(r["connections"], ["name", "health", "transactions"])
        + f"\nmatched: {r['matched']}  unmatched: {r['unmatched']}  webhooks delivered: {r['webhooks_delivered']}",
    )
