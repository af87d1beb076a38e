"""Webhook delivery health: per endpoint, is it keeping up, failing, or switched off."""

from __future__ import annotations

import html

import ipywidgets as w

from reconwb import reports
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.jobs_panel import minutes
from reconwb.widgets.totals import frame_html
from reconwb.workspace import Workspace

HEALTH_ORDER = ("failing", "disabled", "backlog", "healthy")


class DeliveryPanel(w.VBox):
    """One line per endpoint state that needs a look, then the table the webhook CLI shows too."""

    def __init__(self, ws: Workspace, *, hours: int = 24) -> None:
        self.ws = ws
        self.hours = hours
        self.verdict = w.HTML()
        self.table = w.HTML()
        super().__init__([self.verdict, self.table])
        self.add_class("reconwb-deliveries")
        draw_when_free(self)

    def refresh(self) -> None:
        health = reports.delivery_health(self.ws, hours=self.hours)
        if health.is_empty():
            text, colour = "No webhook endpoint is configured.", "#6e7781"
        else:
            counts = dict(health.group_by("health").len().iter_rows())
            bad = [f"{counts[h]} {h}" for h in HEALTH_ORDER[:3] if counts.get(h)]
            pending = int(health["pending"].sum())
            if bad:
                text, colour = f"Webhook endpoints: {', '.join(bad)}; {pending} message(s) waiting.", "#cf222e"
            else:
                text = f"All {len(health)} webhook endpoint(s) healthy; {pending} message(s) waiting."
                colour = "#1a7f37"
        self.verdict.value = (
            f"<div class='reconwb-deliveries-verdict' style='border-left:6px solid {colour};padding:4px 10px'>"
            f"{html.escape(text)}</div>"
        )
        self.table.value = frame_html(minutes(health), empty="no endpoints")
