"""A callback on a daemon thread, every few seconds, for widgets that change while nobody clicks.

Widget state set from another thread reaches the page (ipykernel sends comm messages from any thread), so an
OTP countdown can tick and a dashboard can redraw itself. The thread is a daemon and stops when the tick says
so, when it raises (a closed widget, a kernel shutting down), or on `stop()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ticker:
    """Call `tick` every `interval` seconds until it returns False, raises, or `stop()` is called."""

    def __init__(self, tick: Callable[[], bool], interval: float, name: str) -> None:
        self.tick = tick
        self.interval = interval
        self.name = name
        self._stop = threading.Event()  # one per thread: a stopped thread never resumes, a new one starts
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        if self.running:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(self._stop,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                if not self.tick():
                    return
            except Exception:  # a closed widget or a kernel shutting down: stop quietly
                return
