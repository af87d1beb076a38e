"""A dashboard's first view, drawn by the server from the store as it is at request time.

A Voila page shows nothing until the browser has loaded Voila's scripts (about 3.5 MB: 1-1.5 s on two shared
cores) and they have asked the page's kernel to run the notebook. The first view does not wait for either: when a
page is asked for, Voila's `prelaunch_hook` (`prelaunch_hook` below, set in `jupyter_config.py`) starts drawing,
in a thread of the server, each view the notebook's cells name in their metadata
(`{"reconwb": {"first_view": "<name>"}}`); the `reconwb` Voila template
(`reconwb/resources/voila/templates/reconwb`) puts each one in the page, in its cell's place, before the page's
scripts. The live widgets replace each view once their cell has run (a small script in the template removes a
view when its cell's output shows the same part, the busy notice or an error). Each view is drawn on a thread of
its own; one not drawn within `INLINE_SECONDS` (the money totals of a large store when its figures are not
computed yet, `reconwb.report_cache`) leaves a placeholder that the page fetches (`LateViewHandler`), so the
page's HTML, and with it the live page (Voila starts it at the document's `load` event), never waits for it.

One source of truth: every view is drawn with the live panel's own rendering functions (`banner_html`,
`tables_html`, `jobs_view`, `deliveries_view`, `connection_cells`, `deposit_page` and `deposit_cells`), so the
first view and the live page say the same; only the controls are inert until the kernel is up. Nothing else is
read: no credential, no secret (the panels never render one). The read announces itself as waiting
(`reconwb.store.announced_reader`), so long work writing in chunks lets it in at its next pause, and a store
held longer than `WAIT_SECONDS` draws the busy notice, as the live panels do, never an error.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from markupsafe import Markup
from tornado import web

from reconwb.workspace import DB_ENV, Workspace, discover

log = logging.getLogger(__name__)

TEMPLATE = "reconwb"  # the Voila template that draws the views (another template: no first view is drawn)
WAIT_SECONDS = 1.0  # how long a first view waits for a held store before it draws the busy notice
METADATA = "reconwb"  # a cell's metadata key: {"first_view": name}; the hook adds "first_view_token"

# what the live page shows for each view: the template's script removes the view when its cell's output has it
LIVE = {
    "banners": ".reconwb-banner, .reconwb-all-clear",
    "totals": ".reconwb-headline",
    "jobs": ".reconwb-jobs-verdict",
    "deliveries": ".reconwb-deliveries-verdict",
    "connections": ".reconwb-connections",
    "explorer": "table.reconwb-deposits tbody tr",
}

# Each view is drawn on its own thread: drawn one after the other, a slow view (the totals of a large store, 1.3 s
# on 1M deposits) held back the quick ones after it, and each of those then kept the page's HTML waiting
# `INLINE_SECONDS` in `take` before it became a placeholder (0.6 s more before the page's scripts could start).
# The quick ones are small reads; the slow one runs in DuckDB, outside the interpreter's lock.
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="reconwb-first-view")
# a view drawn later than this after its cell's place is reached comes late (see `take`): the page's HTML, and with
# it the live page, waits this long at most per view; a late view costs the page one small request
INLINE_SECONDS = 0.1
_late: dict[str, tuple[float, asyncio.Future[str]]] = {}  # token -> (when left as a placeholder, the drawing)
LATE_ROUTE = "reconwb/first-view/"  # under the server's base URL: `LateViewHandler`
_base_url = "/"  # the server's, set by `setup_handlers`
_pending: dict[str, tuple[float, Future[str]]] = {}  # token -> (when drawing started, the drawing)
FORGET_SECONDS = 120.0  # a view no template took by then belongs to a page nobody waited for


def inert_button(label: str, width: str = "auto") -> str:
    """A button of the live page, drawn disabled until the page's kernel is up."""
    return (f"<button class='jupyter-button reconwb-first-view-button' disabled style='width:{width};"
            f"min-width:max-content' title='ready in a moment'>{html.escape(label)}</button>")


def banners(ws: Workspace) -> str:
    from reconwb.widgets.banner_panel import ALL_CLEAR_HTML, banner_html, current_banners

    shown = current_banners(ws)
    if not shown:
        return ALL_CLEAR_HTML
    return "".join(f"<div style='display:flex;align-items:center'><div style='width:100%'>{banner_html(b)}</div>"
                   f"{inert_button(b.action) if b.action else ''}</div>" for b in shown)


def totals(ws: Workspace) -> str:
    from reconwb import formatting, report_cache
    from reconwb.widgets.totals import ACCOUNTS_TITLE, INVOICES_TITLE, tables_html

    headline, accounts, invoices = tables_html(report_cache.overview(ws), formatting.for_workspace(ws))
    return f"{headline}{ACCOUNTS_TITLE}{accounts}{INVOICES_TITLE}{invoices}"


def jobs(ws: Workspace) -> str:
    from reconwb.widgets.jobs_panel import RUNS_TITLE, jobs_view

    view = jobs_view(ws)
    return f"{view.verdict}{view.per_job}{RUNS_TITLE if view.has_runs else ''}{view.runs}"


def deliveries(ws: Workspace) -> str:
    from reconwb.widgets.delivery_panel import deliveries_view

    return "".join(deliveries_view(ws))


def connections(ws: Workspace) -> str:
    from reconwb.widgets.status import BUTTONS, HEADERS, WIDTHS, current_rows

    def row(cells: list[str], extra: str = "") -> str:
        return ("<div style='display:flex'>" + "".join(f"<div style='width:{wd};flex:none'>{c}</div>"
                                                      for c, wd in zip(cells, WIDTHS, strict=False)) + extra + "</div>")

    buttons = "".join(inert_button(label, width) for label, width in BUTTONS)
    rows = [row([f"<b>{h}</b>" for h in HEADERS]), *(row(cells, buttons) for _conn, cells in current_rows(ws))]
    return f"<div class='reconwb-connections'>{inert_button('Refresh')}{''.join(rows)}</div>"


def explorer(ws: Workspace) -> str:
    from reconwb import formatting, matching
    from reconwb.widgets.explorer import DEPOSIT_COLUMNS, account_names, account_options, deposit_cells, deposit_page
    from reconwb.widgets.tables import Column, table_html

    page = deposit_page(ws, matching.Filters(), 0, PAGE_SIZE)
    _rows, cells = deposit_cells(page.rows, page.suggested, None, account_names(account_options(ws)),
                                 formatting.for_workspace(ws))
    grid = table_html([Column(c) for c in DEPOSIT_COLUMNS], cells, empty="", css_class="reconwb-deposits")
    return f"<div class='reconwb-deposits-shown'>{page.words}</div>{grid}"


PAGE_SIZE = 25  # the explorer's first page (ReconciliationExplorer's default)

VIEWS: dict[str, Callable[[Workspace], str]] = {
    "banners": banners, "totals": totals, "jobs": jobs, "deliveries": deliveries, "connections": connections,
    "explorer": explorer,
}


def draw(name: str, ws: Workspace) -> str:
    """View `name` of the store now, wrapped for the template's script; the busy notice when the store stays
    held `WAIT_SECONDS`; nothing (the live page alone) when drawing fails otherwise."""
    from reconwb.store import StoreLocked, announced_reader
    from reconwb.store.db import waiting_at_most

    try:  # read-only: beside the page kernel's own prefetch of the totals, not queued behind it
        with announced_reader(ws.db_path), waiting_at_most(WAIT_SECONDS):
            with ws.reading().held() as held:  # one open for the view's reads
                body = VIEWS[name](held)
    except StoreLocked:
        from reconwb.widgets.busy import BUSY_HTML

        body = BUSY_HTML
    except Exception as err:  # the live page still draws and reports it; a first view is an optimisation
        log.warning("first view %s not drawn: %s", name, type(err).__name__)
        return ""
    return _wrapped(name, body)


def _wrapped(name: str, body: str, attributes: str = "") -> str:
    """A view as the template's script knows it: the live parts that replace it, and its body."""
    return (f"<div class='reconwb-first-view' data-reconwb-first-view='{name}'"
            f" data-reconwb-live='{html.escape(LIVE[name], quote=True)}'{attributes}>{body}</div>")


def named(cell: Any) -> str | None:
    """The first view a notebook cell names, if any (and known)."""
    name = (cell.get("metadata") or {}).get(METADATA, {}).get("first_view")
    return name if name in VIEWS else None


def workspace_for(root_dir: str, cwd: str) -> Workspace:
    """The page's workspace, as its kernel will find it: RECONWB_DB, else the store of the notebook's folder."""
    if os.environ.get(DB_ENV):
        return Workspace.from_env()
    return Workspace.from_env(discover(Path(root_dir, cwd)))


def _draw(future: Future[str], name: str, ws: Workspace) -> None:
    """View `name`, handed to the template (`take`) as soon as drawn."""
    if future.set_running_or_notify_cancel():
        future.set_result(draw(name, ws))


def prelaunch_hook(handler: Any, notebook: Any, cwd: str) -> Any:
    """Voila's prelaunch hook: start drawing the first views the notebook's cells name, before the kernel is
    handed out; the template takes each one with `take`. Other templates (`--compare`): nothing is drawn."""
    configured = getattr(getattr(handler, "voila_configuration", None), "template", TEMPLATE)
    if handler.get_argument("template", configured) != TEMPLATE:
        return notebook
    now = time.monotonic()
    for token in [t for t, (at, _f) in list(_pending.items()) if now - at > FORGET_SECONDS]:
        _pending.pop(token, None)
    wanted = []
    for cell in notebook.cells:
        name = named(cell)
        if name is not None:
            token = uuid.uuid4().hex
            future: Future[str] = Future()
            _pending[token] = (now, future)
            cell.metadata[METADATA]["first_view_token"] = token
            wanted.append((future, name))
    if wanted:
        ws = workspace_for(handler.settings.get("server_root_dir", "."), cwd)
        for future, name in wanted:  # in the page's order: the banners start first
            _pool.submit(_draw, future, name, ws)
    return notebook


async def take(cell: Any) -> str:
    """The first view drawn for this cell of the page (called by the template in the cell's place, awaited by
    Jinja), or nothing. A view not drawn within `INLINE_SECONDS` (the money totals of a large store) is an
    empty placeholder here whose script fetches it (`LateViewHandler`) and puts it in its place unless the live
    widgets took that place first: the rest of the page, Voila's scripts included, goes on meanwhile. Voila
    starts its page (asks the kernel to run the cells) only at the document's `load` event: had the page's HTML
    waited for the slow view, the live page would have started only after it."""
    token = (cell.get("metadata") or {}).get(METADATA, {}).get("first_view_token")
    started = _pending.pop(token, None) if token else None
    if started is None:
        return Markup("")
    drawing = asyncio.wrap_future(started[1])
    try:  # drawn HTML: every value was escaped when drawn
        return Markup(await asyncio.wait_for(asyncio.shield(drawing), INLINE_SECONDS))  # noqa: S704
    except TimeoutError:
        now = time.monotonic()
        for old in [t for t, (at, _d) in list(_late.items()) if now - at > FORGET_SECONDS]:
            _late.pop(old, None)
        _late[token] = (now, drawing)
        return Markup(_wrapped(named(cell) or "", _fetch_script(token),  # noqa: S704 - ours, the token is ours
                               f" data-reconwb-late='{token}'"))


def _fetch_script(token: str) -> str:
    """The placeholder's script: fetch the view (with the page's token) and put it in the placeholder's place."""
    return (
        "<script>(function () {"
        f" var place = document.querySelector(\"[data-reconwb-late='{token}']\"),"
        " token = new URLSearchParams(location.search).get('token');"
        f" fetch({json.dumps(_base_url + LATE_ROUTE + token)},"
        " {headers: token ? {Authorization: 'token ' + token} : {}})"
        " .then(function (r) { return r.ok ? r.text() : ''; }, function () { return ''; })"
        " .then(function (view) { place.removeAttribute('data-reconwb-late');"
        " if (!view || !place.isConnected) { return; }"
        " var made = document.createElement('template'); made.innerHTML = view;"
        " place.replaceWith(made.content); }); })();</script>")


async def late_view(token: str) -> str:
    """The view of placeholder `token`, once drawn (once: a second ask gets nothing)."""
    started = _late.pop(token, None)
    return await started[1] if started is not None else ""


class LateViewHandler(JupyterHandler):
    """`GET <base>reconwb/first-view/<token>`: a view `take` left as a placeholder, for its page's script
    (authenticated like every page of the server)."""

    @web.authenticated
    async def get(self, token: str) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(await late_view(token))


def setup_handlers(serverapp: Any) -> None:
    """Add `LateViewHandler`'s route to the server (the reconwb server extension calls this)."""
    global _base_url
    web_app = serverapp.web_app
    _base_url = web_app.settings.get("base_url", "/")
    web_app.add_handlers(".*$", [(url_path_join(_base_url, LATE_ROUTE, "([0-9a-f]+)"), LateViewHandler)])
