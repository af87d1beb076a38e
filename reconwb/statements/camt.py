"""ISO 20022 CAMT.053 (statement), CAMT.054 (notification) and CAMT.052 (report), versions .001.01 to .001.14.

Read as a stream with defusedxml's parser (entity expansion, DTDs and external entities are refused), one
`Ntry` at a time, so a 100 MB statement needs little memory; every element keeps the line it starts on, so an
error names the line and the element. A batch booking whose `TxDtls` carry amounts (`TxDtls/Amt`, or in older
versions only `TxDtls/AmtDtls/TxAmt/Amt`) that add up to the entry becomes one transaction per detail; the
charges the bank took stay with the line they belong to.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET  # noqa: S405 - only for the Element type and ParseError; parsing is defusedxml
from decimal import Decimal
from functools import lru_cache
from typing import BinaryIO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

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
SUPPORTED_VERSIONS = range(1, 15)  # .001.01 (2006) to .001.14, the newest the ISO 20022 registry publishes
STATEMENT_TAGS = {"Stmt", "Ntfctn", "Rpt"}
OPENING_CODES = ("OPBD", "PRCD", "OPAV", "ITBD")
CLOSING_CODES = ("CLBD", "CLAV")
STATUS = {"BOOK": "booked", "PDNG": "pending"}
NOT_PROVIDED = "NOTPROVIDED"
LINE = "{urn:reconwb}line"  # where each element keeps the line its start tag is on
DETAIL_AMOUNTS = ("Amt", "AmtDtls/TxAmt/Amt")  # .001.02 and older carry a detail's amount only in AmtDtls


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


def _line(elem: ET.Element | None) -> int | None:
    value = elem.get(LINE) if elem is not None else None
    return int(value) if value else None


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
                             file=name, line=reader.line()) from None
    except StatementError as err:
        if err.file is None:
            raise StatementError(err.detail, file=name, line=err.line or reader.line()) from None
        raise
    except LookupError as err:
        raise StatementError(f"the XML declares an encoding Python does not know ({err})", file=name,
                             line=1) from None
    except (OSError, UnicodeError) as err:
        raise StatementError(f"cannot read file: {err}", file=name) from None
    if not reader.seen_root:
        raise StatementError("empty file", file=name, line=1)
    if reader.skipped and reader.statements:
        reader.statements[0].warnings.append(
            f"{name}: {reader.skipped} entr{'y' if reader.skipped == 1 else 'ies'} with status INFO (information"
            f" only, not a booking) not stored; first at line {reader.first_skipped}")
    return reader.statements


class _Target:
    """TreeBuilder that stamps each element with its start line and hands finished ones to the reader."""

    def __init__(self, reader: _Reader) -> None:
        self.builder = ET.TreeBuilder()
        self.reader = reader
        self.expat: object = None
        self.open: list[ET.Element] = []  # the elements being built, outermost first

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        elem = self.builder.start(tag, {**attrs, LINE: str(self.expat.CurrentLineNumber)})  # type: ignore[attr-defined]
        self.open.append(elem)
        return elem

    def end(self, tag: str) -> ET.Element:
        elem = self.builder.end(tag)
        self.open.pop()
        if self.reader.finished(elem) and self.open:
            self.open[-1].remove(elem)  # read: not even an empty element stays per entry (550k of them)
        return elem

    def data(self, data: str) -> None:
        self.builder.data(data)

    def close(self) -> ET.Element:
        return self.builder.close()


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.statements: list[Statement] = []
        self.seen_root = False
        self.entry_no = 0
        self.namespace = ""
        self.current: Statement | None = None
        self.skipped = 0
        self.first_skipped: int | None = None
        self.expat: object = None

    def line(self) -> int | None:
        return getattr(self.expat, "CurrentLineNumber", None)

    def run(self, fh: BinaryIO) -> None:
        head = fh.read(SNIFF)
        fh.seek(0)
        self._check_root(head)
        ns = "{" + self.namespace + "}"
        self.tags = {ns + "Ntry": self._on_entry, ns + "Bal": self._on_balance, ns + "Acct": self._on_account,
                     **{ns + t: self._on_statement for t in STATEMENT_TAGS}}
        target = _Target(self)
        parser = DefusedXMLParser(target=target, forbid_dtd=True)
        target.expat = self.expat = parser.parser
        for block in iter(lambda: fh.read(1 << 16), b""):
            parser.feed(block)
        parser.close()
        self.seen_root = True

    def finished(self, elem: ET.Element) -> bool:
        """Hand a finished element to its handler; True when it was an entry, read and no longer needed."""
        handler = self.tags.get(elem.tag)
        if handler is not None:
            handler(elem)
        return handler == self._on_entry

    def _statement(self) -> Statement:
        if self.current is None:
            self.current = Statement(account_ref=None)
        return self.current

    def _on_entry(self, elem: ET.Element) -> None:
        st = self._statement()
        self.entry_no += 1
        st.lines.extend(self._entry(st, elem))
        st.compact()
        elem.clear()  # keep memory flat on large files (the target also drops it from its parent)

    def _on_balance(self, elem: ET.Element) -> None:
        self._balance(self._statement(), elem)

    def _on_account(self, elem: ET.Element) -> None:
        if self.current is None or self.current.account_ref is None:  # the statement's, not a party's
            self._account(self._statement(), elem)

    def _on_statement(self, elem: ET.Element) -> None:
        self.statements.append(self._statement())
        self.current = None
        elem.clear()

    def _check_root(self, head: bytes) -> None:
        if not head.strip():
            raise StatementError("empty file", file=self.name, line=1)
        match = NAMESPACE.search(head.decode("ascii", errors="replace"))
        if match is None:
            raise StatementError("not a CAMT document (no camt.052/053/054 namespace)", file=self.name, line=1)
        if int(match.group(2)) not in SUPPORTED_VERSIONS:
            raise StatementError(f"CAMT version {match.group(0).rsplit(':', 1)[-1]} is not supported (.001.01 to"
                                 f" .001.{SUPPORTED_VERSIONS[-1]:02d} are)", file=self.name, line=1)
        self.namespace = match.group(0)

    def _account(self, st: Statement, acct: ET.Element) -> None:
        iban = _text(acct, "Id/IBAN")
        st.iban = iban
        st.account_ref = iban or _text(acct, "Id/Othr/Id") or _text(acct, "Id/PrtryAcct/Id")
        st.currency = _text(acct, "Ccy") or st.currency
        st.name = _text(acct, "Nm") or _text(acct, "Ownr/Nm")

    def _balance(self, st: Statement, bal: ET.Element) -> None:
        code = _text(bal, "Tp/CdOrPrtry/Cd") or _text(bal, "Tp/CdOrPrtry/Prtry") or _text(bal, "Tp/Cd")
        amount, currency = self._amount(bal, "<Bal> balance", "Amt")
        when = _date(_text(bal, "Dt/Dt") or _text(bal, "Dt/DtTm"), bal)
        balance = Balance(amount, when)
        if code in OPENING_CODES and (st.opening is None or code == "OPBD"):
            st.opening = balance
        elif code in CLOSING_CODES and (st.closing is None or code == "CLBD"):
            st.closing = balance
        st.currency = st.currency or currency

    def _amount(self, elem: ET.Element, what: str, *paths: str, inherit: str | None = None) -> tuple[Decimal, str]:
        """The signed amount of `elem` (the first of `paths` present); a transaction detail without its own
        credit/debit indicator takes its entry's."""
        amt = next((a for a in (_find(elem, p) for p in paths) if a is not None), None)
        if amt is None or not (amt.text or "").strip():
            raise StatementError(f"{what} without an amount (<{'> or <'.join(paths)}>)", line=_line(elem))
        currency = (amt.get("Ccy") or "").upper()
        value = parse_amount(amt.text or "", currency or None, f"{what} <Amt>", self.name, _line(amt))
        indicator = _text(elem, "CdtDbtInd") or inherit
        if indicator not in ("CRDT", "DBIT"):
            found = "missing" if indicator is None else repr(indicator)
            raise StatementError(f"{what}: credit/debit indicator <CdtDbtInd> is {found} (expected CRDT or DBIT)",
                                 line=_line(_find(elem, "CdtDbtInd")) or _line(elem))
        return (-value if indicator == "DBIT" else value), currency

    def _entry(self, st: Statement, ntry: ET.Element) -> list[Line]:
        what = f"<Ntry> entry {self.entry_no}"
        amount, currency = self._amount(ntry, what, "Amt")
        currency = currency or st.currency or ""
        st.currency = st.currency or currency or None
        status_code = _text(ntry, "Sts") or _text(ntry, "Sts/Cd") or "BOOK"
        status = STATUS.get(status_code)
        if status is None:  # INFO and future codes: not a booking
            self.skipped += 1
            self.first_skipped = self.first_skipped or _line(ntry)
            return []
        booked = _date(_text(ntry, "BookgDt/Dt") or _text(ntry, "BookgDt/DtTm"), ntry)
        value_date = _date(_text(ntry, "ValDt/Dt") or _text(ntry, "ValDt/DtTm"), ntry)
        booked = booked or value_date
        if booked is None:
            raise StatementError(f"{what}: no booking or value date (<BookgDt>, <ValDt>)", line=_line(ntry))
        entry_ref = _text(ntry, "AcctSvcrRef") or _text(ntry, "NtryRef")
        entry_info = _text(ntry, "AddtlNtryInf")
        details = [d for dtls in _findall(ntry, "NtryDtls") for d in _findall(dtls, "TxDtls")]
        entry_charges = _charges(ntry, currency, self.name)
        indicator = _text(ntry, "CdtDbtInd")
        split = len(details) > 1 and self._details_add_up(details, amount, currency, indicator)
        if not split:
            detail = details[0] if len(details) == 1 else None
            txn = self._txn(detail, amount, currency, booked, value_date, status, entry_ref, entry_info)
            charges = entry_charges if entry_charges is not None else _charges(detail, currency, self.name)
            return [Line(txn, charges)]
        lines = []
        for number, detail in enumerate(details, start=1):
            detail_amount, _ = self._amount(detail, f"{what}, <TxDtls> {number}", *DETAIL_AMOUNTS,
                                            inherit=indicator)
            ref = _text(detail, "Refs/AcctSvcrRef")
            # the entry's id plus the detail's own (or its position): stable across re-imports
            bank_id = f"{entry_ref}/{ref or number}" if entry_ref else ref
            txn = self._txn(detail, detail_amount, currency, booked, value_date, status, bank_id, entry_info)
            lines.append(Line(txn, _charges(detail, currency, self.name)))
        if entry_charges is not None and all(line.charges is None for line in lines):
            # the bank charged the batch as a whole: keep it, on its first line, rather than lose it
            lines[0] = Line(lines[0].txn, entry_charges)
        return lines

    def _details_add_up(self, details: list[ET.Element], amount: Decimal, currency: str, indicator: str | None) -> bool:
        total = Decimal("0")
        for number, detail in enumerate(details, start=1):
            amt = next((a for a in (_find(detail, p) for p in DETAIL_AMOUNTS) if a is not None), None)
            if amt is None or (amt.get("Ccy") or currency).upper() != currency:
                return False
            total += self._amount(detail, f"<Ntry> entry {self.entry_no}, <TxDtls> {number}", *DETAIL_AMOUNTS,
                                  inherit=indicator)[0]
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


def _charges(elem: ET.Element | None, currency: str, name: str) -> Decimal | None:
    chrgs = _find(elem, "Chrgs")
    if chrgs is None:
        return None
    total = _find(chrgs, "TtlChrgsAndTaxAmt")
    if total is not None and (total.text or "").strip():
        return parse_amount(total.text or "", total.get("Ccy") or currency, "<Chrgs> charges", name, _line(total))
    amounts = [parse_amount(a.text or "0", a.get("Ccy") or currency, "<Chrgs> charges", name, _line(a))
               for a in (_find(r, "Amt") for r in _findall(chrgs, "Rcrd")) if a is not None]
    return sum(amounts, Decimal("0.00")) if amounts else None


def _date(text: str | None, elem: ET.Element) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise StatementError(f"<{_local(elem.tag)}>: bad date {text[:30]!r} (expected YYYY-MM-DD)",
                             line=_line(elem)) from None
