"""Schedules: a TOML file of cron entries; the scheduler runs each due fire once."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reconwb import resources
from reconwb.errors import InvalidInput
from reconwb.jobs import history, schedule
from reconwb.workspace import Workspace
from tests.conftest import ROOT
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
    entries = schedule.load(resources.builtin_dir(resources.JOBS) / "schedule.example.toml")
    assert {e.job for e in entries} == {"sync", "pipeline", "deliver_webhooks"}
    assert all(e.next_fire(T0) > T0 for e in entries)


NOT_DUE = '[jobs.yearly]\njob = "reconcile"\ncron = "0 3 1 1 *"\n'


def test_the_forever_scheduler_outlives_a_bad_edit_and_a_failed_round(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, NOT_DUE)
    rounds: list[list[str]] = []
    real_run_due = schedule.run_due

    def run_due(ws_, entries, **kwargs):
        rounds.append([e.name for e in entries])
        if len(rounds) == 1:
            path.write_text("[jobs.yearly\n")  # someone saves a half-edited file
        if len(rounds) == 2:
            raise RuntimeError("store locked by another process; password=hunter2")
        return real_run_due(ws_, entries, **kwargs)

    monkeypatch.setattr(schedule, "run_due", run_due)
    stop = threading.Event()
    loop = threading.Thread(target=schedule.run_forever, args=(ws, path),
                            kwargs={"max_sleep": 0.02, "min_sleep": 0.01, "stop": stop})
    with caplog.at_level(logging.ERROR, logger="reconwb.jobs.schedule"):
        loop.start()
        deadline = time.monotonic() + 10
        while len(rounds) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
    assert len(rounds) >= 4 and all(r == ["yearly"] for r in rounds)  # the last good entries, every round
    messages = [r.getMessage() for r in caplog.records]
    assert any("not valid TOML" in m and "keeping the 1 schedule entries" in m for m in messages)
    assert any("scheduled round failed: store locked" in m for m in messages)
    assert not any("hunter2" in m for m in messages)


def test_the_scheduler_process_stops_cleanly_on_sigterm(ws: Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, NOT_DUE)
    env = {**os.environ, "RECONWB_DB": str(ws.db_path),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "reconwb", "jobs", "scheduler", "--file", str(path)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert "running" in proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        proc.kill()
