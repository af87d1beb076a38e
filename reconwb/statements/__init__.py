"""Statement files (OFX/QFX, MT940, CAMT.052/053/054, CSV) read into normalised `Statement`s.

`parse` picks the reader from the file's content; `reconwb.statements.importer` stores the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconwb.statements import detect
from reconwb.statements.model import FORMATS, Statement, StatementError

if TYPE_CHECKING:
    from reconwb.statements import csv

__all__ = ["FORMATS", "Statement", "StatementError", "parse"]


def parse(
    path: Path,
    fmt: str = "auto",
    *,
    mapping: csv.CsvMapping | None = None,
    encoding: str | None = None,
    name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[str, list[Statement]]:
    """The file's format and its statements; `StatementError` (naming the file) for anything unreadable.

    `mapping` is a complete CSV mapping (a preset); `overrides` are mapping keys (a mapping file, `--map`) put
    on top of what is detected from a CSV file."""
    # each reader on use: the matching engine's file mode reads CSV only and needs no XML parser
    from reconwb.statements import camt, csv, mt940, ofx

    name = name or path.name
    if not path.is_file():
        raise StatementError("no such file", file=str(path))
    if fmt == "auto":
        fmt = "csv" if mapping is not None or overrides else detect.detect(path, name)
    if fmt == "ofx":
        return fmt, ofx.read(path, name=name, encoding=encoding)
    if fmt == "mt940":
        return fmt, mt940.read(path, name=name, encoding=encoding)
    if fmt == "camt":
        return fmt, camt.read(path, name=name)
    if fmt == "csv":
        return fmt, csv.read(path, name=name, mapping=mapping, encoding=encoding, overrides=overrides)
    raise StatementError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}", file=name)
