"""Matching benchmark, file mode: precision, recall, time and peak memory, next to a naive pandas baseline.

    python bench/bench_matching.py [N]     # N transactions against about N payments (default 100000)

Each contender runs in its own child process so that its peak resident memory (ru_maxrss) and CPU time are its
own (CPU time says more than wall time on a machine shared with other work). Targets
(2-core machine): N = 1,000,000 in under 60 s, under 6 GB, link precision >= 0.995 and recall >= 0.97.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def _child(kind: str, data: Path, out: Path) -> None:
    started = time.perf_counter()
    extra: dict[str, object] = {}
    if kind == "reconwb":
        from reconwb.matching import reconcile_files

        report = reconcile_files(data / "transactions.csv", data / "payments.csv", out)
        extra = {"suggested": report.suggested, "by_rule": report.by_rule, "stages": report.stages}
    else:
        import pandas as pd

        txns = pd.read_csv(data / "transactions.csv", dtype=str, keep_default_na=False)
        pays = pd.read_csv(data / "payments.csv", dtype=str, keep_default_na=False)
        txns = txns[~txns["amount"].str.startswith("-")]
        # naive: the deposit's reference field equals the invoice reference and the amounts are equal (a join on
        # amount alone does not fit in memory here: common amounts make it billions of rows)
        txns = txns[txns["reference"] != ""]
        merged = txns.merge(pays, on=["reference", "amount", "currency"], suffixes=("_t", "_p"))
        merged = merged.drop_duplicates("txn_id").drop_duplicates("payment_id")
        merged[["txn_id", "payment_id"]].to_csv(out, index=False)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    sys.stdout.flush()
    print(json.dumps({"seconds": round(seconds, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                      "peak_mb": round(usage.ru_maxrss / 1024), **extra}))


def _score(out: Path, truth: pl.DataFrame) -> tuple[float, float, int]:
    links = pl.read_csv(out, infer_schema=False).select("txn_id", "payment_id").unique()
    right = links.join(truth, on=["txn_id", "payment_id"]).height
    precision = right / links.height if links.height else 1.0
    return precision, right / truth.height, links.height


def main(n: int) -> None:
    from synth import write

    with tempfile.TemporaryDirectory(prefix="reconwb-bench-") as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        write(n, data)
        truth = pl.read_csv(data / "truth.csv", infer_schema=False).unique()
        print(f"generated {n:,} transactions, {truth.height:,} true links in {time.perf_counter() - started:.1f} s")
        print(f"{'engine':<16}{'links':>10}{'precision':>11}{'recall':>9}{'time s':>9}{'cpu s':>8}{'peak MB':>10}")
        for kind in ("reconwb", "pandas-naive"):
            out = data / f"matches-{kind}.csv"
            done = subprocess.run([sys.executable, __file__, "--child", kind, str(data), str(out)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{kind}: failed\n{done.stderr[-2000:]}")
                continue
            stats = json.loads(done.stdout.strip().splitlines()[-1])
            precision, recall, links = _score(out, truth)
            print(f"{kind:<16}{links:>10,}{precision:>11.4f}{recall:>9.4f}{stats['seconds']:>9.1f}"
                  f"{stats['cpu_s']:>8.1f}{stats['peak_mb']:>10,}")
            if "by_rule" in stats:
                print(f"  suggestions: {stats['suggested']:,}; auto links by rule: {stats['by_rule']}")
                print(f"  seconds by stage: {stats['stages']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
