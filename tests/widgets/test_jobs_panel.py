from __future__ import annotations

import datetime as dt

from reconwb import reports
from reconwb.widgets.jobs_panel import JobsPanel
from reconwb.workspace import Workspace


def _run(ws: Workspace, run_id: str, job: str, status: str, minutes_ago: int, error: str | None = None) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    with ws.connect() as con:
        con.execute(
            "INSERT INTO job_runs (run_id, job, parameters, status, started_at, finished_at, error)"
            " VALUES (?, ?, '{}', ?, ?, ?, ?)",
            [run_id, job, status, started, None if status == "running" else started + dt.timedelta(seconds=42),
             error],
        )


def test_panel_names_the_job_whose_last_run_failed_and_lists_newest_first(ws: Workspace) -> None:
    _run(ws, "job_a1", "sync", "failed", 120, "SyncFailed: alice is blocked")
    _run(ws, "job_a2", "sync", "succeeded", 60)
    _run(ws, "job_b1", "reconcile", "succeeded", 50)
    _run(ws, "job_b2", "reconcile", "failed", 10, "JobFailed: payments endpoint down")
    panel = JobsPanel(ws, limit=3)
    assert "Last run failed: reconcile." in panel.verdict.value
    assert "2 failed run(s) in the last 24 hours" in panel.verdict.value
    runs = reports.job_runs(ws, limit=3)
    assert runs["run_id"].to_list() == ["job_b2", "job_b1", "job_a2"]
    assert runs["seconds"].to_list() == [42.0, 42.0, 42.0]
    assert "payments endpoint down" in panel.runs.value and "job_a1" not in panel.runs.value
    summary = {r["job"]: r for r in reports.job_summary(ws).iter_rows(named=True)}
    assert summary["sync"]["last_status"] == "succeeded" and summary["sync"]["failed"] == 1


def test_all_succeeded_and_empty_history(ws: Workspace) -> None:
    assert "No job has run yet." in JobsPanel(ws).verdict.value
    _run(ws, "job_c1", "sync", "succeeded", 5)
    _run(ws, "job_c2", "pipeline", "running", 1)
    panel = JobsPanel(ws)
    assert "No job&#x27;s latest run failed." in panel.verdict.value  # a running job has not failed
    assert "running" in panel.per_job.value
