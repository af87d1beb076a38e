"""Every real statement under shared/fixtures/statements parses, and says what the file says.

Expected numbers were read off the files by hand (the comments say where), not copied from reconwb's output.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from reconwb.statements import StatementError, parse
from tests.statements.conftest import FIXTURES

MT940 = FIXTURES / "mt940"
CAMT = FIXTURES / "camt"


def _all_fixture_files():
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".sta", ".xml"))


@pytest.mark.parametrize("path", _all_fixture_files(), ids=lambda p: p.name)
def test_every_fixture_parses_except_the_broken_one(path) -> None:
    if path.name == "sepa_snippet_broken.sta":
        with pytest.raises(StatementError) as err:
            parse(path)
        assert "sepa_snippet_broken.sta:6:" in str(err.value)  # the second :25: (an :86: body) is on line 6
        return
    fmt, statements = parse(path)
    assert fmt == ("camt" if path.suffix == ".xml" else "mt940")
    assert statements


def test_abnamro_two_statements_with_their_own_balances() -> None:
    _, sts = parse(MT940 / "jejik" / "abnamro.sta")
    assert [s.count() for s in sts] == [8, 2]  # 8 :61: lines before the first "-", 2 after
    first, second = sts
    assert first.account_ref == "517852257"  # :25:
    assert (first.opening.amount, first.closing.amount) == (D("3236.28"), D("876.84"))  # :60F: / :62F:
    # -9 -11,59 -11,63 -11,8 -13,45 -15,49 -107 -141,48
    assert first.total() == D("-321.44")
    assert (second.opening.amount, second.closing.amount) == (D("2876.84"), D("1849.75"))  # :60M: / :62M:
    assert second.total() == D("-24.49")  # -9,49 -15
    # the file's balances do not add up: the reader reports it instead of hiding it
    assert "3236.28" in first.balance_warning("abnamro.sta")
    amounts = [ln.txn.amount for ln in first.lines]
    assert amounts[3] == D("-11.80")  # ":61:1105220523D11,8N426NONREF"
    # :61:1105210523D11,59 -> value date 2011-05-21, booked 2011-05-23
    assert (str(first.lines[1].txn.value_date), str(first.lines[1].txn.booked_on)) == ("2011-05-21", "2011-05-23")


def test_generic_balances_add_up() -> None:
    _, sts = parse(MT940 / "jejik" / "generic.sta")
    assert [(s.opening.amount, s.total(), s.closing.amount) for s in sts] == [
        (D("100.00"), D("-10.00"), D("90.00")),
        (D("90.00"), D("-10.00"), D("80.00")),
    ]
    assert all(s.balance_warning("generic.sta") is None for s in sts)


def test_ing() -> None:
    _, [st] = parse(MT940 / "jejik" / "ing.sta")
    assert st.account_ref == "0001234567"
    assert st.count() == 7
    # -25,03 -3,03 -1,11 -20,00 -1,10 +3,68 +1,00
    assert st.total() == D("-45.59")
    assert [ln.txn.amount for ln in st.lines if ln.txn.amount > 0] == [D("3.68"), D("1.00")]
    assert st.lines[2].txn.reference == "TMG TANGO"  # customer reference of ":61:100722D1,11NTRFTMG TANGO"


def test_sepa_mt940() -> None:
    _, sts = parse(MT940 / "betterplace" / "sepa_mt9401.sta")
    assert sum(s.count() for s in sts) == 97  # grep -c '^:61:'
    st = next(s for s in sts if s.account_ref == "50880050/0194777100888")
    # :60F:D070903EUR970499,9  :61: C15000,05 and D500250,  :62F:D070904EUR1455749,85
    assert (st.opening.amount, st.closing.amount) == (D("-970499.90"), D("-1455749.85"))
    assert [ln.txn.amount for ln in st.lines] == [D("15000.05"), D("-500250.00")]
    assert st.balance_warning("x") is None
    credit = st.lines[0].txn
    assert credit.bank_txn_id == "0724710290621954"  # //0724710290621954
    assert credit.counterparty_iban == "DE42100100100043921105"  # ?31
    assert credit.counterparty.startswith("Richter Renate")  # ?32 + ?33
    assert credit.reference == "EndToEndIdTFNR2000400001"  # EREF+ (wrapped over two subfields)


def test_amount_formats_each_opening_balance() -> None:
    _, sts = parse(MT940 / "betterplace" / "amount_formats.sta")
    # the six :60F: lines: 380115,12  380115,1  380115,  0,12  00,12  001,12
    assert [s.opening.amount for s in sts] == [D("380115.12"), D("380115.10"), D("380115.00"), D("0.12"),
                                               D("0.12"), D("1.12")]
    assert all(s.count() == 0 for s in sts)


def test_camt053_business_sample() -> None:
    _, [st] = parse(CAMT / "camt053_business_sample.xml")
    assert (st.account_ref, st.currency) == ("50000000054910000003", "SEK")  # Acct/Id/Othr/Id
    assert (st.opening.amount, st.closing.amount) == (D("500000.00"), D("435678.50"))  # OPBD / CLBD
    assert [ln.txn.amount for ln in st.lines] == [D("105678.50"), D("-200000.00"), D("30000.00")]
    assert st.balance_warning("x") is None
    assert st.lines[0].txn.reference == "MUELL/FINP/RA12345"  # EndToEndId
    assert st.lines[0].txn.counterparty == "MUELLER"
    # the batch debit (Btch, NbOfTxs 20, no TxDtls) stays one line
    assert st.lines[1].txn.bank_txn_id == "AAAASESS-FP-ACCR-01"


def test_camt053_postfinance_batches_are_split_and_charges_kept() -> None:
    _, [st] = parse(CAMT / "camt053_postfinance_2016.xml")
    assert st.iban == "CH0309000000250090342"
    assert (st.opening.amount, st.closing.amount) == (D("322152.16"), D("322689.77"))
    assert st.total() == D("537.61")  # closing - opening
    assert st.balance_warning("x") is None
    assert st.count() == 32  # 13 Ntry, of which batch bookings with 10 + 8 + 3 + 2 details
    batch = [ln for ln in st.lines if (ln.txn.bank_txn_id or "").startswith("20160530007602769939022000000012/")]
    assert len(batch) == 10  # <NbOfTxs>10</NbOfTxs>, entry amount 1000.00
    assert sum(ln.txn.amount for ln in batch) == D("1000.00")
    # entry Chrgs TtlChrgsAndTaxAmt 5.60 = the details' 1.24 + 0.94 + 1.24 + 0.94 + 1.24
    assert sum(ln.charges or 0 for ln in batch) == D("5.60")
    assert batch[0].txn.reference == "000000000002015110002913192"  # ISR reference (CdtrRefInf/Ref)
    assert batch[0].txn.amount == D("100.00")


def test_camt054_batch_booking() -> None:
    _, [st] = parse(CAMT / "camt054_batch_booking.xml")
    assert st.account_ref == "CH160077401231234567"
    assert [(ln.txn.amount, ln.txn.counterparty) for ln in st.lines] == [
        (D("111.00"), "Ada Lovelace"),
        (D("2.00"), "Lord Bayron"),
    ]  # the entry's 113.00 in two TxDtls
    assert st.opening is None and st.closing is None


EXPECTED = json.loads((FIXTURES / "expected.json").read_text()) if (FIXTURES / "expected.json").is_file() else {}
# where reconwb counts differently from expected.json, on purpose: (lines, sum) and why
DIFFERENT = {
    # the file's INFO entry (a reversal notice, not a booking) is reported in a warning, not stored
    "camt/moov-io__iso20022/FI_camt_054_sample.xml.xml": (11, "269.95"),
    # batch entries whose details carry amounts that add up are split, one line per payment (expected counts Ntry)
    "camt/viafintech__camt_parser/053/valid_example.xml": (5, "-10.00"),
    "camt/viafintech__camt_parser/054/valid_example.xml": (5, "59.03"),
}


def _fixture(rel: str):
    path = FIXTURES / rel
    if path.is_file():
        return path
    folder, name = Path(rel).parent.name, Path(rel).name
    return next(p for p in FIXTURES.rglob(name) if p.parent.name == folder)


@pytest.mark.parametrize("rel", sorted(EXPECTED), ids=lambda r: r.split("/", 1)[1])
def test_every_real_file_says_what_expected_json_says(rel: str) -> None:
    want = EXPECTED[rel]
    _, sts = parse(_fixture(rel))
    assert len(sts) == want["statements"]
    lines = [ln.txn for st in sts for ln in st.lines]
    if rel in DIFFERENT:
        count, total = DIFFERENT[rel]
        assert (len(lines), sum(t.amount for t in lines)) == (count, D(total))
        return
    assert len(lines) == want["transactions"]
    by_currency = want.get("by_currency") or {want["currency"]: {"transactions": want["transactions"],
                                                                  "sum": want["sum"]}}
    for currency, figures in by_currency.items():
        mine = [t.amount for t in lines if t.currency == currency]
        assert (len(mine), sum(mine, D(0))) == (figures["transactions"], D(figures["sum"])), currency
