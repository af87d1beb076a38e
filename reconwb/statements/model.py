"""The normalised statement every reader produces, whatever the file format.

A file holds one or more statements (MT940 and CAMT files often carry several accounts or days); each has an
account, balances where the file states them, and lines. Bulk sources (CSV) carry a polars frame instead of
line objects so that a million rows never become a million Python objects.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import polars as pl

from reconwb import money
from reconwb.errors import InvalidInput
from reconwb.transactions import MONEY, SCHEMA, Txn, to_frame, with_keys

FORMATS = ("ofx", "mt940", "camt", "csv")
# text formats are read whole: above this size a reader refuses the file rather than exhaust memory
MAX_TEXT_BYTES = 64 * 1024 * 1024
# parsed lines kept as objects at most; beyond, a statement keeps them as columns (~1.4 KB a line as objects,
# ~0.2 KB as columns: a 550k-entry CAMT file held ~1 GB of line objects)
LINES_IN_OBJECTS = 20_000

Source = Path | bytes


class StatementError(InvalidInput):
    """A statement file that cannot be read; the message names the file and, when known, the line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        message = " ".join(message.split())  # one line, whatever the file put into it
        self.detail = message if len(message) <= 300 else message[:297] + "..."
        message = self.detail
        where = f"{file}:{line}" if file and line else (file or (f"line {line}" if line else ""))
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    on: dt.date | None = None


@dataclass(frozen=True)
class Line:
    """One transaction plus what `Txn` has no field for: the charges the bank took on it."""

    txn: Txn
    charges: Decimal | None = None


@dataclass
class Statement:
    account_ref: str | None
    currency: str | None = None
    iban: str | None = None
    name: str | None = None
    opening: Balance | None = None
    closing: Balance | None = None
    lines: list[Line] = field(default_factory=list)
    table: pl.DataFrame | None = None  # bulk sources: SCHEMA columns plus `account_ref` and `charges`
    warnings: list[str] = field(default_factory=list)
    _columns: list[pl.DataFrame] = field(default_factory=list, repr=False)  # lines moved out of `lines`

    def compact(self) -> None:
        """Readers call this as lines arrive: past `LINES_IN_OBJECTS`, `lines` move into columns (`frame()`
        and the figures below see both), so a file's size costs ~0.2 KB a line instead of ~1.4 KB."""
        if len(self.lines) >= LINES_IN_OBJECTS:
            self._columns.append(_lines_frame(self.lines))
            self.lines = []

    def frame(self) -> pl.DataFrame:
        """The transactions as a frame with the ingest SCHEMA plus `charges` (and `account_ref` for bulk)."""
        if self.table is not None:
            return self.table
        if not self._columns:
            return unique_bank_ids(_lines_frame(self.lines))
        return unique_bank_ids(pl.concat([*self._columns, _lines_frame(self.lines)]))

    def _in_columns(self) -> pl.DataFrame | None:
        """Every line as columns when the statement holds any as columns, else None (the lines are objects)."""
        if self.table is not None:
            return self.table
        return pl.concat([*self._columns, _lines_frame(self.lines)]) if self._columns else None

    def count(self) -> int:
        if self.table is not None:
            return self.table.height
        return sum(c.height for c in self._columns) + len(self.lines)

    def total(self) -> Decimal:
        columns = self._in_columns()
        if columns is not None:
            return Decimal(columns.get_column("amount").sum() or 0)
        return sum((line.txn.amount for line in self.lines), Decimal("0.00"))

    def booked_days(self) -> tuple[dt.date, dt.date] | None:
        """The first and last booking day of the statement's lines (None without lines)."""
        columns = self._in_columns()
        if columns is not None:
            days = columns.get_column("booked_on")
            return (days.min(), days.max()) if days.len() else None  # type: ignore[return-value]
        days = [line.txn.booked_on for line in self.lines]
        return (min(days), max(days)) if days else None

    def signed_totals(self, sign: int) -> tuple[int, Decimal]:
        """How many non-zero lines have this sign (1 credit, -1 debit), and their sum."""
        columns = self._in_columns()
        if columns is not None:
            amounts = columns.get_column("amount")
            mine = amounts.filter(amounts > 0) if sign > 0 else amounts.filter(amounts < 0)
            return mine.len(), Decimal(mine.sum() or 0)
        mine = [ln.txn.amount for ln in self.lines if (ln.txn.amount < 0) == (sign < 0) and ln.txn.amount != 0]
        return len(mine), sum(mine, Decimal(0))

    def balance_warning(self, file: str) -> str | None:
        """opening + sum of booked lines must equal closing, when the statement states both."""
        if self.opening is None or self.closing is None:
            return None
        columns = self._in_columns()
        if columns is not None:
            booked = columns.filter(pl.col("status") != "pending").get_column("amount").sum() or 0
            total = Decimal(booked)
        else:
            total = sum((ln.txn.amount for ln in self.lines if ln.txn.status != "pending"), Decimal("0"))
        expected = self.opening.amount + total
        if expected != self.closing.amount:
            return (
                f"{file}: account {self.account_ref or '?'}: opening balance {self.opening.amount} + transactions"
                f" {total} = {expected}, but the closing balance is {self.closing.amount}"
                f" (difference {self.closing.amount - expected})"
            )
        return None


def _lines_frame(lines: list[Line]) -> pl.DataFrame:
    return to_frame(line.txn for line in lines).with_columns(
        pl.Series("charges", [line.charges for line in lines], dtype=MONEY))


def source_name(source: Source, name: str | None) -> str:
    if name:
        return name
    return source.name if isinstance(source, Path) else "<data>"


def open_source(source: Source) -> BinaryIO:
    return source.open("rb") if isinstance(source, Path) else io.BytesIO(source)


def read_bytes(source: Source, name: str, *, limit: int = MAX_TEXT_BYTES, kind: str = "statement") -> bytes:
    """The whole file, refused with a clear error when it is larger than a reader that works in memory takes."""
    if isinstance(source, Path):
        try:
            size = source.stat().st_size
        except OSError as err:
            raise StatementError(f"cannot read file: {err.strerror}", file=name) from None
        if size > limit:
            raise StatementError(
                f"file is {size / 2**20:.0f} MB; {kind} files larger than {limit // 2**20} MB are not supported"
                " (split the file, or export CAMT.053 which is read as a stream)",
                file=name,
            )
        return source.read_bytes()
    if len(source) > limit:
        raise StatementError(f"data is larger than {limit // 2**20} MB", file=name)
    return source


def decode(data: bytes, name: str, encoding: str = "utf-8") -> str:
    """Text of a file, with a wrong encoding reported at its line instead of turned into garbage."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise StatementError(
            f"not valid {encoding} text (byte 0x{data[err.start]:02x}); pass --encoding with the file's encoding",
            file=name,
            line=line,
        ) from None
    except LookupError:
        raise StatementError(f"unknown encoding {encoding!r}", file=name, line=1) from None


def parse_amount(text: str, currency: str | None, what: str, name: str, line: int | None = None) -> Decimal:
    """An amount written as a plain decimal, exact to its currency's minor unit; refused at its line otherwise."""
    try:
        return money.exact(money.parse(text), currency)
    except money.MoneyError as err:
        raise StatementError(f"{what}: {err}", file=name, line=line) from None


RF_REFERENCE = re.compile(r"\bRF\d{2}(?: ?[A-Z0-9]){1,21}", re.IGNORECASE)


def find_creditor_reference(*texts: str | None) -> str | None:
    """An ISO 11649 creditor reference (RF…, often printed in groups of four) in free text, check digits valid.

    Only whole words count: the longest run of groups that ends where a word ends and passes the check.
    """
    for text in texts:
        if not text:
            continue
        for match in RF_REFERENCE.finditer(text):
            groups = list(re.finditer(r"[A-Za-z0-9]+", match.group(0)))
            for k in range(len(groups), 0, -1):
                end = match.start() + groups[k - 1].end()
                if end < len(text) and text[end].isalnum():
                    continue  # the group runs on into a longer word
                candidate = "".join(g.group(0) for g in groups[:k]).upper()
                if is_valid_rf(candidate):
                    return candidate
    return None


def is_valid_rf(ref: str) -> bool:
    ref = ref.replace(" ", "").upper()
    if not re.fullmatch(r"RF\d{2}[A-Z0-9]{1,21}", ref):
        return False
    digits = "".join(str(int(c, 36)) for c in ref[4:] + ref[:4])
    return int(digits) % 97 == 1


def unique_bank_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """A bank id seen twice in one file (some banks reuse a batch reference) gets `#n`, so no line is lost."""
    cols = [c for c in ("account_ref", "bank_txn_id") if c in frame.columns]
    has_id = pl.col("bank_txn_id").is_not_null() & (pl.col("bank_txn_id") != "")
    # windows over a 64-bit hash, not the strings; and only when there is a repeat at all
    key = pl.when(has_id).then(pl.struct(cols).hash(seed=7))
    if not frame.select(key.drop_nulls().is_duplicated().any()).item():
        return frame
    nth = pl.int_range(pl.len()).over(key)
    return frame.with_columns(
        pl.when(has_id & (nth > 0))
        .then(pl.concat_str([pl.col("bank_txn_id"), pl.lit("#"), nth.cast(pl.String)]))
        .otherwise(pl.col("bank_txn_id"))
        .alias("bank_txn_id")
    )


def records(statements: list[Statement]) -> Iterator[dict[str, object]]:
    """The `statements parse` view: Transactions CSV fields first, then what else the file said."""
    for st in statements:
        frame = st.frame()
        keyed = with_keys(frame.select(list(SCHEMA)))
        extra = frame.with_columns(
            (pl.col("account_ref") if "account_ref" in frame.columns else pl.lit(st.account_ref)).alias("account_ref"),
        ).select("account_ref")
        joined = pl.concat([keyed, extra], how="horizontal")
        for row in joined.iter_rows(named=True):
            key = row["dedupe_key"] or ""
            yield {
                "txn_id": row["bank_txn_id"] or key.removeprefix("id:"),
                "account_id": row["account_ref"] or "",
                "booked_on": row["booked_on"],
                "amount": row["amount"],
                "currency": row["currency"],
                "description": row["description"],
                "reference": row["reference"],
                "counterparty": row["counterparty"],
                "value_date": row["value_date"],
                "counterparty_iban": row["counterparty_iban"],
                "status": row["status"],
                "bank_txn_id": row["bank_txn_id"],
                "charges": row["charges"],
            }
