from __future__ import annotations

from reconwb import plots, reports
from tests.books import TODAY


def test_trend_figure_draws_one_bar_series_per_state(books) -> None:
    fig = plots.trend_figure(reports.trend(books, every="month"))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["matched", "suggested", "unmatched", "pending"]
    assert sum(p.get_height() for p in ax.patches) == 3
    assert plots.png(fig).startswith(b"\x89PNG")


def test_ageing_figure_counts_items_per_bucket(books) -> None:
    fig = plots.ageing_figure(reports.ageing(books, today=TODAY))
    (ax,) = fig.axes
    assert sum(p.get_height() for p in ax.patches) == 4
    assert [t.get_text() for t in ax.get_xticklabels()] == list(reports.AGE_BUCKETS)


def test_empty_store_still_draws(ws) -> None:
    fig = plots.trend_figure(reports.trend(ws))
    assert "no deposits yet" in [t.get_text() for t in fig.axes[0].texts]
