from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconwb import accounts, banks, connections, settings
from reconwb.transactions import Txn, ingest
from reconwb.workspace import Workspace

D = dt.date(2026, 3, 2)


@pytest.fixture
def account_id(ws: Workspace) -> int:
    with ws.connect() as con:
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "files1", banks.STATEMENT_BANK)
        return accounts.ensure(con, conn.connection_id, "CH93 0076 2011 6238 5295 7", currency="CHF")


def _rows(ws: Workspace) -> list[tuple]:
    with ws.connect() as con:
        return con.execute("SELECT booked_on, amount, status, reference, bank_txn_id FROM transactions"
                           " ORDER BY txn_id").fetchall()


def test_same_batch_twice_adds_nothing_and_twins_stay_two(ws: Workspace, account_id: int) -> None:
    batch = [
        Txn(D, Decimal("10.00"), "CHF", "coffee"),
        Txn(D, Decimal("10.00"), "CHF", "coffee"),  # a genuine second identical payment
        Txn(D, Decimal("250.10"), "CHF", "invoice 42", reference="RF18539007547034", bank_txn_id="B1"),
    ]
    with ws.connect() as con:
        first = ingest(con, account_id, batch, source="statement")
        second = ingest(con, account_id, batch, source="statement")
    assert (first.inserted, first.duplicates) == (3, 0)
    assert (second.inserted, second.updated, second.duplicates) == (0, 0, 3)
    assert len(_rows(ws)) == 3


def test_overlapping_statement_adds_only_the_new_days(ws: Workspace, account_id: int) -> None:
    week1 = [Txn(D + dt.timedelta(days=i), Decimal(f"{i + 1}.05"), "CHF", f"line {i}") for i in range(5)]
    week2 = [Txn(D + dt.timedelta(days=i), Decimal(f"{i + 1}.05"), "CHF", f"line {i}") for i in range(3, 8)]
    with ws.connect() as con:
        ingest(con, account_id, week1, source="statement")
        result = ingest(con, account_id, week2, source="statement")
    assert (result.inserted, result.duplicates) == (3, 2)
    assert len(_rows(ws)) == 8


def test_pending_line_is_booked_in_place(ws: Workspace, account_id: int) -> None:
    pending = Txn(D, Decimal("99.90"), "CHF", "card ACME", reference="INV-7", status="pending")
    booked = Txn(D + dt.timedelta(days=2), Decimal("99.90"), "CHF", "card ACME", reference="INV-7",
                 bank_txn_id="BK-7", status="booked")
    with ws.connect() as con:
        ingest(con, account_id, [pending], source="portal")
        (txn_id,) = con.execute("SELECT txn_id FROM transactions").fetchone()
        result = ingest(con, account_id, [booked], source="portal")
        rows = con.execute("SELECT txn_id, status, booked_on, bank_txn_id FROM transactions").fetchall()
    assert (result.inserted, result.updated) == (0, 1)
    assert rows == [(txn_id, "booked", D + dt.timedelta(days=2), "BK-7")]


def test_money_is_exact(ws: Workspace, account_id: int) -> None:
    cents = [Txn(D, Decimal("0.10"), "CHF", f"c{i}", bank_txn_id=str(i)) for i in range(1000)]
    with ws.connect() as con:
        ingest(con, account_id, cents, source="statement")
        total = con.execute("SELECT sum(amount) FROM transactions").fetchone()[0]
    assert total == Decimal("100.00")


def test_passthrough_mode_emits_transaction_created(ws: Workspace, account_id: int) -> None:
    with ws.connect() as con:
        settings.set_value(con, "operation_mode", "passthrough")
        ingest(con, account_id, [Txn(D, Decimal("5.00"), "CHF", "a"), Txn(D, Decimal("6.00"), "CHF", "b")],
               source="statement")
        ingest(con, account_id, [Txn(D, Decimal("5.00"), "CHF", "a")], source="statement")
        count = con.execute("SELECT count(*) FROM events WHERE type = 'transaction.created'").fetchone()[0]
    assert count == 2


def test_an_id_that_changes_on_booking_keeps_one_row_and_queues_it_for_reconcile(ws: Workspace,
                                                                                 account_id: int) -> None:
    pending = Txn(D, Decimal("12.00"), "CHF", "SEPA INV-8", reference="INV-8", bank_txn_id="PEND-1",
                  status="pending")
    booked = Txn(D + dt.timedelta(days=1), Decimal("12.00"), "CHF", "SEPA INV-8", reference="INV-8",
                 bank_txn_id="BOOK-9")
    with ws.connect() as con:
        ingest(con, account_id, [pending], source="aggregator")
        assert con.execute("SELECT count(*) FROM reconcile_queue").fetchone() == (0,)  # pending: not yet
        result = ingest(con, account_id, [booked], source="aggregator")
        rows = con.execute("SELECT txn_id, status, bank_txn_id FROM transactions").fetchall()
        queued = con.execute("SELECT txn_id FROM reconcile_queue").fetchall()
    assert (result.inserted, result.updated) == (0, 1)
    assert [(status, bank_id) for _id, status, bank_id in rows] == [("booked", "BOOK-9")]
    assert queued == [(rows[0][0],)]
