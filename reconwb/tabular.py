"""Reading the CSV/Parquet files of CONTRACTS.md strictly: exact money, ISO dates, errors that name the line.

A bad value anywhere rejects the whole file (nothing partial is stored or matched), and the message says which
file, which line (1-based, header is line 1) and which column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from reconwb.errors import InvalidInput

MONEY = pl.Decimal(18, 2)


def read_table(path: str | Path, required: Sequence[str], optional: Sequence[str] = ()) -> pl.DataFrame:
    """Every column as text (CSV) or as stored (Parquet), with the required columns checked."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidInput(f"{path}: cannot read: {first}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(required)})")
    keep = [c for c in [*required, *optional] if c in frame.columns]
    return frame.select(keep)


def _first_bad(frame: pl.DataFrame, ok: pl.Series) -> int:
    return int(ok.not_().arg_true()[0]) + 2


def money(frame: pl.DataFrame, column: str, path: str | Path, *, positive: bool = False) -> pl.Series:
    """`column` as exact Decimal(18,2); any value that is not a plain decimal with at most 2 places is an error."""
    raw = frame[column]
    if raw.dtype == pl.String:
        text = raw.str.strip_chars()
        ok = text.str.contains(r"^[+-]?\d{1,16}(\.\d{1,2})?$").fill_null(False)
        if not ok.all():
            line = _first_bad(frame, ok)
            raise InvalidInput(f"{path}: line {line}: {column} {raw[line - 2]!r} is not a decimal amount")
        values = text.cast(MONEY)
    else:
        values = raw.cast(MONEY, strict=False)
        ok = values.is_not_null() & raw.is_not_null()
        if not ok.all():
            raise InvalidInput(f"{path}: line {_first_bad(frame, ok)}: {column} is not a decimal amount")
    if positive:
        ok = values > 0
        if not ok.all():
            line = _first_bad(frame, ok)
            raise InvalidInput(f"{path}: line {line}: {column} must be positive, got {values[line - 2]}")
    return values


def date(frame: pl.DataFrame, column: str, path: str | Path, *, required: bool = False) -> pl.Series:
    """`column` as a Date from ISO text; empty means unknown unless `required`."""
    if column not in frame.columns:
        if required:
            raise InvalidInput(f"{path}: missing column {column}")
        return pl.Series(column, [None] * frame.height, dtype=pl.Date)
    raw = frame[column]
    if raw.dtype in (pl.Date, pl.Datetime):
        values = raw.cast(pl.Date)
        text = raw.cast(pl.String)
    else:
        text = raw.str.strip_chars()
        values = text.str.to_date("%Y-%m-%d", strict=False)
    blank = text.is_null() | (text == "")
    ok = values.is_not_null() | (blank & (not required))
    if not ok.all():
        line = _first_bad(frame, ok)
        raise InvalidInput(f"{path}: line {line}: {column} {raw[line - 2]!r} is not an ISO date (YYYY-MM-DD)")
    return values


def text(frame: pl.DataFrame, column: str, path: str | Path, *, required: bool = False) -> pl.Series:
    if column not in frame.columns:
        return pl.Series(column, [""] * frame.height, dtype=pl.String)
    values = frame[column].cast(pl.String).fill_null("").str.strip_chars()
    if required:
        ok = values != ""
        if not ok.all():
            raise InvalidInput(f"{path}: line {_first_bad(frame, ok)}: {column} is empty")
    return values
