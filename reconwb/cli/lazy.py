"""Fast start: a command's module is imported only when that command runs.

Every cron line and script pays the CLI's start-up, and the command modules import the heavy parts (polars,
httpx, papermill, playwright) for what they do. So the root group does not import them up front: it reads the
command modules' source with `ast` (not importing it) to learn which module defines which command and the first
line of each docstring, which is all `reconwb --help` shows. Running a command imports its module; a group
(`reconwb connections ...`) imports the module that defines the subcommand asked for, and every module that adds
subcommands to it when it has to list them or the name is not written out in the source.

Command modules register themselves as before (`@cli.command("name")`, `@some_group.command("name")`); nothing
else is needed for a new module in this package to be found. A name the source does not spell out (a command
made in a loop, `group.add_command(x)`, a decorator without a name) still works: listing that group then imports
every module that adds to it, which only costs start-up time.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import click

PACKAGE = "reconwb.cli"
NOT_COMMANDS = {"__init__", "base", "lazy"}

CommandPath = tuple[str, ...]


@dataclass
class Index:
    """What the source says: the module of each command, its short help, and who adds to which group."""

    module: dict[CommandPath, str] = field(default_factory=dict)
    contributors: dict[CommandPath, set[str]] = field(default_factory=lambda: defaultdict(set))
    dynamic: set[CommandPath] = field(default_factory=set)  # groups with a subcommand named only at import time


_REGISTRATION = re.compile(
    r"^[ \t]*@(?P<parent>\w+)\.(?P<kind>command|group)\((?P<args>[^\n]*)\n(?:[^\n]*\n)*?[ \t]*def (?P<fn>\w+)\(",
    re.MULTILINE,
)
_ADD_COMMAND = re.compile(r"^[ \t]*(?P<parent>\w+)\.add_command\(", re.MULTILINE)
# a group handed to a function (`_provider_commands(plaid_group, "plaid")`) may get its subcommands there
_HANDED_ON = re.compile(r"^[ \t]*\w+\((?P<parent>\w+)\s*[,)]", re.MULTILINE)
_NAME = re.compile(r"""\s*(?:name\s*=\s*)?(?P<q>["'])(?P<name>[^"']+)(?P=q)""")


@cache
def _source(module: str) -> str:
    return Path(__file__).with_name(f"{module.rpartition('.')[2]}.py").read_text(encoding="utf-8")


@cache
def index() -> Index:
    """The index of every command module in this package (read once per process, with a regular expression:
    parsing the source would cost more than the imports it saves)."""
    modules = [f"{PACKAGE}.{p.stem}" for p in sorted(Path(__file__).parent.glob("*.py")) if p.stem not in NOT_COMMANDS]
    found = Index()
    groups: dict[str, CommandPath] = {"cli": ()}  # group variable -> command path
    pending = {m: [r.groupdict() for r in _REGISTRATION.finditer(_source(m))] for m in modules}
    progress = True
    while progress:  # groups may nest, and a module may add to a group another module defines
        progress = False
        for module, regs in pending.items():
            for reg in [r for r in regs if r["parent"] in groups]:
                regs.remove(reg)
                progress = True
                parent = groups[reg["parent"]]
                found.contributors[parent].add(module)
                named = _NAME.match(reg["args"])
                if named is None:  # named at import time, or by click after the function: import to know
                    found.dynamic.add(parent)
                    continue
                path = (*parent, named["name"])
                found.module[path] = module
                if reg["kind"] == "group":
                    groups[reg["fn"]] = path
    for module in modules:  # `group.add_command(...)`: only importing the module tells the name
        for added in [*_ADD_COMMAND.finditer(_source(module)), *_HANDED_ON.finditer(_source(module))]:
            if added["parent"] in groups:
                found.contributors[groups[added["parent"]]].add(module)
                found.dynamic.add(groups[added["parent"]])
    return found


@cache
def _docstrings(module: str) -> dict[str, str]:
    """The docstring of every function in `module`'s source, by function name (for help, without importing)."""
    tree = ast.parse(_source(module))
    return {node.name: ast.get_docstring(node) or "" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def short_help(path: CommandPath, limit: int = 300) -> str | None:
    """A command's one-line help from its module's source, or None when only importing can tell."""
    module = index().module.get(path)
    if module is None:
        return None
    for reg in _REGISTRATION.finditer(_source(module)):
        named = _NAME.match(reg["args"])
        if named and named["name"] == path[-1] and "help=" not in reg["args"]:
            doc = _docstrings(module).get(reg["fn"], "")
            return click.Command(path[-1], help=inspect.cleandoc(doc)).get_short_help_str(limit)
    return None


def _path(ctx: click.Context) -> CommandPath:
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


class LazyGroup(click.Group):
    """A group whose subcommands are imported on demand (see the module docstring)."""

    group_class = type  # subgroups made with `@group.group(...)` are lazy too

    def _import_all(self, path: CommandPath) -> None:
        for module in sorted(index().contributors.get(path, ())):
            importlib.import_module(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = index().module.get((*_path(ctx), cmd_name))
            if module is not None:
                importlib.import_module(module)
            if cmd_name not in self.commands and _path(ctx) in index().dynamic:
                self._import_all(_path(ctx))
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        path = _path(ctx)
        if path in index().dynamic:
            self._import_all(path)
        return sorted({p[-1] for p in index().module if p[:-1] == path} | set(self.commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but the short help of a command not imported yet comes from its docstring in the source."""
        path = _path(ctx)
        limit = formatter.width - 6 - max((len(n) for n in self.list_commands(ctx)), default=0)
        rows = []
        for name in self.list_commands(ctx):
            known = None if name in self.commands else short_help((*path, name), limit)
            if name in self.commands or known is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, known))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
