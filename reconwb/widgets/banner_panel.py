"""Banners at the top of a page, one per connection that needs a person, each with its action button."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from reconwb import banks, banners, connections, last_attempt
from reconwb.sync import SyncResult
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.credentials import CredentialForm, open_in
from reconwb.widgets.fetch import BackgroundFetch, needs_new_credentials, run_now, show_in
from reconwb.widgets.messages import error_html
from reconwb.widgets.otp import OtpPrompt
from reconwb.workspace import Workspace

LEVEL_STYLE = {
    "danger": "background:#ffebe9;border-left:6px solid #cf222e",
    "warning": "background:#fff8c5;border-left:6px solid #bf8700",
    "info": "background:#ddf4ff;border-left:6px solid #0969da",
}


ALL_CLEAR_HTML = "<div class='reconwb-all-clear'>All bank connections are healthy.</div>"


def banner_html(banner: banners.Banner) -> str:
    """One banner's text as HTML (the live panel puts its action button beside it; the server's first view,
    `reconwb.server.first_view`, draws the same HTML before the page's kernel runs)."""
    style = LEVEL_STYLE.get(banner.level, LEVEL_STYLE["info"])
    return (f"<div class='reconwb-banner reconwb-{banner.kind}' style='{style};padding:8px 12px;margin:4px 0'>"
            f"<b>{html.escape(banner.title)}</b> ({html.escape(banner.connection)})<br>"
            f"{html.escape(banner.message)}</div>")


def current_banners(ws: Workspace) -> list[banners.Banner]:
    """Every banner the workspace needs now, most severe first."""
    with ws.connect() as con:
        names = {b.bank_id: b.name for b in banks.list_banks(con)}
        conns = connections.list_connections(con, include_removed=False)
        last = last_attempt.last_attempts(con)
    found = [b for c in conns for b in banners.for_connection(c, bank_name=names.get(c.bank_id),
                                                              last_attempt=last.get(c.connection_id))]
    order = {"danger": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda b: (order.get(b.level, 3), b.connection))


class BannerPanel(w.VBox):
    """Renders `current_banners`; the buttons do what the banner asks and the panel redraws itself."""

    def __init__(self, ws: Workspace, extra_actions: dict[str, Callable[[str], w.Widget]] | None = None) -> None:
        self.ws = ws
        self.extra_actions = extra_actions or {}
        self.items = w.VBox()
        self.detail = w.VBox()
        self.message = w.HTML()
        self.buttons: dict[tuple[str, str], w.Button] = {}
        self.fetch: BackgroundFetch | None = None  # the assisted fetch running in the background, if any
        # one layout and style for every banner: each is a widget of its own, a message to the page, which
        # Voila's server relays and the page builds before the next cell runs (20 banners: 169 widgets, now 74)
        self._shared = {"text": w.Layout(width="100%"), "text_style": HTMLStyle(),
                        "button": w.Layout(width="auto", min_width="max-content"), "button_style": w.ButtonStyle(),
                        "row": w.Layout(align_items="center")}
        super().__init__([self.items, self.detail, self.message])
        draw_when_free(self)

    def refresh(self) -> None:
        self.buttons = {}
        shown = current_banners(self.ws)
        self.items.children = [self._banner(b) for b in shown]
        if not shown:
            self.items.children = [w.HTML(ALL_CLEAR_HTML)]

    def _banner(self, banner: banners.Banner) -> w.Widget:
        shared = self._shared
        text = w.HTML(banner_html(banner), layout=shared["text"], style=shared["text_style"])
        if not banner.action:
            return text
        button = w.Button(description=banner.action, button_style="warning" if banner.level != "info" else "info",
                          layout=shared["button"], style=shared["button_style"])
        button.on_click(lambda _b, a=banner.action, c=banner.connection: self.act(a, c))
        self.buttons[(banner.connection, banner.action)] = button
        return w.HBox([text, button], layout=shared["row"])

    def act(self, action: str, connection: str) -> None:
        """Do what a banner's button says."""
        if action == banners.SWITCH_TO_ASSISTED:
            with self.ws.connect() as con:
                connections.set_modes(con, connection, login_mode="assisted")
            self._fetch(connection)
        elif action == banners.UPDATE_CREDENTIALS:
            self._credential_form(connection)
        elif action in banners.FETCH_ACTIONS:
            self._fetch(connection)
        elif action == banners.RECONNECT:
            self._reconnect(connection)
        elif action == "Enter code" and action not in self.extra_actions:
            self.detail.children = [OtpPrompt(self.ws, connection, on_submitted=lambda _r: self.refresh())]
        elif action in self.extra_actions:
            self.detail.children = [self.extra_actions[action](connection)]
        self.refresh()

    def _reconnect(self, connection: str) -> None:
        """The provider's reconnect step (renewed consent), then a fetch, on a thread; the answer replaces this."""
        from reconwb import credentials

        self.message.value = f"Reconnecting {html.escape(connection)} at the provider…"
        self.fetch = BackgroundFetch(
            self.ws, connection, show=show_in(self.detail),
            done=lambda outcome, err: self._reconnected(connection, outcome, err),
            work=lambda: credentials.next_step(self.ws, connection, fetch=True)).start()

    def _reconnected(self, connection: str, outcome: dict | None, err: Exception | None) -> None:
        self.refresh()
        if outcome is None:
            self.message.value = error_html(err)
            return
        said = outcome.get("message") or outcome.get("link") or outcome.get("status")
        self.message.value = html.escape(f"{connection}: {said} (health {outcome.get('health', '?')})")

    def _credential_form(self, connection: str) -> CredentialForm:
        return open_in(self.detail, self.ws, connection, on_saved=lambda _c: self.refresh(),
                       on_checked=lambda verdict: self._checked(connection, verdict))

    def _checked(self, connection: str, verdict: object) -> None:
        self.refresh()
        self.message.value = html.escape(f"{connection}: {getattr(verdict, 'message', '')}")

    def _fetch(self, connection: str) -> None:
        self.message.value = f"Fetching {html.escape(connection)}…"
        self.fetch = run_now(self.ws, connection, show=show_in(self.detail),
                             done=lambda result, err: self._fetched(connection, result, err))

    def _fetched(self, connection: str, result: SyncResult | None, err: Exception | None) -> None:
        if result is None:  # shown redacted; the page stays usable
            self.message.value = error_html(err)
            return
        self.refresh()
        if needs_new_credentials(result):  # the same login again could lock it: new credentials instead
            self._credential_form(connection)
            self.message.value = html.escape(f"{connection}: {result.message}")
            return
        if result.status == "ok":
            self.message.value = (
                f"{html.escape(connection)} reconnected: {result.inserted} new deposits so far. Deposits may take"
                " up to 15 minutes to appear; an earlier banner may still show meanwhile."
            )
        else:
            self.message.value = f"{html.escape(connection)}: {html.escape(result.message or result.status)}"
