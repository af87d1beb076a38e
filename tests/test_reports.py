from __future__ import annotations

from decimal import Decimal

from reconwb import reports
from reconwb.workspace import Workspace
from tests.books import TODAY


def test_headline_counts_each_state_once(books: Workspace) -> None:
    assert reports.headline(books) == {
        "deposits_matched": 1, "deposits_suggested": 1, "deposits_unmatched": 1, "deposits_pending": 0,
        "payments_paid": 1, "payments_partially_paid": 0, "payments_open": 2,
    }


def test_deposit_totals_are_exact_per_account(books: Workspace) -> None:
    (row,) = reports.deposit_totals(books).to_dicts()
    assert (row["connection"], row["account"], row["currency"]) == ("files1", "CH11", "CHF")
    assert (row["matched"], row["suggested"], row["unmatched"]) == (1, 1, 1)
    assert row["matched_amount"] == Decimal("100.00") and row["unmatched_amount"] == Decimal("12.34")


def test_trend_groups_deposits_by_period_and_state(books: Workspace) -> None:
    frame = reports.trend(books, every="month")
    assert frame["deposits"].sum() == 3  # the withdrawal is not a deposit
    assert set(frame["state"]) == {"matched", "suggested", "unmatched"}


def test_ageing_buckets_open_payments_and_unmatched_deposits(books: Workspace) -> None:
    rows = {(r["item"], r["bucket"]): r["items"] for r in reports.ageing(books, today=TODAY).to_dicts()}
    assert rows == {
        ("payment", "31-60 days"): 1,   # INV-2, due 2026-10-15
        ("payment", "not due"): 1,      # INV-3, due 2026-12-01
        ("deposit", "0-30 days"): 1,    # the suggested one, 10 days old
        ("deposit", "31-60 days"): 1,   # the mystery deposit, 40 days old
    }


def test_overview_agrees_with_the_single_reports(books) -> None:
    data = reports.overview(books, today=TODAY)
    assert data.headline == reports.headline(books)
    assert data.deposit_totals.equals(reports.deposit_totals(books))
    assert data.payment_totals.equals(reports.payment_totals(books))
    assert data.trend.equals(reports.trend(books))
    assert data.ageing.equals(reports.ageing(books, today=TODAY))


def test_payment_totals_show_the_fees_settled_on_paid_invoices(books: Workspace) -> None:
    with books.connect() as con:
        con.execute("UPDATE matches SET amount = 96.80, fee = 3.20 WHERE payment_id = 'INV-1'")
        con.execute("UPDATE matches SET fee = 1.00 WHERE payment_id = 'INV-2'")  # a suggestion: not settled yet
    rows = {r["status"]: r for r in reports.payment_totals(books).to_dicts()}
    assert rows["paid"]["fees"] == Decimal("3.20") and rows["paid"]["amount"] == Decimal("100.00")
    assert rows["open"]["fees"] == 0


def test_a_pending_line_is_its_own_state_not_unmatched(books: Workspace) -> None:
    from reconwb.transactions import Txn, ingest

    with books.connect() as con:
        account_id = con.execute("SELECT account_id FROM accounts").fetchall()[0][0]
        ingest(con, account_id, [Txn(TODAY, Decimal("66.60"), "CHF", "card", "INV-3", status="pending")],
               source="portal")
    numbers = reports.headline(books)
    assert (numbers["deposits_unmatched"], numbers["deposits_pending"]) == (1, 1)
    (row,) = reports.deposit_totals(books).to_dicts()
    assert (row["unmatched"], row["pending"], row["pending_amount"]) == (1, 1, Decimal("66.60"))
    assert "pending" in set(reports.trend(books, every="month")["state"])
    ageing = reports.ageing(books, today=TODAY)
    assert ageing.filter(ageing["item"] == "deposit")["items"].sum() == 2  # pending is not an open item
