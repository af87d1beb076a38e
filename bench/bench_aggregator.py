"""Aggregator throughput against the simulator on loopback: prints its figures, asserts nothing.

- fetch: N linked connections synced at once (`sync_many`), transactions landed per second;
- parked results: PENDING answers completed through `results.ready` webhooks, time from release to `ok`;
- notifications: queueing one incident for many users, and re-queueing it (must add nothing).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconwb import connections, notify, sync  # noqa: E402
from reconwb.cli.admin import init_workspace  # noqa: E402
from reconwb.openbanking import lean as aggregator  # noqa: E402
from reconwb.sim.aggregator import SimLogin, start_aggregator  # noqa: E402
from reconwb.workspace import Workspace  # noqa: E402
from tests.aggregator_env import Receiver  # noqa: E402

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "20"))
TXNS = int(os.environ.get("BENCH_TXNS", "200"))
USERS = int(os.environ.get("BENCH_USERS", "200"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("RECONWB_KEY", None)
        ws = Workspace(Path(tmp) / "data" / "reconwb.duckdb")
        init_workspace(ws, simulated_banks=True)
        logins = tuple(SimLogin("AGGM_DEU", f"user{i}", f"pass-{i}-xyz", accounts=2, transactions=TXNS)
                       for i in range(CONNECTIONS))
        receiver = Receiver(ws)
        sim = start_aggregator(webhook_url=receiver.url, logins=logins)
        try:
            with ws.connect() as con:
                aggregator.configure(con, ws.vault(), url=sim.url, app_token=sim.app_token,
                                     webhook_secret=sim.webhook_secret)
            aggregator.refresh_banks(ws)
            started = time.perf_counter()
            for login in logins:
                with ws.connect() as con:
                    connections.add(con, login.username, "AGGM_DEU", username=login.username)
                    connections.set_credentials(con, ws.vault(), login.username, {"password": login.password})
                aggregator.link(ws, login.username)
            sim.state.drain()
            linked = time.perf_counter() - started

            started = time.perf_counter()
            results = sync.sync_many(ws, [x.username for x in logins], concurrency=4)
            fetch = time.perf_counter() - started
            inserted = sum(r.inserted for r in results)
            print(f"link: {CONNECTIONS} connections in {linked:.2f} s ({linked / CONNECTIONS * 1000:.0f} ms each)")
            print(f"fetch: {CONNECTIONS} connections x 2 accounts, {inserted} txns (90-day window) in {fetch:.2f} s"
                  f" ({inserted / fetch:.0f} txns/s, {fetch / CONNECTIONS * 1000:.0f} ms per connection)")

            parked = min(CONNECTIONS, 10)
            with ws.connect() as con:
                entities = [connections.get(con, x.username).external_id for x in logins[:parked]]
            for entity in entities:
                sim.state.entities[entity].pending_left = 1
                sim.state.entities[entity].pending_hold = True
                sim.state.entities[entity].pending_kinds = ("accounts",)
            statuses = [r.status for r in sync.sync_many(ws, [x.username for x in logins[:parked]], concurrency=4)]
            ids = [r.id for r in sim.state.results.values() if not r.ready]
            started = time.perf_counter()
            for results_id in ids:
                sim.state.make_ready(results_id)
            sim.state.drain(timeout=120)
            completed = time.perf_counter() - started
            done = sum(1 for h in receiver.of_type("results.ready") if h.get("status") == "completed")
            print(f"parked results: {statuses.count('pending')} pending, {done} completed via results.ready in"
                  f" {completed:.2f} s ({completed / max(done, 1) * 1000:.0f} ms each, webhook + fetch + land)")
        finally:
            sim.stop()
            receiver.stop()

        with ws.connect() as con:
            for i in range(USERS):
                notify.add_user(con, f"u{i}", email=f"u{i}@example.test", permissions=["reconciliation"])
            started = time.perf_counter()
            queued = notify.queue(con, "bench-incident", "subject", "body")
            first = time.perf_counter() - started
            started = time.perf_counter()
            again = notify.queue(con, "bench-incident", "subject", "body")
            second = time.perf_counter() - started
        print(f"notify.queue: {queued} users in {first * 1000:.0f} ms; re-queue added {again} in"
              f" {second * 1000:.0f} ms")


if __name__ == "__main__":
    main()
