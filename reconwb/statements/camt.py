"""ISO 20022 CAMT.053 (statement), CAMT.054 (notification) and CAMT.052 (report), versions .001.02 to .001.08.

Read as a stream with defusedxml (entity expansion and external entities are refused), one `Ntry` at a time,
so a 100 MB statement needs little memory. A batch booking whose `TxDtls` carry amounts that add up to the
entry becomes one transaction per detail; the charges the bank took stay with the line they belong to.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET  # noqa: S405 - only for the Element type and ParseError; parsing is defusedxml
from decimal import Decimal
from functools import lru_cache
from typing import BinaryIO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from reconwb.statements.model import (
    Balance,
    Line,
    Source,
    Statement,
    StatementError,
    find_creditor_reference,
    open_source,
    parse_amount,
    source_name,
)
from reconwb.transactions import Txn

NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05([234])\.001\.(\d\d)")
SNIFF = 64 * 1024
SUPPORTED_VERSIONS = range(2, 9)
STATEMENT_TAGS = {"Stmt", "Ntfctn", "Rpt"}
OPENING_CODES = ("OPBD", "PRCD", "OPAV")
CLOSING_CODES = ("CLBD", "CLAV")
STATUS = {"BOOK": "booked", "PDNG": "pending"}
NOT_PROVIDED = "NOTPROVIDED"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=512)
def _qualified(path: str, ns: str) -> str:
    return "/".join(f"{{{ns}}}{part}" for part in path.split("/"))


def _ns(elem: ET.Element) -> str:
    return elem.tag[1:].split("}", 1)[0] if elem.tag.startswith("{") else ""


def _find(elem: ET.Element | None, path: str) -> ET.Element | None:
    """Child lookup along `A/B/C` in the element's own namespace (ElementTree's C-accelerated find)."""
    if elem is None:
        return None
    return elem.find(_qualified(path, _ns(elem)))


def _findall(elem: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if elem is None else elem.findall(_qualified(name, _ns(elem)))


def _text(elem: ET.Element | None, path: str) -> str | None:
    found = _find(elem, path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def read(source: Source, *, name: str | None = None) -> list[Statement]:
    name = source_name(source, name)
    reader = _Reader(name)
    try:
        with open_source(source) as fh:
            reader.run(fh)
    except ET.ParseError as err:
        line = err.position[0] if getattr(err, "position", None) else None
        reason = str(err).split(":")[0]
        raise StatementError(f"malformed XML ({reason})", file=name, line=line) from None
    except DefusedXmlException as err:
        raise StatementError(f"refused: the XML declares entities or a DTD ({type(err).__name__})",
                             file=name) from None
    except StatementError as err:
        if err.file is None:
            raise StatementError(err.detail, file=name, line=err.line) from None
        raise
    except LookupError as err:
        raise StatementError(f"the XML declares an encoding Python does not know ({err})", file=name) from None
    except (OSError, UnicodeError) as err:
        raise StatementError(f"cannot read file: {err}", file=name) from None
    if not reader.seen_root:
        raise StatementError("empty file", file=name)
    return reader.statements


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.statements: list[Statement] = []
        self.seen_root = False
        self.entry_no = 0
        self.namespace = ""

    def run(self, fh: BinaryIO) -> None:
        head = fh.read(SNIFF)
        fh.seek(0)
        self._check_root(head)
        ns = "{" + self.namespace + "}"
        statement_tags = {ns + t for t in STATEMENT_TAGS}
        acct, bal, ntry = ns + "Acct", ns + "Bal", ns + "Ntry"
        current: Statement | None = None
        for _, elem in iterparse(fh, events=("end",), forbid_dtd=True):
            tag = elem.tag
            if tag == ntry:
                current = current or Statement(account_ref=None)
                self.entry_no += 1
                current.lines.extend(self._entry(current, elem))
                elem.clear()  # keep memory flat on large files
            elif tag == bal:
                current = current or Statement(account_ref=None)
                self._balance(current, elem)
            elif tag == acct and (current is None or current.account_ref is None):  # the statement's, not a party's
                current = current or Statement(account_ref=None)
                self._account(current, elem)
            elif tag in statement_tags:
                self.statements.append(current or Statement(account_ref=None))
                current = None
                elem.clear()
        self.seen_root = True

    def _check_root(self, head: bytes) -> None:
        if not head.strip():
            raise StatementError("empty file", file=self.name)
        match = NAMESPACE.search(head.decode("ascii", errors="replace"))
        if match is None:
            raise StatementError("not a CAMT document (no camt.052/053/054 namespace)", file=self.name, line=1)
        if int(match.group(2)) not in SUPPORTED_VERSIONS:
            raise StatementError(f"CAMT version {match.group(0).rsplit(':', 1)[-1]} is not supported"
                                 " (.001.02 to .001.08 are)", file=self.name, line=1)
        self.namespace = match.group(0)

    def _account(self, st: Statement, acct: ET.Element) -> None:
        iban = _text(acct, "Id/IBAN")
        st.iban = iban
        st.account_ref = iban or _text(acct, "Id/Othr/Id")
        st.currency = _text(acct, "Ccy") or st.currency
        st.name = _text(acct, "Nm") or _text(acct, "Ownr/Nm")

    def _balance(self, st: Statement, bal: ET.Element) -> None:
        code = _text(bal, "Tp/CdOrPrtry/Cd") or _text(bal, "Tp/CdOrPrtry/Prtry")
        amount, currency = self._amount(bal, "balance")
        when = _date(_text(bal, "Dt/Dt") or _text(bal, "Dt/DtTm"))
        balance = Balance(amount, when)
        if code in OPENING_CODES and (st.opening is None or code == "OPBD"):
            st.opening = balance
        elif code in CLOSING_CODES and (st.closing is None or code == "CLBD"):
            st.closing = balance
        st.currency = st.currency or currency

    def _amount(self, elem: ET.Element, what: str, inherit: str | None = None) -> tuple[Decimal, str]:
        """The signed amount of `elem`; a transaction detail without its own indicator takes its entry's."""
        amt = _find(elem, "Amt")
        if amt is None or not (amt.text or "").strip():
            raise StatementError(f"entry {self.entry_no}: {what} without an amount", file=self.name)
        value = parse_amount(amt.text or "", amt.get("Ccy"), f"{what} amount", self.name)
        indicator = _text(elem, "CdtDbtInd") or inherit
        if indicator not in ("CRDT", "DBIT"):
            raise StatementError(f"entry {self.entry_no}: {what} has credit/debit indicator {indicator!r}",
                                 file=self.name)
        return (-value if indicator == "DBIT" else value), (amt.get("Ccy") or "").upper()

    def _entry(self, st: Statement, ntry: ET.Element) -> list[Line]:
        amount, currency = self._amount(ntry, "entry")
        currency = currency or st.currency or ""
        st.currency = st.currency or currency or None
        status_code = _text(ntry, "Sts") or _text(ntry, "Sts/Cd") or "BOOK"
        status = STATUS.get(status_code)
        if status is None:  # INFO and future codes: not a booking
            return []
        booked = _date(_text(ntry, "BookgDt/Dt") or _text(ntry, "BookgDt/DtTm"))
        value_date = _date(_text(ntry, "ValDt/Dt") or _text(ntry, "ValDt/DtTm"))
        booked = booked or value_date
        if booked is None:
            raise StatementError(f"entry {self.entry_no}: no booking or value date", file=self.name)
        entry_ref = _text(ntry, "AcctSvcrRef") or _text(ntry, "NtryRef")
        entry_info = _text(ntry, "AddtlNtryInf")
        details = [d for dtls in _findall(ntry, "NtryDtls") for d in _findall(dtls, "TxDtls")]
        entry_charges = _charges(ntry)
        split = len(details) > 1 and self._details_add_up(details, amount, currency, _text(ntry, "CdtDbtInd"))
        if not split:
            detail = details[0] if len(details) == 1 else None
            txn = self._txn(detail, amount, currency, booked, value_date, status, entry_ref, entry_info)
            charges = entry_charges if entry_charges is not None else _charges(detail)
            return [Line(txn, charges)]
        lines = []
        for number, detail in enumerate(details, start=1):
            detail_amount, _ = self._amount(detail, "transaction detail", _text(ntry, "CdtDbtInd"))
            ref = _text(detail, "Refs/AcctSvcrRef")
            # the entry's id plus the detail's own (or its position): stable across re-imports
            bank_id = f"{entry_ref}/{ref or number}" if entry_ref else ref
            txn = self._txn(detail, detail_amount, currency, booked, value_date, status, bank_id, entry_info)
            lines.append(Line(txn, _charges(detail)))
        if entry_charges is not None and all(line.charges is None for line in lines):
            # the bank charged the batch as a whole: keep it, on its first line, rather than lose it
            lines[0] = Line(lines[0].txn, entry_charges)
        return lines

    def _details_add_up(self, details: list[ET.Element], amount: Decimal, currency: str, indicator: str | None) -> bool:
        total = Decimal("0")
        for detail in details:
            amt = _find(detail, "Amt")
            if amt is None or (amt.get("Ccy") or currency).upper() != currency:
                return False
            total += self._amount(detail, "transaction detail", indicator)[0]
        return total == amount

    def _txn(self, detail: ET.Element | None, amount: Decimal, currency: str, booked: dt.date,
             value_date: dt.date | None, status: str, bank_id: str | None, entry_info: str | None) -> Txn:
        incoming = amount >= 0
        party_role, account_role = ("Dbtr", "DbtrAcct") if incoming else ("Cdtr", "CdtrAcct")
        parties = _find(detail, "RltdPties")
        counterparty = _text(parties, f"{party_role}/Nm") or _text(parties, f"{party_role}/Pty/Nm") or ""
        iban = _text(parties, f"{account_role}/Id/IBAN")
        unstructured = " ".join(t.text.strip() for t in _findall(_find(detail, "RmtInf"), "Ustrd") if t.text)
        additional = _text(detail, "AddtlTxInf")
        description = " / ".join(x for x in (unstructured, additional, entry_info) if x)
        return Txn(
            booked_on=booked,
            amount=amount,
            currency=currency,
            description=description,
            reference=_reference(detail, unstructured) or "",
            counterparty=counterparty,
            bank_txn_id=bank_id,
            value_date=value_date,
            counterparty_iban=iban,
            status=status,
        )


def _reference(detail: ET.Element | None, unstructured: str) -> str | None:
    """Structured creditor reference (QR/ISR/RF), else an RF in the free text, else the EndToEndId."""
    if detail is None:
        return None
    for strd in _findall(_find(detail, "RmtInf"), "Strd"):
        ref = _text(strd, "CdtrRefInf/Ref")
        if ref:
            return ref.replace(" ", "")
    found = find_creditor_reference(unstructured)
    if found:
        return found
    end_to_end = _text(detail, "Refs/EndToEndId")
    if end_to_end and end_to_end.upper() != NOT_PROVIDED:
        return end_to_end
    return None


def _charges(elem: ET.Element | None) -> Decimal | None:
    chrgs = _find(elem, "Chrgs")
    if chrgs is None:
        return None
    total = _text(chrgs, "TtlChrgsAndTaxAmt")
    if total:
        return _money(total)
    amounts = [_money(_text(r, "Amt") or "0") for r in _findall(chrgs, "Rcrd")]
    return sum(amounts, Decimal("0.00")) if amounts else None


def _money(text: str) -> Decimal:
    return parse_amount(text, None, "charges", "")


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise StatementError(f"bad date {text[:30]!r}") from None
