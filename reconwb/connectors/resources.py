"""Objects several fetches share (one browser, one HTTP client), and who closes them.

`FetchContext.resources` is a plain dict that the runner (`reconwb.sync`) hands to every fetch of a run. A
connector that creates something expensive stores it there and registers how to close it; the runner that
created the dict calls `release` once the run is over, so a browser outlives one fetch but not the run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from reconwb.redaction import redact_exception

log = logging.getLogger(__name__)

CLOSERS = "_closers"


def add_closer(resources: dict[str, Any], close: Callable[[], Awaitable[object]]) -> None:
    """Run `close` when the resources are released (last added, first closed)."""
    resources.setdefault(CLOSERS, []).append(close)


async def release(resources: dict[str, Any]) -> None:
    """Close everything registered, newest first; a failing close is logged, not raised."""
    closers = resources.pop(CLOSERS, [])
    for close in reversed(closers):
        try:
            await close()
        except Exception as err:
            log.warning("releasing a shared resource failed: %s", redact_exception(err))
    resources.clear()
