"""What a panel shows while another process holds the store for longer than a person should wait.

DuckDB lets one process write at a time, and a job's long work holds the store for a moment between its
chunks. A panel that cannot read within a few seconds must not become an error cell (and leave the next cell
with a `NameError`): it shows "The store is busy, retrying…" in place of its content, keeps trying in the
background, and draws itself as soon as it can. Every panel of the dashboards draws through `draw_when_free`.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from reconwb.store.db import StoreLocked, waiting_at_most
from reconwb.widgets.ticker import Ticker

BUSY_TEXT = "The store is busy, retrying…"
FIRST_WAIT_SECONDS = 3.0  # how long a panel waits for the store before it says so
RETRY_SECONDS = 2.0  # pause between two background tries


BUSY_HTML = (f"<div class='reconwb-store-busy' style='padding:8px 12px;margin:4px 0;background:#f6f8fa;"
             f"border-left:6px solid #8c959f'>{BUSY_TEXT}</div>")  # also the server's first view's


def busy_notice() -> w.HTML:
    return w.HTML(BUSY_HTML)


def draw_when_free(panel: w.Box, draw: Callable[[], None] | None = None, *,
                   wait: float | None = None, every: float | None = None) -> bool:
    """Draw `panel` (with `draw`, by default its `refresh`); True when it could read the store now.

    When the store stays locked for `wait` seconds (FIRST_WAIT_SECONDS), the panel shows the busy notice instead
    of its content and a background thread tries again every `every` seconds (RETRY_SECONDS); the first success
    restores the content, redrawn. Anything but a busy store is raised as before.
    """
    wait = FIRST_WAIT_SECONDS if wait is None else wait
    every = RETRY_SECONDS if every is None else every
    redraw = draw or panel.refresh  # type: ignore[attr-defined]
    retrying: Ticker | None = getattr(panel, "_reconwb_busy", None)
    if retrying is not None and retrying.running:
        return False  # already showing the notice and retrying
    try:
        with waiting_at_most(wait):
            redraw()
        return True
    except StoreLocked:
        pass
    content = panel.children
    panel.children = (busy_notice(),)

    def again() -> bool:
        try:
            with waiting_at_most(wait):
                redraw()
        except StoreLocked:
            return True  # still busy: keep the notice, try again
        panel.children = content
        return False

    ticker = Ticker(again, every, "reconwb-store-busy")
    panel._reconwb_busy = ticker  # type: ignore[attr-defined]
    ticker.start()
    return False
