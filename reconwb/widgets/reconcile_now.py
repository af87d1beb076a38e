"""The "Reconcile now" button of the explorer and the reconciliation dashboard.

Fetches already reconcile what they bring (reconcile mode); the button is for everything else a person wants
settled at once: payments imported after the deposits, rules changed, automatic reconcile switched off.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as w

from reconwb import autoreconcile
from reconwb.widgets.messages import error_html
from reconwb.workspace import Workspace

if TYPE_CHECKING:  # the engine loads when the button is pressed, not with the dashboard
    from reconwb.matching.engine import ReconcileReport


def report_text(report: ReconcileReport) -> str:
    """One line a person reads after a run."""
    if report.mode != "reconcile":
        return "Passthrough mode: transactions are forwarded, not matched (settings: operation_mode)."
    return (f"Reconciled {report.transactions} open deposit(s): {report.matched} payment(s) matched in full, "
            f"{report.partially_matched} partly, {report.suggested} suggestion(s) to review.")


class ReconcileNowButton(w.HBox):
    """A button that runs a full store-mode reconcile, says what it did, then calls `on_done` (a refresh)."""

    def __init__(self, ws: Workspace, *, on_done: Callable[[], None] | None = None) -> None:
        self.ws = ws
        self.on_done = on_done
        self.button = w.Button(description="Reconcile now", icon="random", button_style="primary",
                               layout=w.Layout(width="150px"))
        self.message = w.HTML()
        self.button.on_click(lambda _b: self.run())
        super().__init__([self.button, self.message])

    def run(self) -> ReconcileReport | None:
        self.button.disabled = True
        self.message.value = "<i>reconciling…</i>"
        try:
            report = autoreconcile.reconcile_now(self.ws)
        except Exception as err:  # the widget stays usable; the message is redacted
            self.message.value = error_html(err)
            return None
        finally:
            self.button.disabled = False
        self.message.value = f"<span style='color:#1a7f37'>{html.escape(report_text(report))}</span>"
        if self.on_done is not None:
            self.on_done()
        return report
