"""Reading the CSV/Parquet files of CONTRACTS.md strictly: exact money, ISO dates, errors that name the line.

A bad value anywhere rejects the whole file (nothing partial is stored or matched), and the message says which
file, which line (1-based, header is line 1) and which column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

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


# below this many rows a file is converted row by row: the distinct values' join would cost more than it saves
PER_DISTINCT_MIN_ROWS = 20_000


def per_distinct(frame: pl.DataFrame, keys: Sequence[str], derived: Sequence[pl.Expr]) -> pl.DataFrame:
    """`frame` with the `derived` columns (expressions of the `keys` columns alone, each named) worked out once
    per distinct value of `keys` and gathered back to every row, in `frame`'s order.

    Why: turning text into money is most of reading a big file (four regular expressions and a decimal parse
    per amount), and files repeat their values: a million bank lines hold about 120,000 distinct amounts. Each
    row gets exactly the value it would have had, so checks find the same first bad row and say the same line.
    """
    if frame.height < PER_DISTINCT_MIN_ROWS:
        return frame.with_columns(derived)
    keys = list(keys)
    distinct = frame.select(keys).unique().with_columns(derived)
    # the keys alone are joined (not every column of `frame`, which the join would copy), the results put beside
    gathered = frame.select(keys).join(distinct, on=keys, how="left", maintain_order="left", nulls_equal=True)
    return frame.hstack(gathered.drop(keys).get_columns())


def first_bad(frame: pl.DataFrame, ok: pl.Series) -> tuple[int, int]:
    """Row index and file line of the first row where `ok` fails: a `_line` column when the frame came from
    a batch of a larger file, else the header is line 1."""
    index = int(ok.not_().arg_true()[0])
    line = int(frame["_line"][index]) if "_line" in frame.columns else index + 2
    return index, line


def money(frame: pl.DataFrame, column: str, path: str | Path, *, positive: bool = False,
          currency: pl.Series | None = None) -> pl.Series:
    """`column` as exact money: plain decimals with no more places than each row's currency has (ISO 4217;
    2 when no `currency` is given). A value that would need rounding is an error naming its line."""
    raw = frame[column]
    codes = currency if currency is not None else pl.Series([""] * frame.height, dtype=pl.String)
    text = raw.str.strip_chars() if raw.dtype == pl.String else raw.cast(pl.String, strict=False)
    each = pl.col("text")
    plain = each.str.contains(r"^[+-]?\d{1,15}(\.\d*)?$") if raw.dtype == pl.String else each.is_not_null()
    # each distinct text parsed once (`per_distinct`); every row gets what it would have got on its own
    parsed = per_distinct(pl.DataFrame({"text": text}), ["text"], [
        plain.fill_null(False).alias("ok"), money_mod.decimals_expr(each).alias("places"),
        pl.when(plain).then(each).cast(MONEY, strict=False).alias("value"),
    ])
    ok = parsed["ok"]
    if not ok.all():
        index, line = first_bad(frame, ok)
        shown = f" {raw[index]!r}" if raw.dtype == pl.String else ""
        raise InvalidInput(f"{path}: line {line}: {column}{shown} is not a decimal amount")
    excess = pl.DataFrame({"n": parsed["places"], "c": codes}).select(
        pl.col("n") > money_mod.places_expr(pl.col("c"))).to_series()
    if excess.any():
        index, line = first_bad(frame, ~excess)
        raise InvalidInput(f"{path}: line {line}: {column} {raw[index]!s} has more decimals than"
                           f" {codes[index] or 'the currency'} allows ({money_mod.exponent(codes[index])});"
                           " it is not rounded")
    values = parsed["value"].alias(column)
    if values.null_count():  # a number polars cannot take as a decimal (a float's text such as 1e-05)
        index, line = first_bad(frame, values.is_not_null())
        raise InvalidInput(f"{path}: line {line}: {column} {raw[index]!s} is not a decimal amount")
    if positive:
        ok = values > 0
        if not ok.all():
            index, line = first_bad(frame, ok)
            raise InvalidInput(f"{path}: line {line}: {column} must be positive, got {values[index]}")
    return values


def date(frame: pl.DataFrame, column: str, path: str | Path, *, required: bool = False,
         fmt: str = "%Y-%m-%d") -> pl.Series:
    """`column` as a Date from text written as `fmt` (ISO unless a mapping says otherwise); empty means
    unknown unless `required`."""
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
        values = text.str.to_date(fmt, strict=False)
    blank = text.is_null() | (text == "")
    ok = values.is_not_null() | (blank & (not required))
    if not ok.all():
        index, line = first_bad(frame, ok)
        like = "an ISO date (YYYY-MM-DD)" if fmt == "%Y-%m-%d" else f"a date like {fmt}"
        raise InvalidInput(f"{path}: line {line}: {column} {raw[index]!r} is not {like}")
    return values


def text(frame: pl.DataFrame, column: str, path: str | Path, *, required: bool = False) -> pl.Series:
    if column not in frame.columns:
        return pl.Series(column, [""] * frame.height, dtype=pl.String)
    values = frame[column].cast(pl.String).fill_null("").str.strip_chars()
    if required:
        ok = values != ""
        if not ok.all():
            raise InvalidInput(f"{path}: line {first_bad(frame, ok)[1]}: {column} is empty")
    return values


def ragged_line(source: Path | bytes, delimiter: str, skip_rows: int = 0) -> tuple[int | None, str]:
    """Where and why a CSV does not read (what polars reports as "found more fields than defined in
    'Schema'"): the first line whose field count differs from the header's, or an open quote."""
    stream = source.open("r", encoding="utf-8", errors="replace", newline="") if isinstance(source, Path) \
        else io.StringIO(source.decode("utf-8", errors="replace"), newline="")
    with stream:
        reader = csv.reader(stream, delimiter=delimiter, strict=True)  # an open quote at the end is an error
        expected = None
        stray = None  # the first line with a quote inside a field (`ab"c`) or a NUL byte: polars reads neither
        start = 1  # the line the current row starts on
        try:
            for row in reader:
                if stray is None and any('"' in field or "\x00" in field for field in row):
                    stray = start
                if reader.line_num <= skip_rows:
                    start = reader.line_num + 1
                    continue
                if expected is None:
                    expected = len(row)
                elif row and len(row) != expected:
                    return reader.line_num, (f"{len(row)} fields where the header has {expected} (is the delimiter"
                                             f" {delimiter!r}? is a quote left open?)")
                start = reader.line_num + 1
        except csv.Error as err:
            if "unexpected end of data" in str(err):
                return start, "malformed CSV (a quote opened on this line is never closed)"
            return reader.line_num, f"malformed CSV ({err})"
    if stray is not None:
        return stray, "malformed CSV (a quote inside a field that is not quoted, or a NUL byte)"
    return None, "malformed CSV (a quote left open?)"


def unreadable(source: Path | bytes, where: str, delimiter: str, skip_rows: int = 0) -> InvalidInput:
    line, why = ragged_line(source, delimiter, skip_rows)
    return InvalidInput(f"{where}: line {line}: {why}" if line else f"{where}: {why}")


def blocks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    """A CSV body in blocks of about `size` bytes that end at a line end outside quotes: each block is read on
    its own, so a file of any size takes memory for one block (a streaming reader reads ahead without bound)."""
    rest = b""
    while True:
        data = fh.read(size)
        if not data:
            if rest.strip():
                yield rest if rest.endswith(b"\n") else rest + b"\n"
            return
        data = rest + data
        cut = data.rfind(b"\n") + 1
        while cut and data.count(b'"', 0, cut) % 2:  # a quoted field goes on past this line end
            cut = data.rfind(b"\n", 0, cut - 1) + 1
        if not cut:
            rest = data
            continue
        yield data[:cut]
        rest = data[cut:]
