"""The dashboard's auto-refresh: panels follow the store without a reload, and a failing panel says so."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from reconwb import banks
from reconwb.widgets.auto_refresh import AutoRefresh, interval_from_env
from reconwb.widgets.banner_panel import BannerPanel
from reconwb.workspace import Workspace


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.02)


class Counting:
    def __init__(self, fail_with: str | None = None) -> None:
        self.count = 0
        self.fail_with = fail_with

    def refresh(self) -> None:
        self.count += 1
        if self.fail_with:
            raise RuntimeError(self.fail_with)


def _banner_text(panel: BannerPanel) -> str:
    return " ".join(getattr(child, "value", "") or "".join(getattr(c, "value", "") for c in child.children)
                    for child in panel.items.children)


def test_a_banner_appears_and_goes_without_a_reload(ledger: Workspace) -> None:
    panel = BannerPanel(ledger)
    assert "Bank unavailable" not in _banner_text(panel)
    refresher = AutoRefresh([panel], seconds=0.05)
    try:
        with ledger.connect() as con:  # someone switches the bank off elsewhere
            banks.set_availability(con, "ledger", enabled=False)
        eventually(lambda: "Bank unavailable" in _banner_text(panel))
        with ledger.connect() as con:
            banks.set_availability(con, "ledger", enabled=True)
        eventually(lambda: "Bank unavailable" not in _banner_text(panel))
        assert "updated" in refresher.status.value
    finally:
        refresher.close()


def test_switching_it_off_stops_the_redraws_and_on_resumes_them() -> None:
    panel = Counting()
    refresher = AutoRefresh([panel], seconds=0.02)
    try:
        eventually(lambda: panel.count >= 2)
        refresher.enabled.value = False
        time.sleep(0.3)  # a redraw already under way may still finish
        stopped_at = panel.count
        time.sleep(0.3)
        assert panel.count == stopped_at
        refresher.enabled.value = True
        eventually(lambda: panel.count >= stopped_at + 2)
    finally:
        refresher.close()


def test_a_failing_panel_is_named_redacted_and_the_others_still_redraw() -> None:
    broken, fine = Counting(fail_with="store locked; password=hunter2"), Counting()
    refresher = AutoRefresh([broken, fine], seconds=0)  # 0: no timer, only the button
    assert not refresher.enabled.value and not refresher.ticker.running
    refresher.now_button.click()
    assert fine.count == 1 and broken.count == 1
    assert "Could not refresh Counting" in refresher.status.value
    assert "hunter2" not in refresher.status.value
    refresher.close()


@pytest.mark.parametrize(("query", "env", "expected"), [
    ("refresh=300", None, 300.0),
    ("refresh=0&token=x", "15", 0.0),
    ("refresh=soon", "15", 15.0),
    ("", None, 60.0),
])
def test_the_interval_comes_from_the_page_address_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, query: str, env: str | None, expected: float
) -> None:
    monkeypatch.setenv("QUERY_STRING", query)
    if env is None:
        monkeypatch.delenv("RECONWB_DASHBOARD_REFRESH_SECONDS", raising=False)
    else:
        monkeypatch.setenv("RECONWB_DASHBOARD_REFRESH_SECONDS", env)
    assert interval_from_env() == expected
