"""OFX as banks really write it (invented data, real structure): XML declarations over SGML bodies, decimal
commas in every amount, empty and stray tags, QFX credit-card files, and money exact to the currency."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconwb.statements import StatementError, ofx, parse

# an OFX 2.11 header whose body leaves DTPOSTED, REFNUM and TRNAMT unclosed (not well-formed XML)
XML_OVER_SGML = """<?xml version="1.0" encoding="US-ASCII"?>
<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX>
  <BANKMSGSRSV1>
    <STMTTRNRS>
      <TRNUID>7</TRNUID>
      <STMTRS>
        <CURDEF>{currency}</CURDEF>
        <BANKACCTFROM><BANKID>077</BANKID><ACCTID>88120-4</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>
        <BANKTRANLIST>
          <STMTTRN>
            <TRNTYPE>CREDIT
            <DTPOSTED>20250714120000[-3:BRT]
            <TRNAMT>{first}
            <FITID>A-100</FITID>
            <REFNUM>99120
            <MEMO>Pix recebido Loja Azul</MEMO>
          </STMTTRN>
          <STMTTRN>
            <TRNTYPE>DEBIT</TRNTYPE>
            <DTPOSTED>20250715</DTPOSTED>
            <TRNAMT>{second}</TRNAMT>
            <FITID>A-101</FITID>
            <MEMO>Tarifa</MEMO>
          </STMTTRN>
        </BANKTRANLIST>
        <LEDGERBAL><BALAMT>{balance}</BALAMT><DTASOF>20250715</DTASOF></LEDGERBAL>
        <AVAILBAL><BALAMT/><DTASOF>20250715</DTASOF></AVAILBAL>
      </STMTRS>
    </STMTTRNRS>
  </BANKMSGSRSV1>
</OFX>
"""


def _xml_over_sgml(first: str = "1.234,56", second: str = "-7,30", balance: str = "  4.227,26",
                   currency: str = "BRL") -> bytes:
    return XML_OVER_SGML.format(first=first, second=second, balance=balance, currency=currency).encode()


def test_xml_declaration_over_an_sgml_body_is_read() -> None:
    [st] = ofx.read(_xml_over_sgml(), name="bank.ofx")
    assert [ln.txn.amount for ln in st.lines] == [D("1234.56"), D("-7.30")]
    assert [ln.txn.bank_txn_id for ln in st.lines] == ["A-100", "A-101"]
    assert st.lines[0].txn.reference == "99120" and st.lines[0].txn.description == "Pix recebido Loja Azul"
    assert st.closing.amount == D("4227.26")  # a decimal comma (and grouping, and padding) in a balance too
    # the empty <BALAMT/> is a warning that names its line (29), not a failure
    assert any(w.startswith("bank.ofx:28:") and "<BALAMT/>" in w for w in st.warnings)


def test_an_unreadable_balance_is_a_warning_and_the_lines_are_kept() -> None:
    [st] = ofx.read(_xml_over_sgml(balance="R$\u00a04.227,26"), name="b.ofx")
    assert st.closing is None and st.count() == 2
    assert any(w.startswith("b.ofx:27:") and "LEDGERBAL" in w for w in st.warnings)


def test_an_empty_leaf_does_not_swallow_the_fields_after_it() -> None:
    data = _xml_over_sgml().replace(b"<MEMO>Tarifa</MEMO>", b"<NAME>\n            <MEMO>Tarifa</MEMO>")
    [st] = ofx.read(data, name="e.ofx")
    second = st.lines[1].txn
    assert (second.bank_txn_id, second.description, second.counterparty) == ("A-101", "Tarifa", "")


QFX_CARD = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE
<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20250802<LANGUAGE>ENG
<INTU.BID>03101</SONRS></SIGNONMSGSRSV1><CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>0<STATUS><CODE>0
<SEVERITY>INFO</STATUS><CCSTMTRS><CURDEF>EUR<CCACCTFROM><ACCTID>4929000011112222</CCACCTFROM>
<BANKTRANLIST><DTSTART>20250701<DTEND>20250731
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20250703<TRNAMT>-18.4<FITID>C1<NAME>Caf\xe9 M\xfcller<SIC>5812</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20250720<TRNAMT>+250<FITID>C2<NAME>PAYMENT THANK YOU</STMTTRN>
</BANKTRANLIST></BANKTRANLIST><LEDGERBAL><BALAMT>-1.204,60<DTASOF>00000000</LEDGERBAL></CCSTMTRS>
</CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>
"""


def test_qfx_credit_card_in_cp1252_with_a_stray_closing_tag(tmp_path) -> None:
    path = tmp_path / "card.qfx"
    path.write_bytes(QFX_CARD.encode("cp1252"))
    fmt, [st] = parse(path)
    assert fmt == "ofx" and st.account_ref == "4929000011112222"
    assert [ln.txn.amount for ln in st.lines] == [D("-18.40"), D("250.00")]
    assert st.lines[0].txn.counterparty == "Café Müller"
    assert st.closing.amount == D("-1204.60") and st.closing.on is None  # DTASOF 00000000 is no date
    assert any(w.startswith("card.qfx:16:") and "</BANKTRANLIST>" in w for w in st.warnings)


@pytest.mark.parametrize(
    ("currency", "first", "second", "expected"),
    [("KWD", "1.235", "-0,004", [D("1.235"), D("-0.004")]),  # three decimals, kept exactly
     ("JPY", "1500", "-70.000", [D("1500"), D("-70")]),  # none; trailing zeros are not decimals
     ("EUR", "-901.0000", "10,00", [D("-901.00"), D("10.00")])],
)
def test_amounts_are_exact_to_the_currency(currency: str, first: str, second: str, expected: list[D]) -> None:
    [st] = ofx.read(_xml_over_sgml(first, second, "0", currency), name="m.ofx")
    assert [ln.txn.amount for ln in st.lines] == expected


@pytest.mark.parametrize(
    ("currency", "first", "second", "line", "value"),
    [("EUR", "10.005", "1", 14, "10.005"), ("USD", "1", "-0.004", 22, "-0.004"), ("JPY", "1", "1.5", 22, "1.5"),
     ("KWD", "1.2345", "1", 14, "1.2345")],
)
def test_more_decimals_than_the_currency_has_is_refused_at_its_line(currency: str, first: str, second: str,
                                                                   line: int, value: str) -> None:
    with pytest.raises(StatementError) as err:
        ofx.read(_xml_over_sgml(first, second, "0", currency), name="r.ofx")
    message = str(err.value)
    assert message.startswith(f"r.ofx:{line}: TRNAMT: {value} has more decimals than {currency}")
    assert "not rounded" in message


def test_a_declared_dtd_is_refused() -> None:
    data = _xml_over_sgml().replace(b"<OFX>", b'<!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<OFX>', 1)
    with pytest.raises(StatementError, match=r"d\.ofx:3: refused: the file declares a DTD"):
        ofx.read(data, name="d.ofx")
