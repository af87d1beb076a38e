"""Add a bank connection: only banks available for new connections are offered."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from reconwb import accounts, banks, connections
from reconwb.errors import ReconwbError
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.messages import error_html
from reconwb.workspace import Workspace


class AddConnectionForm(w.VBox):
    def __init__(self, ws: Workspace, on_added: Callable[[connections.Connection], None] | None = None) -> None:
        self.ws = ws
        self.on_added = on_added
        self.bank = w.Dropdown(description="Bank")
        self.name = w.Text(description="Name", placeholder="e.g. acme-operating")
        self.username = w.Text(description="Username")
        self.portal_url = w.Text(description="Portal URL", placeholder="(optional) another base URL")
        self.login_mode = w.ToggleButtons(options=list(connections.LOGIN_MODES), description="Login")
        self.add = w.Button(description="Add connection", button_style="primary", icon="plus",
                              layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.add.on_click(self._add)
        super().__init__([
            w.HTML("<b>Add a bank connection</b>"), self.bank, self.name, self.username, self.portal_url,
            self.login_mode, self.add, self.message,
        ])
        self.add_class("reconwb-add-connection")
        draw_when_free(self)

    def refresh(self) -> None:
        """Offer the banks usable for data right now (a disabled bank disappears from the list)."""
        with self.ws.connect() as con:
            offered = [b for b in banks.list_banks(con, usable_for="data") if b.bank_id != banks.STATEMENT_BANK]
        current = self.bank.value
        self.bank.options = [(f"{b.name} ({b.bank_id})", b.bank_id) for b in offered]
        ids = [b.bank_id for b in offered]
        self.bank.value = current if current in ids else (ids[0] if ids else None)  # never a blank choice

    def _add(self, _button: w.Button | None = None) -> None:
        try:
            with self.ws.connect() as con:
                conn = connections.add(
                    con,
                    self.name.value.strip(),
                    self.bank.value or "",
                    username=self.username.value.strip() or None,
                    portal_url=self.portal_url.value.strip() or None,
                    login_mode=self.login_mode.value,
                )
                notice = accounts.same_login_notice(con, conn.connection_id)
        except ReconwbError as err:
            self.message.value = error_html(err)
            return
        self.message.value = f"Added {html.escape(conn.name)}. Now enter its password (Update credentials)." + (
            f"<br><i>Note: {html.escape(notice)}.</i>" if notice else "")
        self.name.value = ""
        if self.on_added:
            self.on_added(conn)
