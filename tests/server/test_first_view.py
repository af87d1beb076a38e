"""The server-drawn first view says exactly what the live panels say, never a secret or a raw name, and shows the
busy notice when the store is held."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import nbformat
import pytest

from reconwb import connections
from reconwb.server import first_view
from reconwb.widgets.banner_panel import BannerPanel
from reconwb.widgets.busy import BUSY_TEXT
from reconwb.widgets.delivery_panel import DeliveryPanel
from reconwb.widgets.explorer import DEPOSIT_COLUMNS, ReconciliationExplorer
from reconwb.widgets.jobs_panel import JobsPanel
from reconwb.widgets.status import ConnectionStatusTable
from reconwb.widgets.tables import Column, table_html
from reconwb.widgets.totals import ACCOUNTS_TITLE, INVOICES_TITLE, TotalsPanel
from reconwb.workspace import Workspace
from tests.widgets.conftest import review  # noqa: F401 - the explorer's books

SECRET = "Pw-first-view-7731"
RAW_WORDS = ("None", "matched_amount", "partially_paid", "unmatched_amount", "RECONWB_DB", "txn_id",
             "last_status", "endpoint_id")


@pytest.fixture
def books(review: Workspace) -> Workspace:  # noqa: F811 - the fixture imported above
    """The review books plus a connection whose saved password the bank rejected (a banner), and a failed job."""
    with review.connect() as con:
        connections.add(con, "nordic-dave", "sim-nordic", username="dave")
        connections.set_credentials(con, review.vault(), "nordic-dave", {"password": SECRET})
        con.execute("UPDATE connections SET health = 'reconnect_required' WHERE name = 'nordic-dave'")
        con.execute("INSERT INTO job_runs (run_id, job, parameters, status, started_at, finished_at, error)"
                    " VALUES ('job_1', 'sync', '{}', 'failed', now() - INTERVAL 5 MINUTE, now(),"
                    " 'the bank did not answer')")
    return review


def _texts(widget) -> list[str]:
    """Every HTML value under a widget, in order."""
    found = [widget.value] if hasattr(widget, "value") and isinstance(widget.value, str) else []
    for child in getattr(widget, "children", ()):
        found += _texts(child)
    return found


def test_each_view_is_drawn_with_the_live_panels_html(books: Workspace) -> None:
    banners = BannerPanel(books)
    drawn = first_view.banners(books)
    live = [t for t in _texts(banners.items) if "reconwb-banner" in t]
    assert live and all(t in drawn for t in live)
    assert drawn.index(live[0]) < drawn.index(live[-1]) or len(live) == 1  # in the panel's order
    totals = TotalsPanel(books, plots_enabled=False)
    assert first_view.totals(books) == (totals.headline.value + ACCOUNTS_TITLE + totals.deposits.value
                                        + INVOICES_TITLE + totals.payments.value)
    jobs = JobsPanel(books)
    assert first_view.jobs(books) == jobs.verdict.value + jobs.per_job.value + jobs.runs_title.value + jobs.runs.value
    deliveries = DeliveryPanel(books)
    assert first_view.deliveries(books) == deliveries.verdict.value + deliveries.table.value
    table = ConnectionStatusTable(books)
    drawn = first_view.connections(books)
    assert all(t in drawn for t in _texts(table.rows) if t)


def test_the_explorer_view_is_its_first_page(books: Workspace) -> None:
    explorer = ReconciliationExplorer(books, best_later=True)
    drawn = first_view.explorer(books)
    assert explorer.deposits_shown.value in drawn
    cells = explorer._deposit_cells(None)  # the page's text before the best candidates are found
    assert cells and table_html([Column(c) for c in DEPOSIT_COLUMNS], cells, empty="",
                                css_class="reconwb-deposits") in drawn


def test_no_view_shows_a_secret_a_raw_name_or_none(books: Workspace) -> None:
    for name in first_view.VIEWS:
        drawn = first_view.draw(name, books)
        assert drawn.startswith("<div class='reconwb-first-view'"), name
        text = re.sub(r"<[^>]+>", " ", drawn)  # what a person reads
        assert SECRET not in drawn, name
        assert not [w for w in RAW_WORDS if w in text], (name, [w for w in RAW_WORDS if w in text])


HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_held_store_draws_the_busy_notice(books: Workspace) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(books.db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        asked = time.monotonic()
        drawn = first_view.draw("totals", books)
        assert time.monotonic() - asked < first_view.WAIT_SECONDS + 5  # not the 60 s lock timeout
        assert BUSY_TEXT in drawn and "reconwb-store-busy" in drawn and "error" not in drawn.lower()
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    assert "reconwb-headline" in first_view.draw("totals", books)  # free again: the money


class _Handler:
    """What the hook reads of Voila's request handler."""

    def __init__(self, template: str | None = None) -> None:
        self.template = template
        self.settings = {"server_root_dir": "."}

    def get_argument(self, _name: str, default: str) -> str:
        return self.template or default


def test_the_hook_draws_the_named_cells_and_the_template_takes_them(books: Workspace, monkeypatch) -> None:
    monkeypatch.setenv("RECONWB_DB", str(books.db_path))
    # every view in its cell's place however busy the host (a view drawn late has its own test below)
    monkeypatch.setattr(first_view, "INLINE_SECONDS", 120.0)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Page"), nbformat.v4.new_code_cell("banners"),
                nbformat.v4.new_code_cell("jobs"), nbformat.v4.new_code_cell("no view")]
    nb.cells[1].metadata["reconwb"] = {"first_view": "banners"}
    nb.cells[2].metadata["reconwb"] = {"first_view": "jobs"}
    first_view.prelaunch_hook(_Handler(), nb, "dashboards")
    taken = [_take(cell) for cell in nb.cells]
    assert taken[0] == taken[3] == ""
    assert "data-reconwb-first-view='banners'" in taken[1] and "nordic-dave" in taken[1]
    assert "reconwb-jobs-verdict" in taken[2] and "the bank did not answer" in taken[2]
    assert _take(nb.cells[1]) == ""  # taken once

    other = nbformat.v4.new_notebook()  # another template (the bench's --compare): nothing is drawn
    other.cells = [nbformat.v4.new_code_cell("banners")]
    other.cells[0].metadata["reconwb"] = {"first_view": "banners"}
    first_view.prelaunch_hook(_Handler("lab"), other, "dashboards")
    assert _take(other.cells[0]) == ""


def _take(cell) -> str:
    return asyncio.run(first_view.take(cell))


def test_a_slow_view_leaves_its_place_and_comes_after_the_page(books: Workspace, monkeypatch) -> None:
    """A view drawn later than INLINE_SECONDS (the totals of a large store): a placeholder in the cell's place
    whose script fetches the view from the server, so the page's HTML (and Voila's start at its `load` event)
    does not wait for it; the view is handed out once."""
    monkeypatch.setenv("RECONWB_DB", str(books.db_path))
    slow = first_view.VIEWS["jobs"]
    monkeypatch.setitem(first_view.VIEWS, "jobs", lambda ws: (time.sleep(first_view.INLINE_SECONDS + 0.5), slow(ws))[1])
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("jobs")]
    nb.cells[0].metadata["reconwb"] = {"first_view": "jobs"}
    first_view.prelaunch_hook(_Handler(), nb, "dashboards")
    token = nb.cells[0].metadata["reconwb"]["first_view_token"]

    async def page() -> tuple[str, str, str]:
        placed = await first_view.take(nb.cells[0])
        return placed, await first_view.late_view(token), await first_view.late_view(token)

    placed, later, again = asyncio.run(page())
    assert f"data-reconwb-late='{token}'" in placed and "class='reconwb-jobs-verdict'" not in placed
    assert f"reconwb/first-view/{token}" in placed and "replaceWith" in placed
    assert "class='reconwb-jobs-verdict'" in later and "data-reconwb-first-view='jobs'" in later
    assert again == ""
