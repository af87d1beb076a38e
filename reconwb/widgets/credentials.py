"""A credential form whose password never lingers: not echoed, not kept in widget state, not in outputs."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from reconwb import connections
from reconwb.errors import ReconwbError
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace


class CredentialForm(w.VBox):
    """Enter a new bank password for one connection; saving seals it and starts the refresh."""

    def __init__(
        self, ws: Workspace, connection: str, on_saved: Callable[[connections.Connection], None] | None = None
    ) -> None:
        self.ws = ws
        self.connection = connection
        self.on_saved = on_saved
        self.password = w.Password(description="Password", placeholder="new bank password")
        self.save = w.Button(description="Save and reconnect", button_style="primary", icon="key")
        self.cancel = w.Button(description="Cancel")
        self.message = w.HTML()
        self.save.on_click(self._save)
        self.cancel.on_click(self._cancel)
        title = w.HTML(f"<b>Update credentials for {connection}</b>")
        super().__init__([title, self.password, w.HBox([self.save, self.cancel]), self.message])

    def _save(self, _button: w.Button | None = None) -> None:
        password = self.password.value
        self.password.value = ""  # gone from the widget model before anything else can fail
        try:
            with self.ws.connect() as con:
                conn = connections.set_credentials(con, self.ws.vault(), self.connection, {"password": password})
        except ReconwbError as err:
            self.message.value = f"<span style='color:#b00'>{redact_exception(err)}</span>"
            return
        finally:
            del password
        self.message.value = (
            f"Saved. {conn.name} is <b>{conn.health}</b>: deposits may take up to 15 minutes to appear."
        )
        if self.on_saved:
            self.on_saved(conn)

    def _cancel(self, _button: w.Button | None = None) -> None:
        self.password.value = ""
        self.message.value = "Cancelled; nothing changed."
