"""Webhook delivery health: per endpoint, is it keeping up, failing, or switched off."""

from __future__ import annotations

import html

import ipywidgets as w

from reconwb import formatting, reports
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.tables import Column, table_html
from reconwb.workspace import Workspace

HEALTH_ORDER = ("failing", "disabled", "backlog", "healthy")
HEALTH_WORDS = {"failing": "failing", "disabled": "switched off", "backlog": "behind", "healthy": "healthy"}


def columns(hours: int) -> tuple[Column, ...]:
    return (Column("Endpoint"), Column("Health"), Column("Waiting", True), Column("Delivered", True),
            Column("Given up", True), Column(f"Tries, last {hours} hours", True), Column("Last try"),
            Column("Note"))


def deliveries_view(ws: Workspace, *, hours: int = 24) -> tuple[str, str]:
    """The verdict line and the per-endpoint table, as HTML: drawn by the live panel and by the server's first
    view (`reconwb.server.first_view`), so both say the same. Its reads share one open of the store."""
    with ws.held() as held:
        return _deliveries_view(held, hours)


def _deliveries_view(ws: Workspace, hours: int) -> tuple[str, str]:
    health = reports.delivery_health(ws, hours=hours)
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
    verdict = (f"<div class='reconwb-deliveries-verdict' style='border-left:6px solid {colour};padding:4px 10px'>"
               f"{html.escape(text)}</div>")
    fmt = formatting.for_workspace(ws)
    rows = [[r["url"], HEALTH_WORDS.get(r["health"], r["health"]), fmt.count(r["pending"]),
             fmt.count(r["delivered"]), fmt.count(r["dead"]),
             f"{fmt.count(r['succeeded'])} of {fmt.count(r['attempts'])} delivered" if r["attempts"] else "none",
             " ".join(p for p in (fmt.moment(r["last_attempt"]), r["last_outcome"] or "") if p),
             r["disabled_reason"] or ""]
            for r in health.iter_rows(named=True)]
    return verdict, table_html(columns(hours), rows, empty="", css_class="reconwb-deliveries-table")


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
        self.verdict.value, self.table.value = deliveries_view(self.ws, hours=self.hours)
