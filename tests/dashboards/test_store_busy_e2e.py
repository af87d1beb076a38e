"""The reconciliation dashboard in headless Chromium while another process holds the store.

The store is held (by a plain DuckDB connection in another process, as a long job would) before the page is
opened and for longer than the server's RECONWB_LOCK_TIMEOUT: the page shows "The store is busy, retrying…"
where the panels go, never an error cell, and its banners once the store is free. Uses the server and browser
fixtures of `test_dashboards_e2e` (instances of this module's own).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from reconwb import banks, connections
from reconwb.widgets.busy import BUSY_TEXT
from tests.dashboards import test_dashboards_e2e as e2e
from tests.dashboards.test_dashboards_e2e import RENDER_TIMEOUT, playwright_api, shot, url

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.kernel]

env = e2e.env  # the e2e module's workspace, server and browser fixtures, made anew for this module
server = e2e.server
page = e2e.page

LOCK_TIMEOUT = "5"  # seconds: the server's kernels give up a read after this; the store stays held longer
HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
con.close()
"""


@pytest.fixture(scope="module", autouse=True)
def short_lock_timeout():
    """Set before the server starts (module autouse fixtures come first), which passes its environment on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECONWB_LOCK_TIMEOUT", LOCK_TIMEOUT)
        yield


def test_a_held_store_shows_the_busy_notice_then_the_banners(env, server, page) -> None:
    with env["ws"].connect() as con:  # a connection that needs credentials: the page has a banner to show
        banks.ensure_statement_bank(con)
        connections.add(con, "hana", banks.STATEMENT_BANK)
        con.execute("UPDATE connections SET health = 'reconnect_required' WHERE name = 'hana'")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(env["ws"].db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert holder.stdout.readline().strip() == "held"
        held_at = time.monotonic()
        page.goto(url(server, "reconciliation"), wait_until="domcontentloaded", timeout=RENDER_TIMEOUT)
        notice = page.locator(".reconwb-store-busy").first
        notice.wait_for(state="visible", timeout=RENDER_TIMEOUT)
        assert BUSY_TEXT in notice.inner_text()
        # every panel's cell ran to its end with the notice: banners, totals, jobs, deliveries
        playwright_api.expect(page.locator(".reconwb-store-busy")).to_have_count(4, timeout=RENDER_TIMEOUT)
        # held past the kernels' lock timeout: still the notice, no error cell, no NameError further down
        time.sleep(max(0.0, held_at + 2 * float(LOCK_TIMEOUT) - time.monotonic()))
        assert page.locator(".reconwb-store-busy").count() >= 1
        content = page.content()
        assert "There was an error when executing cell" not in content
        assert "NameError" not in content and "StoreLocked" not in content
        assert page.locator(".reconwb-banner").count() == 0
        shot(page, "z1_store_busy")
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    banner = page.locator(".reconwb-banner", has_text="(hana)")
    banner.wait_for(state="visible", timeout=60_000)
    assert "Credentials needed" in banner.inner_text()
    page.locator(".reconwb-headline").wait_for(state="visible", timeout=60_000)
    playwright_api.expect(page.locator(".reconwb-store-busy")).to_have_count(0, timeout=30_000)
    assert "There was an error when executing cell" not in page.content()
    shot(page, "z2_store_free_again")
