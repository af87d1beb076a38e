"""The connection status table: health, reason, last success, credential age, and what to do about it."""

from __future__ import annotations

import html

import ipywidgets as w

from reconwb import banners, connections, last_attempt
from reconwb.sync import SyncResult
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.credentials import CredentialForm, open_in
from reconwb.widgets.fetch import BackgroundFetch, needs_new_credentials, run_now, show_in
from reconwb.widgets.messages import error_html
from reconwb.workspace import Workspace

HEALTH_COLOURS = {
    "ok": "#1a7f37",
    "refreshing": "#0969da",
    "reconnect_required": "#bf8700",
    "awaiting_otp": "#bf8700",
    "blocked": "#cf222e",
    "broken": "#cf222e",
    "bank_disabled": "#6e7781",
    "obsolete": "#8c959f",
    last_attempt.RETRYING: "#bf8700",
}


def badge(health: str) -> str:
    colour = HEALTH_COLOURS.get(health, "#6e7781")
    return (
        f"<span style='background:{colour};color:white;border-radius:8px;padding:1px 8px'>{html.escape(health)}</span>"
    )


def _reason(shown: last_attempt.Display) -> str:
    """The state's reason, with the last failed attempt's time and the next attempt while retrying."""
    text = shown.reason or ""
    last = shown.last_attempt
    if shown.state == last_attempt.RETRYING and last is not None:
        text = f"last attempt {last.at:%Y-%m-%d %H:%M} failed: {text}"
        if shown.next_attempt_at:
            text += f"; next attempt {shown.next_attempt_at:%Y-%m-%d %H:%M}"
    return text


HEADERS = ["connection", "bank", "health", "reason", "last success", "password age", ""]
WIDTHS = ["140px", "110px", "150px", "320px", "130px", "100px", "10px"]  # of the cells, then the two buttons
BUTTONS = (("Run now", "110px"), ("Update credentials", "170px"))


def connection_cells(conn: connections.Connection, shown: last_attempt.Display) -> list[str]:
    """A connection's row as HTML cells (never its credentials): drawn by the live table and by the server's
    first view (`reconwb.server.first_view`), so both say the same."""
    age = conn.credential_age_days()
    warn = any(b.kind == "credential_age" for b in banners.for_connection(conn))
    return [
        html.escape(conn.name),
        html.escape(conn.bank_id),
        badge(shown.state),
        html.escape(_reason(shown)),
        conn.last_success_at.strftime("%Y-%m-%d %H:%M") if conn.last_success_at else "never",
        "" if age is None else (f"<b style='color:#bf8700'>{age} d</b>" if warn else f"{age} d"),
    ]


def current_rows(ws: Workspace) -> list[tuple[connections.Connection, list[str]]]:
    """Every connection with its cells, as the table lists them."""
    with ws.connect() as con:
        conns = connections.list_connections(con)
        shown = last_attempt.displays(con, conns)
    return [(c, connection_cells(c, shown[c.name])) for c in conns]


class ConnectionStatusTable(w.VBox):
    """One row per connection with "Run now" and "Update credentials"; refreshes itself after each action."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.rows = w.VBox()
        self.detail = w.VBox()  # where a credential form opens
        self.message = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.buttons: dict[tuple[str, str], w.Button] = {}
        super().__init__([self.refresh_button, self.rows, self.detail, self.message])
        self.add_class("reconwb-connections")
        draw_when_free(self)

    def refresh(self) -> None:
        header = self._row(HEADERS, bold=True)
        self.buttons = {}
        self.rows.children = [header, *(self._connection_row(c, cells) for c, cells in current_rows(self.ws))]

    def _connection_row(self, conn: connections.Connection, cells: list[str]) -> w.HBox:
        (run_label, run_width), (update_label, update_width) = BUTTONS
        run = w.Button(description=run_label, icon="play", layout=w.Layout(width=run_width))
        update = w.Button(description=update_label, icon="key", layout=w.Layout(width=update_width))
        run.on_click(lambda _b, name=conn.name: self.run_now(name))
        update.on_click(lambda _b, name=conn.name: self.open_credentials(name))
        if not conn.needs_credentials or conn.health == "obsolete":
            run.disabled = update.disabled = True
        self.buttons[(conn.name, "run")] = run
        self.buttons[(conn.name, "update")] = update
        row = self._row(cells)
        row.children = [*row.children, run, update]
        return row

    @staticmethod
    def _row(cells: list[str], bold: bool = False) -> w.HBox:
        wrap = "<b>{}</b>" if bold else "{}"
        return w.HBox([w.HTML(wrap.format(c), layout=w.Layout(width=wd)) for c, wd in zip(cells, WIDTHS, strict=False)])

    def run_now(self, name: str) -> BackgroundFetch | None:
        """A person's "Run now": clears a block and tries once (an assisted login asks for its code below)."""
        self.message.value = f"Fetching {html.escape(name)}…"
        return run_now(self.ws, name, show=show_in(self.detail),
                       done=lambda result, err: self._fetched(name, result, err))

    def _fetched(self, name: str, result: SyncResult | None, err: Exception | None) -> None:
        if result is None:  # shown to the person, redacted; the table stays usable
            self.message.value = error_html(err)
        elif needs_new_credentials(result):  # the same login again could lock it: new credentials instead
            self.open_credentials(name)
            self.message.value = html.escape(f"{name}: {result.message}")
        else:
            self.message.value = f"{html.escape(name)}: {result.status}, {result.inserted} new transactions" + (
                f" ({html.escape(result.message)})" if result.message else ""
            )
        self.refresh()

    def open_credentials(self, name: str) -> CredentialForm:
        return open_in(self.detail, self.ws, name, on_saved=lambda _c: self.refresh(),
                       on_checked=lambda _v: self.refresh())
