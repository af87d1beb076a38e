"""A reader process for store-sharing runs: reads the store in a loop until a stop file appears.

    python bench/store_reader.py STORE STOP OUT PAUSE [CLI]

Each round runs a widget-like query through `open_store` (payment statuses) and, with CLI (the `reconwb`
executable), `reconwb connections list --json`; then sleeps PAUSE seconds. At the end it writes OUT (JSON):
reads, the CLI calls' seconds, failures (a StoreError, or a CLI call that failed) and the longest wait to open
the store. `bench/bench_store_sharing.py` and `tests/store/test_sharing.py` both start it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(store: Path, stop: Path, out: Path, pause: float, cli: str | None) -> None:
    from reconwb.store import db

    env = {**os.environ, "RECONWB_DB": str(store)}
    cli_seconds: list[float] = []
    failures: list[str] = []
    reads = 0
    while not stop.exists():
        if cli:
            started = time.monotonic()
            done = subprocess.run([cli, "connections", "list", "--json"], env=env, capture_output=True, text=True)
            cli_seconds.append(time.monotonic() - started)
            if done.returncode != 0:
                failures.append(done.stderr.strip()[-300:])
        try:
            with db.open_store(store) as con:
                con.execute("SELECT status, count(*), sum(amount) FROM payments GROUP BY status").fetchall()
            reads += 1
        except db.StoreError as err:
            failures.append(str(err))
        time.sleep(pause)
    out.write_text(json.dumps({"reads": reads, "cli_seconds": cli_seconds, "failures": failures,
                               "longest_wait": db.hold_stats().longest_wait}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]),
         sys.argv[5] if len(sys.argv) > 5 else None)
