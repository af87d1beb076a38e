"""The latest job runs: is the schedule doing its work, and which run failed with what."""

from __future__ import annotations

import html

import ipywidgets as w
import polars as pl

from reconwb import reports
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.totals import frame_html
from reconwb.workspace import Workspace

STATUS_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "running": "#0969da", "partial": "#bf8700"}


def minutes(frame: pl.DataFrame) -> pl.DataFrame:
    """Times to the minute (UTC), so the table reads as a log."""
    return frame.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%d %H:%M") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)
    )


class JobsPanel(w.VBox):
    """A one-line verdict, each job's last status, and the newest runs with their errors."""

    def __init__(self, ws: Workspace, *, limit: int = 10, hours: int = 24) -> None:
        self.ws = ws
        self.limit = limit
        self.hours = hours
        self.verdict = w.HTML()
        self.per_job = w.HTML()
        self.runs = w.HTML()
        super().__init__([self.verdict, self.per_job, w.HTML("<h4>Latest runs</h4>"), self.runs])
        self.add_class("reconwb-jobs")
        draw_when_free(self)

    def refresh(self) -> None:
        summary = reports.job_summary(self.ws, hours=self.hours)
        runs = reports.job_runs(self.ws, limit=self.limit)
        failing = summary.filter(pl.col("last_status") == "failed")["job"].to_list()
        partial = summary.filter(pl.col("last_status") == "partial")["job"].to_list()
        failed = int(summary["failed"].sum()) if not summary.is_empty() else 0
        if summary.is_empty():
            text, colour = "No job has run yet.", "#6e7781"
        elif failing:
            text = f"Last run failed: {', '.join(failing)}."
            colour = STATUS_COLOURS["failed"]
        elif partial:
            text = f"Last run partial, some connections are failing: {'; '.join(self._partial_errors(partial))}."
            colour = STATUS_COLOURS["partial"]
        else:
            text, colour = "No job's latest run failed.", STATUS_COLOURS["succeeded"]
        text += f" {failed} failed run(s) in the last {self.hours} hours." if failed else ""
        self.verdict.value = (
            f"<div class='reconwb-jobs-verdict' style='border-left:6px solid {colour};padding:4px 10px'>"
            f"{html.escape(text)}</div>"
        )
        self.per_job.value = frame_html(minutes(summary), empty="no job runs yet")
        self.runs.value = frame_html(minutes(runs), empty="no job runs yet")

    def _partial_errors(self, jobs: list[str]) -> list[str]:
        """Each partial job with what its last run named (which connections, why)."""
        runs = reports.job_runs(self.ws, limit=max(self.limit, 50))
        named = []
        for job in jobs:
            last = runs.filter((pl.col("job") == job) & (pl.col("status") == "partial")).head(1)
            named.append(f"{job} ({last['error'][0]})" if last.height else job)
        return named
