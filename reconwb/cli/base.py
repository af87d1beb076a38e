"""The root command group and the small helpers every command module shares."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from reconwb import jsonutil, money
from reconwb.workspace import Workspace


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--db", "db", metavar="PATH", envvar="RECONWB_DB", help="The store (default data/reconwb.duckdb).")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """reconwb: bank reconciliation workbench."""
    ctx.obj = Workspace.from_env(db)


pass_ws = click.make_pass_decorator(Workspace)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def emit(data: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print `data` as JSON, or as the text `text(data)` renders for people."""
    if as_json:
        sys.stdout.write(jsonutil.dumps(data, indent=2) + "\n")
    elif text is not None:
        rendered = text(data)
        if rendered:
            click.echo(rendered)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned table for the terminal."""
    if not rows:
        return "(none)"
    cells = [[("" if r.get(c) is None else money.display(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def read_secret(from_stdin: bool, prompt: str) -> str:
    """A secret from stdin (first line) or a no-echo prompt; never from an argument."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = click.prompt(prompt, hide_input=True, confirmation_prompt=False, default="", show_default=False)
    return value
