"""The update flow of one connection: a new password and the accounts to keep fetching, committed together.

`reconwb.credentials` does the work (one transaction, as in Plaid's update mode, then, with a new password, the
provider's reconnect step and one fetch that asks the bank); this widget only collects the person's choices and
says what the bank answered. The password leaves the widget model as soon as it is read, like in
`CredentialForm`.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from reconwb import accounts, connections, credentials
from reconwb.errors import ReconwbError
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.credentials import CHECKING, verdict_html
from reconwb.widgets.fetch import BackgroundFetch, show_in
from reconwb.widgets.messages import error_html
from reconwb.workspace import Workspace


def _label(account: accounts.Account) -> str:
    details = " ".join(x for x in (account.name, f"({account.currency})" if account.currency else None) if x)
    return f"{account.external_ref} {details}".strip()


class AccountSelection(w.VBox):
    """Checkboxes for the accounts of `connection`, an optional new password, and "Apply update"."""

    def __init__(
        self,
        ws: Workspace,
        connection: str,
        on_updated: Callable[[connections.UpdatePlan], None] | None = None,
    ) -> None:
        self.ws = ws
        self.connection = connection
        self.on_updated = on_updated
        self.password = w.Password(description="Password", placeholder="leave empty to keep the current one")
        self.apply = w.Button(description="Apply update", button_style="primary", icon="check",
                                layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.verdict = w.HTML()
        self.prompt_box = w.VBox()  # a one-time code the bank asks for during the check
        self.check: BackgroundFetch | None = None
        self.checkboxes: dict[str, w.Checkbox] = {}
        self.apply.on_click(self._apply)
        self.accounts_box = w.VBox()
        super().__init__([
            w.HTML(f"<b>Update {html.escape(connection)}</b>: new credentials and the accounts to fetch"),
            self.password, self.accounts_box, self.apply, self.message, self.verdict, self.prompt_box,
        ])
        self.add_class("reconwb-account-selection")
        draw_when_free(self)

    def refresh(self) -> None:
        with self.ws.connect() as con:
            conn = connections.get(con, self.connection)
            found = accounts.list_accounts(con, conn.connection_id) if conn else []
        self.checkboxes = {
            a.external_ref: w.Checkbox(
                value=a.selected and a.active, description=_label(a), indent=False, layout=w.Layout(width="auto")
            )
            for a in found
        }
        self.accounts_box.children = list(self.checkboxes.values()) or [
            w.HTML("<i>No accounts known yet: they appear after the first successful fetch.</i>")
        ]

    @property
    def selected(self) -> list[str]:
        return [ref for ref, box in self.checkboxes.items() if box.value]

    def _apply(self, _button: w.Button | None = None) -> None:
        password = self.password.value
        self.password.value = ""  # gone from the widget model before anything else can fail
        try:
            plan = credentials.save(
                self.ws,
                self.connection,
                {"password": password} if password else None,
                selected=self.selected if self.checkboxes else None,
            )
        except ReconwbError as err:
            self.message.value = error_html(err)
            return
        finally:
            del password
        parts = [f"Updated {html.escape(plan.connection)}."]
        if plan.selected:
            parts.append(f"Fetching {html.escape(', '.join(plan.selected))}.")
        if plan.deselected:
            parts.append(f"No longer fetching {html.escape(', '.join(plan.deselected))} (its history is kept).")
        if plan.credentials_changed:
            parts.append("New credentials saved.")
        self.message.value = " ".join(parts)
        self.refresh()
        if self.on_updated:
            self.on_updated(plan)
        if plan.credentials_changed:  # the provider's reconnect step and one fetch: what does the bank say?
            self.verdict.value = f"<span class='reconwb-checking'>{CHECKING}</span>"
            self.check = BackgroundFetch(self.ws, self.connection, show=show_in(self.prompt_box),
                                         done=self._checked,
                                         work=lambda: credentials.check(self.ws, self.connection)).start()

    def _checked(self, verdict: credentials.Verdict | None, err: Exception | None) -> None:
        self.verdict.value = verdict_html(verdict) if verdict is not None else error_html(err)
        self.refresh()


class UpdatePicker(w.VBox):
    """Choose a connection, then update it with `AccountSelection`."""

    def __init__(self, ws: Workspace, on_updated: Callable[[connections.UpdatePlan], None] | None = None) -> None:
        self.ws = ws
        self.on_updated = on_updated
        self.choice = w.Dropdown(description="Connection")
        self.open_button = w.Button(description="Update connection", icon="pencil", layout=w.Layout(width="auto"))
        self.form = w.VBox()
        self.open_button.on_click(lambda _b: self.open_form())
        super().__init__([w.HBox([self.choice, self.open_button]), self.form])
        draw_when_free(self)

    def refresh(self) -> None:
        """Connections that can be updated: not removed (an obsolete one must be reconnected first)."""
        with self.ws.connect() as con:
            conns = connections.list_connections(con, include_removed=False)
        names = [c.name for c in conns if c.needs_credentials and c.health != "obsolete"]
        current = self.choice.value
        self.choice.options = names
        self.choice.value = current if current in names else (names[0] if names else None)

    def open_form(self) -> AccountSelection | None:
        if not self.choice.value:
            return None
        form = AccountSelection(self.ws, self.choice.value, on_updated=self.on_updated)
        self.form.children = [form]
        return form
