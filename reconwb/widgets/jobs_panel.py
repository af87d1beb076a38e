"""The latest job runs: is the schedule doing its work, and which run failed with what."""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as w
import polars as pl

from reconwb import formatting, reports
from reconwb.formatting import Formatter
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.tables import Column, table_html
from reconwb.workspace import Workspace

STATUS_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "running": "#0969da", "partial": "#bf8700"}
STATUS_WORDS = {"succeeded": "succeeded", "failed": "failed", "running": "still running",
                "partial": "some connections failed"}
TRIGGER_WORDS = {"schedule": "on schedule", "manual": "by hand", "cli": "by hand", "demo": "by the demo"}
RUNS_TITLE = "<h4>Latest runs</h4>"
JOB_COLUMNS = (Column("Job"), Column("Last run"), Column("Outcome"), Column("Last 24 hours"))
RUN_COLUMNS = (Column("Started"), Column("Job"), Column("Outcome"), Column("Took", True), Column("Started by"),
               Column("What went wrong"))


def _took(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def jobs_html(summary: pl.DataFrame, fmt: Formatter, hours: int) -> str:
    """Per job: when it last ran, how that went, and the last `hours` in words."""
    rows = []
    for r in summary.iter_rows(named=True):
        recent = [f"{r[k]} {word}" for k, word in (("succeeded", "succeeded"), ("failed", "failed"),
                                                    ("partial", "partly failed")) if r[k]]
        rows.append([r["job"], fmt.moment(r["last_started"]), STATUS_WORDS.get(r["last_status"], r["last_status"]),
                     ", ".join(recent) or f"no run in {hours} hours"])
    return table_html(JOB_COLUMNS, rows, empty="", css_class="reconwb-jobs-table")


def runs_html(runs: pl.DataFrame, fmt: Formatter) -> str:
    """The newest runs, newest first, with what went wrong in the words the run stored (redacted)."""
    rows = [[fmt.moment(r["started_at"]), r["job"], STATUS_WORDS.get(r["status"], r["status"]),
             _took(r["seconds"]), TRIGGER_WORDS.get(r["trigger"] or "", r["trigger"] or ""), r["error"] or ""]
            for r in runs.iter_rows(named=True)]
    return table_html(RUN_COLUMNS, rows, empty="", css_class="reconwb-runs-table")


@dataclass(frozen=True)
class JobsView:
    """What the panel shows, as HTML: drawn by the live panel and, before the page's kernel runs, by the
    server's first view (`reconwb.server.first_view`), so both say the same."""

    verdict: str
    per_job: str
    runs: str
    has_runs: bool


def _partial_errors(ws: Workspace, jobs: list[str], limit: int) -> list[str]:
    """Each partial job with what its last run named (which connections, why)."""
    runs = reports.job_runs(ws, limit=max(limit, 50))
    named = []
    for job in jobs:
        last = runs.filter((pl.col("job") == job) & (pl.col("status") == "partial")).head(1)
        named.append(f"{job} ({last['error'][0]})" if last.height else job)
    return named


def jobs_view(ws: Workspace, *, limit: int = 10, hours: int = 24) -> JobsView:
    """A one-line verdict, each job's last status, and the newest `limit` runs with their errors (its reads
    share one open of the store)."""
    with ws.held() as held:
        return _jobs_view(held, limit, hours)


def _jobs_view(ws: Workspace, limit: int, hours: int) -> JobsView:
    summary = reports.job_summary(ws, hours=hours)
    runs = reports.job_runs(ws, limit=limit)
    failing = summary.filter(pl.col("last_status") == "failed")["job"].to_list()
    partial = summary.filter(pl.col("last_status") == "partial")["job"].to_list()
    failed = int(summary["failed"].sum()) if not summary.is_empty() else 0
    if summary.is_empty():
        text, colour = "No job has run yet.", "#6e7781"
    elif failing:
        text = f"Last run failed: {', '.join(failing)}."
        colour = STATUS_COLOURS["failed"]
    elif partial:
        text = f"Last run partial, some connections are failing: {'; '.join(_partial_errors(ws, partial, limit))}."
        colour = STATUS_COLOURS["partial"]
    else:
        text, colour = "No job's latest run failed.", STATUS_COLOURS["succeeded"]
    text += f" {failed} failed run(s) in the last {hours} hours." if failed else ""
    fmt = formatting.for_workspace(ws)
    return JobsView(
        verdict=(f"<div class='reconwb-jobs-verdict' style='border-left:6px solid {colour};padding:4px 10px'>"
                 f"{html.escape(text)}</div>"),
        per_job=jobs_html(summary, fmt, hours), runs=runs_html(runs, fmt), has_runs=bool(runs.height))


class JobsPanel(w.VBox):
    """A one-line verdict, each job's last status, and the newest runs with their errors."""

    def __init__(self, ws: Workspace, *, limit: int = 10, hours: int = 24) -> None:
        self.ws = ws
        self.limit = limit
        self.hours = hours
        self.verdict = w.HTML()
        self.per_job = w.HTML()
        self.runs = w.HTML()
        self.runs_title = w.HTML(RUNS_TITLE)
        super().__init__([self.verdict, self.per_job, self.runs_title, self.runs])
        self.add_class("reconwb-jobs")
        draw_when_free(self)

    def refresh(self) -> None:
        view = jobs_view(self.ws, limit=self.limit, hours=self.hours)
        self.verdict.value, self.per_job.value, self.runs.value = view.verdict, view.per_job, view.runs
        self.runs_title.layout.display = "" if view.has_runs else "none"
