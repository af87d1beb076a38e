"""Helpers for tests where processes share one store: a synthetic store at a given scale, what it records, and
long work killed with SIGKILL between two of its chunks.

The data comes from the benchmarks' generator (`bench/synth.py`: exact, typo, split, partial, batch payments
and unrelated deposits), so tests and benchmarks exercise the same mix.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
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


_KILLABLE = """
import sys, time
from reconwb.store import chunks
made_way = []
def between_chunks(path, **kw):
    made_way.append(1)
    if len(made_way) == {at}:
        print("chunk", flush=True)
        time.sleep(60)  # killed here, {at} chunk(s) committed
    return 0.0
chunks.make_way = between_chunks
"""


def kill_between_chunks(code: str, *args: str, at: int = 1) -> None:
    """Run `code` (its arguments in sys.argv[1:]) in a fresh process and SIGKILL it once `at` chunks of its
    long work (`reconwb.store.chunks`) have committed; return when it is gone."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE.format(at=at) + textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "chunk"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
