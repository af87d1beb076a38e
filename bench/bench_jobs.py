"""Job overhead: kernel start, per-job overhead, and a pipeline over 20 connections, local pool vs Dask.

Prints its figures; asserts nothing. The connections come from `make_connections` (below): in this branch a
bank on loopback HTTP (the tests' LoopbackBank, loaded into job kernels as an entry-point plugin); after the
merge, point `make_connections` at the bank simulator (`reconwb.sim.bank`) instead.

    .venv/bin/python bench/bench_jobs.py [--connections 20] [--login-delay 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconwb import banks, connections  # noqa: E402
from reconwb.cli.admin import init_workspace  # noqa: E402
from reconwb.jobs import JobRequest  # noqa: E402
from reconwb.jobs.executors import DaskExecutor, LocalExecutor, fan_out  # noqa: E402
from reconwb.jobs.runner import run_job  # noqa: E402
from reconwb.workspace import Workspace  # noqa: E402

CONCURRENCY = 2  # the machine has 2 cores


@contextlib.contextmanager
def make_connections(ws: Workspace, count: int, login_delay: float) -> Iterator[list[str]]:
    """Create `count` bank connections in `ws` and keep their bank running; yield their names.

    THE place to point the benchmark at another bank (the simulator after the merge).
    """
    from tests.jobs.loopback_bank import BANK_ID, LoopbackBank

    users = {f"user{i:02d}": f"pw-{i:02d}-bench" for i in range(count)}
    with LoopbackBank(users) as bank:
        bank.delay = login_delay
        vault = ws.vault()
        with ws.connect() as con:
            banks.register(con, BANK_ID, "Loopback Bank", "loopback")
            for user, password in users.items():
                connections.add(con, f"conn-{user}", BANK_ID, username=user, portal_url=bank.url)
                connections.set_credentials(con, vault, f"conn-{user}", {"password": password})
        yield [f"conn-{u}" for u in users]


def install_bank_plugin() -> None:
    """Make the loopback connector loadable in job kernels (and Dask workers): an entry point on PYTHONPATH."""
    from tests.jobs.loopback_bank import plugin_site

    site = plugin_site(Path(tempfile.mkdtemp(prefix="reconwb-bench-plugin-")))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), str(site), os.environ.get("PYTHONPATH")) if p)


def fresh_workspace(root: Path, name: str) -> Workspace:
    ws = Workspace(db_path=root / name / "reconwb.duckdb")
    os.environ["RECONWB_DB"] = str(ws.db_path)
    init_workspace(ws, simulated_banks=True)
    return ws


def kernel_start_seconds(repeat: int = 3) -> list[float]:
    """Start the kind of kernel a job gets and wait until it answers, `repeat` times."""
    from reconwb.jobs.runner import _kernel_manager_class

    async def once() -> float:
        began = time.perf_counter()
        km = _kernel_manager_class({}, Path(tempfile.mkdtemp(prefix="reconwb-bench-k-")))()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=120)
        took = time.perf_counter() - began
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        return took

    return [asyncio.run(once()) for _ in range(repeat)]


def timed(label: str, work: Callable[[], list]) -> float:
    began = time.perf_counter()
    records = work()
    took = time.perf_counter() - began
    failed = [r for r in records if r.status != "succeeded"]
    note = f" ({len(failed)} failed: {failed[0].error})" if failed else ""
    print(f"  {label:<58} {took:7.2f} s  ({len(records)} runs){note}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--login-delay", type=float, default=0.3, help="seconds the bank takes per login")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="reconwb-bench-jobs-"))
    install_bank_plugin()

    starts = kernel_start_seconds()
    print(f"kernel start (a job kernel, until it answers): median {statistics.median(starts):.2f} s"
          f"  runs {', '.join(f'{s:.2f}' for s in starts)}")  # fmt: skip

    ws = fresh_workspace(root, "overhead")
    records = [run_job(ws, "sync", {"connections": []}) for _ in range(3)]
    walls = [r.metrics["wall_seconds"] for r in records]
    overheads = [r.metrics["overhead_seconds"] for r in records]
    kernels = [r.metrics.get("kernel_start_seconds", 0.0) for r in records]
    print(f"per-job (empty sync job, 3 runs): wall median {statistics.median(walls):.2f} s, overhead outside cells"
          f" median {statistics.median(overheads):.2f} s, run start to first cell median"
          f" {statistics.median(kernels):.2f} s")  # fmt: skip

    try:
        import reconwb.matching  # noqa: F401
        import reconwb.webhooks  # noqa: F401

        job = "pipeline"
    except ImportError:
        job = "sync"
        print("(reconwb.matching / reconwb.webhooks not installed in this branch: timing the sync job instead"
              " of the pipeline)")  # fmt: skip

    from distributed import LocalCluster

    print(f"{job} over {args.connections} connections (bank login {args.login_delay:.1f} s each),"
          f" concurrency {CONCURRENCY}:")  # fmt: skip
    with LocalCluster(n_workers=CONCURRENCY, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for executor_name, executor in (
            ("local pool", LocalExecutor(CONCURRENCY)),
            ("Dask LocalCluster (2 worker processes)", DaskExecutor(cluster.scheduler_address)),
        ):
            for how in ("job", "connection"):
                ws = fresh_workspace(root, f"{executor_name.split()[0]}-{how}")
                with make_connections(ws, args.connections, args.login_delay) as names:
                    if how == "job":
                        requests = [JobRequest(job, {"connections": names, "concurrency": 4})]
                        label = f"{executor_name}, one task for the {job} (1 kernel)"
                    else:
                        requests = fan_out(ws, JobRequest("sync", {"connections": names}), "connection")
                        label = f"{executor_name}, one sync task per connection"
                    timed(label, lambda requests=requests, executor=executor, ws=ws: executor.run(
                        ws, requests, progress=False))  # fmt: skip
    print(f"(outputs under {root})")


if __name__ == "__main__":
    main()
