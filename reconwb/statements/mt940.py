"""SWIFT MT940 statements, parsed with the `mt-940` package.

The package is lenient: it reads a misplaced tag as part of its neighbour and returns what it could. So the
file's tag structure is checked here first (with line numbers), and the file is cut into its statements
(`:20:` starts one, as does a second opening balance) so each keeps its own account and balances.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

import mt940

from reconwb.statements.model import (
    CENT,
    Balance,
    Line,
    Source,
    Statement,
    StatementError,
    decode,
    find_creditor_reference,
    read_bytes,
    source_name,
)
from reconwb.transactions import Txn

TAG = re.compile(r"^:(\d{2}[A-Z]?):")
OPENING = {"60F", "60M"}
CLOSING = {"62F", "62M"}
HEADER_TAGS = {"20", "21", "25", "28", "28C"}
NO_REFERENCE = {"", "NONREF", "NOTPROVIDED"}
# SEPA subfields that follow the end-to-end id inside :86: when a bank runs them together
SEPA_FIELD = re.compile(r"(SVWZ|MTLG|KREF|MREF|CRED|DEBT|ABWA|ABWE|EREF)[+:]")
ACCOUNT_MAX = 35

logging.getLogger("mt940").setLevel(logging.CRITICAL)  # it logs every failed regex attempt


@dataclass
class _Chunk:
    start: int  # 1-based file line of `lines[skip]`
    skip: int = 0  # header lines copied from the previous statement
    lines: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def read(source: Source, *, name: str | None = None, encoding: str = "utf-8") -> list[Statement]:
    name = source_name(source, name)
    text = decode(read_bytes(source, name, kind="MT940"), name, encoding).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise StatementError("empty file", file=name)
    chunks = _split(text.split("\n"), name)
    return [_statement(chunk, name) for chunk in chunks]


def _split(lines: list[str], name: str) -> list[_Chunk]:
    """Cut at each `:20:` (and at a repeated opening balance), checking the tag order on the way."""
    chunks: list[_Chunk] = []
    current: _Chunk | None = None
    header: list[str] = []
    for number, line in enumerate(lines, start=1):
        match = TAG.match(line)
        if match is None:
            if current is not None:
                current.lines.append(line)
            continue
        tag = match.group(1)
        if current is None or tag == "20" or (tag in OPENING and any(t in OPENING for t in current.tags)):
            carried = list(header) if tag != "20" and current else []
            current = _Chunk(start=number, skip=len(carried), lines=carried)
            chunks.append(current)
            header = []
        if tag in HEADER_TAGS:
            header.append(line)
            if "61" in current.tags:
                raise StatementError(f"tag :{tag}: inside the transactions of a statement (missing :20:?)",
                                     file=name, line=number)
        if tag == "25":
            account = line[len(match.group(0)):]
            continued = number < len(lines) and lines[number] and not TAG.match(lines[number]) \
                and not lines[number].startswith("-")
            if len(account) > ACCOUNT_MAX or continued:
                raise StatementError(f":25: account identification must be one line of at most {ACCOUNT_MAX}"
                                     f" characters, got {account[:40]!r}", file=name, line=number)
        if tag == "61" and not any(t in OPENING for t in current.tags):
            raise StatementError("transaction (:61:) before the opening balance (:60F:)", file=name, line=number)
        current.tags.append(tag)
        current.lines.append(line)
    if not chunks:
        raise StatementError("no MT940 tags found (expected lines such as :20:, :25:, :60F:)", file=name, line=1)
    return chunks


def _statement(chunk: _Chunk, name: str) -> Statement:
    # the package's own :86: post-processor runs ?31 (IBAN) into the name; `_subfields` reads them apart
    parsed = mt940.models.Transactions(processors={"post_transaction_details": []})
    body = "\n".join(chunk.lines)
    try:
        parsed.parse(body)
        return _normalise(parsed, chunk, name)
    except StatementError:
        raise
    except Exception as err:  # the package raises RuntimeError/ValueError/KeyError...: name the line instead
        raise StatementError(f"malformed MT940: {_reason(err)}", file=name, line=_line_of(err, chunk)) from None


def _normalise(parsed: mt940.models.Transactions, chunk: _Chunk, name: str) -> Statement:
    data = parsed.data
    opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    currency = (opening or closing).amount.currency if (opening or closing) else None
    account = (data.get("account_identification") or "").strip() or None
    st = Statement(account_ref=account, currency=currency, opening=_balance(opening), closing=_balance(closing))
    if account and re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", account.replace(" ", "")):
        st.iban = account.replace(" ", "")
    for txn in parsed.transactions:
        st.lines.append(Line(_txn(txn.data, currency, name)))
    return st


def _balance(balance: object) -> Balance | None:
    if balance is None:
        return None
    return Balance(balance.amount.amount.quantize(CENT), _as_date(balance.date))


def _txn(d: dict, currency: str | None, name: str) -> Txn:
    amount = d.get("amount")
    if amount is None or d.get("date") is None:
        raise StatementError("transaction without amount or date", file=name)
    raw = d.get("transaction_details") or ""
    fields = _subfields(raw)
    if fields is not None:  # German/SEPA structured :86: (GVC code, then ?NN subfields)
        purpose_text = "".join(fields.get(k, "") for k in [*(str(n) for n in range(20, 30)), "60", "61", "62", "63"])
        sepa = _sepa(purpose_text)
        purpose = sepa.get("SVWZ") or (purpose_text if not sepa else "")
        description = " ".join(x for x in (fields.get("00"), purpose, sepa.get("MTLG")) if x)
        counterparty = fields.get("32", "") + fields.get("33", "")
        iban = fields.get("31") or None
        end_to_end = sepa.get("EREF")
    else:
        description = " ".join(raw.split())
        counterparty, iban, end_to_end = "", None, None
    customer_ref = SEPA_FIELD.sub("", (d.get("customer_reference") or "").split("\n")[0]).strip()
    bank_ref = (d.get("bank_reference") or "").strip()
    reference = (find_creditor_reference(customer_ref, description) or _no_placeholder(end_to_end)
                 or _no_placeholder(customer_ref))
    entry = d.get("entry_date") or d.get("guessed_entry_date") or d.get("date")
    return Txn(
        booked_on=_as_date(entry),
        amount=amount.amount.quantize(CENT),
        currency=amount.currency or currency or "",
        description=" ".join(description.split()),
        reference=reference or "",
        counterparty=" ".join(counterparty.split()),
        bank_txn_id=bank_ref if bank_ref.upper() not in NO_REFERENCE else None,
        value_date=_as_date(d.get("date")),
        counterparty_iban=iban.replace(" ", "") if iban else None,
        status="booked",
    )


def _subfields(raw: str) -> dict[str, str] | None:
    """`166?00GUTSCHRIFT?20...?31DE42...?32NAME` as {"00": "GUTSCHRIFT", ...}; None for free text."""
    flat = raw.replace("\n", "")
    if not re.match(r"^\d{3}\?\d\d", flat):
        return None
    fields: dict[str, str] = {}
    for key, value in re.findall(r"\?(\d\d)([^?]*)", flat):
        fields[key] = fields.get(key, "") + value
    return fields


def _sepa(text: str) -> dict[str, str]:
    """SEPA purpose keywords (EREF+, SVWZ+, MTLG:, ...) and their values."""
    parts = SEPA_FIELD.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def _no_placeholder(value: str | None) -> str | None:
    if not value or value.strip().upper() in NO_REFERENCE:
        return None
    return value.strip()


def _as_date(value: object) -> dt.date | None:
    """mt940's own Date subclass, as a plain date."""
    return dt.date(value.year, value.month, value.day) if value is not None else None


def _reason(err: Exception) -> str:
    text = str(err.args[0]) if err.args else type(err).__name__
    text = re.sub(r"<mt940\.tags\.(\w+) object at 0x[0-9a-f]+>", r"\1", text)
    return " ".join(text.split())[:160]


def _line_of(err: Exception, chunk: _Chunk) -> int:
    """The line that holds the value the package choked on, else the statement's first line."""
    value = next((a for a in reversed(err.args) if isinstance(a, str) and a.strip()), None) if err.args else None
    if value:
        probe = value.strip().split("\n")[0][:30]
        for offset, line in enumerate(chunk.lines):
            if probe and probe in line and offset >= chunk.skip:
                return chunk.start + offset - chunk.skip
    return chunk.start

