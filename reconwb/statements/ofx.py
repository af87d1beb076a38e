"""OFX and QFX statements: 1.x (SGML, closing tags optional) and 2.x (XML), as banks really write them.

Banks send XML declarations over SGML bodies, closing tags on some leaves and not others, `<BALAMT/>`, stray
closing tags and decimal commas. Every version is therefore read by one lenient tokenizer into an element tree
(each element keeps its line, so an error can name it): a leaf is an element that is never closed, an aggregate
one that is. Nothing here expands entities or reads a DTD (`&amp;`-style escapes only), so the XML dangers that
defusedxml guards against cannot arise. What the tokenizer tolerates is reported as a warning; what it cannot
read (a truncated file, text outside any element, a bad amount) refuses the whole file.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET  # noqa: S405 - Element building only; nothing is parsed by ElementTree
from decimal import Decimal

from reconwb.statements.model import (
    Balance,
    Line,
    Source,
    Statement,
    StatementError,
    decode,
    find_creditor_reference,
    parse_amount,
    read_bytes,
    source_name,
)
from reconwb.transactions import Txn

TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9._:-]*)\s*(/?)>([^<]*)")
IGNORED = re.compile(r"<!--.*?-->|<\?.*?\?>", re.DOTALL)  # comments and processing instructions
HEADER_ENCODING = re.compile(r"^CHARSET:(\S+)", re.MULTILINE)
XML_ENCODING = re.compile(r"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.:-]+)", re.IGNORECASE)
STATEMENT_PATHS = (
    ("BANKMSGSRSV1", "STMTTRNRS", "STMTRS", "BANKACCTFROM"),
    ("CREDITCARDMSGSRSV1", "CCSTMTTRNRS", "CCSTMTRS", "CCACCTFROM"),
)
CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "NONE": "utf-8", "UTF-8": "utf-8",
            "US-ASCII": "utf-8", "USASCII": "utf-8"}
LINE = "line"  # the attribute where the tokenizer keeps an element's line
# aggregates: an element of these left open when its parent closes was a missing closing tag, not a leaf
AGGREGATES = {"OFX", "SONRS", "STATUS", "FI", "STMTTRN", "STMTTRNP", "PAYEE", "CURRENCY", "ORIGCURRENCY", "BAL",
              "MKTGINFO"}
AGGREGATE_SUFFIXES = ("MSGSRSV1", "TRNRS", "STMTRS", "ACCTFROM", "ACCTTO", "TRANLIST", "TRANLISTP", "BAL")
DECLARATIONS = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def read(source: Source, *, name: str | None = None, encoding: str | None = None) -> list[Statement]:
    name = source_name(source, name)
    data = read_bytes(source, name, kind="OFX")
    if not data.strip():
        raise StatementError("empty file", file=name, line=1)
    text = decode(data, name, encoding or _declared_encoding(data))
    declaration = DECLARATIONS.search(text)
    if declaration:  # never needed by OFX; the way into entity expansion and external files
        raise StatementError(f"refused: the file declares a DTD or entities (<!{declaration.group(1)}>)",
                             file=name, line=text.count("\n", 0, declaration.start()) + 1)
    warnings: list[str] = []
    root = _parse(text, name, warnings)
    if root.tag != "OFX":
        raise StatementError(f"not an OFX document (root element <{root.tag}>)", file=name, line=_line(root))
    statements = []
    for msgs, trnrs, stmtrs, acct_tag in STATEMENT_PATHS:
        for resp in root.findall(f"{msgs}/{trnrs}/{stmtrs}"):
            statements.append(_statement(resp, acct_tag, name))
    if not statements:
        raise StatementError("no bank or credit card statement (STMTRS or CCSTMTRS) in the OFX file", file=name,
                             line=_line(root))
    statements[0].warnings.extend(warnings)
    return statements


def _declared_encoding(data: bytes) -> str:
    """What the header says: `CHARSET:1252` (1.x) or `<?xml encoding=...?>` (2.x); UTF-8 otherwise."""
    head = data[:2048].decode("ascii", errors="replace")
    xml = XML_ENCODING.search(head)
    if xml:
        return CHARSETS.get(xml.group(1).upper(), xml.group(1))
    charset = HEADER_ENCODING.search(head)
    return CHARSETS.get(charset.group(1).upper(), "utf-8") if charset else "utf-8"


def _parse(text: str, name: str, warnings: list[str]) -> ET.Element:
    """OFX text (any version) as an element tree; tolerated oddities go to `warnings`."""
    start = text.upper().find("<OFX>")
    if start < 0:
        raise StatementError("no <OFX> element", file=name, line=1)
    offset_line = text.count("\n", 0, start) + 1
    body = IGNORED.sub(lambda m: "\n" * m.group(0).count("\n"), text[start:])  # keep the line numbers
    root: ET.Element | None = None
    stack: list[ET.Element] = []
    position = 0
    for match in TOKEN.finditer(body):
        line = offset_line + body.count("\n", 0, match.start())
        gap = body[position:match.start()]
        if gap.strip():
            raise StatementError(f"unexpected text {gap.strip()[:30]!r}", file=name, line=line)
        position = match.end()
        closing, tag, empty, value = match.group(1) == "/", match.group(2).upper(), match.group(3), match.group(4)
        if closing:
            if not any(e.tag == tag for e in stack):
                warnings.append(f"{name}:{line}: closing tag </{tag}> without an open <{tag}>: ignored")
                continue
            while stack[-1].tag != tag:
                _close_unclosed(stack, name, warnings)
            stack.pop()
            continue
        if stack and stack[-1].text is not None and not len(stack[-1]):
            stack.pop()  # a leaf with a value is closed by the next tag
        elem = ET.Element(tag, {LINE: str(line)})
        if root is None:
            root = elem
        elif not stack:
            raise StatementError(f"<{tag}> after the end of the OFX document", file=name, line=line)
        else:
            stack[-1].append(elem)
        if empty:
            warnings.append(f"{name}:{line}: empty element <{tag}/>: read as no value")
            continue
        if value.strip():
            elem.text = html.unescape(value.strip())  # &amp; &lt; &gt; &#NN;: no entity can be declared here
        stack.append(elem)
    tail = body[position:].strip()
    if tail:
        raise StatementError(f"unexpected text {tail[:30]!r}", file=name,
                             line=offset_line + body.count("\n", 0, position))
    if root is None:
        raise StatementError("no OFX elements", file=name, line=offset_line)
    if stack and stack[0] is root:
        open_aggregates = [e.tag for e in stack if len(e)]
        raise StatementError(f"truncated: <{(open_aggregates or [root.tag])[-1]}> is never closed", file=name,
                             line=offset_line + body.count("\n"))
    return root


def _close_unclosed(stack: list[ET.Element], name: str, warnings: list[str]) -> None:
    """Pop an element left open inside an aggregate that closes. A leaf (an empty one such as `<MEMO>` directly
    followed by the next tag) gives back what it swallowed to its parent, in order; an aggregate keeps it."""
    elem = stack.pop()
    if elem.tag in AGGREGATES or elem.tag.endswith(AGGREGATE_SUFFIXES):
        warnings.append(f"{name}:{elem.get(LINE)}: <{elem.tag}> is never closed: closed with its parent")
        return
    if len(elem) and stack:
        parent = stack[-1]
        index = list(parent).index(elem) + 1
        for offset, child in enumerate(list(elem)):
            elem.remove(child)
            parent.insert(index + offset, child)


def _line(elem: ET.Element | None) -> int | None:
    value = elem.get(LINE) if elem is not None else None
    return int(value) if value else None


def ofx_amount(text: str) -> str:
    """An OFX amount as plain decimal text: padding dropped, a decimal comma (`-11,76`) or European grouping
    (`1.234,56`) made a point. Anything else is left for `parse_amount` to refuse."""
    value = text.replace("\u00a0", "").replace(" ", "").removeprefix("+")
    if "," in value and "." in value:
        decimal = "," if value.rfind(",") > value.rfind(".") else "."
        value = value.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in value:
        value = value.replace(",", ".")
    return value


def _statement(resp: ET.Element, acct_tag: str, name: str) -> Statement:
    currency = _text(resp, "CURDEF") or ""
    acct = resp.find(acct_tag)
    account = _text(acct, "ACCTID") if acct is not None else None
    st = Statement(account_ref=account, currency=currency or None)
    ledger = resp.find("LEDGERBAL")
    if ledger is not None and _text(ledger, "BALAMT"):
        try:
            st.closing = Balance(_amount(ledger.find("BALAMT"), currency, "LEDGERBAL", name),
                                 _date(ledger.find("DTASOF"), name, required=False))
        except StatementError as err:  # a balance only checks the lines; the lines are still good
            st.warnings.append(f"{err}: the ledger balance is not used")
    if account and re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", account):
        st.iban = account
    for trn in resp.findall("BANKTRANLIST/STMTTRN"):
        st.lines.append(Line(_txn(trn, currency, name)))
    return st


def _amount(elem: ET.Element | None, currency: str, what: str, name: str) -> Decimal:
    text = elem.text if elem is not None else None
    if not text:
        raise StatementError(f"{what} without an amount", file=name, line=_line(elem))
    return parse_amount(ofx_amount(text), currency, what, name, _line(elem))


def _txn(trn: ET.Element, currency: str, name: str) -> Txn:
    ccy = _text(trn, "CURRENCY/CURSYM") or _text(trn, "ORIGCURRENCY/CURSYM") or currency
    if trn.find("TRNAMT") is None:
        raise StatementError(f"transaction {_text(trn, 'FITID') or ''} without TRNAMT", file=name, line=_line(trn))
    amount = _amount(trn.find("TRNAMT"), ccy, "TRNAMT", name)
    posted_elem = trn.find("DTPOSTED") if _text(trn, "DTPOSTED") else trn.find("DTUSER")
    posted = _date(posted_elem if posted_elem is not None else trn, name, required=True)
    memo = _text(trn, "MEMO") or ""
    payee = _text(trn, "NAME") or _text(trn, "PAYEE/NAME") or ""
    refnum = _text(trn, "REFNUM") or _text(trn, "CHECKNUM") or ""
    reference = find_creditor_reference(memo, payee, refnum) or refnum
    value_elem = trn.find("DTAVAIL") if _text(trn, "DTAVAIL") else trn.find("DTUSER")
    return Txn(
        booked_on=posted,
        amount=amount,
        currency=ccy,
        description=memo or payee,
        reference=reference,
        counterparty=payee,
        bank_txn_id=_text(trn, "FITID"),
        value_date=_date(value_elem, name, required=False),
        status="booked",
    )


def _text(elem: ET.Element | None, path: str) -> str | None:
    if elem is None:
        return None
    found = elem.find(path)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _date(elem: ET.Element | None, name: str, *, required: bool) -> dt.date | None:
    """OFX datetimes are `YYYYMMDD[HHMMSS[.XXX]][[-5:EST]]`; only the day matters. `00000000` is no date."""
    text = " ".join((elem.text or "").split()) if elem is not None and elem.tag.startswith("DT") else ""
    if not text or text.strip("0") == "":
        if required:
            raise StatementError("transaction without DTPOSTED", file=name, line=_line(elem))
        return None
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        if not required:
            return None  # an unreadable optional date (a balance's DTASOF) is only missing information
        raise StatementError(f"bad OFX date {text[:30]!r} (expected YYYYMMDD)", file=name, line=_line(elem)) from None
