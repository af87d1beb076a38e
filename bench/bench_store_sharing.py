"""Store sharing under long work: a store-mode reconcile while reader processes keep reading the store.

    python bench/bench_store_sharing.py [--scale N] [--readers 4] [--pause 0.5] [--skip-baseline]

Builds a store with N deposits and about N payments (`synth.load_store`), then reconciles copies of it: the
way it was before issue 16 (the whole write in one transaction, no readers: the baseline time), chunked
(`reconwb.matching.writing`) with no readers (what chunking itself costs), and chunked while `--readers`
processes loop over `reconwb connections list --json` and a widget-like query (payment statuses, through
`open_store`), `--pause` seconds apart (each CLI call is a Python start-up: on 2 cores, readers with no pause
take most of the CPU from the workload, whatever the store does). Prints the workload's time against
the baseline (goal: at most 20 % slower), the longest store hold of the workload (`store.db.hold_stats`), the
longest wait of a reader to open the store (goal under 3 s) and the reader failures (goal 0), with the load
average (2 shared cores: figures move with the neighbours' work).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]



def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _reconcile(store: Path, *, one_transaction: bool) -> dict[str, float]:
    """Reconcile `store` in a fresh process; its time, stages and hold figures."""
    code = f"""
import json, sys
from reconwb.matching import reconcile_store, writing
from reconwb.store import db
from reconwb.workspace import Workspace
if {one_transaction}:
    writing.FIRST_CHUNK_ROWS = 10**12
ws = Workspace(db_path=__import__("pathlib").Path({str(store)!r}))
with ws.connect():
    pass
db.reset_hold_stats()
report = reconcile_store(ws)
print(json.dumps({{"seconds": report.seconds, "write": report.stages.get("write"), "links": report.links,
                  **db.hold_stats().as_dict()}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between two rounds of a reader")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    from synth import load_store

    from reconwb.workspace import Workspace

    cli = str(Path(sys.executable).with_name("reconwb"))
    with tempfile.TemporaryDirectory(prefix="reconwb-bench-sharing-") as tmp:
        root = Path(tmp)
        os.environ.pop("RECONWB_KEY", None)
        template = root / "template" / "store.duckdb"
        started = time.perf_counter()
        load_store(Workspace(db_path=template), args.scale)
        print(f"store with {args.scale:,} deposits built in {time.perf_counter() - started:.1f} s (load {_load()})")

        def copy(name: str) -> Path:
            shutil.copytree(template.parent, root / name)
            return root / name / "store.duckdb"

        baseline = None
        if not args.skip_baseline:
            baseline = _reconcile(copy("baseline"), one_transaction=True)
            print(f"one transaction, no readers: {baseline['seconds']:.1f} s (write {baseline['write']:.1f} s),"
                  f" longest hold {baseline['longest']:.1f} s (load {_load()})")
            alone = _reconcile(copy("alone"), one_transaction=False)
            print(f"chunked, no readers: {alone['seconds']:.1f} s"
                  f" ({100 * (alone['seconds'] / baseline['seconds'] - 1):+.0f} %; write {alone['write']:.1f} s,"
                  f" {alone['opens']:.0f} opens), longest hold {alone['longest']:.2f} s (load {_load()})")

        store = copy("chunked")
        stop = root / "stop"
        readers = [subprocess.Popen([sys.executable, str(HERE / "store_reader.py"), str(store), str(stop),
                                     str(root / f"r{i}.json"), str(args.pause), cli],
                                    env={**os.environ, "PYTHONPATH": str(HERE.parent)})
                   for i in range(args.readers)]
        try:
            chunked = _reconcile(store, one_transaction=False)
        finally:
            stop.touch()
            for proc in readers:
                proc.wait(timeout=300)
        results = [json.loads((root / f"r{i}.json").read_text()) for i in range(args.readers)]
        cli_seconds = [s for r in results for s in r["cli_seconds"]]
        failures = [f for r in results for f in r["failures"]]
        slower = "" if baseline is None else f" ({100 * (chunked['seconds'] / baseline['seconds'] - 1):+.0f} %)"
        print(f"chunked, {args.readers} readers: {chunked['seconds']:.1f} s{slower} (write {chunked['write']:.1f} s,"
              f" {chunked['opens']:.0f} opens), longest hold {chunked['longest']:.2f} s (load {_load()})")
        print(f"readers: {sum(r['reads'] for r in results):,} widget reads and {len(cli_seconds):,} CLI calls;"
              f" longest wait to open {max(r['longest_wait'] for r in results):.2f} s;"
              f" longest CLI call {max(cli_seconds, default=0):.2f} s; failures {len(failures)}")
        for failure in failures[:3]:
            print(f"  failure: {failure}")


if __name__ == "__main__":
    main()
