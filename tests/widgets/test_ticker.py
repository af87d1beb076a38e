"""The widgets' background ticker: it ticks, stops when told or when the tick says so, and starts again."""

from __future__ import annotations

import time

from reconwb.widgets.ticker import Ticker
from tests.widgets.test_auto_refresh import eventually


def test_ticks_until_the_tick_says_stop() -> None:
    calls: list[int] = []
    ticker = Ticker(lambda: (calls.append(1), len(calls) < 3)[1], 0.01, "test-ticker")
    ticker.start()
    eventually(lambda: not ticker.running)
    assert len(calls) == 3


def test_stop_then_start_again_right_away_keeps_one_thread_ticking() -> None:
    calls: list[int] = []
    ticker = Ticker(lambda: (calls.append(1), True)[1], 0.01, "test-ticker")
    ticker.start()
    eventually(lambda: len(calls) >= 2)
    ticker.stop()
    ticker.start()  # before the old thread has noticed
    seen = len(calls)
    eventually(lambda: len(calls) >= seen + 3)
    ticker.stop()
    time.sleep(0.3)  # a tick already under way may still finish
    settled = len(calls)
    time.sleep(0.3)
    assert len(calls) == settled


def test_a_tick_that_raises_ends_the_thread_quietly() -> None:
    def boom() -> bool:
        raise RuntimeError("widget closed")

    ticker = Ticker(boom, 0.01, "test-ticker")
    ticker.start()
    eventually(lambda: not ticker.running)
