"""Work a dashboard does after its page's cells have run: in a thread that waits until the kernel is idle.

A thread of the kernel shares the interpreter with the cells that run meanwhile. The reconciliation page drew
its two plots (about 0.5 CPU-seconds of matplotlib) in a thread as soon as the money was on the page, while the
next cells (jobs, deliveries, the refresh switch) ran: those cells took turns with it for the interpreter and
the page was whole later. The plots are below the money; they can wait for the cells.

Whether a cell runs is told by IPython's `pre_execute` and `post_execute` events, watched from the moment this
module is imported in a kernel (the dashboard pool's warm kernels import it before any page). Outside a kernel
(a test, a script) there are no cells: the work starts at once.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

QUIET_SECONDS = 0.3  # no cell for this long: the page's cells are done (Voila sends the next one within ms)
WITHIN_SECONDS = 10.0  # a page whose cells keep running gets the work after this anyway

_state = {"running": False, "ended": 0.0}  # a cell runs now; when the last one ended (monotonic)
_lock = threading.Lock()


def _started(*_args: object) -> None:
    with _lock:
        _state["running"] = True


def _ended(*_args: object) -> None:
    with _lock:
        _state["running"], _state["ended"] = False, time.monotonic()


def _watch() -> bool:
    """Follow the kernel's cells (once per kernel); False when this process is no kernel."""
    ipython = sys.modules.get("IPython")  # not imported: not a kernel, and not worth importing to find out
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        return False
    if not getattr(shell, "_reconwb_idle_watched", False):
        if threading.current_thread() is threading.main_thread():  # a cell runs now: its end will be told
            _started()
        shell.events.register("pre_execute", _started)
        shell.events.register("post_execute", _ended)
        shell._reconwb_idle_watched = True
    return True


def after_cells(work: Callable[[], None], *, name: str, quiet: float = QUIET_SECONDS,
                within: float = WITHIN_SECONDS) -> None:
    """Run `work` in a daemon thread once no cell has run for `quiet` seconds, or `within` seconds from now."""
    watched = _watch()

    def run() -> None:
        give_up = time.monotonic() + within
        while watched and (now := time.monotonic()) < give_up:
            with _lock:
                left = 0.0 if _state["running"] else quiet - (now - _state["ended"])
                if not _state["running"] and left <= 0:
                    break
            time.sleep(min(max(left, 0.02), 0.1))
        work()

    threading.Thread(target=run, name=name, daemon=True).start()


_watch()  # imported in a kernel (the pool's warm-up): follow its cells from now on
