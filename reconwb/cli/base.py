"""The root command group and the small helpers every command module shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from reconwb import jsonutil, money
from reconwb.cli.lazy import LazyGroup
from reconwb.errors import NotFound
from reconwb.workspace import DB_ENV, Workspace, discover


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reconwb")
    except PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
        return "unknown (not installed)"


def _show_version(ctx: click.Context, wanted: bool) -> None:
    if wanted and not ctx.resilient_parsing:
        click.echo(f"reconwb {_version()}")
        ctx.exit()


@dataclass(frozen=True)
class Target:
    """Which store the user named (`--db` or RECONWB_DB), if any; commands resolve it when they need it."""

    db: str | None

    def workspace(self) -> Workspace:
        """The named store, else the workspace found from the current directory up (like git), else an error."""
        if self.db:
            return Workspace.from_env(self.db)
        found = discover()
        if found is None:
            raise NotFound(
                f"no reconwb workspace in {Path.cwd()} or its parents; create one with `reconwb init [DIR]`,"
                f" or name a store with --db PATH or {DB_ENV}"
            )
        return Workspace.from_env(found)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--db", "db", metavar="PATH", envvar=DB_ENV,
    help="The store (default: the workspace in the current directory or above, as made by `reconwb init`).",
)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, help="Show the version and exit.",
              callback=lambda ctx, _param, wanted: _show_version(ctx, wanted))
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """reconwb: bank reconciliation workbench."""
    ctx.obj = Target(db)


def pass_ws(command: Callable[..., Any]) -> Callable[..., Any]:
    """Hand the command its workspace, resolved only when the command runs (so `--help` touches no file)."""

    @click.pass_context
    @functools.wraps(command)
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        return ctx.invoke(command, ctx.find_object(Target).workspace(), *args, **kwargs)

    return wrapper


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
