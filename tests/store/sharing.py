"""Helpers for tests where processes share one store: a synthetic store at a given scale, and what it records.

The data comes from the benchmarks' generator (`bench/synth.py`: exact, typo, split, partial, batch payments
and unrelated deposits), so tests and benchmarks exercise the same mix.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from reconwb.payments import PAID_SQL
from reconwb.workspace import Workspace

BENCH = Path(__file__).resolve().parents[2] / "bench"


def build_store(ws: Workspace, n: int, seed: int = 7) -> None:
    """An initialised store with about `n` deposits and `n` open payments, nothing reconciled yet."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from synth import load_store

    load_store(ws, n, seed)


def recorded(ws: Workspace) -> dict[str, Any]:
    """What a reconcile left in the store, without the ids and times that differ between two equal runs."""
    with ws.connect() as con:
        def rows(sql: str) -> list[tuple]:
            return sorted(con.execute(sql).fetchall(), key=repr)

        return {
            "links": rows("SELECT t.bank_txn_id, x.payment_id, g.status, g.rule, g.kind, x.amount, x.fee,"
                          " x.fx_difference FROM matches x JOIN match_groups g USING (group_id)"
                          " JOIN transactions t USING (txn_id)"),
            "payments": rows("SELECT payment_id, status FROM payments"),
            "events": Counter(con.execute(
                "SELECT type, subject, json_extract_string(payload, '$.status'),"
                " json_extract_string(payload, '$.open_amount') FROM events").fetchall()),
            "audit": Counter(r[0] for r in con.execute("SELECT action FROM audit_log").fetchall()),
        }


def inconsistent_payments(ws: Workspace) -> list[tuple]:
    """Payments whose status does not follow from their live groups (none, in a consistent store)."""
    with ws.connect() as con:
        return con.execute(
            f"""
            SELECT p.payment_id, p.status, coalesce(m.paid, 0) AS paid, p.amount FROM payments p
            LEFT JOIN ({PAID_SQL}) m USING (payment_id)
            WHERE p.status <> 'cancelled' AND p.status <> CASE WHEN coalesce(m.paid, 0) >= p.amount THEN 'paid'
                  WHEN coalesce(m.paid, 0) > 0 THEN 'partially_paid' ELSE 'open' END
            """
        ).fetchall()
