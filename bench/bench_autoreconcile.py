"""The reconcile after an ingest: incremental (the new deposits only) against a full store-mode run.

    python bench/bench_autoreconcile.py [N] [K]   # a store of N deposits (default 20000), then K new ones (200)

The store holds N deposits and their payments, reconciled once. Then K new deposits (held back from the same
synthetic books, so their payments are open) are ingested in reconcile mode, and `autoreconcile.after_ingest`
runs on them; for comparison, a full run over a copy of the same store. Prints seconds, what each considered, and the
load average beside the figures (the machine is shared).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def main(n: int, k: int) -> None:
    from synth import generate

    from reconwb import accounts, autoreconcile, banks, connections, settings
    from reconwb.cli.admin import init_workspace
    from reconwb.matching import reconcile_store
    from reconwb.payments import import_file
    from reconwb.transactions import ingest
    from reconwb.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="reconwb-bench-auto-") as tmp:
        os.environ["RECONWB_DB"] = str(Path(tmp) / "store.duckdb")
        os.environ.pop("RECONWB_KEY", None)
        ws = Workspace.from_env()
        init_workspace(ws)
        txns, payments, _ = generate(n + k)
        payments.write_csv(Path(tmp) / "payments.csv")
        frame = txns.select("booked_on", "currency", "description", "reference", "counterparty",
                            amount=pl.col("amount").cast(pl.Decimal(18, 2)), bank_txn_id="txn_id")
        old, new = frame.head(frame.height - k), frame.tail(k)
        with ws.connect() as con:
            import_file(con, Path(tmp) / "payments.csv")
            banks.ensure_statement_bank(con)
            conn = connections.add(con, "bench", banks.STATEMENT_BANK)
            account = accounts.ensure(con, conn.connection_id, "ACC-1")
            settings.set_value(con, "auto_reconcile", "false")
            ingest(con, account, old, source="statement")
            settings.set_value(con, "auto_reconcile", "true")
        first = reconcile_store(ws)
        print(f"store: {old.height:,} deposits, {payments.height:,} payments; first full run {first.seconds:.1f} s,"
              f" {first.open_payments:,} payments left open")
        started = time.perf_counter()
        with ws.connect() as con:
            ingest(con, account, new, source="statement")
        landed = time.perf_counter() - started
        twin = Workspace(db_path=Path(tmp) / "twin.duckdb", key_file=ws.default_key_file)
        shutil.copy(ws.db_path, twin.db_path)  # the same store, for the full run to compare with
        started = time.perf_counter()
        report = autoreconcile.after_ingest(ws)
        incremental = time.perf_counter() - started
        assert report is not None
        print(f"ingest of {k} new deposits: {landed:.2f} s; after_ingest: {incremental:.2f} s over"
              f" {report.transactions} deposits x {report.payments:,} open payments, matched {report.matched},"
              f" suggested {report.suggested}; stages {report.stages}")
        full = reconcile_store(twin)
        print(f"a full run instead: {full.seconds:.2f} s over {full.transactions:,} deposits x"
              f" {full.payments:,} open payments, matched {full.matched}; stages {full.stages}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
