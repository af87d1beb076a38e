"""The one-time-code prompt for a connection in `awaiting_otp`: the bank's page, a code field, a countdown.

The fetch that asked waits in another process (a job kernel, a terminal); the prompt only reads the challenge
and hands the code over through `reconwb.sync.submit_otp` (see `reconwb.otp`). The countdown is a label a small
daemon thread updates once a second; `update_countdown()` does the same work on demand, so headless tests and
kernels without a comm behave identically.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable

import ipywidgets as w

from reconwb import sync
from reconwb.errors import ReconwbError
from reconwb.otp import Challenge
from reconwb.widgets.messages import error_html
from reconwb.widgets.ticker import Ticker
from reconwb.workspace import Workspace


def remaining(expires_at: dt.datetime, now: dt.datetime | None = None) -> dt.timedelta:
    return expires_at - (now or dt.datetime.now(dt.UTC))


def countdown_text(left: dt.timedelta) -> str:
    seconds = math.ceil(left.total_seconds())  # "0:01 left" until the very end, never "expired" too early
    if seconds <= 0:
        return "expired"
    return f"{seconds // 60}:{seconds % 60:02d} left"


class OtpPrompt(w.VBox):
    """Answer the bank's second factor for `connection`; `tick=False` leaves the countdown to the caller."""

    def __init__(self, ws: Workspace, connection: str, *, tick: bool = True,
                 on_submitted: Callable[[dict[str, object]], None] | None = None) -> None:
        self.ws = ws
        self.connection = connection
        self.on_submitted = on_submitted
        self.challenge: Challenge | None = None
        self.title = w.HTML(f"<b>One-time code for {html.escape(connection)}</b>")
        self.prompt = w.HTML()
        self.screenshot = w.Image(format="png", layout=w.Layout(max_width="640px", border="1px solid #d0d7de"))
        self.code = w.Password(description="Code", placeholder="the code the bank sent")
        self.submit = w.Button(description="Submit code", button_style="primary", icon="paper-plane")
        self.reload = w.Button(description="Check again", icon="refresh")
        self.countdown = w.Label()
        self.message = w.HTML()
        self.submit.on_click(lambda _b: self.submit_code())
        self.reload.on_click(lambda _b: self.refresh())
        self.timer = Ticker(self._tick, 1.0, f"otp-countdown-{connection}")
        super().__init__([self.title, self.prompt, self.screenshot,
                          w.HBox([self.code, self.submit, self.countdown]), self.reload, self.message])
        self.refresh()
        if tick:
            self.start_timer()

    def refresh(self) -> None:
        """Read the challenge a person could answer now (a new login may have asked again)."""
        self.challenge = sync.pending_challenge(self.ws, self.connection)
        if self.challenge is None:
            self.prompt.value = (f"No one-time code is awaited for {html.escape(self.connection)}. Start a login"
                                 " with Run now; when the bank asks for a code, it appears here.")
            self.screenshot.value = b""
            self.screenshot.layout.display = "none"
            self.countdown.value = ""
            self.code.disabled = self.submit.disabled = True
            return
        self.prompt.value = html.escape(self.challenge.prompt or "The bank asks for a one-time code.")
        self.screenshot.value = self.challenge.screenshot or b""
        self.screenshot.layout.display = None if self.challenge.screenshot else "none"
        self.code.disabled = self.submit.disabled = False
        self.message.value = ""
        self.update_countdown()

    def update_countdown(self, now: dt.datetime | None = None) -> bool:
        """Show the time left; True while the code can still be entered."""
        if self.challenge is None:
            return False
        left = remaining(self.challenge.expires_at, now)
        self.countdown.value = countdown_text(left)
        if left.total_seconds() > 0:
            return True
        self.code.disabled = self.submit.disabled = True
        self.message.value = ("<span style='color:#b00'>The code page expired before a code was entered. Press Run"
                              " now on the connection to start a new login.</span>")
        return False

    def _tick(self) -> bool:
        """Keep counting while a code can be entered, or while no challenge is there yet."""
        return self.update_countdown() or self.challenge is None

    def start_timer(self, interval: float = 1.0) -> None:
        self.timer.interval = interval
        self.timer.start()

    def stop_timer(self) -> None:
        self.timer.stop()

    def close(self) -> None:
        self.stop_timer()
        super().close()

    def submit_code(self) -> dict[str, object] | None:
        """Hand the code to the waiting fetch; the field is cleared first, so the code never lingers."""
        code = self.code.value
        self.code.value = ""
        if self.challenge is not None and remaining(self.challenge.expires_at).total_seconds() <= 0:
            self.update_countdown()
            return None
        try:
            result = sync.submit_otp(self.ws, self.connection, code)
        except ReconwbError as err:
            self.message.value = error_html(err)
            return None
        finally:
            del code
        self.stop_timer()
        self.code.disabled = self.submit.disabled = True
        self.countdown.value = ""
        self.message.value = ("Code sent. The fetch continues at the bank; the connection's health shows the"
                              " outcome in a few seconds.")
        if self.on_submitted:
            self.on_submitted(result)
        return result


def waiting_connections(ws: Workspace) -> list[str]:
    """Connections whose fetch waits for a person's code now."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT c.name FROM otp_challenges o JOIN connections c USING (connection_id)"
            " WHERE o.status = 'waiting' AND o.expires_at > ? ORDER BY 1",
            [dt.datetime.now(dt.UTC)],
        ).fetchall()
    return [r[0] for r in rows]


class OtpInbox(w.VBox):
    """One `OtpPrompt` per connection waiting for a code; "Check again" looks for new ones."""

    def __init__(self, ws: Workspace, *, tick: bool = True) -> None:
        self.ws = ws
        self.tick = tick
        self.prompts: dict[str, OtpPrompt] = {}
        self.items = w.VBox()
        self.check = w.Button(description="Check for codes", icon="refresh")
        self.check.on_click(lambda _b: self.refresh())
        super().__init__([self.check, self.items])
        self.refresh()

    def refresh(self) -> None:
        for prompt in self.prompts.values():
            prompt.stop_timer()
        self.prompts = {name: OtpPrompt(self.ws, name, tick=self.tick) for name in waiting_connections(self.ws)}
        self.items.children = list(self.prompts.values()) or [
            w.HTML("<i>No connection is waiting for a one-time code.</i>")
        ]
