"""`reconwb jobs`: run job notebooks, show their history and schedules, run the scheduler."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from reconwb.cli.base import cli, emit, json_option, pass_ws, table
from reconwb.errors import ReconwbError
from reconwb.workspace import Workspace

# a `partial` run finished: the connections it names are failing and retry on their own (exit 0, status says so)
FINISHED = ("succeeded", "partial")


class JobRunFailed(ReconwbError):
    """A job ran and failed; the message points at its output notebook."""


def _value(text: str) -> Any:
    """A parameter value: JSON when it parses (numbers, true/false/null, lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@cli.group("jobs")
def jobs_group() -> None:
    """Scheduled papermill jobs: sync, reconcile, deliver webhooks."""


def _run_line(r: dict[str, Any]) -> str:
    return f"{r['job']} {r['status']} (run {r['id']}, attempt {r['attempt']}): {r['output_path'] or 'no output'}"


@jobs_group.command("run")
@click.argument("name")
@click.option("-p", "--parameter", "params", nargs=2, multiple=True, metavar="KEY VALUE", help="A notebook parameter.")
@click.option("--executor", default="local", show_default=True, help="local, local:N or dask://HOST:PORT.")
@click.option(
    "--fan-out",
    "how",
    type=click.Choice(["job", "connection"]),
    default="job",
    show_default=True,
    help="One task for the job, or one sync task per connection.",
)
@click.option("--retries", type=click.IntRange(0, 10), default=None, help="Override the job's retry policy.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None, help="Seconds a cell may run.")
@json_option
@pass_ws
def run_cmd(
    ws: Workspace,
    name: str,
    params: tuple[tuple[str, str], ...],
    executor: str,
    how: str,
    retries: int | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Run job NAME (a built-in job notebook, the workspace's own jobs/NAME.ipynb, or a path to one)."""
    from dataclasses import replace

    from reconwb.jobs.executors import executor_for, fan_out
    from reconwb.jobs.runner import JobRequest, policy_for, validate

    parameters = {k: _value(v) for k, v in params}
    validate(name, parameters, ws)
    policy = None
    if retries is not None or timeout is not None:
        policy = policy_for(name)
        policy = replace(
            policy, retries=policy.retries if retries is None else retries, timeout=timeout or policy.timeout
        )
    chosen = executor_for(executor)
    requests = fan_out(ws, JobRequest(name, parameters, policy), how)
    records = [r.as_dict() for r in chosen.run(ws, requests, progress=not as_json)]
    emit(records[0] if len(records) == 1 else records, as_json, lambda _: "\n".join(map(_run_line, records)))
    failed = [r for r in records if r["status"] not in FINISHED]
    if failed:
        first = failed[0]
        raise JobRunFailed(
            f"job {first['job']} failed (run {first['id']}): {first['error']}; output notebook: {first['output_path']}"
        )


@jobs_group.command("history")
@click.option("--job", default=None, help="Only runs of this job.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
@pass_ws
def history_cmd(ws: Workspace, job: str | None, limit: int, as_json: bool) -> None:
    """Recent job runs, newest first."""
    from reconwb.jobs.runner import history

    rows = [r.as_dict() for r in history(ws, job=job, limit=limit)]
    for row in rows:
        ended, began = row["finished_at"], row["started_at"]
        row["seconds"] = round((ended - began).total_seconds(), 1) if ended and began else None
    emit(rows, as_json, lambda r: table(
        r, ["id", "job", "status", "started_at", "seconds", "attempt", "trigger", "error", "output_path"]))


_schedule_file = click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The schedule (default: $RECONWB_SCHEDULE, else schedule.toml next to the store).",
)


@jobs_group.command("schedule")
@_schedule_file
@json_option
@pass_ws
def schedule_cmd(ws: Workspace, path: Path | None, as_json: bool) -> None:
    """The scheduled jobs, with their next due time and last run."""
    from reconwb.jobs import schedule

    rows = schedule.status(ws, schedule.load(schedule.schedule_path(ws, path), ws))
    emit(rows, as_json, lambda r: table(r, ["name", "job", "cron", "next_due_at", "due_now", "last_status"]))


@jobs_group.command("scheduler")
@_schedule_file
@click.option("--once", is_flag=True, help="Run what is due now and exit (for crontab and systemd timers).")
@click.option("--executor", default="local", show_default=True, help="local, local:N or dask://HOST:PORT.")
@json_option
@pass_ws
def scheduler_cmd(ws: Workspace, path: Path | None, once: bool, executor: str, as_json: bool) -> None:
    """Run scheduled jobs when they are due (forever, or `--once`)."""
    from reconwb.jobs import schedule
    from reconwb.jobs.executors import executor_for

    file = schedule.schedule_path(ws, path)
    chosen = executor_for(executor)
    if not once:
        stop = threading.Event()  # SIGTERM (systemd, docker stop) and Ctrl-C end it after the current round
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        click.echo(f"scheduler: running {file} until stopped", err=True)
        schedule.run_forever(ws, file, executor=chosen, stop=stop)
        click.echo("scheduler: stopped", err=True)
        return
    due = schedule.run_due(ws, schedule.load(file, ws), executor=chosen, progress=not as_json)
    records = [r.as_dict() for r in due]
    emit(records, as_json, lambda r: "\n".join(map(_run_line, r)) or "nothing due")
    failed = [r for r in records if r["status"] not in FINISHED]
    if failed:
        raise JobRunFailed(f"{len(failed)} of {len(records)} scheduled runs failed; `reconwb jobs history` lists them")
