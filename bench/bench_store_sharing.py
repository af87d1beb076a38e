"""Store sharing under long work: a store-mode reconcile while reader processes keep reading the store.

    python bench/bench_store_sharing.py [--scale N] [--import-rows M] [--readers 4] [--pause 0.5]
        [--skip-baseline] [--skip-reconcile] [--checkout DIR]

Two workloads: a store-mode reconcile and a statement import of M lines (a Transactions CSV of 20 accounts,
`make_statement`) into the same store. Builds a store with N deposits and about N payments
(`synth.load_store`), then runs each workload on copies of it four ways: the whole write in one transaction
(the way it was before issue 16) with no readers and with the readers below; chunked (`reconwb.store.chunks`,
today's way) with no readers (what chunking itself costs) and with the readers: `--readers` processes loop over
`reconwb connections list --json` and a widget-like query (payment statuses, through `open_store`), `--pause`
seconds apart. Printed: each run's time and CPU seconds, the longest store hold of the workload
(`store.db.hold_stats`), the longest wait of a reader to open the store (goal under 3 s) and the reader failures
(goal 0), with the load average (2 shared cores: figures move with the neighbours' work).

The goal "at most 20 % slower than today" is about the code issue 16 was filed on: with `--checkout` (a
checkout of commit 8baaf34) each workload runs there too, alone and with the same readers
(`bench_store_sharing_before.py`), and the chunked run with readers is printed against both. Against the
one-transaction runs of today's code it is slower on 2 cores whatever the store does: each reader's CLI call is a
Python start-up (about 0.2 CPU-s) that takes CPU from the workload, where a reader locked out by one long
transaction sleeps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


_RECONCILE = """
from reconwb.matching import reconcile_store, writing
if one_transaction:
    writing.FIRST_CHUNK_ROWS = 10**12
report = reconcile_store(ws)
figures = {"seconds": report.seconds, "write": report.stages.get("write"), "rows": report.links}
"""
_IMPORT = """
import time
from reconwb.statements import importer, parse
if one_transaction:
    importer.IN_ONE_TRANSACTION = 10**12
started = time.perf_counter()
fmt, statements = parse(file)
read = time.perf_counter() - started
result = importer.import_into(ws, statements, "bench-statements", file=file, fmt=fmt)
figures = {"seconds": time.perf_counter() - started, "write": time.perf_counter() - started - read,
           "rows": result.imported}
"""


def _parts(figures: dict) -> str:
    """Where the longest hold went (`store.db.HoldStats.longest_parts`)."""
    return ", ".join(f"{k} {v:.2f}" for k, v in figures.get("longest_parts", {}).items())


def _workload(kind: str, store: Path, *, one_transaction: bool, file: Path | None = None) -> dict[str, float]:
    """Run a reconcile or a statement import on `store` in a fresh process; its time and hold figures."""
    code = f"""
import json, resource
from pathlib import Path
from reconwb.store import db
from reconwb.workspace import Workspace
one_transaction, file = {one_transaction}, Path({str(file)!r})
ws = Workspace(db_path=Path({str(store)!r}))
with ws.connect():
    pass
db.reset_hold_stats()
{_RECONCILE if kind == "reconcile" else _IMPORT}
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{**figures, **db.hold_stats().as_dict(), "peak_mb": usage.ru_maxrss / 1024,
                  "cpu": usage.ru_utime + usage.ru_stime}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    if done.returncode != 0:
        raise SystemExit(f"the {kind} workload failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_statement(path: Path, rows: int) -> None:
    """A Transactions CSV of `rows` lines short enough for the 64 MB statement limit at 1M lines (~45 bytes a
    line): 20 accounts, half the lines with a bank id, two years of dates."""
    import polars as pl

    i = pl.int_range(rows, eager=True)
    pl.DataFrame({"i": i}).select(
        txn_id=pl.when(pl.col("i") % 2 == 0).then(pl.format("B{}", pl.col("i"))).otherwise(pl.lit("")),
        account_id=pl.format("A{}", pl.col("i") % 20),
        booked_on=(pl.lit(dt.date(2024, 1, 1)) + pl.duration(days=pl.col("i") % 730)).cast(pl.Date),
        amount=pl.format("{}.{}", pl.col("i") * 7919 % 20000 - 5000, (pl.col("i") % 90 + 10).cast(pl.String)),
        currency=pl.lit("CHF"),
        description=pl.format("p{}", pl.col("i") % 50000),
        reference=pl.lit(""),
        counterparty=pl.format("C{}", pl.col("i") % 1000),
    ).write_csv(path)


def with_readers(readers: int, pause: float, root: Path, store: Path, work: Callable[[], dict[str, float]],
                 code: Path = HERE.parent) -> tuple[dict[str, float], list[dict]]:
    """`work()` while `readers` reader processes (`store_reader.py` on the reconwb of `code`) loop over the store,
    `pause` seconds apart; its figures and the readers'."""
    cli = str(Path(sys.executable).with_name("reconwb"))
    stop = root / f"stop-{store.parent.name}"
    outs = [root / f"{store.parent.name}-r{i}.json" for i in range(readers)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    procs = [subprocess.Popen([sys.executable, str(HERE / "store_reader.py"), str(store), str(stop), str(out),
                               str(pause), cli], env=env) for out in outs]
    try:
        figures = work()
    finally:
        stop.touch()
        for proc in procs:
            proc.wait(timeout=600)
    return figures, [json.loads(out.read_text()) for out in outs]


def readers_line(results: list[dict]) -> str:
    cli_seconds = [s for r in results for s in r["cli_seconds"]]
    failures = [f for r in results for f in r["failures"]]
    line = (f"  readers: {sum(r['reads'] for r in results):,} widget reads and {len(cli_seconds):,} CLI calls;"
            f" longest wait to open {max(r['longest_wait'] for r in results):.2f} s (goal < 3 s);"
            f" longest CLI call {max(cli_seconds, default=0):.2f} s; failures {len(failures)} (goal 0)")
    return "\n".join([line, *(f"  failure: {failure}" for failure in failures[:3])])


def _slower(figures: dict[str, float], than: dict[str, float] | None, key: str = "seconds") -> str:
    return "" if than is None else f" ({100 * (figures[key] / than[key] - 1):+.0f} %)"


def _measure(args: argparse.Namespace, root: Path, label: str, copy: Callable[[str], Path], kind: str,
             file: Path | None = None, rows: int = 0) -> None:
    """One workload four ways: one transaction and chunked without readers; one transaction (as before issue 16)
    and chunked with the same readers. The readers' own CPU is taken from the workload on 2 cores whatever the
    store does, so the workload's time with readers is compared with the one-transaction run under the same
    readers too, and its CPU seconds (its own work) with the one-transaction run's."""
    baseline = crowded = None
    if not args.skip_baseline:
        baseline = _workload(kind, copy(f"{kind}-baseline"), one_transaction=True, file=file)
        print(f"{label}, one transaction, no readers: {baseline['seconds']:.1f} s (write {baseline['write']:.1f} s),"
              f" {baseline['cpu']:.1f} CPU-s, longest hold {baseline['longest']:.1f} s (load {_load()})")
        alone = _workload(kind, copy(f"{kind}-alone"), one_transaction=False, file=file)
        print(f"{label}, chunked, no readers: {alone['seconds']:.1f} s{_slower(alone, baseline)}; write"
              f" {alone['write']:.1f} s, {alone['opens']:.0f} opens, {alone['cpu']:.1f} CPU-s"
              f"{_slower(alone, baseline, 'cpu')}), longest hold {alone['longest']:.2f} s"
              f" ({_parts(alone)}; {alone['longest_cpu']:.2f} CPU-s; most CPU in one hold {alone['most_cpu']:.2f} s),"
              f" peak {alone['peak_mb']:.0f} MB (load {_load()})")
        store = copy(f"{kind}-before")
        crowded, results = with_readers(args.readers, args.pause, root, store,
                                         lambda: _workload(kind, store, one_transaction=True, file=file))
        print(f"{label}, one transaction, {args.readers} readers (as before issue 16): {crowded['seconds']:.1f} s,"
              f" {crowded['cpu']:.1f} CPU-s, longest hold {crowded['longest']:.1f} s (load {_load()})")
        print(readers_line(results))
    store = copy(f"{kind}-readers")
    chunked, results = with_readers(args.readers, args.pause, root, store,
                                     lambda: _workload(kind, store, one_transaction=False, file=file))
    against = "" if baseline is None else (
        f" ({100 * (chunked['seconds'] / baseline['seconds'] - 1):+.0f} % against one transaction alone,"
        f" {100 * (chunked['seconds'] / crowded['seconds'] - 1):+.0f} % against one transaction with the same"
        f" readers; its CPU {100 * (chunked['cpu'] / baseline['cpu'] - 1):+.0f} % against one transaction alone;"
        " goal at most +20 %)")
    print(f"{label}, chunked, {args.readers} readers: {chunked['seconds']:.1f} s{against} (write"
          f" {chunked['write']:.1f} s, {chunked['opens']:.0f} opens, {chunked['cpu']:.1f} CPU-s), longest hold"
          f" {chunked['longest']:.2f} s ({_parts(chunked)}; {chunked['longest_cpu']:.2f} CPU-s; most CPU in one hold"
          f" {chunked['most_cpu']:.2f} s) (load {_load()})")
    print(readers_line(results))
    if args.checkout is not None:  # the "today": the code it was filed on, on this machine, just after
        from bench_store_sharing_before import measure

        then = measure(args.checkout, args.scale, rows, (kind,), readers=args.readers, pause=args.pause)
        alone, crowded = then[(kind, 0)][0], then[(kind, args.readers)][0]
        print(f"{label}, chunked, {args.readers} readers, against the filed commit (goal at most +20 %):"
              f" {100 * (chunked['seconds'] / alone['seconds'] - 1):+.0f} % against its time alone"
              f" ({alone['seconds']:.1f} s), {100 * (chunked['seconds'] / crowded['seconds'] - 1):+.0f} % against its"
              f" time with the same readers ({crowded['seconds']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=None,
                        help="lines of the statement file imported as the second workload [default: --scale]; 0 skips")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between two rounds of a reader")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-reconcile", action="store_true")
    parser.add_argument("--checkout", type=Path, default=None,
                        help="a checkout of the commit issue 16 was filed on (8baaf34): each workload is run there"
                             " too, alone and with the readers, and compared (`bench_store_sharing_before.py`)")
    args = parser.parse_args()

    from synth import load_store

    from reconwb.workspace import Workspace

    print(f"load average {_load()} on {os.cpu_count()} cores")
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

        if not args.skip_reconcile:
            _measure(args, root, f"reconcile {args.scale:,} x {args.scale:,}", copy, "reconcile", rows=args.scale)
        rows = args.scale if args.import_rows is None else args.import_rows
        if rows:
            statement = root / "statement.csv"
            make_statement(statement, rows)
            _measure(args, root, f"statement import of {rows:,} lines", copy, "import", statement, rows=rows)


if __name__ == "__main__":
    main()
