"""CSV statements: the Transactions CSV of docs/file-formats.md, or any bank's export through a column mapping.

Which column is what comes from `reconwb.mappings` (detected from the file, a mapping file, `--map` options, or
a named preset). Read with polars' CSV reader and converted with column expressions, never a Python loop per
row, so a million-row file imports in seconds; every bad value is reported at its file line.
"""

from __future__ import annotations

import io
from collections.abc import Mapping as MappingType
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from reconwb import mappings, money, tabular, textencoding
from reconwb.errors import InvalidInput
from reconwb.mappings import Mapping
from reconwb.statements.model import (
    MAX_TEXT_BYTES,
    Source,
    Statement,
    StatementError,
    decode,
    source_name,
    unique_bank_ids,
)
from reconwb.transactions import MONEY, SCHEMA

TRANSACTIONS_CSV = ("txn_id", "account_id", "booked_on", "amount", "currency", "description", "reference",
                    "counterparty")
TARGETS = mappings.TRANSACTION_FIELDS
OPTIONAL_COLUMNS = ("value_date", "counterparty_iban", "status")
# what a CSV statement may weigh: read whole, then stored in one transaction, a 62 MB file (750,000 lines) peaks
# at 0.73 GB and a 248 MB one at 2 GB (bench/bench_statements.py); no bank's statement comes near it
MAX_CSV_BYTES = MAX_TEXT_BYTES
PENDING_WORDS = r"pending|vorgemerkt|attente|pendiente|in afwachting|sospes|in sospeso|non contabilizzat"
CsvMapping = Mapping  # the name this module's callers know


PRESETS: dict[str, Mapping] = {
    # the Transactions CSV
    "transactions": Mapping(columns={c: c for c in TRANSACTIONS_CSV}),
    # German online banking exports (Sparkasse "CSV-CAMT" layout): semicolons, day-first, decimal comma
    "sparkasse": Mapping(
        columns={"account_id": "Auftragskonto", "booked_on": "Buchungstag", "value_date": "Valutadatum",
                 "description": ["Buchungstext", "Verwendungszweck"], "reference": "Kundenreferenz (End-to-End)",
                 "counterparty": "Beguenstigter/Zahlungspflichtiger", "counterparty_iban": "Kontonummer/IBAN",
                 "amount": "Betrag", "currency": "Waehrung", "status": "Info"},
        delimiter=";", date_format="%d.%m.%y", decimal=",", thousands=".",
        status_map={"Umsatz gebucht": "booked", "Umsatz vorgemerkt": "pending"},
    ),
    # generic continental layout with one signed amount column
    "eu-semicolon": Mapping(
        columns={"booked_on": "Date", "value_date": "Value date", "description": "Description",
                 "reference": "Reference", "counterparty": "Counterparty", "amount": "Amount",
                 "currency": "Currency"},
        delimiter=";", date_format="%d.%m.%Y", decimal=",", thousands=".",
    ),
    # UK/US style with money out and money in in two unsigned columns
    "debit-credit": Mapping(
        columns={"booked_on": "Date", "description": "Description", "reference": "Reference",
                 "counterparty": "Counterparty", "debit": "Debit", "credit": "Credit", "currency": "Currency"},
        date_format="%d/%m/%Y", thousands=",",
    ),
}


def load_mapping(path: Path) -> Mapping:
    """A mapping file used on its own (complete: nothing is detected)."""
    return Mapping.from_dict(mappings.load(path), origin=path.name)


def preset(name: str) -> Mapping:
    try:
        return PRESETS[name]
    except KeyError:
        raise StatementError(f"unknown CSV preset {name!r}; known: {', '.join(PRESETS)}") from None


def read(source: Source, *, name: str | None = None, mapping: Mapping | None = None,
         encoding: str | None = None, overrides: MappingType[str, Any] | None = None,
         max_bytes: int | None = None) -> list[Statement]:
    """One statement whose `account_ref` column says which account each line belongs to. Without a complete
    `mapping`, the layout is detected from the file and `overrides` (mapping file keys, `--map`) go on top.
    `max_bytes`: the largest file read (`MAX_CSV_BYTES` unless said: file-mode matching, which stores nothing,
    reads larger ones)."""
    name = source_name(source, name)
    if isinstance(source, Path) and not source.is_file():
        raise StatementError("no such file", file=name)
    if encoding is None and mapping is not None and not textencoding.is_utf8(mapping.encoding):
        encoding = mapping.encoding
    encoding = encoding or (overrides or {}).get("encoding")
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    max_bytes = MAX_CSV_BYTES if max_bytes is None else max_bytes
    if size > max_bytes:
        raise StatementError(f"file is {size / 2**20:.1f} MB; CSV statement files over {max_bytes // 2**20} MB"
                             " are not supported (split it)", file=name)
    if size == 0:
        raise StatementError("empty file", file=name, line=1)
    warnings = []
    if not encoding:
        encoding = textencoding.detect(source)
        if not textencoding.is_utf8(encoding):
            warnings.append(f"{name}: not UTF-8; read as {encoding} (pass --encoding if names look wrong)")
    if not textencoding.is_utf8(encoding):
        source = _as_utf8(source, name, encoding)
        overrides = {**(overrides or {}), "encoding": textencoding.UTF8}  # what the bytes are now
    if mapping is None:
        try:
            mapping = mappings.resolve(_head(source), name, "transactions", overrides)
        except mappings.MappingError as err:  # already says file and line
            raise StatementError(str(err)) from None
    raw = _read_frame(source, name, mapping)
    if mapping.columns.keys() == set(TRANSACTIONS_CSV):  # the extra columns `statements parse` prints
        extra = {c: c for c in OPTIONAL_COLUMNS if c in raw.columns}
        mapping = replace(mapping, columns={**mapping.columns, **extra})
    frame = _convert(raw, mapping, name)
    frame = unique_bank_ids(frame)
    return [Statement(account_ref=None, table=frame, warnings=warnings)]


def _as_utf8(source: Source, name: str, encoding: str) -> bytes:
    """The file as UTF-8 bytes (polars reads UTF-8 only), transcoded block by block: no text copy of it."""
    raw = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
    try:
        with textencoding.Utf8Reader(raw, encoding, name) as reader:
            return b"".join(iter(lambda: reader.read(textencoding.SCAN_BLOCK), b""))
    except textencoding.DecodeFailure as err:
        raise StatementError(err.detail, file=name, line=err.line) from None
    except InvalidInput as err:  # an encoding Python does not know
        raise StatementError(str(err)) from None


def _head(source: Source) -> bytes:
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return fh.read(mappings.SNIFF_BYTES)
    return source[:mappings.SNIFF_BYTES]


def _read_frame(source: Source, name: str, mapping: Mapping) -> pl.DataFrame:
    data = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        frame = pl.read_csv(
            data,
            separator=mapping.delimiter,
            infer_schema=False,
            skip_rows=mapping.skip_rows,
            encoding="utf8",
            truncate_ragged_lines=False,
            empty_string_is_null=False,
        )
    except pl.exceptions.NoDataError:
        raise StatementError("empty file", file=name, line=1) from None
    except (pl.exceptions.PolarsError, OSError, ValueError):
        # a byte that is not UTF-8 (polars does not always say so) is named at its line
        decode(source.read_bytes() if isinstance(source, Path) else source, name)
        raise ragged(source, name, mapping.delimiter, mapping.skip_rows) from None
    if frame.width < 2:
        raise StatementError(f"not a CSV file with {mapping.delimiter!r} between fields (fewer than two columns)",
                             file=name, line=mapping.skip_rows + 1)
    return frame


def ragged(source: Source, name: str, delimiter: str, skip_rows: int = 0) -> StatementError:
    """A CSV polars could not read, said with the line and the reason instead of polars' own words."""
    line, why = tabular.ragged_line(source, delimiter, skip_rows)
    return StatementError(why, file=name, line=line)


def _convert(raw: pl.DataFrame, mapping: Mapping, name: str) -> pl.DataFrame:
    cols = mapping.columns
    first = mapping.skip_rows + 2  # file line of the first data row
    col = lambda key: _column(raw, cols.get(key), name, first - 1)  # noqa: E731
    if not mapping.currency and "currency" not in cols:
        raise StatementError("the file has no currency column: set `currency` in the mapping (or --map"
                             " currency=EUR)", file=name, line=first - 1)
    currency = (col("currency") if "currency" in cols else pl.lit(mapping.currency or "")).str.to_uppercase()
    keys = ["amount"] if "amount" in cols else ["debit", "credit"]
    plain = r"^-?\d{1,15}(\.\d*)?$"
    parsed = raw.with_row_index("_row").with_columns(
        currency.alias("_currency"),
        mappings.date_expr(col("booked_on"), mapping).alias("booked_on"),
        (mappings.date_expr(col("value_date"), mapping) if "value_date" in cols else pl.lit(None, pl.Date)).alias(
            "value_date"),
    )
    for key in keys:
        if key not in cols:  # a debit/credit layout with one of the two columns
            parsed = parsed.with_columns(pl.lit(None, pl.String).alias(f"_{key}_text"),
                                         pl.lit(None, MONEY).alias(f"_{key}"), pl.lit(0).alias(f"_{key}_places"))
            continue
        text = mappings.money_text(col(key), mapping)
        # amounts repeat: each distinct text is parsed once (`tabular.per_distinct`)
        parsed = tabular.per_distinct(parsed, _names(cols[key]), [
            text.alias(f"_{key}_text"),
            pl.when(text.str.contains(plain)).then(text).cast(MONEY, strict=False).alias(f"_{key}"),
            money.decimals_expr(text).alias(f"_{key}_places"),
        ])
    check = lambda bad, what, column, hint="": _check(parsed, bad, what, raw, name, column, first, hint)  # noqa: E731
    allowed = money.places_expr(pl.col("_currency"))
    for key in keys:
        check(pl.col(f"_{key}_text").is_not_null() & pl.col(f"_{key}").is_null(), key, cols.get(key))
        check((pl.col(f"_{key}_places") > allowed).fill_null(False), key, cols.get(key),
              "more decimals than its currency has; it is not rounded")
    check(pl.col("_currency") == "", "currency", cols.get("currency"), "empty currency")
    check(pl.col("booked_on").is_null(), "booked_on", cols.get("booked_on"), f"expected dates like"
          f" {mapping.date_format}")
    if "value_date" in cols:
        check(pl.col("value_date").is_null() & (col("value_date") != ""), "value_date", cols.get("value_date"),
              f"expected dates like {mapping.date_format}")
    if "amount" in cols:
        amount = pl.col("_amount")
        check(amount.is_null(), "amount", cols.get("amount"), "empty amount")
    else:
        amount = pl.col("_credit").abs().fill_null(0) - pl.col("_debit").abs().fill_null(0)
        check(pl.col("_debit").is_null() & pl.col("_credit").is_null(), "debit/credit", None,
              "neither a debit nor a credit amount")
    if mapping.negate:
        amount = -amount
    if "direction" in cols and mapping.debit_marker is not None:
        amount = pl.when(col("direction").str.to_uppercase() == mapping.debit_marker.upper()).then(
            -amount.abs()).otherwise(amount.abs())
    account = col("account_id") if "account_id" in cols else pl.lit(mapping.account or "")
    status = col("status").str.to_lowercase() if "status" in cols else pl.lit("booked")
    if mapping.status_map:
        lowered = {k.lower(): v for k, v in mapping.status_map.items()}
        status = status.replace_strict(lowered, default="booked")
    else:  # a bank's own word for not yet booked, in the usual languages
        status = pl.when(status.str.contains(PENDING_WORDS)).then(pl.lit("pending")).otherwise(pl.lit("booked"))
    text = lambda key: (col(key) if key in cols else pl.lit(""))  # noqa: E731
    frame = parsed.select(
        "booked_on",
        amount.cast(MONEY).alias("amount"),
        pl.col("_currency").alias("currency"),
        text("description").alias("description"),
        text("reference").alias("reference"),
        text("counterparty").alias("counterparty"),
        # a fingerprint id (`fp:`, what export writes for lines without a bank id) is not a bank id
        pl.when((text("txn_id") == "") | text("txn_id").str.starts_with("fp:")).then(None)
        .otherwise(text("txn_id")).alias("bank_txn_id"),
        "value_date",
        pl.when(text("counterparty_iban") == "").then(None).otherwise(
            text("counterparty_iban").str.replace_all(" ", "")).alias("counterparty_iban"),
        status.alias("status"),
        account.alias("account_ref"),
        pl.lit(None, MONEY).alias("charges"),
        text("txn_id").alias("txn_ref"),  # the file's own id, `fp:` ones included (file-mode matching)
    )
    return frame.select([*SCHEMA, "account_ref", "txn_ref"])


def _column(frame: pl.DataFrame, spec: str | list[str] | None, name: str, header_line: int) -> pl.Expr | None:
    if spec is None:
        return None
    names = _names(spec)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise StatementError(f"no column {missing[0]!r} (the header has: {', '.join(frame.columns[:12])})",
                             file=name, line=header_line)
    exprs = [pl.col(n).fill_null("").str.strip_chars() for n in names]
    return exprs[0] if len(exprs) == 1 else pl.concat_str(exprs, separator=" ").str.strip_chars()


def _names(spec: str | list[str]) -> list[str]:
    """The file columns a mapping entry reads (one, or several joined)."""
    return [spec] if isinstance(spec, str) else list(spec)


def _check(frame: pl.DataFrame, bad: pl.Expr, what: str, raw: pl.DataFrame, name: str,
           column: str | list[str] | None, first: int, hint: str = "") -> None:
    """Raise at the first row where `bad` holds, naming its file line (`first` is the first data row's)."""
    found = frame.lazy().filter(bad).select("_row").head(1).collect()
    if found.is_empty():
        return
    row = int(found.item())
    value = ""
    if isinstance(column, str) and column in raw.columns:
        value = f" {raw.get_column(column)[row]!r}"
    reason = f" ({hint})" if hint else ""
    raise StatementError(f"bad {what}{value}{reason}", file=name, line=row + first)
