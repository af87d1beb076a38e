"""Fast start: the command index read from source agrees with what the modules register, and light commands do
not import the heavy libraries (the figures themselves are in bench/bench_startup.py)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import click.testing

from reconwb.cli import lazy
from reconwb.cli.base import cli
from tests.conftest import ROOT

HEAVY = ("polars", "pyarrow", "pandas", "papermill", "nbformat", "playwright", "matplotlib", "jupyter_client", "scipy",
         "httpx", "ipywidgets", "jinja2", "cryptography", "stdnum", "charset_normalizer", "ssl")


def _registered(group: click.Group, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found = set()
    for name, command in group.commands.items():
        found.add((*path, name))
        if isinstance(command, click.Group):
            found |= _registered(command, (*path, name))
    return found


def test_the_index_names_every_command_its_module_registers() -> None:
    for path in Path(lazy.__file__).parent.glob("*.py"):
        if path.stem not in lazy.NOT_COMMANDS:
            importlib.import_module(f"reconwb.cli.{path.stem}")
    registered = _registered(cli)
    indexed = set(lazy.index().module)
    named_at_import = {p for p in registered - indexed if p[:-1] in lazy.index().dynamic}
    assert registered - indexed == named_at_import and indexed <= registered
    for path in indexed:
        command = cli
        for part in path:
            command = command.commands[part]
        assert importlib.import_module(lazy.index().module[path]).__name__ == command.callback.__module__
        if len(path) == 1:
            assert lazy.short_help(path) == command.get_short_help_str(300)


def _imported_after(*argv: str, cwd: Path) -> dict:
    code = ("import json, sys\nfrom reconwb.cli import main\nimport contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    code = main(sys.argv[1:])\n"
            "print(json.dumps({'code': code, 'modules': sorted(m.split('.')[0] for m in sys.modules)}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(ROOT)}, timeout=120, check=True)
    return json.loads(done.stdout)


def test_help_and_light_commands_leave_the_heavy_libraries_unimported(tmp_path: Path) -> None:
    help_run = _imported_after("--help", cwd=tmp_path)
    assert help_run["code"] == 0 and "duckdb" not in help_run["modules"]
    assert not set(HEAVY) & set(help_run["modules"])
    assert _imported_after("init", cwd=tmp_path)["code"] == 0
    for argv in (("connections", "list", "--json"), ("jobs", "history", "--json")):
        run = _imported_after(*argv, cwd=tmp_path)
        assert run["code"] == 0, argv
        assert not set(HEAVY) & set(run["modules"]), (argv, set(HEAVY) & set(run["modules"]))


def test_every_group_still_lists_all_its_subcommands() -> None:
    runner = click.testing.CliRunner()
    for name in ("matches", "connections", "banks", "jobs"):
        shown = runner.invoke(cli, [name, "--help"]).output
        command = cli.get_command(click.Context(cli), name)
        assert all(sub in shown for sub in command.commands), name
    assert "accept" in runner.invoke(cli, ["matches", "--help"]).output
