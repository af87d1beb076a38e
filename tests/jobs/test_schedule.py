"""Schedules: a TOML file of cron entries; the scheduler runs each due fire once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reconwb.errors import InvalidInput
from reconwb.jobs import history, schedule
from reconwb.workspace import Workspace
from tests.jobs.conftest import add_connection, run_json
from tests.jobs.loopback_bank import LoopbackBank

T0 = dt.datetime(2026, 3, 10, 12, 0, 30, tzinfo=dt.UTC)


def _entry(cron: str) -> schedule.Entry:
    return schedule.Entry("e", "sync", cron)


def test_due_runs_the_latest_fire_once_and_catches_up_once() -> None:
    every_15 = _entry("*/15 * * * *")
    assert schedule.is_due(every_15, None, T0) == T0.replace(second=0)  # a fresh entry, fire 30 s ago
    assert schedule.is_due(every_15, T0.replace(second=0), T0) is None  # ran already
    later = T0 + dt.timedelta(hours=5)  # the scheduler was down: one catch-up run, for the latest fire
    assert schedule.is_due(every_15, T0.replace(second=0), later) == later.replace(second=0)
    nightly = _entry("0 2 * * *")
    assert schedule.is_due(nightly, None, T0) is None  # a fresh entry does not run a fire from 10 hours ago
    assert schedule.is_due(schedule.Entry("e", "sync", "* * * * *", enabled=False), None, T0) is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[jobs.a]\njob = "sync"\ncron = "61 * * * *"\n', "[jobs.a]: `cron` must be a valid cron expression"),
        ('[jobs.a]\njob = "nope"\ncron = "* * * * *"\n', "[jobs.a]: no job notebook 'nope'"),
        ('[jobs.a]\njob = "sync"\ncron = "* * * * *"\nparameters = { colour = 1 }\n', "has no parameter 'colour'"),
        ('[jobs.a]\njob = "sync"\ncron = "* * * * *"\nparameters = { token = "x" }\n', "looks like a credential"),
        ('[jobs.a]\njob = "sync"\ncron = "* * * * *"\nwhen = 1\n', "unknown key when"),
        ("[jobs.a\n", "not valid TOML"),
    ],
)
def test_schedule_file_mistakes_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidInput) as err:
        schedule.load(path)
    assert str(path) in str(err.value) and message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.kernel
def test_scheduler_runs_what_is_due_and_shows_next_due(
    bank_ws: Workspace, bank: LoopbackBank, run_cli, tmp_path: Path
) -> None:
    add_connection(bank_ws, bank, "c1", "u1")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    path = _write(
        bank_ws.data_dir,
        '[jobs.every-minute]\njob = "sync"\ncron = "* * * * *"\nparameters = { connections = "due" }\n'
        f'[jobs.daily]\njob = "reconcile"\ncron = "{later.minute} {later.hour} * * *"\nretries = 0\n',
    )
    code, runs, err = run_json(run_cli, "jobs", "scheduler", "--once")
    assert code == 0, err
    assert [(r["job"], r["status"], r["trigger"]) for r in runs] == [("sync", "succeeded", "schedule:every-minute")]
    assert runs[0]["summary"]["sync"]["inserted"] == 1

    code, rows, _ = run_json(run_cli, "jobs", "schedule")
    by_name = {r["name"]: r for r in rows}
    assert by_name["every-minute"]["last_run_id"] == runs[0]["id"]
    assert by_name["every-minute"]["last_status"] == "succeeded"
    assert by_name["daily"]["last_run_id"] is None and not by_name["daily"]["due_now"]
    assert by_name["daily"]["next_due_at"].startswith(later.strftime("%Y-%m-%dT%H:%M"))

    # the same fire is not run again, whoever asks
    fired = dt.datetime.fromisoformat(by_name["every-minute"]["last_fire_at"])
    assert schedule.run_due(bank_ws, schedule.load(path), now=fired + dt.timedelta(seconds=59)) == []
    assert len(history(bank_ws)) == 1


def test_the_example_schedule_loads() -> None:
    from tests.conftest import ROOT

    entries = schedule.load(ROOT / "notebooks" / "jobs" / "schedule.example.toml")
    assert {e.job for e in entries} == {"sync", "pipeline", "deliver_webhooks"}
    assert all(e.next_fire(T0) > T0 for e in entries)
