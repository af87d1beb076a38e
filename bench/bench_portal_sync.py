"""Benchmark: 20 portal connections of 200 transactions each, scraped through one Chromium.

Prints the browser start-up time, the time to sync all connections after start, the per-connection time, and
the end-to-end total. Target on the 2-core reference machine: under 20 s in total.
Run: .venv/bin/python bench/bench_portal_sync.py [--connections 20] [--transactions 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

from reconwb import connections, sync
from reconwb.browser import launch_options
from reconwb.cli.admin import init_workspace
from reconwb.connectors.portal import BrowserHost
from reconwb.serve import free_port
from reconwb.sim.bank_scenario import BANK_BY_ID, bulk
from reconwb.workspace import Workspace


def serve_bank(port: int, connections_: int, per_login: int, ready: multiprocessing.Event) -> None:
    """The simulated bank in its own process, as a real bank is on its own machine."""
    from reconwb.sim.bank import make_server

    handle = make_server(port, bulk(connections_, per_login))
    ready.set()
    handle.serve_forever()


def _process_cpu(pid: int) -> float:
    """CPU seconds a live process has used (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--transactions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "bench.duckdb", Path(tmp) / "bench.key")
        init_workspace(ws, simulated_banks=True)
        scenario = bulk(args.connections, args.transactions)
        port = free_port()
        ready = multiprocessing.Event()
        server = multiprocessing.Process(target=serve_bank, args=(port, args.connections, args.transactions, ready),
                                         daemon=True)
        server.start()
        ready.wait(30)
        base = f"http://127.0.0.1:{port}"
        names = []
        with ws.connect() as con:
            for login in scenario.logins:
                connections.add(con, login.username, login.bank, username=login.username,
                                portal_url=f"{base}/{BANK_BY_ID[login.bank].path}")
                connections.set_credentials(con, ws.vault(), login.username, {"password": login.password})
                names.append(login.username)

        started = time.perf_counter()
        host = BrowserHost()
        launched = time.perf_counter()
        results = host.run(sync.sync_many_async(ws, names, concurrency=args.concurrency, resources=host.resources))
        finished = time.perf_counter()
        host.close()
        bank_cpu = _process_cpu(server.pid)
        server.terminate()
        server.join(5)

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # Chromium, the Playwright driver, the bank
        with ws.connect() as con:
            stored = con.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
        failed = [r for r in results if r.status != "ok"]
        run = finished - launched
        print(f"connections: {len(names)} x {args.transactions} transactions, concurrency {args.concurrency}")
        print(f"chromium:                 {launch_options().get('executable_path', 'Playwright bundled build')}")
        print(f"browser start:            {launched - started:6.2f} s")
        print(f"sync after start:         {run:6.2f} s")
        print(f"per connection (avg):     {run / len(names):6.2f} s  (wall time / connections)")
        print(f"total:                    {finished - started:6.2f} s  (target < 20 s)")
        print(f"CPU used:                 {own.ru_utime + own.ru_stime:6.2f} s reconwb process, "
              f"{kids.ru_utime + kids.ru_stime - bank_cpu:6.2f} s browser + driver, {bank_cpu:5.2f} s simulated bank "
              f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(f"transactions stored:      {stored} (expected {len(names) * args.transactions}); failed: {len(failed)}")
        for r in failed:
            print(f"  {r.connection}: {r.health} {r.message}")


if __name__ == "__main__":
    main()
