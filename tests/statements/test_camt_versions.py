"""CAMT as banks really send it (invented data, real structure): .001.02 batches whose details carry their
amounts only in AmtDtls, .001.01 and the newest versions, INFO entries, errors naming line and element, and
three-decimal currencies."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconwb.statements import StatementError, camt
from tests.statements.test_camt import balance, document

BATCH_V02 = """<Ntry><Amt Ccy="EUR">6.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-03-02</Dt></BookgDt><ValDt><Dt>2026-03-02</Dt></ValDt><AcctSvcrRef>B-9</AcctSvcrRef>
<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
<TxDtls><Refs><EndToEndId>E2E-A</EndToEndId></Refs>
<AmtDtls><TxAmt><Amt Ccy="EUR">3.50</Amt></TxAmt></AmtDtls>
<RltdPties><Cdtr><Nm>Stadtwerke</Nm></Cdtr></RltdPties></TxDtls>
<TxDtls><Refs><EndToEndId>E2E-B</EndToEndId></Refs>
<AmtDtls><TxAmt><Amt Ccy="EUR">2.50</Amt></TxAmt></AmtDtls>
<RltdPties><Cdtr><Nm>Kiosk</Nm></Cdtr></RltdPties></TxDtls>
</NtryDtls></Ntry>"""


def test_v02_batch_details_with_amounts_only_in_amtdtls_are_split() -> None:
    [st] = camt.read(document(BATCH_V02, version="02"), name="b.xml")
    assert [(ln.txn.amount, ln.txn.counterparty, ln.txn.reference) for ln in st.lines] == [
        (D("-3.50"), "Stadtwerke", "E2E-A"), (D("-2.50"), "Kiosk", "E2E-B")]
    assert [ln.txn.bank_txn_id for ln in st.lines] == ["B-9/1", "B-9/2"]


@pytest.mark.parametrize("version", ["01", "13", "14"])
def test_oldest_and_newest_versions(version: str) -> None:
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version >= "08" else "<Sts>BOOK</Sts>"
    entry = BATCH_V02.replace("<Sts>BOOK</Sts>", status)
    opening = balance("OPBD", "100.00")
    if version == "01":  # .001.01 names the balance type without CdOrPrtry
        opening = opening.replace("<CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry>", "<Cd>OPBD</Cd>")
    [st] = camt.read(document(entry, version=version, balances=opening), name="v.xml")
    assert st.total() == D("-6.00") and st.opening.amount == D("100.00")


def test_a_balance_without_credit_debit_indicator_names_line_and_element() -> None:
    bad = balance("CLBD", "5.00").replace("<CdtDbtInd>CRDT</CdtDbtInd>", "")
    data = document(BATCH_V02, balances="\n" + bad)
    with pytest.raises(StatementError) as err:
        camt.read(data, name="bal.xml")
    assert str(err.value) == ("bal.xml:5: <Bal> balance: credit/debit indicator <CdtDbtInd> is missing (expected CRDT"
                              " or DBIT)")


def test_a_bad_amount_names_its_line() -> None:
    data = document("\n\n" + BATCH_V02.replace(">2.50<", ">2.5O<"))
    with pytest.raises(StatementError, match=r"^a\.xml:14: <Ntry> entry 1, <TxDtls> 2 <Amt>: '2\.5O' is not a number"):
        camt.read(data, name="a.xml")


def test_info_entries_are_reported_not_stored() -> None:
    info = BATCH_V02.replace("<Sts>BOOK</Sts>", "<Sts>INFO</Sts>")
    [st] = camt.read(document(BATCH_V02 + "\n" + info), name="i.xml")
    assert st.count() == 2
    assert st.warnings == ["i.xml: 1 entry with status INFO (information only, not a booking) not stored; first"
                           " at line 15"]


def test_three_decimal_currency_exact_and_excess_refused() -> None:
    kwd = BATCH_V02.replace('Ccy="EUR">6.00', 'Ccy="KWD">6.005').replace('Ccy="EUR">3.50', 'Ccy="KWD">3.505')
    kwd = kwd.replace('Ccy="EUR">2.50', 'Ccy="KWD">2.500')
    [st] = camt.read(document(kwd), name="k.xml")
    assert [ln.txn.amount for ln in st.lines] == [D("-3.505"), D("-2.500")]
    assert all(ln.txn.currency == "KWD" for ln in st.lines)
    with pytest.raises(StatementError, match=r"^e\.xml:5: <Ntry> entry 1 <Amt>: 6\.005 has more decimals than EUR"):
        camt.read(document(BATCH_V02.replace(">6.00<", ">6.005<")), name="e.xml")
