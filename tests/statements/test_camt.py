"""CAMT across versions .001.02-.001.08, references, pending lines, and hostile or broken XML."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconwb.statements import StatementError, camt

ENTRY = """<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{status}
<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>
<RltdPties><Dbtr><Nm>Payer {ref}</Nm></Dbtr><DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
</RltdPties><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def document(entries: str, *, kind: str = "053", version: str = "04", balances: str = "") -> bytes:
    wrapper, item = {"053": ("BkToCstmrStmt", "Stmt"), "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
                     "052": ("BkToCstmrAcctRpt", "Rpt")}[kind]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version}"><{wrapper}>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-01T10:00:00</CreDtTm></GrpHdr>
<{item}><Id>S1</Id><Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>{balances}
{entries}
</{item}></{wrapper}></Document>""".encode()


def entry(amount: str = "10.00", ind: str = "CRDT", day: str = "2026-03-02", ref: str = "R1", e2e: str = "NOTPROVIDED",
          text: str = "thanks", status: str = "<Sts>BOOK</Sts>") -> str:
    return ENTRY.format(amount=amount, ind=ind, day=day, ref=ref, e2e=e2e, text=text, status=status)


def balance(code: str, amount: str, ind: str = "CRDT") -> str:
    return (f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{amount}</Amt>'
            f"<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>")


@pytest.mark.parametrize("version", ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
                                     "14"])
@pytest.mark.parametrize("kind", ["052", "053", "054"])
def test_every_supported_version(kind: str, version: str) -> None:
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version >= "08" else "<Sts>BOOK</Sts>"  # .08 on wraps the status code
    data = document(entry(status=status) + entry("2.50", "DBIT", ref="R2", status=status), kind=kind,
                    version=version)
    [st] = camt.read(data, name="v.xml")
    assert st.iban == "CH9300762011623852957"
    assert [ln.txn.amount for ln in st.lines] == [D("10.00"), D("-2.50")]


def test_unsupported_version_and_foreign_xml() -> None:
    with pytest.raises(StatementError, match=r"v15\.xml:1: CAMT version camt\.053\.001\.15 is not supported"):
        camt.read(document(entry(), version="15"), name="v15.xml")
    with pytest.raises(StatementError, match="not a CAMT document"):
        camt.read(b"<?xml version='1.0'?><Document xmlns='urn:other'><x/></Document>", name="o.xml")


def test_references_counterparty_and_iban() -> None:
    data = document(
        entry(ref="A", e2e="E2E-77", text="no ref here")
        + entry(ref="B", e2e="E2E-78", text="Invoice RF18 5390 0754 7034 March")
        + entry(ref="C", text="nothing")
    )
    [st] = camt.read(data, name="r.xml")
    refs = [ln.txn.reference for ln in st.lines]
    assert refs == ["E2E-77", "RF18539007547034", ""]  # EndToEndId; RF in the text wins; NOTPROVIDED is none
    assert st.lines[0].txn.counterparty == "Payer A"
    assert st.lines[0].txn.counterparty_iban == "DE89370400440532013000"


def test_pending_and_info_entries() -> None:
    data = document(entry(ref="P", status="<Sts>PDNG</Sts>") + entry(ref="I", status="<Sts>INFO</Sts>")
                    + entry(ref="B"))
    [st] = camt.read(data, name="p.xml")
    assert [(ln.txn.bank_txn_id, ln.txn.status) for ln in st.lines] == [("P", "pending"), ("B", "booked")]


def test_balance_mismatch_is_reported() -> None:
    ok = document(entry("10.00"), balances=balance("OPBD", "100.00") + balance("CLBD", "110.00"))
    bad = document(entry("10.00"), balances=balance("OPBD", "100.00") + balance("CLBD", "111.00"))
    assert camt.read(ok, name="ok.xml")[0].balance_warning("ok.xml") is None
    warning = camt.read(bad, name="bad.xml")[0].balance_warning("bad.xml")
    assert "bad.xml" in warning and "111.00" in warning and "difference 1.00" in warning


def test_batch_whose_details_do_not_add_up_stays_one_line() -> None:
    details = ('<TxDtls><Amt Ccy="EUR">4.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>'
               '<TxDtls><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>')
    ntry = ('<Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            '<BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>X</AcctSvcrRef>'
            f"<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>{details}</NtryDtls></Ntry>")
    [st] = camt.read(document(ntry), name="b.xml")
    assert [ln.txn.amount for ln in st.lines] == [D("10.00")]


def test_batch_charged_as_a_whole_keeps_its_charges() -> None:
    details = ('<TxDtls><Amt Ccy="EUR">4.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>'
               '<TxDtls><Amt Ccy="EUR">6.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></TxDtls>')
    ntry = ('<Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            '<BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>X</AcctSvcrRef>'
            '<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">0.80</TtlChrgsAndTaxAmt></Chrgs>'
            f"<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>{details}</NtryDtls></Ntry>")
    [st] = camt.read(document(ntry), name="c.xml")
    assert [(ln.txn.amount, ln.txn.bank_txn_id, ln.charges) for ln in st.lines] == [
        (D("4.00"), "X/1", D("0.80")), (D("6.00"), "X/2", None)]


HOSTILE = {
    "billion_laughs": b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt><Stmt><Id>&d;</Id></Stmt>
</BkToCstmrStmt></Document>""",
    "external_entity": b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt><Stmt><Id>&x;</Id></Stmt>
</BkToCstmrStmt></Document>""",
    "dtd_only": b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt/></Document>""",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_xml_is_refused(kind: str) -> None:
    with pytest.raises(StatementError, match=rf"{kind}\.xml:\d+: refused"):
        camt.read(HOSTILE[kind], name=f"{kind}.xml")


def test_truncated_xml_names_the_line() -> None:
    data = document(entry() + "\n" + entry(ref="R2"))
    cut = data[: data.rindex(b"<AcctSvcrRef>")]
    with pytest.raises(StatementError, match=r"cut\.xml:\d+: malformed XML"):
        camt.read(cut, name="cut.xml")


def test_entry_without_amount() -> None:
    data = document(entry().replace('<Amt Ccy="EUR">10.00</Amt>', "", 1))
    with pytest.raises(StatementError, match=r"noamt\.xml:\d+: <Ntry> entry 1 without an amount"):
        camt.read(data, name="noamt.xml")


def test_empty_file() -> None:
    with pytest.raises(StatementError, match="empty"):
        camt.read(b"", name="e.xml")
