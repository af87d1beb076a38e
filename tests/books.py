"""A small set of books: deposits in each matching state, a withdrawal, payments open and paid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconwb import accounts, connections
from reconwb.transactions import Txn, ingest
from reconwb.workspace import Workspace

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def books(ws: Workspace) -> Workspace:
    """Three deposits (one matched, one suggested, one unmatched), one withdrawal, three payments."""
    with ws.connect() as con:
        conn = connections.add(con, "files1", "files")
        acc = accounts.ensure(con, conn.connection_id, "CH11", currency="CHF")
        ingest(con, acc, [
            Txn(TODAY - dt.timedelta(days=3), Decimal("100.00"), "CHF", "INV-1", bank_txn_id="a"),
            Txn(TODAY - dt.timedelta(days=10), Decimal("49.00"), "CHF", "INV-2?", bank_txn_id="b"),
            Txn(TODAY - dt.timedelta(days=40), Decimal("12.34"), "CHF", "mystery", bank_txn_id="c"),
            Txn(TODAY - dt.timedelta(days=2), Decimal("-80.00"), "CHF", "rent", bank_txn_id="d"),
        ], source="statement")
        ids = dict(con.execute("SELECT bank_txn_id, txn_id FROM transactions").fetchall())
        con.execute("""INSERT INTO payments (payment_id, amount, currency, issued_on, due_on, status) VALUES
            ('INV-1', 100.00, 'CHF', DATE '2026-10-01', DATE '2026-11-01', 'paid'),
            ('INV-2', 49.00, 'CHF', DATE '2026-10-01', DATE '2026-10-15', 'open'),
            ('INV-3', 75.00, 'CHF', DATE '2026-11-01', DATE '2026-12-01', 'open')""")
        con.execute("""INSERT INTO match_groups (group_id, kind, rule, confidence, status) VALUES
            ('g1', 'one_to_one', 'exact', 0.99, 'matched'), ('g2', 'one_to_one', 'fuzzy', 0.7, 'suggested')""")
        con.execute("INSERT INTO matches (group_id, txn_id, payment_id, amount)"
                    " VALUES ('g1', ?, 'INV-1', 100.00), ('g2', ?, 'INV-2', 49.00)",
                    [ids["a"], ids["b"]])
    return ws
