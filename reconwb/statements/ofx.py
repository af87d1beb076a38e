"""OFX and QFX statements: 1.x (SGML, closing tags optional) and 2.x (XML).

2.x is parsed with defusedxml, so DTDs and entities are refused. 1.x is not XML: elements that carry a value
usually have no closing tag. It is read here with a small tokenizer into the same element tree, which avoids
handing SGML to an XML parser and keeps both versions on one extraction path.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET  # noqa: S405 - Element building and ParseError only; XML parsing is defusedxml

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from reconwb.statements.model import (
    Balance,
    Line,
    Source,
    Statement,
    StatementError,
    decode,
    find_creditor_reference,
    parse_decimal,
    read_bytes,
    source_name,
)
from reconwb.transactions import Txn

TOKEN = re.compile(r"<(/?)([A-Za-z0-9._]+)>([^<]*)")
HEADER_ENCODING = re.compile(r"^CHARSET:(\S+)", re.MULTILINE)
STATEMENT_PATHS = (
    ("BANKMSGSRSV1", "STMTTRNRS", "STMTRS", "BANKACCTFROM"),
    ("CREDITCARDMSGSRSV1", "CCSTMTTRNRS", "CCSTMTRS", "CCACCTFROM"),
)
CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "NONE": "utf-8", "UTF-8": "utf-8"}


def read(source: Source, *, name: str | None = None, encoding: str | None = None) -> list[Statement]:
    name = source_name(source, name)
    data = read_bytes(source, name, kind="OFX")
    if not data.strip():
        raise StatementError("empty file", file=name)
    head = data[:2048].decode("ascii", errors="replace")
    if encoding is None:
        charset = HEADER_ENCODING.search(head)
        encoding = CHARSETS.get(charset.group(1).upper(), "utf-8") if charset and "<?xml" not in head else "utf-8"
    text = decode(data, name, encoding)
    root = _parse_xml(data, name) if text.lstrip().startswith("<?xml") else _parse_sgml(text, name)
    if root.tag != "OFX":
        raise StatementError(f"not an OFX document (root element <{root.tag}>)", file=name)
    statements = []
    for msgs, trnrs, stmtrs, acct_tag in STATEMENT_PATHS:
        for resp in root.findall(f"{msgs}/{trnrs}/{stmtrs}"):
            statements.append(_statement(resp, acct_tag, name))
    if not statements:
        raise StatementError("no bank or credit card statement (STMTRS) in the OFX file", file=name)
    return statements


def _parse_xml(data: bytes, name: str) -> ET.Element:
    try:
        return fromstring(data, forbid_dtd=True)
    except ET.ParseError as err:
        line = err.position[0] if getattr(err, "position", None) else None
        raise StatementError(f"malformed OFX 2 XML ({str(err).split(':')[0]})", file=name, line=line) from None
    except LookupError as err:
        raise StatementError(f"the XML declares an encoding Python does not know ({err})", file=name) from None
    except DefusedXmlException as err:
        raise StatementError(f"refused: the XML declares entities or a DTD ({type(err).__name__})",
                             file=name) from None


def _parse_sgml(text: str, name: str) -> ET.Element:
    """OFX 1.x: `<TAG>value` leaves without closing tags, `<AGG>...</AGG>` aggregates."""
    start = text.find("<OFX>")
    if start < 0:
        raise StatementError("no <OFX> element", file=name)
    offset_line = text.count("\n", 0, start) + 1
    body = text[start:]
    root: ET.Element | None = None
    stack: list[ET.Element] = []
    position = 0
    for match in TOKEN.finditer(body):
        gap = body[position:match.start()]
        if gap.strip():
            raise StatementError(f"unexpected text {gap.strip()[:30]!r}", file=name,
                                 line=offset_line + body.count("\n", 0, match.start()))
        position = match.end()
        closing, tag, value = match.group(1) == "/", match.group(2).upper(), match.group(3).strip()
        line = offset_line + body.count("\n", 0, match.start())
        if closing:
            if stack and stack[-1].tag == tag and stack[-1].text is not None and not len(stack[-1]):
                stack.pop()  # an explicit close of a leaf
            elif any(e.tag == tag for e in stack):
                while stack[-1].tag != tag:
                    stack.pop()
                stack.pop()
            else:
                raise StatementError(f"closing tag </{tag}> without an opening one", file=name, line=line)
            continue
        # a leaf left open by its predecessor is closed by the next tag
        if stack and stack[-1].text is not None and not len(stack[-1]):
            stack.pop()
        elem = ET.Element(tag)
        if root is None:
            root = elem
        elif not stack:
            raise StatementError(f"<{tag}> after the end of the OFX document", file=name, line=line)
        else:
            stack[-1].append(elem)
        if value:
            elem.text = html.unescape(value)  # SGML's &amp; &lt; &gt;; no entity can be declared here
        stack.append(elem)
    tail = body[position:].strip()
    if tail:
        raise StatementError(f"unexpected text {tail[:30]!r}", file=name,
                             line=offset_line + body.count("\n", 0, position))
    if root is None:
        raise StatementError("no OFX elements", file=name)
    open_aggregates = [e.tag for e in stack if e.text is None or len(e)]
    if open_aggregates:
        raise StatementError(f"truncated: <{open_aggregates[-1]}> is never closed", file=name,
                             line=offset_line + body.count("\n"))
    return root


def _statement(resp: ET.Element, acct_tag: str, name: str) -> Statement:
    currency = _text(resp, "CURDEF") or ""
    acct = resp.find(acct_tag)
    account = _text(acct, "ACCTID") if acct is not None else None
    ledger = resp.find("LEDGERBAL")
    closing = None
    if ledger is not None and _text(ledger, "BALAMT"):
        closing = Balance(parse_decimal(_text(ledger, "BALAMT") or "", "LEDGERBAL", name),
                          _date(_text(ledger, "DTASOF"), name, required=False))
    st = Statement(account_ref=account, currency=currency or None, closing=closing)
    if account and re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", account):
        st.iban = account
    for trn in resp.findall("BANKTRANLIST/STMTTRN"):
        st.lines.append(Line(_txn(trn, currency, name)))
    return st


def _txn(trn: ET.Element, currency: str, name: str) -> Txn:
    amount_text = _text(trn, "TRNAMT")
    if not amount_text:
        raise StatementError(f"transaction {_text(trn, 'FITID') or ''} without TRNAMT", file=name)
    if "," in amount_text and "." not in amount_text:
        amount_text = amount_text.replace(",", ".")  # some banks write a decimal comma
    amount = parse_decimal(amount_text, "TRNAMT", name)
    posted = _date(_text(trn, "DTPOSTED"), name, required=True)
    memo = _text(trn, "MEMO") or ""
    payee = _text(trn, "NAME") or _text(trn, "PAYEE/NAME") or ""
    ccy = _text(trn, "CURRENCY/CURSYM") or _text(trn, "ORIGCURRENCY/CURSYM") or currency
    refnum = _text(trn, "REFNUM") or _text(trn, "CHECKNUM") or ""
    reference = find_creditor_reference(memo, payee, refnum) or refnum
    return Txn(
        booked_on=posted,
        amount=amount,
        currency=ccy,
        description=memo or payee,
        reference=reference,
        counterparty=payee,
        bank_txn_id=_text(trn, "FITID"),
        value_date=_date(_text(trn, "DTAVAIL") or _text(trn, "DTUSER"), name, required=False),
        status="booked",
    )


def _text(elem: ET.Element | None, path: str) -> str | None:
    if elem is None:
        return None
    found = elem.find(path)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _date(text: str | None, name: str, *, required: bool) -> dt.date | None:
    """OFX datetimes are `YYYYMMDD[HHMMSS[.XXX]][[-5:EST]]`; only the day matters here."""
    if not text:
        if required:
            raise StatementError("transaction without DTPOSTED", file=name)
        return None
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        raise StatementError(f"bad OFX date {text[:30]!r}", file=name) from None
