"""Request-time prefetch: a read started when a page is asked for, taken once by the panel that shows it."""

from __future__ import annotations

import threading

import pytest

from reconwb.widgets import prefetch


def test_a_prefetched_read_is_taken_once_then_read_afresh() -> None:
    reads = []
    release = threading.Event()

    def read() -> int:
        release.wait(5)
        reads.append(1)
        return len(reads)

    prefetch.start("k1", read)
    release.set()
    assert prefetch.take("k1", lambda: -1) == 1  # waited for the running read
    assert prefetch.take("k1", lambda: -1) == -1  # taken: the next redraw reads afresh


def test_a_failed_or_stale_prefetch_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> int:
        raise RuntimeError("store gone")

    prefetch.start("k2", broken)
    assert prefetch.take("k2", lambda: 7) == 7  # the panel's own read says what is wrong, as always
    prefetch.start("k3", lambda: 1)
    monkeypatch.setattr(prefetch, "FRESH_SECONDS", -1.0)
    assert prefetch.take("k3", lambda: 2) == 2


def test_only_the_reconciliation_page_prefetches(monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    monkeypatch.setattr(prefetch, "start", lambda key, read: started.append(key))
    prefetch.for_page("http://127.0.0.1:8888/voila/render/dashboards/explorer.ipynb?token=x")
    prefetch.for_page(None)
    assert started == []
    prefetch.for_page("http://127.0.0.1:8888/voila/render/dashboards/reconciliation.ipynb?token=x&refresh=0")
    assert len(started) == 1 and started[0].startswith("totals:")
