"""OFX 1.x (SGML) and 2.x (XML/QFX) statements written for these tests, and hostile or broken OFX."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconwb.statements import StatementError, ofx, parse
from tests.statements.conftest import DATA


def test_ofx1_sgml_without_closing_tags() -> None:
    fmt, [st] = parse(DATA / "checking_v102.ofx")
    assert fmt == "ofx"
    assert (st.account_ref, st.currency) == ("4000123456", "USD")
    # TRNAMT 1250.00, -42.37, -300.00; LEDGERBAL 5907.63
    assert [ln.txn.amount for ln in st.lines] == [D("1250.00"), D("-42.37"), D("-300.00")]
    assert st.closing.amount == D("5907.63")
    first, second, cheque = (ln.txn for ln in st.lines)
    assert first.bank_txn_id == "2026030201"  # FITID
    assert str(first.booked_on) == "2026-03-02"  # DTPOSTED 20260302120000[-5:EST]
    assert first.reference == "RF18539007547034"  # RF reference written in groups in the MEMO
    assert first.counterparty == "ACME Corp"
    assert second.counterparty == "Gas & Power"
    assert cheque.reference == "1042"  # CHECKNUM


def test_ofx2_xml_credit_card() -> None:
    fmt, [st] = parse(DATA / "card_v220.qfx")
    assert fmt == "ofx"
    assert st.account_ref == "5500000000000004"
    assert st.total() == D("74.51")  # -19.99 - 5.50 + 100.00
    assert st.closing.amount == D("-225.49")
    assert st.lines[0].txn.counterparty == "Bücherstube Zürich"  # UTF-8 kept
    assert str(st.lines[0].txn.value_date) == "2026-03-04"  # DTUSER


HOSTILE = {
    "billion_laughs": b"""<?xml version="1.0"?>
<!DOCTYPE OFX [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;">]>
<?OFX OFXHEADER="200" VERSION="220"?><OFX><x>&c;</x></OFX>""",
    "external_entity": b"""<?xml version="1.0"?>
<!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<?OFX OFXHEADER="200" VERSION="220"?><OFX><x>&x;</x></OFX>""",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_ofx2_is_refused(kind: str) -> None:
    with pytest.raises(StatementError, match="refused"):
        ofx.read(HOSTILE[kind], name=f"{kind}.ofx")


def test_truncated_sgml_names_the_file() -> None:
    text = (DATA / "checking_v102.ofx").read_bytes()
    cut = text[: text.index(b"<LEDGERBAL>")]
    with pytest.raises(StatementError, match=r"short\.ofx:\d+: truncated: <STMTRS> is never closed"):
        ofx.read(cut, name="short.ofx")


def test_stray_closing_tag_is_a_warning_with_its_line() -> None:
    base = (DATA / "checking_v102.ofx").read_text()
    text = base.replace("</BANKTRANLIST>", "</BANKTRANLIST></NOPE>")
    [st] = ofx.read(text.encode(), name="bad.ofx")
    [clean] = ofx.read(base.encode(), name="good.ofx")
    assert st.total() == clean.total() and st.count() == clean.count()
    line = base[: base.index("</BANKTRANLIST>")].count("\n") + 1
    assert any(w.startswith(f"bad.ofx:{line}:") and "</NOPE>" in w for w in st.warnings)


def test_missing_amount_and_bad_date() -> None:
    base = (DATA / "checking_v102.ofx").read_text()
    with pytest.raises(StatementError, match="without TRNAMT"):
        ofx.read(base.replace("<TRNAMT>-42.37\n", "").encode(), name="a.ofx")
    with pytest.raises(StatementError, match="bad OFX date"):
        ofx.read(base.replace("<DTPOSTED>20260303", "<DTPOSTED>2026-3-3").encode(), name="b.ofx")


def test_ofx2_with_a_missing_closing_tag_is_read_with_a_warning() -> None:
    data = (DATA / "card_v220.qfx").read_bytes().replace(b"</CCSTMTRS>", b"")
    [st] = ofx.read(data, name="m.qfx")
    assert st.total() == D("74.51")
    assert any(w.startswith("m.qfx:") and "<CCSTMTRS> is never closed" in w for w in st.warnings)
