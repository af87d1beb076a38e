"""A credential form that says what the bank answered, and whose password never lingers.

Saving seals the password (`reconwb.credentials.save`) and then asks the bank on a thread
(`reconwb.credentials.check`: the provider's step, then one fetch through the fetch guard): the form shows
"Checking with the bank…" and then the bank's answer, never "accepted" before the bank said so. A one-time
code the bank asks for meanwhile is asked on the same form. The password is not echoed, not kept in widget
state and never reaches an output.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from reconwb import connections, credentials, sync
from reconwb.errors import ReconwbError
from reconwb.widgets.fetch import BackgroundFetch, show_in
from reconwb.widgets.messages import error_html
from reconwb.workspace import Workspace

CHECKING = "Checking with the bank…"
_STYLE = {
    credentials.ACCEPTED: "color:#1a7f37",
    credentials.REJECTED: "color:#b00",
    credentials.WAITING: "color:#9a6700",
    credentials.NOT_CHECKED: "color:#9a6700",
}


def verdict_html(verdict: credentials.Verdict) -> str:
    style = _STYLE.get(verdict.status, "")
    return (f"<span class='reconwb-verdict reconwb-{verdict.status}' style='{style}'>"
            f"{html.escape(verdict.message)}</span>")


def open_in(
    box: w.Box,
    ws: Workspace,
    connection: str,
    on_saved: Callable[[connections.Connection], None] | None = None,
    on_checked: Callable[[credentials.Verdict], None] | None = None,
) -> CredentialForm:
    """Show the credential form for `connection` in `box`; a form already open there for the same connection
    stays as it is, so a second "Run now" or "Update credentials" click never wipes what the person typed."""
    for child in box.children:
        if isinstance(child, CredentialForm) and child.connection == connection:
            return child
    form = CredentialForm(ws, connection, on_saved=on_saved, on_checked=on_checked)
    box.children = [form]
    return form


class CredentialForm(w.VBox):
    """Enter a new bank password for one connection; saving seals it and asks the bank."""

    def __init__(
        self,
        ws: Workspace,
        connection: str,
        on_saved: Callable[[connections.Connection], None] | None = None,
        on_checked: Callable[[credentials.Verdict], None] | None = None,
    ) -> None:
        self.ws = ws
        self.connection = connection
        self.on_saved = on_saved
        self.on_checked = on_checked
        self.check: BackgroundFetch | None = None  # the bank's check under way, if any
        self.password = w.Password(description="Password", placeholder="new bank password")
        self.save = w.Button(description="Save and check with the bank", button_style="primary", icon="key",
                             layout=w.Layout(width="auto"))
        self.cancel = w.Button(description="Cancel")
        self.retry = w.Button(description="Try the saved password again…", layout=w.Layout(width="auto"))
        self.confirm_retry = w.Button(description="Yes, try once more", button_style="danger",
                                      layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.prompt_box = w.VBox()  # where the bank's one-time code is asked, if it asks
        self.save.on_click(self._save)
        self.cancel.on_click(self._cancel)
        self.retry.on_click(self._ask_retry)
        self.confirm_retry.on_click(self._retry)
        self.confirm_retry.layout.display = "none"
        title = w.HTML(f"<b>Update credentials for {html.escape(connection)}</b>")
        super().__init__([title, self.password, w.HBox([self.save, self.cancel, self.retry, self.confirm_retry]),
                          self.message, self.prompt_box])
        self._offer_retry()

    def _offer_retry(self) -> None:
        """The deliberate retry of rejected credentials is offered only while one more failure cannot lock."""
        with self.ws.connect() as con:
            conn = connections.get(con, self.connection)
        budget = credentials.retry_budget(self.ws, self.connection)
        offer = bool(conn and conn.credentials_rejected and conn.credentials_set_at and not budget.exhausted)
        self.retry.layout.display = None if offer else "none"

    def _save(self, _button: w.Button | None = None) -> None:
        password = self.password.value
        self.password.value = ""  # gone from the widget model before anything else can fail
        try:
            credentials.save(self.ws, self.connection, {"password": password})
        except ReconwbError as err:
            self.message.value = error_html(err)
            return
        finally:
            del password
        with self.ws.connect() as con:
            conn = connections.get(con, self.connection)
        if self.on_saved and conn is not None:
            self.on_saved(conn)
        self._start(lambda: credentials.check(self.ws, self.connection))

    def _ask_retry(self, _button: w.Button | None = None) -> None:
        budget = credentials.retry_budget(self.ws, self.connection)
        self.message.value = html.escape(
            f"{budget.describe()}. If the bank rejects the saved password again, that is one more failed login."
        )
        self.confirm_retry.layout.display = None

    def _retry(self, _button: w.Button | None = None) -> None:
        self.confirm_retry.layout.display = "none"

        def work() -> credentials.Verdict:
            result = sync.sync(self.ws, self.connection, now=True, retry_same_credentials=True)
            return credentials.judge(self.ws, result)

        self._start(work)

    def _start(self, work: Callable[[], credentials.Verdict]) -> None:
        self.save.disabled = self.retry.disabled = True
        self.message.value = f"<span class='reconwb-checking'>{CHECKING}</span>"
        self.check = BackgroundFetch(self.ws, self.connection, show=show_in(self.prompt_box), done=self._checked,
                                     work=work).start()

    def _checked(self, verdict: credentials.Verdict | None, err: Exception | None) -> None:
        self.save.disabled = self.retry.disabled = False
        self._offer_retry()
        if verdict is None:
            self.message.value = error_html(err)
            return
        self.message.value = verdict_html(verdict)
        if self.on_checked:
            self.on_checked(verdict)

    def _cancel(self, _button: w.Button | None = None) -> None:
        self.password.value = ""
        self.message.value = "Cancelled; nothing changed."
