"""MT940 input the package would read leniently or choke on: reconwb names the file and line instead."""

from __future__ import annotations

import pytest

from reconwb.statements import StatementError, mt940

GOOD = """:20:STMT1
:25:NL91ABNA0417164300
:28C:1/1
:60F:C260301EUR100,00
:61:2603020302C25,50NTRFNONREF//B-1
:86:166?00GUTSCHRIFT?20EREF+E2E-1?21SVWZ+Invoice 12?31NL91ABNA0417164300?32Jane Doe
:61:2603030303D5,00NMSCNONREF
:86:Bank fee
:62F:C260303EUR120,50
-
"""


def test_good_statement() -> None:
    [st] = mt940.read(GOOD.encode(), name="good.sta")
    assert st.iban == "NL91ABNA0417164300"
    credit, fee = (ln.txn for ln in st.lines)
    assert (credit.bank_txn_id, credit.reference) == ("B-1", "E2E-1")
    assert credit.description == "GUTSCHRIFT Invoice 12"
    assert (credit.counterparty, credit.counterparty_iban) == ("Jane Doe", "NL91ABNA0417164300")
    assert fee.description == "Bank fee" and fee.bank_txn_id is None
    assert st.balance_warning("good.sta") is None  # 100 + 25.50 - 5.00 = 120.50


def test_creditor_reference_wins_over_end_to_end_id() -> None:
    text = GOOD.replace("NONREF//B-1", "RF18539007547034//B-1")
    [st] = mt940.read(text.encode(), name="rf.sta")
    assert st.lines[0].txn.reference == "RF18539007547034"


def test_crlf_line_endings() -> None:
    [st] = mt940.read(GOOD.replace("\n", "\r\n").encode(), name="crlf.sta")
    assert st.count() == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace(":61:2603030303D5,00", ":61:26030303XD5,00"), 7, "not a statement line"),
        (GOOD.replace(":25:NL91ABNA0417164300", ":25:" + "9" * 40), 2, "at most 35 characters"),
        (GOOD.replace(":60F:C260301EUR100,00\n", ""), 4, "before the opening balance"),
        (GOOD.replace(":86:Bank fee", ":25:NL91ABNA0417164300"), 8, "inside the transactions"),
    ],
    ids=["bad_61", "long_25", "no_60", "stray_25"],
)
def test_malformed_statement_names_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(StatementError, match=message) as err:
        mt940.read(text.encode(), name="bad.sta")
    assert str(err.value).startswith(f"bad.sta:{line}:")


def test_not_mt940_empty_and_wrong_encoding() -> None:
    with pytest.raises(StatementError, match="no MT940 tags"):
        mt940.read(b"hello\nworld\n", name="x.sta")
    with pytest.raises(StatementError, match="empty"):
        mt940.read(b"\n\n", name="x.sta")
    [guessed] = mt940.read(GOOD.replace("Invoice", "Geb\xfchr").encode("latin-1"), name="x.sta")
    assert "Gebühr" in guessed.lines[0].txn.description
    assert any("not UTF-8" in w for w in guessed.warnings)
    [st] = mt940.read(GOOD.replace("Invoice", "Geb\xfchr").encode("latin-1"), name="x.sta", encoding="latin-1")
    assert "Gebühr" in st.lines[0].txn.description
