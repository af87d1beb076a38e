"""A panel whose store is held by another process says so, retries, and draws itself once it can."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from reconwb import banks, connections
from reconwb.widgets import busy
from reconwb.widgets.auto_refresh import AutoRefresh
from reconwb.widgets.banner_panel import BannerPanel
from reconwb.widgets.totals import TotalsPanel
from reconwb.workspace import Workspace
from tests.widgets.test_auto_refresh import eventually

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()  # until the test says so
con.close()
"""


class Holder:
    """Another process that keeps the store open (and locked) until `release()`."""

    def __init__(self, ws: Workspace) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ws.db_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


def _text(widget) -> str:
    own = getattr(widget, "value", "")
    return (own if isinstance(own, str) else "") + " ".join(_text(c) for c in getattr(widget, "children", ()))


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busy, "FIRST_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(busy, "RETRY_SECONDS", 0.2)


@pytest.fixture
def needs_credentials(ws: Workspace) -> Workspace:
    with ws.connect() as con:
        banks.ensure_statement_bank(con)
        connections.add(con, "hana", banks.STATEMENT_BANK)
        con.execute("UPDATE connections SET health = 'reconnect_required' WHERE name = 'hana'")
    return ws


def test_a_panel_built_while_the_store_is_held_shows_the_notice_then_its_banners(
        needs_credentials: Workspace, quick: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONWB_LOCK_TIMEOUT", "30")  # the panel gives up on its first read much sooner
    holder = Holder(needs_credentials)
    try:
        started = time.monotonic()
        panel = BannerPanel(needs_credentials)  # no exception: a notebook cell would not fail
        assert time.monotonic() - started < busy.FIRST_WAIT_SECONDS + 3
        assert busy.BUSY_TEXT in _text(panel)
        assert "Credentials needed" not in _text(panel)
        time.sleep(1.5 * busy.RETRY_SECONDS)
        assert busy.BUSY_TEXT in _text(panel)  # still held: still the notice, no error
    finally:
        holder.release()
    eventually(lambda: "Credentials needed" in _text(panel), timeout=20)
    assert busy.BUSY_TEXT not in _text(panel)
    assert panel.children == (panel.items, panel.detail, panel.message)


def test_auto_refresh_says_busy_not_failed_and_the_panels_come_back(needs_credentials: Workspace,
                                                                     quick: None) -> None:
    banners_panel = BannerPanel(needs_credentials)
    totals = TotalsPanel(needs_credentials, plots_enabled=False)
    refresher = AutoRefresh([banners_panel, totals], seconds=0)
    holder = Holder(needs_credentials)
    try:
        refresher.now_button.click()
        assert busy.BUSY_TEXT in refresher.status.value
        assert "Could not refresh" not in refresher.status.value
        assert busy.BUSY_TEXT in _text(banners_panel) and busy.BUSY_TEXT in _text(totals)
    finally:
        holder.release()
        refresher.close()
    eventually(lambda: "Credentials needed" in _text(banners_panel) and "Deposits by account" in _text(totals),
               timeout=20)


def test_other_errors_still_raise(ws: Workspace) -> None:
    class Broken(BannerPanel):
        def refresh(self) -> None:
            raise RuntimeError("not a busy store")

    with pytest.raises(RuntimeError, match="not a busy store"):
        Broken(ws)
