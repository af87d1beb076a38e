"""A job notebook's parameters, read from its `parameters` cell, and values checked against them.

A wrong value (`jobs run sync -p since yesterday`) must fail in one line before a kernel starts, not as a
traceback inside the run. The cell is the one source: each parameter's type is its annotation, or else the type of
its default (`concurrency = 4` takes whole numbers). The annotation stands on a line of its own before the
assignment (`since: date | None` then `since = None  # ...`) so that papermill, which reads `name = value` lines,
still sees every parameter; `name: type = value` on one line works too. The cell is read with `ast`, without
importing papermill, and runs unchanged under papermill and Airflow.

Types understood: `str`, `int`, `float` (a whole number is fine), `bool`, `date` (ISO text, YYYY-MM-DD), `None`,
`Any`, `list[X]`, `Optional[X]`, `Union[X, Y]` and `X | Y`.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconwb.errors import InvalidInput

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Parameter:
    name: str
    default: str  # as written in the cell
    type_text: str  # the annotation, or what the default implies ("Any" for None)
    accepts: Check


def _is_date(value: Any) -> bool:
    if isinstance(value, dt.date):
        return True
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str) and len(value) == 10


_NAMED: dict[str, Check] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "date": _is_date,
    "None": lambda v: v is None,
    "NoneType": lambda v: v is None,
    "Any": lambda v: True,
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
}


def _any_of(checks: list[Check]) -> Check:
    return lambda v: any(check(v) for check in checks)


def _compile(node: ast.expr, where: str) -> Check:
    """A check from a type expression; InvalidInput for one this module does not understand."""
    if isinstance(node, ast.Constant) and node.value is None:
        return _NAMED["None"]
    if isinstance(node, ast.Name) and node.id in _NAMED:
        return _NAMED[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _any_of([_compile(node.left, where), _compile(node.right, where)])
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if node.value.id == "Optional" and len(inner) == 1:
            return _any_of([_compile(inner[0], where), _NAMED["None"]])
        if node.value.id == "Union":
            return _any_of([_compile(n, where) for n in inner])
        if node.value.id == "list" and len(inner) == 1:
            item = _compile(inner[0], where)
            return lambda v: isinstance(v, list) and all(item(x) for x in v)
    raise InvalidInput(f"{where}: a parameter type reconwb does not understand: {ast.unparse(node)!r}")


def _from_default(value: ast.expr) -> str:
    try:
        default = ast.literal_eval(value)
    except ValueError:
        return "Any"
    return "Any" if default is None else type(default).__name__


def _parameters_cell(path: Path) -> str:
    try:
        book = json.loads(path.read_text(encoding="utf-8"))
        cells = book["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InvalidInput(f"{path} is not a readable notebook: {err}") from None
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else str(source)
    return ""


def declared(path: Path) -> dict[str, Parameter]:
    """The parameters the notebook at `path` declares, in order (none when it has no `parameters` cell)."""
    where = f"{path.name}, parameters cell"
    try:
        tree = ast.parse(_parameters_cell(path))
    except SyntaxError as err:
        raise InvalidInput(f"{where}: not valid Python: {err.msg}") from None
    found: dict[str, Parameter] = {}
    annotations: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            annotation = stmt.annotation
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                annotation = ast.parse(annotation.value, mode="eval").body
            annotations[stmt.target.id] = annotation
            if stmt.value is None:
                continue
            name, value = stmt.target.id, stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, stmt.value
        else:
            continue
        annotation = annotations.get(name) or ast.parse(_from_default(value), mode="eval").body
        found[name] = Parameter(name, ast.unparse(value), ast.unparse(annotation),
                                _compile(annotation, f"{where}: {name}"))
    return found


def describe(value: Any) -> str:
    """A value as the person typed it (JSON), cut short."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def check(job: str, path: Path, values: dict[str, Any]) -> dict[str, Parameter]:
    """Refuse a parameter the notebook does not declare, or a value of the wrong type; return what it declares."""
    known = declared(path)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidInput(
            f"job {job!r} has no parameter {', '.join(map(repr, unknown))}; it takes: {', '.join(known) or 'none'}"
        )
    for name, value in values.items():
        param = known[name]
        if not param.accepts(value):
            dates = " (dates are YYYY-MM-DD)" if "date" in param.type_text else ""
            raise InvalidInput(
                f"job {job!r}: parameter {name} must be {param.type_text}{dates} (default {param.default}),"
                f" not {describe(value)}"
            )
    return known
