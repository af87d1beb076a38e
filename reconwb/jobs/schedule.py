"""Schedules: which job runs when, from a TOML file of cron expressions, and the scheduler that runs them.

    [jobs.nightly]
    job = "pipeline"                 # a job notebook name (notebooks/jobs/<job>.ipynb) or a path
    cron = "0 2 * * *"               # croniter syntax, UTC
    parameters = { connections = "due" }
    retries = 1                      # optional: the job's policy (defaults per job)
    retry_delay_seconds = 60
    timeout_seconds = 1800           # per cell
    fan_out = "job"                  # or "connection" (sync only)

A fire of an entry runs once: the store remembers the last fire each entry ran for, and claims the next one
before running it, so two schedulers (or a crontab `--once` overlapping a slow run) do not start it twice.
A scheduler that was down runs a missed fire once when it comes back, not once per missed fire; an entry
seen for the first time runs only a fire that is at most `FIRST_RUN_GRACE` old.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from reconwb.errors import InvalidInput, NotFound, ReconwbError
from reconwb.jobs.executors import Executor, executor_for, fan_out
from reconwb.jobs.runner import JobRequest, Policy, RunRecord, policy_for, validate
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

SCHEDULE_ENV = "RECONWB_SCHEDULE"
SCHEDULE_FILE = "schedule.toml"
FIRST_RUN_GRACE = dt.timedelta(minutes=5)
_KEYS = {"job", "cron", "parameters", "retries", "retry_delay_seconds", "timeout_seconds", "fan_out", "enabled"}


@dataclass(frozen=True)
class Entry:
    name: str
    job: str
    cron: str
    parameters: dict[str, Any] = field(default_factory=dict)
    policy: Policy | None = None
    fan_out: str = "job"
    enabled: bool = True

    def prev_fire(self, now: dt.datetime) -> dt.datetime:
        return croniter(self.cron, now).get_prev(dt.datetime)

    def next_fire(self, now: dt.datetime) -> dt.datetime:
        return croniter(self.cron, now).get_next(dt.datetime)

    def request(self) -> JobRequest:
        return JobRequest(self.job, dict(self.parameters), self.policy, trigger=f"schedule:{self.name}")


def schedule_path(ws: Workspace, path: str | os.PathLike[str] | None = None) -> Path:
    """The schedule file: the given path, then `RECONWB_SCHEDULE`, then `schedule.toml` next to the store."""
    return Path(path or os.environ.get(SCHEDULE_ENV) or ws.data_dir / SCHEDULE_FILE)


def load(path: Path, ws: Workspace | None = None) -> list[Entry]:
    """Parse and check a schedule file; every mistake is one line naming the file and the entry.

    With `ws`, job names are looked up among the workspace's own job notebooks too.
    """
    if not path.is_file():
        raise NotFound(f"no schedule file {path}; create it (see `reconwb jobs schedule --help`) or set {SCHEDULE_ENV}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{path}: not valid TOML: {err}") from None
    jobs = data.get("jobs", {})
    if not isinstance(jobs, dict):
        raise InvalidInput(f"{path}: [jobs] must be a table of entries")
    entries = []
    for name, raw in jobs.items():
        where = f"{path}: [jobs.{name}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} must be a table")
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise InvalidInput(f"{where}: unknown key {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
        job, cron = raw.get("job"), raw.get("cron")
        if not isinstance(job, str) or not job:
            raise InvalidInput(f"{where}: `job` (a job notebook name) is required")
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise InvalidInput(f"{where}: `cron` must be a valid cron expression, not {cron!r}")
        parameters = raw.get("parameters", {})
        if not isinstance(parameters, dict):
            raise InvalidInput(f"{where}: `parameters` must be a table")
        try:
            validate(job, parameters, ws)
            policy = None
            if {"retries", "retry_delay_seconds", "timeout_seconds"} & set(raw):
                default = policy_for(job)
                policy = Policy(
                    retries=int(raw.get("retries", default.retries)),
                    retry_delay=float(raw.get("retry_delay_seconds", default.retry_delay)),
                    timeout=float(raw["timeout_seconds"]) if "timeout_seconds" in raw else default.timeout,
                )
        except (InvalidInput, NotFound, ValueError, TypeError) as err:
            raise InvalidInput(f"{where}: {err}") from None
        how = raw.get("fan_out", "job")
        if how not in ("job", "connection"):
            raise InvalidInput(f"{where}: `fan_out` must be 'job' or 'connection'")
        entries.append(Entry(name, job, cron, parameters, policy, how, bool(raw.get("enabled", True))))
    return entries


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _state(ws: Workspace) -> dict[str, tuple[dt.datetime, str | None, str | None]]:
    with ws.connect() as con:
        rows = con.execute(
            "SELECT s.entry, s.last_fire_at, s.last_run_id, r.status FROM job_schedule_state s"
            " LEFT JOIN job_runs r ON r.run_id = s.last_run_id"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def is_due(entry: Entry, last_fire: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """The fire time `entry` should run for now, or None."""
    if not entry.enabled:
        return None
    fire = entry.prev_fire(now)
    if last_fire is None:
        return fire if now - fire <= FIRST_RUN_GRACE else None
    return fire if fire > last_fire else None


def status(ws: Workspace, entries: list[Entry], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Each entry with its last run and next due time (what `reconwb jobs schedule` shows)."""
    now = now or _now()
    state = _state(ws)
    rows = []
    for e in entries:
        last_fire, last_run, last_status = state.get(e.name, (None, None, None))
        rows.append(
            {
                "name": e.name,
                "job": e.job,
                "cron": e.cron,
                "parameters": e.parameters,
                "enabled": e.enabled,
                "due_now": is_due(e, last_fire, now) is not None,
                "next_due_at": e.next_fire(now) if e.enabled else None,
                "last_fire_at": last_fire,
                "last_run_id": last_run,
                "last_status": last_status,
            }
        )
    return rows


def _claim(ws: Workspace, entry: Entry, fire: dt.datetime) -> bool:
    """Take fire `fire` of `entry` for this scheduler; False when another scheduler took it first."""
    with ws.connect() as con:
        rows = con.execute(
            "INSERT INTO job_schedule_state (entry, last_fire_at) VALUES (?, ?) ON CONFLICT (entry) DO UPDATE"
            " SET last_fire_at = excluded.last_fire_at, last_run_id = NULL, updated_at = now()"
            " WHERE job_schedule_state.last_fire_at < excluded.last_fire_at RETURNING entry",
            [entry.name, fire],
        ).fetchall()
    return bool(rows)


def run_due(
    ws: Workspace,
    entries: list[Entry],
    *,
    executor: Executor | None = None,
    now: dt.datetime | None = None,
    progress: bool = True,
) -> list[RunRecord]:
    """Run every entry that is due now (each fire once), through `executor`; return the runs."""
    now = now or _now()
    state = _state(ws)
    requests: list[tuple[str, JobRequest]] = []
    for e in entries:
        fire = is_due(e, state.get(e.name, (None,))[0], now)
        if fire is not None and _claim(ws, e, fire):
            requests += [(e.name, r) for r in fan_out(ws, e.request(), e.fan_out)]
    if not requests:
        return []
    records = (executor or executor_for(None)).run(ws, [r for _, r in requests], progress=progress)
    with ws.connect() as con:
        for name, record in zip((n for n, _ in requests), records, strict=True):
            con.execute("UPDATE job_schedule_state SET last_run_id = ? WHERE entry = ?", [record.run_id, name])
    return records


def run_forever(
    ws: Workspace,
    path: Path,
    *,
    executor: Executor | None = None,
    max_sleep: float = 60.0,
    min_sleep: float = 1.0,
    stop: threading.Event | None = None,
) -> None:
    """The long-running scheduler: run what is due, sleep until the next fire (re-reading the file each time).

    It outlives its own trouble, as a scheduler must: a schedule file edited into something invalid keeps the
    entries read before (and says why, each round, until it is fixed); a round that fails (a store locked for
    too long, an executor gone) is logged and the next round comes as planned. `stop` ends it between rounds
    (the CLI sets it on SIGTERM and Ctrl-C).
    """
    stop = stop or threading.Event()
    entries: list[Entry] = []
    while not stop.is_set():
        try:
            entries = load(path, ws)
        except ReconwbError as err:
            log.error("%s; keeping the %d schedule entries read before", redact_exception(err), len(entries))
        try:
            run_due(ws, entries, executor=executor)
        except Exception as err:  # the next round may well work: a locked store, a restarted cluster
            log.error("scheduled round failed: %s", redact_exception(err))
        now = _now()
        upcoming = [e.next_fire(now) for e in entries if e.enabled]
        wait = min([(t - now).total_seconds() for t in upcoming] + [max_sleep])
        stop.wait(max(wait, min_sleep))
