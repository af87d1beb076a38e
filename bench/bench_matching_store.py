"""Matching benchmark, store mode: one `reconcile_store` run on a fresh workspace, then more runs over the store
as it is: the second may still match a few deposits the first run's matches freed, and so on, until a run
matches nothing; the run after that reads what it read and is skipped.

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

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def main(n: int) -> None:
    from synth import load_store

    from reconwb.matching import reconcile_store
    from reconwb.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="reconwb-bench-store-") as tmp:
        os.environ["RECONWB_DB"] = str(Path(tmp) / "store.duckdb")
        os.environ.pop("RECONWB_KEY", None)
        ws = Workspace.from_env()
        started = time.perf_counter()
        deposits, payments = load_store(ws, n)
        print(f"loaded {deposits:,} transactions and {payments:,} payments in {time.perf_counter() - started:.1f} s")
        for label in ("first run", "second run", "third run", "fourth run", "fifth run"):
            report = reconcile_store(ws)
            print(f"{label}: {report.seconds:.2f} s{' (skipped: inputs unchanged)' if report.skipped else ''};"
                  f" matched {report.matched:,}, partly {report.partially_matched:,},"
                  f" suggested {report.suggested:,}, open {report.open_payments:,}; load average"
                  f" {os.getloadavg()[0]:.2f}")
            print(f"  seconds by stage: {report.stages}")
            if report.skipped:
                break
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
