"""A dashboard's first view, drawn by the server from the store as it is at request time.

A Voila page shows nothing until the browser has loaded Voila's scripts (about 3.5 MB: 1-1.5 s on two shared
cores) and they have asked the page's kernel to run the notebook. The first view does not wait for either: when a
page is asked for, Voila's `prelaunch_hook` (`prelaunch_hook` below, set in `jupyter_config.py`) starts drawing,
in a thread of the server, each view the notebook's cells name in their metadata
(`{"reconwb": {"first_view": "<name>"}}`); the `reconwb` Voila template
(`reconwb/resources/voila/templates/reconwb`) puts each one in the page, in its cell's place, before the page's
scripts. The live widgets replace each view once their cell has run (a small script in the template removes a
view when its cell's output shows the same part, the busy notice or an error).

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
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from markupsafe import Markup

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

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reconwb-first-view")
INLINE_SECONDS = 0.3  # a view drawn later than this after its cell's place is reached comes late (see `take`)
_late: dict[str, asyncio.Future[str]] = {}
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
    from reconwb import formatting, reports
    from reconwb.widgets.totals import ACCOUNTS_TITLE, INVOICES_TITLE, tables_html

    headline, accounts, invoices = tables_html(reports.overview(ws), formatting.for_workspace(ws))
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


def _draw_all(names: list[tuple[Future[str], str]], ws: Workspace) -> None:
    """The page's views in order, each handed to the template as soon as drawn (the banners come first)."""
    for future, name in names:
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
        _pool.submit(_draw_all, wanted, ws)
    return notebook


async def take(cell: Any) -> str:
    """The first view drawn for this cell of the page (called by the template in the cell's place, awaited by
    Jinja), or nothing. A view not drawn within `INLINE_SECONDS` (the money totals of a large store) is an
    empty placeholder here and comes with `late`, after Voila's script tag: the browser starts loading Voila's
    scripts while the slow views are still being drawn, instead of after them."""
    token = (cell.get("metadata") or {}).get(METADATA, {}).get("first_view_token")
    started = _pending.pop(token, None) if token else None
    if started is None:
        return Markup("")
    drawing = asyncio.wrap_future(started[1])
    try:  # drawn HTML: every value was escaped when drawn
        return Markup(await asyncio.wait_for(asyncio.shield(drawing), INLINE_SECONDS))  # noqa: S704
    except TimeoutError:
        _late[token] = drawing
        return Markup(_wrapped(named(cell) or "", "", f" data-reconwb-late='{token}'"))  # noqa: S704 - ours


async def late(nb: Any) -> AsyncIterator[str]:
    """The views of this page that `take` left as placeholders, each as it is drawn: the view in a <template>
    and a script that puts it in its placeholder's place, unless the live widgets took that place already."""
    for cell in nb.cells:
        token = (cell.get("metadata") or {}).get(METADATA, {}).get("first_view_token")
        drawing = _late.pop(token, None) if token else None
        if drawing is None:
            continue
        yield Markup(  # noqa: S704 - drawn HTML, every value escaped when drawn; the token is ours
            f"<template id='reconwb-late-{token}'>{await drawing}</template><script>(function () {{"
            f" var view = document.getElementById('reconwb-late-{token}'),"
            f" place = document.querySelector(\"[data-reconwb-late='{token}']\");"
            " if (place) { place.replaceWith(view.content); } view.remove(); })();</script>")
