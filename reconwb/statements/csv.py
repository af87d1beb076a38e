"""CSV statements: the Transactions CSV of CONTRACTS.md, or any bank's export through a column mapping.

Read with polars' CSV reader and converted with column expressions, never a Python loop per row, so a
million-row file imports in seconds. A mapping says which column is what, the date format, the decimal and
thousands separators, whether money out is a separate debit column or a sign flag, and the sign convention.
Named presets cover common layouts; a JSON or TOML mapping file covers the rest.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import polars as pl

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
TARGETS = ("txn_id", "account_id", "booked_on", "value_date", "amount", "debit", "credit", "direction", "currency",
           "description", "reference", "counterparty", "counterparty_iban", "status")
OPTIONAL_COLUMNS = ("value_date", "counterparty_iban", "status")
MAX_CSV_BYTES = 4 * MAX_TEXT_BYTES  # polars holds the columns, not Python objects: a larger bound is fine


@dataclass(frozen=True)
class CsvMapping:
    """How to read one bank's CSV. `columns` maps a target field to a header name (or several, joined)."""

    columns: dict[str, str | list[str]] = field(default_factory=lambda: {c: c for c in TRANSACTIONS_CSV})
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    decimal: str = "."
    thousands: str = ""
    currency: str | None = None  # when the file has no currency column
    account: str | None = None  # when the file has no account column
    negate: bool = False  # the bank writes money out as positive
    debit_marker: str | None = None  # value of the `direction` column that means money out (e.g. "S", "DBIT")
    skip_rows: int = 0
    encoding: str = "utf8"
    status_map: dict[str, str] = field(default_factory=dict)  # e.g. {"vorgemerkt": "pending"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str) -> CsvMapping:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StatementError(f"unknown mapping keys {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                                 file=origin)
        columns = data.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise StatementError("a mapping needs a `columns` table: target field -> CSV header", file=origin)
        bad = sorted(set(columns) - set(TARGETS))
        if bad:
            raise StatementError(f"unknown target fields {', '.join(bad)} (known: {', '.join(TARGETS)})",
                                 file=origin)
        if "booked_on" not in columns or not ({"amount", "debit", "credit"} & set(columns)):
            raise StatementError("a mapping needs `booked_on` and `amount` (or `debit`/`credit`) columns",
                                 file=origin)
        return cls(**dict(data))


PRESETS: dict[str, CsvMapping] = {
    # CONTRACTS.md Transactions CSV
    "transactions": CsvMapping(),
    # German online banking exports (Sparkasse "CSV-CAMT" layout): semicolons, day-first, decimal comma
    "sparkasse": CsvMapping(
        columns={"account_id": "Auftragskonto", "booked_on": "Buchungstag", "value_date": "Valutadatum",
                 "description": ["Buchungstext", "Verwendungszweck"], "reference": "Kundenreferenz (End-to-End)",
                 "counterparty": "Beguenstigter/Zahlungspflichtiger", "counterparty_iban": "Kontonummer/IBAN",
                 "amount": "Betrag", "currency": "Waehrung", "status": "Info"},
        delimiter=";", date_format="%d.%m.%y", decimal=",", thousands=".",
        status_map={"Umsatz gebucht": "booked", "Umsatz vorgemerkt": "pending"},
    ),
    # generic continental layout with one signed amount column
    "eu-semicolon": CsvMapping(
        columns={"booked_on": "Date", "value_date": "Value date", "description": "Description",
                 "reference": "Reference", "counterparty": "Counterparty", "amount": "Amount",
                 "currency": "Currency"},
        delimiter=";", date_format="%d.%m.%Y", decimal=",", thousands=".",
    ),
    # UK/US style with money out and money in in two unsigned columns
    "debit-credit": CsvMapping(
        columns={"booked_on": "Date", "description": "Description", "reference": "Reference",
                 "counterparty": "Counterparty", "debit": "Debit", "credit": "Credit", "currency": "Currency"},
        date_format="%d/%m/%Y", thousands=",",
    ),
}


def load_mapping(path: Path) -> CsvMapping:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeError) as err:
        raise StatementError(f"cannot read mapping file: {err}", file=path.name) from None
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise StatementError(f"mapping file is not valid {path.suffix.lstrip('.') or 'JSON'}: {err}",
                             file=path.name) from None
    if not isinstance(data, dict):
        raise StatementError("a mapping file holds one object", file=path.name)
    return CsvMapping.from_dict(data, origin=path.name)


def preset(name: str) -> CsvMapping:
    try:
        return PRESETS[name]
    except KeyError:
        raise StatementError(f"unknown CSV preset {name!r}; known: {', '.join(PRESETS)}") from None


def guess_mapping(header: list[str]) -> CsvMapping | None:
    """The preset whose columns the header has, for `--format auto` without `--preset`."""
    present = set(header)
    for mapping in PRESETS.values():
        needed = {c for v in mapping.columns.values() for c in ([v] if isinstance(v, str) else v)}
        if needed <= present:
            return mapping
    return None


def read(source: Source, *, name: str | None = None, mapping: CsvMapping | None = None,
         encoding: str | None = None) -> list[Statement]:
    name = source_name(source, name)
    if encoding is None and mapping is not None:
        encoding = mapping.encoding
    if encoding and encoding.lower().replace("-", "") not in ("utf8", "utf8lossy"):
        # polars reads UTF-8 only: transcode other encodings once, in memory
        data = source.read_bytes() if isinstance(source, Path) else source
        source = decode(data, name, encoding).encode("utf-8")
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    if size > MAX_CSV_BYTES:
        raise StatementError(f"file is {size / 2**20:.0f} MB; CSV files over {MAX_CSV_BYTES // 2**20} MB are not"
                             " supported (split it)", file=name)
    raw = _read_frame(source, name, mapping)
    if mapping is None:
        mapping = guess_mapping(raw.columns)
        if mapping is None:
            raise StatementError(
                f"unknown CSV layout (header {', '.join(raw.columns[:8])}); expected the Transactions CSV"
                f" ({','.join(TRANSACTIONS_CSV)}) or pass --preset/--mapping", file=name, line=1)
        if mapping.delimiter != ",":
            raw = _read_frame(source, name, mapping)
    if mapping is PRESETS["transactions"]:  # the extra columns `statements parse` prints, when a file has them
        extra = {c: c for c in OPTIONAL_COLUMNS if c in raw.columns}
        mapping = replace(mapping, columns={**mapping.columns, **extra})
    frame = _convert(raw, mapping, name)
    frame = unique_bank_ids(frame)
    # one statement; its `account_ref` column says which account each line belongs to
    return [Statement(account_ref=None, table=frame)]


def _read_frame(source: Source, name: str, mapping: CsvMapping | None) -> pl.DataFrame:
    delimiter = mapping.delimiter if mapping else _sniff_delimiter(source)
    data = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        frame = pl.read_csv(
            data,
            separator=delimiter,
            infer_schema=False,
            skip_rows=mapping.skip_rows if mapping else 0,
            encoding="utf8",
            truncate_ragged_lines=False,
            empty_string_is_null=False,
        )
    except pl.exceptions.NoDataError:
        raise StatementError("empty file", file=name) from None
    except pl.exceptions.ComputeError as err:
        if "utf-8" in str(err).lower() or "utf8" in str(err).lower():
            decode(source.read_bytes() if isinstance(source, Path) else source, name)  # raises with the line
        raise StatementError(f"malformed CSV: {_first_line(err)}", file=name, line=_line_from(err)) from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as err:
        raise StatementError(f"cannot read CSV: {_first_line(err)}", file=name) from None
    if frame.width < 2:
        raise StatementError("not a CSV statement (fewer than two columns)", file=name, line=1)
    return frame


def _sniff_delimiter(source: Source) -> str:
    if isinstance(source, Path):
        with source.open("rb") as fh:
            head = fh.readline(65536)
    else:
        head = source[:65536].split(b"\n", 1)[0]
    counts = {d: head.count(d.encode()) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _column(frame: pl.DataFrame, spec: str | list[str] | None, name: str) -> pl.Expr | None:
    if spec is None:
        return None
    names = [spec] if isinstance(spec, str) else list(spec)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise StatementError(f"no column {missing[0]!r} (the header has: {', '.join(frame.columns[:12])})",
                             file=name, line=1)
    exprs = [pl.col(n).fill_null("").str.strip_chars() for n in names]
    return exprs[0] if len(exprs) == 1 else pl.concat_str(exprs, separator=" ").str.strip_chars()


def _money(expr: pl.Expr, mapping: CsvMapping) -> pl.Expr:
    text = expr.str.replace_all(r"[\s\u00a0']", "")
    if mapping.thousands:
        text = text.str.replace_all(mapping.thousands, "", literal=True)
    if mapping.decimal != ".":
        text = text.str.replace_all(mapping.decimal, ".", literal=True)
    text = text.str.replace(r"^\+", "")
    return pl.when(text == "").then(None).otherwise(text)


def _convert(raw: pl.DataFrame, mapping: CsvMapping, name: str) -> pl.DataFrame:
    cols = mapping.columns
    col = lambda key: _column(raw, cols.get(key), name)  # noqa: E731
    amount_text: pl.Expr
    if "amount" in cols:
        amount_text = _money(col("amount"), mapping)
        sources = [("amount", amount_text)]
    else:
        debit = _money(col("debit"), mapping) if "debit" in cols else pl.lit(None, pl.String)
        credit = _money(col("credit"), mapping) if "credit" in cols else pl.lit(None, pl.String)
        sources = [("debit", debit), ("credit", credit)]
    parsed = raw.with_row_index("_row").with_columns(
        *(expr.alias(f"_{key}_text") for key, expr in sources),
        *(expr.cast(MONEY, strict=False).alias(f"_{key}") for key, expr in sources),
        _date_expr(col("booked_on"), mapping).alias("booked_on"),
        (_date_expr(col("value_date"), mapping) if "value_date" in cols else pl.lit(None, pl.Date)).alias(
            "value_date"),
    )
    for key, _ in sources:
        _check(parsed, pl.col(f"_{key}_text").is_not_null() & pl.col(f"_{key}").is_null(), key, raw, name,
               cols.get(key))
    _check(parsed, pl.col("booked_on").is_null(), "booked_on", raw, name, cols.get("booked_on"),
           hint=f"expected dates like {mapping.date_format}")
    if "value_date" in cols:
        _check(parsed, pl.col("value_date").is_null() & (col("value_date") != ""), "value_date", raw, name,
               cols.get("value_date"), hint=f"expected dates like {mapping.date_format}")
    if "amount" in cols:
        amount = pl.col("_amount")
        _check(parsed, amount.is_null(), "amount", raw, name, cols.get("amount"), hint="empty amount")
    else:
        amount = pl.col("_credit").abs().fill_null(0) - pl.col("_debit").abs().fill_null(0)
        _check(parsed, pl.col("_debit").is_null() & pl.col("_credit").is_null(), "debit/credit", raw, name,
               None, hint="neither a debit nor a credit amount")
    if mapping.negate:
        amount = -amount
    if "direction" in cols and mapping.debit_marker is not None:
        amount = pl.when(col("direction").str.to_uppercase() == mapping.debit_marker.upper()).then(
            -amount.abs()).otherwise(amount.abs())
    currency = col("currency") if "currency" in cols else pl.lit(mapping.currency or "")
    account = col("account_id") if "account_id" in cols else pl.lit(mapping.account or "")
    status = col("status").str.to_lowercase() if "status" in cols else pl.lit("booked")
    if mapping.status_map:
        lowered = {k.lower(): v for k, v in mapping.status_map.items()}
        status = status.replace_strict(lowered, default="booked")
    else:
        status = pl.when(status.is_in(["pending", "booked"])).then(status).otherwise(pl.lit("booked"))
    text = lambda key: (col(key) if key in cols else pl.lit(""))  # noqa: E731
    frame = parsed.select(
        "booked_on",
        amount.cast(MONEY).alias("amount"),
        currency.str.to_uppercase().alias("currency"),
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
    )
    if not mapping.currency and "currency" not in cols:
        raise StatementError("the file has no currency column: set `currency` in the mapping", file=name)
    _check(frame.with_row_index("_row"), pl.col("currency") == "", "currency", raw, name, cols.get("currency"),
           hint="empty currency")
    return frame.select([*SCHEMA, "account_ref"])


def _date_expr(expr: pl.Expr, mapping: CsvMapping) -> pl.Expr:
    return pl.when(expr == "").then(None).otherwise(expr).str.strptime(pl.Date, mapping.date_format, strict=False)


def _check(frame: pl.DataFrame, bad: pl.Expr, what: str, raw: pl.DataFrame, name: str,
           column: str | list[str] | None, hint: str = "") -> None:
    """Raise at the first row where `bad` holds, naming the file line (header is line 1)."""
    found = frame.lazy().filter(bad).select("_row").head(1).collect()
    if found.is_empty():
        return
    row = int(found.item())
    value = ""
    if isinstance(column, str) and column in raw.columns:
        value = f" {raw.get_column(column)[row]!r}"
    reason = f" ({hint})" if hint else ""
    raise StatementError(f"bad {what}{value}{reason}", file=name, line=row + 2)


def _first_line(err: Exception) -> str:
    return str(err).strip().split("\n")[0][:200]


def _line_from(err: Exception) -> int | None:
    match = re.search(r"line (\d+)", str(err))
    return int(match.group(1)) if match else None
