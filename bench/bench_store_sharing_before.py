"""Issue 16's "today": the store-sharing workloads on the code the issue was filed on, alone and with readers.

    git worktree add /tmp/filed 8baaf34
    python bench/bench_store_sharing_before.py --checkout /tmp/filed [--scale N] [--import-rows M] [--repeat K]
        [--skip-reconcile]

Issue 16 asks that the workload with readers be "no more than 20 % slower than today". Today is the code it was
filed on, whose reconcile and statement import each wrote in ONE transaction: the readers then mostly slept,
locked out, and left the 2 cores to the workload. `bench/bench_store_sharing.py` times the current code; this
times the same workloads on a checkout of that commit, so that the two can be run back to back on one machine
(2 shared cores: wall figures move by 20-30 % from one hour to the next). The store is built by the checkout's own
code (its `bench/synth.py`, its schema), the readers are `bench/store_reader.py` run against the checkout (its
`open_store` and its CLI), and the statement file is `bench_store_sharing.make_statement`'s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from bench_store_sharing import _load, make_statement, readers_line, with_readers  # noqa: E402

_BUILD = """
import os, sys
from pathlib import Path
sys.path.insert(0, str(Path(os.environ["PYTHONPATH"]) / "bench"))
import reconwb
assert Path(reconwb.__file__).is_relative_to(os.environ["PYTHONPATH"]), reconwb.__file__
import polars as pl
from synth import generate
from reconwb import accounts, banks, connections
from reconwb.cli.admin import init_workspace
from reconwb.payments import import_file
from reconwb.transactions import ingest
from reconwb.workspace import Workspace
ws = Workspace(db_path=Path(sys.argv[1]))
ws.db_path.parent.mkdir(parents=True)
init_workspace(ws, simulated_banks=True)
txns, payments, _ = generate(int(sys.argv[2]))
payments.write_csv(ws.db_path.parent / "payments.csv")
with ws.connect() as con:
    import_file(con, ws.db_path.parent / "payments.csv")
    banks.ensure_statement_bank(con)
    conn = connections.add(con, "bench", banks.STATEMENT_BANK)
    account = accounts.ensure(con, conn.connection_id, "ACC-1")
    ingest(con, account, txns.select("booked_on", "currency", "description", "reference", "counterparty",
           amount=pl.col("amount").cast(pl.Decimal(18, 2)), bank_txn_id="txn_id"), source="statement")
"""

_WORKLOAD = """
import json, resource, sys, time
from pathlib import Path
from reconwb.store import db
from reconwb.workspace import Workspace
import os, reconwb
assert Path(reconwb.__file__).is_relative_to(os.environ["PYTHONPATH"]), reconwb.__file__
ws = Workspace(db_path=Path(sys.argv[1]))
with ws.connect():
    pass
db.reset_hold_stats()
started = time.perf_counter()
if sys.argv[2] == "reconcile":
    from reconwb.matching import reconcile_store
    rows = reconcile_store(ws).links
else:
    from reconwb.statements import parse
    from reconwb.statements.importer import store
    file = Path(sys.argv[3])
    fmt, statements = parse(file)
    with ws.connect() as con:
        rows = store(con, statements, "bench-statements", file=file, fmt=fmt).imported
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime, "rows": rows,
                  "longest": db.hold_stats().longest}))
"""


def _run(env: dict[str, str], code: str, *args: str) -> dict:
    # run from the checkout: `python -c` puts the working folder first on sys.path, ahead of PYTHONPATH
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          cwd=env["PYTHONPATH"])
    if done.returncode != 0:
        raise SystemExit(f"the checkout's code failed:\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _measure(env: dict[str, str], root: Path, template: Path, kind: str, readers: int, pause: float,
             file: Path | None, run: int) -> dict:
    store = root / f"{kind}-{readers}-{run}" / "store.duckdb"
    subprocess.run(["cp", "-r", str(template.parent), str(store.parent)], check=True)
    figures, results = with_readers(
        readers, pause, root, store, lambda: _run(env, _WORKLOAD, str(store), kind, *([str(file)] if file else [])),
        code=Path(env["PYTHONPATH"]))
    print(f"{kind} at the filed commit, {readers} readers: {figures['seconds']:.1f} s, {figures['cpu']:.1f} CPU-s,"
          f" longest hold {figures['longest']:.1f} s (load {_load()})", flush=True)
    if results:
        print(readers_line(results), flush=True)
    subprocess.run(["rm", "-rf", str(store.parent)], check=True)
    return figures


def measure(checkout: Path, scale: int, import_rows: int, kinds: tuple[str, ...], *, readers: int = 4,
            pause: float = 0.5, repeat: int = 1) -> dict[tuple[str, int], list[dict]]:
    """Each of `kinds` ("reconcile", "import") on the code of `checkout`, alone and with `readers` readers,
    `repeat` times: the figures of each run by (kind, readers), as printed."""
    checkout = checkout.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    env["PYTHONPATH"] = str(checkout)
    print(f"the filed commit: code of {checkout} (load {_load()})")
    figures: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="reconwb-bench-before-") as tmp:
        root = Path(tmp)
        template = root / "template" / "store.duckdb"
        started = time.perf_counter()
        _run(env, _BUILD, str(template), str(scale))
        print(f"store with {scale:,} deposits built by the checkout in {time.perf_counter() - started:.1f} s")
        statement = root / "statement.csv"
        if "import" in kinds:
            make_statement(statement, import_rows)
        for run in range(repeat):
            for kind in kinds:
                for count in (0, readers):
                    got = _measure(env, root, template, kind, count, pause,
                                   statement if kind == "import" else None, run)
                    figures.setdefault((kind, count), []).append(got)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True, help="a checkout of the commit issue 16 was filed on")
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=None)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-reconcile", action="store_true")
    args = parser.parse_args()
    print(f"load average {_load()} on {os.cpu_count()} cores")
    kinds = ("import",) if args.skip_reconcile else ("reconcile", "import")
    measure(args.checkout, args.scale, args.scale if args.import_rows is None else args.import_rows, kinds,
            readers=args.readers, pause=args.pause, repeat=args.repeat)


if __name__ == "__main__":
    main()
