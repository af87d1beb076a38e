"""Where job runs execute: a local pool (default) or a Dask distributed cluster.

Either way a run is `runner.run_job`: one papermill kernel per job. The local pool bounds how many kernels run
at once on this machine and shows a progress bar. The Dask executor sends one task per job (or, with
`fan_out="connection"`, one sync task per connection) to the cluster's workers; each worker starts its own
kernel. Workers must see the same workspace files (store, key file, `data/runs/`), e.g. on a shared disk, and
get the vault key from their own environment: nothing secret travels through the scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any, Protocol

from tqdm import tqdm

from reconwb.errors import InvalidInput
from reconwb.jobs.runner import JobRequest, RunRecord, job_name, run_job
from reconwb.workspace import Workspace

DEFAULT_CONCURRENCY = 2


class Executor(Protocol):
    name: str

    def run(self, ws: Workspace, requests: list[JobRequest], *, progress: bool = True) -> list[RunRecord]: ...


def _execute(ws: Workspace, request: JobRequest, executor: str) -> RunRecord:
    return run_job(
        ws, request.job, request.parameters, policy=request.policy, trigger=request.trigger, executor=executor
    )


def _collect(done: Iterator[tuple[int, RunRecord]], total: int, progress: bool, label: str) -> list[RunRecord]:
    results: list[RunRecord | None] = [None] * total
    with tqdm(total=total, desc=label, unit="job", disable=not progress or total == 0, leave=False) as bar:
        for index, record in done:
            results[index] = record
            bar.set_postfix_str(f"{record.job} {record.status}", refresh=False)
            bar.update(1)
    return [r for r in results if r is not None]


class LocalExecutor:
    """A bounded pool of threads, each driving one job kernel (the kernels are separate processes)."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if concurrency < 1:
            raise InvalidInput("executor concurrency must be at least 1")
        self.concurrency = concurrency
        self.name = "local" if concurrency == DEFAULT_CONCURRENCY else f"local:{concurrency}"

    def run(self, ws: Workspace, requests: list[JobRequest], *, progress: bool = True) -> list[RunRecord]:
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="reconwb-job") as pool:
            futures = {pool.submit(_execute, ws, r, self.name): i for i, r in enumerate(requests)}
            done = ((futures[f], f.result()) for f in as_completed(futures))
            return _collect(done, len(requests), progress, "jobs")


def _dask_task(ws: Workspace, request: JobRequest, executor: str) -> dict[str, Any]:
    """What a Dask worker runs (a module-level function, so it pickles by reference).

    The job runs on a thread of its own: a worker's task thread can carry the worker's event loop (running on
    another thread), and the notebook client would then try to run on that loop ("This event loop is already
    running")."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconwb-dask-job") as pool:
        return pool.submit(_execute, ws, request, executor).result().as_dict()


class DaskExecutor:
    """Runs each job as a task on a Dask distributed cluster at `address` (tcp://HOST:PORT, or inproc:// in tests)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.name = f"dask:{address}"

    def run(self, ws: Workspace, requests: list[JobRequest], *, progress: bool = True) -> list[RunRecord]:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(self.address, timeout="30s") as client:
            futures = [
                client.submit(_dask_task, ws, r, self.name, pure=False, key=f"reconwb-job-{i}-{os.urandom(4).hex()}")
                for i, r in enumerate(requests)
            ]
            index = {f.key: i for i, f in enumerate(futures)}

            def done() -> Iterator[tuple[int, RunRecord]]:
                for future in dask_completed(futures):
                    yield index[future.key], _record(future.result())

            return _collect(done(), len(requests), progress, "dask jobs")


def _record(data: dict[str, Any]) -> RunRecord:
    data = dict(data)
    data.pop("id", None)
    return RunRecord(**data)


def executor_for(spec: str | None, *, concurrency: int = DEFAULT_CONCURRENCY) -> Executor:
    """`local` (default), `local:N`, or `dask://HOST:PORT` (also `tcp://`, `tls://`, `inproc://` addresses)."""
    spec = (spec or "local").strip()
    if spec == "local":
        return LocalExecutor(concurrency)
    if spec.startswith("local:"):
        count = spec.removeprefix("local:")
        if not count.isdigit():
            raise InvalidInput(f"executor {spec!r}: expected local:N with N a whole number")
        return LocalExecutor(int(count))
    if spec.startswith("dask://"):
        address = spec.removeprefix("dask://")
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidInput(f"executor {spec!r}: expected dask://HOST:PORT")
        return DaskExecutor(f"tcp://{address}")
    if spec.startswith(("tcp://", "tls://", "inproc://")):
        return DaskExecutor(spec)
    raise InvalidInput(f"unknown executor {spec!r}: use local, local:N or dask://HOST:PORT")


def fan_out(ws: Workspace, request: JobRequest, how: str = "job") -> list[JobRequest]:
    """One request per job (`job`), or one sync request per connection (`connection`)."""
    if how == "job":
        return [request]
    if how != "connection":
        raise InvalidInput(f"fan-out must be 'job' or 'connection', not {how!r}")
    if job_name(request.job) != "sync":
        raise InvalidInput("fan-out per connection applies to the sync job only")
    from reconwb.jobs.steps import resolve_connections

    names = resolve_connections(ws, request.parameters.get("connections", "due"))
    return [replace(request, parameters={**request.parameters, "connections": [n]}) for n in names]
