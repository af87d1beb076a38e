"""Benchmark: deliver 10,000 webhook events to a local receiver; print throughput and latency.

Target (issue 7): at least 1,000 deliveries per second on the development machine. The receiver is a minimal
asyncio HTTP/1.1 server in its own process (so it does not share the worker's interpreter); it checks every
100th signature with the reference `standardwebhooks` library. Latency is per attempt, from the request's start
to the end of the answer, as the delivery log records it.

    .venv/bin/python bench/bench_webhooks.py [--events 10000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _sink(port_out: multiprocessing.connection.Connection, secret: str) -> None:
    """A tiny keep-alive HTTP server: reads each request, answers 204, counts, verifies a sample."""
    from standardwebhooks.webhooks import Webhook

    webhook = Webhook(secret)
    state = {"seen": 0, "bad": 0}

    class Sink(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buffer[:head_end].decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
                length = int(headers.get("content-length", "0"))
                if len(self.buffer) < head_end + 4 + length:
                    return
                body = self.buffer[head_end + 4 : head_end + 4 + length]
                self.buffer = self.buffer[head_end + 4 + length :]
                state["seen"] += 1
                if state["seen"] % 100 == 1:
                    try:
                        webhook.verify(body, headers)
                    except Exception:
                        state["bad"] += 1
                self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        while True:
            await asyncio.sleep(0.2)
            if port_out.poll():
                port_out.recv()
                port_out.send(dict(state))
                return

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    os.environ["RECONWB_DB"] = str(tmp / "data" / "reconwb.duckdb")
    os.environ.pop("RECONWB_KEY", None)
    os.environ.pop("RECONWB_KEY_FILE", None)

    from reconwb import events
    from reconwb.cli.admin import init_workspace
    from reconwb.store.db import transaction
    from reconwb.webhooks import endpoints
    from reconwb.webhooks.delivery import Worker, run_sync
    from reconwb.workspace import Workspace

    ws = Workspace.from_env()
    init_workspace(ws, simulated_banks=True)
    with ws.connect() as con:
        endpoint, secret = endpoints.add(con, ws.vault(), "http://127.0.0.1:1/", auth="bearer", token="bench-token")

    parent, child = multiprocessing.Pipe()
    sink = multiprocessing.get_context("spawn").Process(target=_sink, args=(child, secret), daemon=True)
    sink.start()
    port = parent.recv()
    with ws.connect() as con:
        con.execute("UPDATE webhook_endpoints SET url = ? WHERE endpoint_id = ?",
                    [f"http://127.0.0.1:{port}/hook", endpoint.endpoint_id])
        started = time.perf_counter()
        with transaction(con):
            for i in range(args.events):
                events.emit(con, "transaction.created", {"txn_id": i, "amount": f"{i % 997}.{i % 100:02d}"},
                            subject=f"txn/{i}")
        queued = time.perf_counter() - started

    worker = Worker(ws, concurrency=args.concurrency, batch_size=args.batch)
    started, cpu_started = time.perf_counter(), time.process_time()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        report = profile.runcall(run_sync, worker)
        profile.dump_stats(os.environ["BENCH_PROFILE"])
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    else:
        report = run_sync(worker)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    parent.send("stop")
    seen = parent.recv()
    sink.join(5)

    with ws.connect() as con:
        p50, p99, worst = con.execute(
            "SELECT quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.99), max(latency_ms)"
            " FROM webhook_attempts"
        ).fetchall()[0]
        delivered = con.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").fetchall()[0][0]

    print(f"events queued (emit, one transaction): {args.events} in {queued:.2f} s")
    print(f"delivered: {delivered}/{args.events} in {elapsed:.2f} s -> {delivered / elapsed:,.0f} deliveries/s"
          f" (concurrency {args.concurrency}, {worker.per_endpoint} per endpoint, batch {args.batch})")
    print(f"worker CPU: {cpu:.2f} s = {cpu / max(delivered, 1) * 1000:.2f} ms per delivery"
          f" (-> {delivered / cpu if cpu else 0:,.0f} deliveries per CPU-second;"
          f" load average {os.getloadavg()[0]:.1f})")
    print(f"attempt latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    print(f"receiver saw {seen['seen']} requests; sampled signatures failing verification: {seen['bad']}")
    print(f"report: {report.as_dict()}")
    print(f"target >= 1,000 deliveries/s: {'met' if delivered / elapsed >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
