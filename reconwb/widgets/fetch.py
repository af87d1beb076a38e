"""A person's "Run now" from a widget: at once for unattended logins, on a thread for assisted ones.

An assisted login pauses at the bank's code page until someone enters the code (`reconwb.otp`). Run inside the
click handler, that wait would freeze the very page the code has to be typed into. On a thread the page keeps
answering, and the OTP prompt appears in it as soon as the bank asks; when the fetch ends, `done` gets the
result (or the error) and the prompt goes away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from reconwb import connections, otp
from reconwb.sync import SyncResult, sync
from reconwb.widgets.otp import OtpPrompt
from reconwb.widgets.ticker import Ticker
from reconwb.workspace import Workspace

Done = Callable[[Any, Exception | None], None]  # (the work's result, e.g. a SyncResult, or the error)
Show = Callable[[w.Widget | None], None]


class BackgroundFetch:
    """One fetch on its own thread; polls for a challenge to show, then reports the outcome."""

    def __init__(self, ws: Workspace, connection: str, *, show: Show, done: Done, poll: float = 0.5,
                 work: Callable[[], Any] | None = None) -> None:
        self.ws = ws
        self.connection = connection
        self.show = show
        self.done = done
        # what runs on the thread: a person's Run now by default, or e.g. the check of new credentials
        self.work = work or (lambda: sync(ws, connection, now=True))
        self.result: Any = None
        self.error: Exception | None = None
        self.prompt: OtpPrompt | None = None
        self.finished = threading.Event()  # set after `done` ran
        self._thread = threading.Thread(target=self._run, name=f"reconwb-fetch-{connection}", daemon=True)
        self._ticker = Ticker(self._tick, poll, f"reconwb-fetch-watch-{connection}")

    def start(self) -> BackgroundFetch:
        self._thread.start()
        self._ticker.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.work()
        except Exception as err:  # handed to `done`, which shows it redacted
            self.error = err

    def _tick(self) -> bool:
        if self._thread.is_alive():
            if self.prompt is None and otp.pending_challenge(self.ws, self.connection) is not None:
                self.prompt = OtpPrompt(self.ws, self.connection)
                self.show(self.prompt)
            return True
        if self.prompt is not None:
            self.prompt.close()
            self.show(None)
        try:
            self.done(self.result, self.error)
        finally:
            self.finished.set()
        return False


def show_in(box: w.Box) -> Show:
    """A `show` that puts the prompt into `box` (and empties it again when the fetch ends)."""

    def show(widget: w.Widget | None) -> None:
        box.children = [widget] if widget is not None else []

    return show


def needs_new_credentials(result: SyncResult | None) -> bool:
    """The guard refused a Run now because the bank rejected these credentials (or one more failure could lock
    the login): the screen opens the credential form instead of offering the same login again."""
    from reconwb import attempts

    return result is not None and result.skip_kind in (attempts.REJECTED, attempts.BUDGET)


def run_now(ws: Workspace, connection: str, *, show: Show, done: Done) -> BackgroundFetch | None:
    """Fetch `connection` as a person's "Run now"; assisted logins go to the background (returned), the rest
    finish before this returns."""
    with ws.connect() as con:
        conn = connections.get(con, connection)
    if conn is not None and conn.login_mode == "assisted":
        return BackgroundFetch(ws, connection, show=show, done=done).start()
    try:
        result = sync(ws, connection, now=True)
    except Exception as err:
        done(None, err)
    else:
        done(result, None)
    return None
