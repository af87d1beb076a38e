"""Explorer responsiveness on a big store: 1,000,000 transactions, 200,000 payments, 150,000 matches.

    python bench/bench_widgets.py [N]     # N transactions (default 1000000)

The store is filled with bulk SQL (not the simulator, which would take hours for a million rows). Prints the
seconds for what a person waits on: opening the explorer (first page of every list), a filtered page, a page
turn, a page of suggestions, an accept. Target: each well under a second.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

FILL_SQL = [
    """INSERT INTO transactions (account_id, dedupe_key, bank_txn_id, booked_on, value_date, amount, currency,
           description, reference, counterparty, source)
       SELECT (i % 4) + 1, 'id:b' || i, 'b' || i, DATE '2026-11-20' - CAST(i % 720 AS INTEGER), NULL,
              CASE WHEN i % 5 = 0 THEN -CAST((i % 90000) + 100 AS DECIMAL(18, 2)) / 100
                   ELSE CAST((i * 7919) % 500000 + 500 AS DECIMAL(18, 2)) / 100 END,
              'EUR', 'Payment INV-' || lpad(CAST(i AS VARCHAR), 7, '0') || ' customer ' || (i % 5000),
              'INV-' || lpad(CAST(i AS VARCHAR), 7, '0'), 'Customer ' || (i % 5000), 'statement'
       FROM range(?) t(i)""",
    """INSERT INTO payments (payment_id, amount, currency, issued_on, due_on, reference, payer, status)
       SELECT 'INV-' || lpad(CAST(i AS VARCHAR), 7, '0'), CAST((i * 7919) % 500000 + 500 AS DECIMAL(18, 2)) / 100,
              'EUR', DATE '2026-11-20' - CAST(i % 720 AS INTEGER) - 30, DATE '2026-11-20' - CAST(i % 720 AS INTEGER),
              'INV-' || lpad(CAST(i AS VARCHAR), 7, '0'), 'Customer ' || (i % 5000),
              CASE WHEN i < ? THEN 'paid' ELSE 'open' END
       FROM range(1, ? * 5, 5) t(i)""",
]


def fill(ws: object, n: int) -> tuple[int, int]:
    from reconwb import accounts, banks, connections

    payments = n // 5
    matched = payments * 3 // 4
    with ws.connect() as con:  # type: ignore[attr-defined]
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bench", banks.STATEMENT_BANK)
        for k in range(4):
            accounts.ensure(con, conn.connection_id, f"DE0000000000000000000{k}", currency="EUR")
        con.execute(FILL_SQL[0], [n])
        con.execute(FILL_SQL[1], [matched * 5, payments])
        # payment i (every 5th transaction id) is paid by transaction i+1 (txn_id = i + 1): a live match
        con.execute("""
            INSERT INTO match_groups (group_id, kind, rule, confidence, status, pinned, evidence)
            SELECT 'grp_' || i, 'one_to_one', 'reference-exact', 0.99, 'matched', FALSE, '{"links": []}'
            FROM range(1, ? * 5, 5) t(i)""", [matched])
        con.execute("""
            INSERT INTO matches (group_id, txn_id, payment_id, amount)
            SELECT 'grp_' || i, i + 1, 'INV-' || lpad(CAST(i AS VARCHAR), 7, '0'),
                   CAST((i * 7919) % 500000 + 500 AS DECIMAL(18, 2)) / 100
            FROM range(1, ? * 5, 5) t(i)""", [matched])
        # suggestions for the next 5,000 open payments
        con.execute("""
            INSERT INTO match_groups (group_id, kind, rule, confidence, status, pinned, evidence)
            SELECT 'sug_' || i, 'one_to_one', 'payer-amount', 0.5 + (i % 45) / 100.0, 'suggested', FALSE,
                   json_object('engine', 'reconwb', 'links', json_array(json_object('txn_id', i + 1,
                       'payment_id', 'INV-' || lpad(CAST(i AS VARCHAR), 7, '0'), 'reference', 0.4, 'amount_fit', 1.0,
                       'payer', 0.9, 'date', 0.8, 'reference_level', 'none')))
            FROM range(? * 5 + 1, ? * 5 + 25000, 5) t(i)""", [matched, matched])
        con.execute("""
            INSERT INTO matches (group_id, txn_id, payment_id, amount)
            SELECT 'sug_' || i, i + 1, 'INV-' || lpad(CAST(i AS VARCHAR), 7, '0'),
                   CAST((i * 7919) % 500000 + 500 AS DECIMAL(18, 2)) / 100
            FROM range(? * 5 + 1, ? * 5 + 25000, 5) t(i)""", [matched, matched])
    return payments, matched


def timed(label: str, action: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    print(f"  {label:<46} {best * 1000:8.0f} ms")
    return best


def main(n: int) -> None:
    from reconwb.cli.admin import init_workspace
    from reconwb.widgets.explorer import ReconciliationExplorer
    from reconwb.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="reconwb-bench-widgets-") as tmp:
        os.environ["RECONWB_DB"] = str(Path(tmp) / "store.duckdb")
        os.environ.pop("RECONWB_KEY", None)
        ws = Workspace.from_env()
        init_workspace(ws, simulated_banks=True)
        started = time.perf_counter()
        payments, matched = fill(ws, n)
        print(f"filled {n:,} transactions, {payments:,} payments, {matched:,} matches, 5,000 suggestions"
              f" in {time.perf_counter() - started:.1f} s")
        holder: dict[str, ReconciliationExplorer] = {}
        timed("open the explorer (first page, best candidate per deposit)",
              lambda: holder.__setitem__("ex", ReconciliationExplorer(ws, actor="bench")))
        ex = holder["ex"]

        def filtered() -> None:
            ex.account.value = ex.account.options[2][1]
            ex.text.value = "customer 42"
            ex.amount_min.value, ex.amount_max.value = "100", "2000"
            ex.date_from.value = dt.date(2026, 1, 1)
            ex.apply.click()

        timed("filtered page (account, text, amount, date)", filtered)
        ex.clear.click()
        timed("page turn (deposits, next)", ex.deposit_pager.next.click)
        ex.deposit_pager.page = 2000
        timed("deep page turn (deposits, page 2,000)", ex.refresh_deposits)
        ex.deposit_pager.page = 0
        ex.refresh_deposits()
        timed("select a deposit (its ranked candidates)", lambda: ex.select_deposit(ex.rows[0].txn_id))
        timed("search all open payments for it", lambda: (setattr(ex.search, "value", "customer 4"),
                                                          ex.refresh_candidates()))
        suggested = next((d for d in ex.rows if d.group_id), None)
        if suggested is not None:
            ex.select_deposit(suggested.txn_id)
            timed("accept one suggestion (write, audit, redraw)", ex.accept_button.click, 1)
        print(f"  ({len(ex.rows)} deposits per page, {len(ex.payment_rows)} candidates;"
              f" message: {ex.message.value[-60:]!r})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
