from __future__ import annotations

import datetime as dt
from decimal import Decimal

from reconwb import settings
from reconwb.widgets.tables import Column, table_html
from reconwb.widgets.totals import TotalsPanel
from reconwb.workspace import Workspace

RAW_WORDS = ("matched_amount", "partially_paid", "unmatched_amount", "None", "fx_differences")


def test_headline_is_money_per_currency(books: Workspace) -> None:
    panel = TotalsPanel(books, plots_enabled=False)
    head = panel.headline.value
    # 100.00 of 161.34 CHF booked deposits reconciled; 49.00 + 12.34 not; INV-2 49.00 and INV-3 75.00 still owed
    assert "62.0%" in head and "CHF100.00" in head and "CHF161.34" in head
    assert "CHF61.34 not reconciled (2 deposits" in head and "CHF49.00 waiting for review" in head
    assert "<b>2</b> open invoices, CHF124.00 still owed" in head
    page = panel.headline.value + panel.deposits.value + panel.payments.value
    assert "Waiting for review" in page and "Partly paid" not in page  # none partly paid in these books
    assert not any(word in page for word in RAW_WORDS)


def test_locale_setting_changes_every_amount(books: Workspace) -> None:
    with books.connect() as con:
        settings.set_value(con, "locale", "de-CH")
        con.execute("INSERT INTO payments (payment_id, amount, currency, issued_on, status)"
                    " VALUES ('BIG', 677835.40, 'CHF', DATE '2026-10-01', 'open')")
    panel = TotalsPanel(books, plots_enabled=False)
    assert "CHF\xa0677&#x27;959.40 still owed" in panel.headline.value  # Swiss grouping, escaped apostrophe


def test_balance_proof_shows_the_difference_to_what_reconwb_holds(ws: Workspace, tmp_path) -> None:
    from reconwb.statements.importer import store
    from reconwb.statements.model import Balance, Line, Statement
    from reconwb.transactions import Txn, ingest

    day = dt.date(2026, 3, 2)
    lines = [Line(Txn(day, Decimal("250.00"), "EUR", "INV-9", bank_txn_id="x1")),
             Line(Txn(day + dt.timedelta(days=1), Decimal("-50.00"), "EUR", "fee", bank_txn_id="x2"))]
    st = Statement("DE44", currency="EUR", name="Operating", opening=Balance(Decimal("1000.00"), day),
                   closing=Balance(Decimal("1210.00"), day + dt.timedelta(days=1)), lines=lines)
    (tmp_path / "st.xml").write_text("x")
    with ws.connect() as con:
        store(con, [st], "bank-files", file=tmp_path / "st.xml", fmt="camt")
    panel = TotalsPanel(ws, plots_enabled=False)
    # the bank says 1,210.00; reconwb holds 1,000.00 + 250.00 - 50.00 = 1,200.00: ten euros are missing
    assert "€1,210.00 on Mar 3, 2026" in panel.deposits.value and "€10.00" in panel.deposits.value
    assert "Operating ··DE44 (EUR)" in panel.deposits.value
    with ws.connect() as con:  # the missing line arrives from another source
        (account_id,) = con.execute("SELECT account_id FROM accounts").fetchone()
        ingest(con, account_id, [Txn(day, Decimal("10.00"), "EUR", "the missing line", bank_txn_id="x3")],
               source="portal")
    panel.refresh()
    assert "<td class='num'>none</td>" in panel.deposits.value


def test_empty_store_says_so(ws: Workspace) -> None:
    panel = TotalsPanel(ws, plots_enabled=False)
    assert "No deposits yet." in panel.deposits.value and "No deposits and no open invoices" in panel.headline.value


def test_table_escapes_values_and_blanks_none() -> None:
    page = table_html([Column("a"), Column("b", True)], [["<script>", None]])
    assert "&lt;script&gt;" in page and "None" not in page and "class='num'" in page


def test_plots_later_shows_the_money_first_and_the_plots_when_drawn(books: Workspace) -> None:
    import time

    panel = TotalsPanel(books, plots_later=True)
    assert "reconwb-headline" in panel.headline.value  # the money is there when the cell returns
    deadline = time.monotonic() + 60
    while not (panel.trend_image.value and panel.ageing_image.value):
        assert time.monotonic() < deadline, "the plots were never drawn"
        time.sleep(0.1)
    assert bytes(panel.trend_image.value[:4]) == bytes(panel.ageing_image.value[:4]) == b"\x89PNG"
