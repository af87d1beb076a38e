"""Keeps a dashboard current without a reload: its panels redraw every minute while the page is open.

A manager leaves the reconciliation dashboard open on a screen; a password that expired overnight should show
its banner there within a minute, and the banner should go once a colleague reconnected. The interval comes
from the page's address (`...?refresh=300`, `refresh=0` switches it off: Voila hands the query string to the
kernel), else `RECONWB_DASHBOARD_REFRESH_SECONDS`, else 60 s. Each redraw opens the store briefly, like a click.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import threading
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import parse_qs

import ipywidgets as w

from reconwb.redaction import redact_exception
from reconwb.widgets.busy import BUSY_TEXT, draw_when_free
from reconwb.widgets.ticker import Ticker

DEFAULT_SECONDS = 60.0


class Refreshable(Protocol):
    def refresh(self) -> None: ...


def interval_from_env(default: float = DEFAULT_SECONDS) -> float:
    """Seconds between redraws: `refresh=` in the page's query string, then the environment, then `default`."""
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    for value in (*query.get("refresh", ()), os.environ.get("RECONWB_DASHBOARD_REFRESH_SECONDS")):
        try:
            seconds = float(value) if value is not None else None
        except ValueError:
            continue
        if seconds is not None and seconds >= 0:
            return seconds
    return default


class AutoRefresh(w.HBox):
    """A "Refresh every N s" switch, a "Refresh now" button, and when the panels were last redrawn."""

    def __init__(self, panels: Sequence[Refreshable], seconds: float | None = None) -> None:
        self.panels = list(panels)
        self.seconds = interval_from_env() if seconds is None else seconds
        every = self.seconds or DEFAULT_SECONDS
        self.enabled = w.Checkbox(value=self.seconds > 0, description=f"Refresh every {every:g} s", indent=False,
                                  layout=w.Layout(width="auto"))
        self.now_button = w.Button(description="Refresh now", icon="refresh", layout=w.Layout(width="auto"))
        self.status = w.HTML()
        self.redraws = 0
        self._lock = threading.Lock()  # a tick and a click never redraw at the same time
        self.ticker = Ticker(self._tick, every, "reconwb-dashboard-refresh")
        self.now_button.on_click(lambda _b: self.refresh_all())
        self.enabled.observe(lambda change: self.ticker.start() if change["new"] else self.ticker.stop(), "value")
        super().__init__([self.enabled, self.now_button, self.status], layout=w.Layout(align_items="center"))
        self.add_class("reconwb-auto-refresh")
        self._stamp("shown")
        if self.enabled.value:
            self.ticker.start()

    def refresh_all(self) -> None:
        """Redraw every panel; one that fails says so here and the others still redraw.

        A panel that cannot read because the store is busy is not a failure: it shows the busy notice and
        redraws itself when it can (`reconwb.widgets.busy`).
        """
        with self._lock:
            failed, busy = [], False
            for panel in self.panels:
                try:
                    if isinstance(panel, w.Box):
                        busy |= not draw_when_free(panel)
                    else:
                        panel.refresh()
                except Exception as err:  # a kernel shutting down: try again next time
                    failed.append(f"{type(panel).__name__}: {redact_exception(err)}")
            self.redraws += 1
            if failed:
                self.status.value = ("<span style='color:#cf222e'>Could not refresh "
                                     f"{html.escape('; '.join(failed))}</span>")
            elif busy:
                self.status.value = f"<small class='reconwb-refreshed'>{BUSY_TEXT}</small>"
            else:
                self._stamp("updated")

    def close(self) -> None:
        self.ticker.stop()
        super().close()

    def _tick(self) -> bool:
        if self.enabled.value:
            self.refresh_all()
        return self.enabled.value

    def _stamp(self, what: str) -> None:
        self.status.value = (f"<small class='reconwb-refreshed'>{what} {dt.datetime.now():%H:%M:%S}"
                             f" (redraw {self.redraws})</small>")
