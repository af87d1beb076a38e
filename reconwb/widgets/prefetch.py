"""A dashboard page's slowest read, started the moment the page is asked for rather than when its cell runs.

A pooled kernel (`reconwb.server.kernel_pool`) is handed to a page when the browser asks for it; the browser then
spends a second or more loading Voila's scripts before it asks the kernel to run the notebook. On a large store
the money totals take about as long (1.3 s on 1M deposits, 2 cores), so the pool starts them in a thread of the
page's kernel at hand-out, and the totals panel takes that result when its cell runs. The read still happens
after the request, so the page shows the store as it was when it was asked for, as without the pool; a
result is taken once (every later redraw reads afresh) and is dropped when older than `FRESH_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

FRESH_SECONDS = 30.0  # a prefetched result not taken by then is stale: the panel reads afresh

_pending: dict[str, tuple[float, Future[Any]]] = {}
_lock = threading.Lock()


def start(key: str, read: Callable[[], Any]) -> None:
    """Run `read` now in a background thread; `take(key, ...)` returns its result."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(read())
        except BaseException as err:  # handed to the taker, who reads again and reports it
            future.set_exception(err)

    with _lock:
        _pending[key] = (time.monotonic(), future)
    threading.Thread(target=run, name=f"reconwb-prefetch-{key}", daemon=True).start()


def take(key: str, read: Callable[[], Any]) -> Any:
    """The prefetched result of `key` if one was started (waiting for it), else `read()` now. A prefetch that
    failed or went stale is read again, so errors surface where they always did."""
    with _lock:
        started = _pending.pop(key, None)
    if started is not None and time.monotonic() - started[0] <= FRESH_SECONDS:
        try:
            return started[1].result()
        except Exception:  # noqa: S110 - read again below: the error is raised by the real read
            pass
    return read()


def totals_key(ws: Any) -> str:
    return f"totals:{ws.db_path}"


def for_page(url: str | None) -> None:
    """Start the reads the page at `url` (Voila's request URL) shows first: the money totals of the
    reconciliation dashboard. Other pages read little; nothing is started for them."""
    if not url or PurePosixPath(urlsplit(url).path).stem != "reconciliation":
        return
    from reconwb import report_cache
    from reconwb.store.db import waiting_at_most
    from reconwb.widgets.busy import FIRST_WAIT_SECONDS
    from reconwb.workspace import Workspace

    ws = Workspace.from_env()

    def read() -> Any:  # computed once with the server's first view of the same totals (reconwb.report_cache)
        with waiting_at_most(FIRST_WAIT_SECONDS):  # a busy store: the panel's own read says so, as always
            return report_cache.overview(ws)

    start(totals_key(ws), read)
