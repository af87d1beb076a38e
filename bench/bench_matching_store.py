"""Matching benchmark, store mode: one `reconcile_store` run on a fresh workspace, then a second (idle) run.

    python bench/bench_matching_store.py [N]     # N transactions against about N payments (default 20000)

Prints the seconds per stage, including the write (groups, matches, payment statuses, events, audit rows in
one transaction), and the peak resident memory of the process.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def main(n: int) -> None:
    from synth import generate

    from reconwb import accounts, banks, connections
    from reconwb.cli.admin import init_workspace
    from reconwb.matching import reconcile_store
    from reconwb.payments import import_file
    from reconwb.transactions import ingest
    from reconwb.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="reconwb-bench-store-") as tmp:
        os.environ["RECONWB_DB"] = str(Path(tmp) / "store.duckdb")
        os.environ.pop("RECONWB_KEY", None)
        ws = Workspace.from_env()
        init_workspace(ws, simulated_banks=True)
        txns, payments, _ = generate(n)
        payments.write_csv(Path(tmp) / "payments.csv")
        started = time.perf_counter()
        with ws.connect() as con:
            import_file(con, Path(tmp) / "payments.csv")
            banks.ensure_statement_bank(con)
            conn = connections.add(con, "bench", banks.STATEMENT_BANK)
            account = accounts.ensure(con, conn.connection_id, "ACC-1")
            ingest(con, account, txns.select(
                "booked_on", "currency", "description", "reference", "counterparty",
                amount=pl.col("amount").cast(pl.Decimal(18, 2)), bank_txn_id="txn_id",
            ), source="statement")
        print(f"loaded {n:,} transactions and {payments.height:,} payments in {time.perf_counter() - started:.1f} s")
        for label in ("first run", "second run"):
            report = reconcile_store(ws)
            print(f"{label}: {report.seconds:.1f} s; matched {report.matched:,}, partly {report.partially_matched:,},"
                  f" suggested {report.suggested:,}, open {report.open_payments:,}")
            print(f"  seconds by stage: {report.stages}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
