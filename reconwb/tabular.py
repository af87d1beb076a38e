"""Reading the CSV/Parquet files of CONTRACTS.md strictly: exact money, ISO dates, errors that name the line.

A bad value anywhere rejects the whole file (nothing partial is stored or matched), and the message says which
file, which line (1-based, header is line 1) and which column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from reconwb import money as money_mod
from reconwb.errors import InvalidInput

MONEY = money_mod.MONEY


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


def money(frame: pl.DataFrame, column: str, path: str | Path, *, positive: bool = False,
          currency: pl.Series | None = None) -> pl.Series:
    """`column` as exact money: plain decimals with no more places than each row's currency has (ISO 4217;
    2 when no `currency` is given). A value that would need rounding is an error naming its line."""
    raw = frame[column]
    codes = currency if currency is not None else pl.Series([""] * frame.height, dtype=pl.String)
    if raw.dtype == pl.String:
        text = raw.str.strip_chars()
        ok = text.str.contains(r"^[+-]?\d{1,15}(\.\d*)?$").fill_null(False)
        if not ok.all():
            line = _first_bad(frame, ok)
            raise InvalidInput(f"{path}: line {line}: {column} {raw[line - 2]!r} is not a decimal amount")
    else:
        text = raw.cast(pl.String, strict=False)
        ok = text.is_not_null()
        if not ok.all():
            raise InvalidInput(f"{path}: line {_first_bad(frame, ok)}: {column} is not a decimal amount")
    excess = pl.DataFrame({"t": text, "c": codes}).select(money_mod.excess_expr(pl.col("t"), pl.col("c"))).to_series()
    if excess.any():
        line = _first_bad(frame, ~excess)
        raise InvalidInput(f"{path}: line {line}: {column} {raw[line - 2]!s} has more decimals than"
                           f" {codes[line - 2] or 'the currency'} allows ({money_mod.exponent(codes[line - 2])});"
                           " it is not rounded")
    values = text.cast(MONEY)
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
