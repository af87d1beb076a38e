"""Running one job notebook with papermill, and the run history.

A run is one attempt: an id, the parameters, start and end, a status, the output notebook under
`data/runs/`, and on failure the error and the index of the cell that raised. Papermill writes the executing
notebook to a private temporary directory (mode 0700); only the scrubbed copy is stored, so no unscrubbed
output ever sits in `data/runs/`. One kernel serves the whole job, every step of it.

A failed run is retried per the job's policy; when the last attempt fails, the run emits `job.failed` (which
queues its webhooks) and calls the notification hook.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconwb import events, jsonutil, resources
from reconwb.errors import NotFound
from reconwb.events import new_id
from reconwb.jobs import lease
from reconwb.jobs import parameters as job_parameters
from reconwb.jobs.scrub import check_parameters, register_workspace_secrets, scrub_notebook
from reconwb.private import private_dir, write_private
from reconwb.redaction import redact
from reconwb.store.db import transaction
from reconwb.workspace import Workspace

if TYPE_CHECKING:  # nbformat and the steps (papermill's world) load when a job runs, not for `jobs history`
    import nbformat

log = logging.getLogger(__name__)

KERNEL_ENV = "RECONWB_JOB_KERNEL"
DEFAULT_KERNEL = "python3"  # jupyter_client maps it to this interpreter, i.e. the venv's python
START_TIMEOUT = 120


@dataclass(frozen=True)
class Policy:
    """How a job is retried and bounded."""

    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None  # per cell, seconds


# Sync leaves retries to `lifecycle` (transient retries within the run, backoff between runs): retrying a whole
# sync job could only skip what just failed. Reconciling and delivering are safe to repeat.
DEFAULT_POLICIES = {
    "sync": Policy(retries=0),
    "reconcile": Policy(retries=1, retry_delay=5.0),
    "deliver_webhooks": Policy(retries=1, retry_delay=5.0),
    "pipeline": Policy(retries=0),
}


@dataclass
class RunRecord:
    run_id: str
    job: str
    parameters: dict[str, Any]
    status: str
    attempt: int = 1
    retry_of: str | None = None
    trigger: str = "manual"
    executor: str = "local"
    host: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    output_path: str | None = None
    error: str | None = None
    error_cell: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Finished: `succeeded`, or `partial` (some connections are failing; they retry on their own)."""
        return self.status in ("succeeded", "partial")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["id"] = self.run_id
        return data


@dataclass(frozen=True)
class JobRequest:
    """What an executor runs: a job, its parameters, its policy, and who asked."""

    job: str
    parameters: dict[str, Any] = field(default_factory=dict)
    policy: Policy | None = None
    trigger: str = "manual"


def _jobs_env() -> Path | None:
    folder = os.environ.get("RECONWB_JOBS_DIR")
    return Path(folder) if folder else None


def notebook_path(job: str, ws: Workspace | None = None) -> Path:
    """The notebook of job `job`, or `job` itself when it is a path to a notebook.

    A name is looked up in `RECONWB_JOBS_DIR` when set, else in the workspace's own `jobs/` folder, then among the
    job notebooks shipped in the package (`reconwb.resources`).
    """
    if job.endswith(".ipynb"):
        path: Path | None = Path(job)
    elif (folder := _jobs_env()) is not None:
        path = folder / f"{job}.ipynb"
    else:
        path = resources.find(resources.JOBS, f"{job}.ipynb", ws.data_dir if ws else None)
    if path is None or not path.is_file():
        where = f" ({path})" if path is not None else ""
        raise NotFound(f"no job notebook {job!r}{where}; available: {', '.join(available_jobs(ws)) or 'none'}")
    return path.absolute()


def available_jobs(ws: Workspace | None = None) -> list[str]:
    if (folder := _jobs_env()) is not None:
        return sorted(p.stem for p in folder.glob("*.ipynb"))
    return resources.names(resources.JOBS, ws.data_dir if ws else None)


def job_name(job: str) -> str:
    return Path(job).stem if job.endswith(".ipynb") else job


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The parameters a job notebook declares in its `parameters` cell, with their defaults (as source text)."""
    return {name: p.default for name, p in job_parameters.declared(path).items()}


def validate(job: str, parameters: dict[str, Any], ws: Workspace | None = None) -> Path:
    """Refuse what would fail later or leak: unknown job, unknown parameter, a value of the wrong type (against
    the notebook's parameters cell), a parameter that looks secret; all before a kernel starts.

    With `ws`, a value equal to one of the workspace's stored secrets is refused too, even a bare one.
    """
    path = notebook_path(job, ws)
    if ws is not None:
        register_workspace_secrets(ws)
    check_parameters(parameters)
    job_parameters.check(job_name(job), path, parameters)
    return path


def policy_for(job: str, override: Policy | None = None) -> Policy:
    return override or DEFAULT_POLICIES.get(job_name(job), Policy())


def run_job(
    ws: Workspace,
    job: str,
    parameters: dict[str, Any] | None = None,
    *,
    policy: Policy | None = None,
    trigger: str = "manual",
    executor: str = "local",
) -> RunRecord:
    """Run a job notebook until it succeeds or its retries are spent; return the last attempt."""
    parameters = dict(parameters or {})
    path = validate(job, parameters, ws)
    chosen = policy_for(job, policy)
    first: str | None = None
    for attempt in range(1, chosen.retries + 2):
        record = _run_once(ws, path, job_name(job), parameters, chosen, attempt, first, trigger, executor)
        first = first or record.run_id
        if record.ok:
            return record
        if attempt <= chosen.retries:
            log.warning("job %s failed (attempt %d): %s; retrying", record.job, attempt, record.error)
            time.sleep(chosen.retry_delay)
    job_failed(ws, record)
    return record


def _kernel_manager_class(env: dict[str, str], ipc_dir: Path) -> type:
    """A kernel manager class whose kernel gets the job's environment (store, key file, run id) on top of ours.

    A class, not an instance: nbclient then owns the kernel and shuts it down when the notebook ends. The kernel
    handles decrypted credentials, so it talks over IPC sockets in the run's private (0700) scratch directory
    rather than over TCP on loopback, where any local user could connect.
    """
    from jupyter_client.manager import AsyncKernelManager

    class JobKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**{**kwargs, "transport": "ipc", "ip": str(ipc_dir / "k")})

        async def start_kernel(self, **kw: Any) -> None:
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            await super().start_kernel(**kw)

    return JobKernelManager


def kernel_env(ws: Workspace, run_id: str) -> dict[str, str]:
    """Where the kernel finds the workspace: paths only, never a secret value."""
    from reconwb.jobs.steps import RUN_ID_ENV

    env = {"RECONWB_DB": str(ws.db_path), RUN_ID_ENV: run_id}
    if ws.key_file or ws.default_key_file.exists():
        env["RECONWB_KEY_FILE"] = str(ws.default_key_file)
    return env


def _run_once(
    ws: Workspace,
    path: Path,
    job: str,
    parameters: dict[str, Any],
    policy: Policy,
    attempt: int,
    retry_of: str | None,
    trigger: str,
    executor: str,
) -> RunRecord:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    record = RunRecord(
        run_id=new_id("job"),
        job=job,
        parameters=parameters,
        status="running",
        attempt=attempt,
        retry_of=retry_of,
        trigger=trigger,
        executor=executor,
        host=socket.gethostname(),
        started_at=dt.datetime.now(dt.UTC),
    )
    _insert(ws, record)
    # 0700, only we read it; short, because the kernel's IPC socket paths live here too
    scratch = Path(tempfile.mkdtemp(prefix="reconwb-job-"))
    raw_output = scratch / "output.ipynb"
    began = time.monotonic()
    try:
        papermill.execute_notebook(
            str(path),
            str(raw_output),
            parameters=parameters,
            kernel_name=os.environ.get(KERNEL_ENV, DEFAULT_KERNEL),
            progress_bar=False,
            start_timeout=START_TIMEOUT,
            execution_timeout=policy.timeout,
            kernel_manager_class=_kernel_manager_class(kernel_env(ws, record.run_id), scratch),
            shutdown_kernel="immediate",  # the notebook is done: do not wait for a graceful exit
        )
        record.status = "succeeded"
    except PapermillExecutionError as err:
        record.status = "failed"
        record.error = f"{err.ename}: {err.evalue}"
    except Exception as err:  # the kernel died, timed out or never started
        record.status = "failed"
        record.error = f"{type(err).__name__}: {err}"
    finally:
        wall = time.monotonic() - began
        try:
            _store_output(ws, record, raw_output, wall)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if record.status == "succeeded" and (why := _partial_reason(record.summary)):
                record.status, record.error = "partial", redact(why)[:2000]
            with ws.connect() as con:
                lease.release(con, record.run_id)  # whatever a crashed kernel still held
            record.finished_at = dt.datetime.now(dt.UTC)
            _update(ws, record)
    return record


def _partial_reason(summary: dict[str, Any]) -> str | None:
    from reconwb.jobs.steps import partial_reason  # the steps are the kernel's; `jobs history` starts without them

    return partial_reason(summary)


def _store_output(ws: Workspace, record: RunRecord, raw_output: Path, wall: float) -> None:
    """Scrub the executed notebook and keep it under data/runs/; read its scraps, error cell and timings."""
    import nbformat

    register_workspace_secrets(ws)
    if record.error:
        record.error = " ".join(redact(record.error).split())[:2000]
    record.metrics = {"wall_seconds": round(wall, 3)}
    if not raw_output.exists():
        return
    nb = scrub_notebook(nbformat.read(raw_output, as_version=4))
    day = (record.started_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")
    final = ws.runs_dir / day / f"{record.job}-{record.run_id}.ipynb"
    private_dir(ws.runs_dir)
    private_dir(final.parent)
    tmp = write_private(final.with_suffix(".ipynb.tmp"), nbformat.writes(nb).rstrip("\n") + "\n")
    tmp.replace(final)
    record.output_path = str(final)
    record.summary = read_scraps(nb)
    record.error_cell = next(
        (i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("papermill", {}).get("exception")), None
    )
    record.metrics.update(_timings(nb, record.started_at, wall))


def _timings(nb: nbformat.NotebookNode, started: dt.datetime | None, wall: float) -> dict[str, float]:
    """Kernel start (run start to first cell start) and overhead (wall time not spent in cells)."""
    cells = [c.metadata.get("papermill", {}) for c in nb.cells if c.cell_type == "code"]
    durations = sum(float(c.get("duration") or 0) for c in cells)
    out = {"cells_seconds": round(durations, 3), "overhead_seconds": round(wall - durations, 3)}
    first = next((c.get("start_time") for c in cells if c.get("start_time")), None)
    if first and started:
        out["kernel_start_seconds"] = round((dt.datetime.fromisoformat(first) - started).total_seconds(), 3)
    return out


def read_scraps(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The scraps `reconwb.jobs.steps.record` put into an executed notebook, by name (the last one wins)."""
    from reconwb.jobs.steps import SCRAP_MIMETYPE

    scraps: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            scrap = output.get("data", {}).get(SCRAP_MIMETYPE)
            if isinstance(scrap, dict) and "name" in scrap:
                scraps[scrap["name"]] = scrap.get("data")
    return scraps


def job_failed(ws: Workspace, record: RunRecord) -> None:
    """The last attempt failed: emit `job.failed` (and its webhooks), then tell the people who should know."""
    payload = {
        "run_id": record.run_id,
        "job": record.job,
        "attempts": record.attempt,
        "first_run_id": record.retry_of or record.run_id,
        "trigger": record.trigger,
        "error": record.error,
        "error_cell": record.error_cell,
        "output_path": record.output_path,
        "parameters": record.parameters,
    }
    with ws.connect() as con, transaction(con):
        events.emit(con, "job.failed", payload, subject=f"job:{record.job}")
    notify_job_failed(ws, record)


def notify_job_failed(ws: Workspace, record: RunRecord) -> None:
    """Queue a notice for the reconciliation users. A failing notifier must not hide the job's own failure."""
    from reconwb import notify

    try:
        notify.job_failed(ws, record.as_dict())
    except Exception as err:
        log.warning("notifying about failed job %s failed: %s", record.run_id, redact(err))


# -- history -----------------------------------------------------------------------------------------------

_COLUMNS = (
    "run_id, job, parameters, status, attempt, retry_of, trigger, executor, host, started_at, finished_at,"
    " output_path, error, error_cell, summary, metrics"
)


def _insert(ws: Workspace, record: RunRecord) -> None:
    with ws.connect() as con:
        con.execute(
            "INSERT INTO job_runs (run_id, job, parameters, status, attempt, retry_of, trigger, executor, host,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.run_id,
                record.job,
                jsonutil.dumps(record.parameters),
                record.status,
                record.attempt,
                record.retry_of,
                record.trigger,
                record.executor,
                record.host,
                record.started_at,
            ],
        )


def _update(ws: Workspace, record: RunRecord) -> None:
    with ws.connect() as con:
        con.execute(
            "UPDATE job_runs SET status = ?, finished_at = ?, output_path = ?, error = ?, error_cell = ?,"
            " summary = ?, metrics = ? WHERE run_id = ?",
            [
                record.status,
                record.finished_at,
                record.output_path,
                record.error,
                record.error_cell,
                jsonutil.dumps(record.summary),
                jsonutil.dumps(record.metrics),
                record.run_id,
            ],
        )


def _from_row(row: tuple) -> RunRecord:
    values = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    for key in ("parameters", "summary", "metrics"):
        values[key] = json.loads(values[key]) if values[key] else {}
    return RunRecord(**values)


def history(ws: Workspace, *, job: str | None = None, limit: int = 50) -> list[RunRecord]:
    """Recent runs, newest first."""
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM job_runs WHERE ? IS NULL OR job = ? ORDER BY started_at DESC LIMIT ?",
            [job, job, limit],
        ).fetchall()
    return [_from_row(r) for r in rows]


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    with ws.connect() as con:
        row = con.execute(f"SELECT {_COLUMNS} FROM job_runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFound(f"no job run {run_id!r}; `reconwb jobs history` lists them")
    return _from_row(row)
