from __future__ import annotations

import pytest

from reconwb import plots, reports
from tests.books import TODAY


def test_trend_figure_stacks_money_per_state(books) -> None:
    fig = plots.trend_figure(reports.trend(books, every="month"))
    (ax,) = fig.axes  # one currency, one panel
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "reconciled", "waiting for review", "unmatched", "pending at the bank"]
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(161.34)  # 100.00 + 49.00 + 12.34 CHF
    assert ax.get_ylabel() == "CHF"
    assert plots.png(fig).startswith(b"\x89PNG")


def test_trend_figure_never_adds_currencies(books) -> None:
    import datetime as dt
    from decimal import Decimal

    from reconwb.transactions import Txn, ingest

    with books.connect() as con:
        (account_id,) = con.execute("SELECT account_id FROM accounts").fetchone()
        ingest(con, account_id, [Txn(dt.date(2026, 11, 2), Decimal("5000"), "JPY", "yen", bank_txn_id="y")],
               source="portal")
    fig = plots.trend_figure(reports.trend(books, every="month"))
    assert sorted(ax.get_ylabel() for ax in fig.axes) == ["CHF", "JPY"]


def test_ageing_figure_counts_items_per_bucket(books) -> None:
    fig = plots.ageing_figure(reports.ageing(books, today=TODAY))
    (ax,) = fig.axes
    assert sum(p.get_height() for p in ax.patches) == 4
    assert [t.get_text() for t in ax.get_xticklabels()] == list(reports.AGE_BUCKETS)


def test_empty_store_still_draws(ws) -> None:
    fig = plots.trend_figure(reports.trend(ws))
    assert "no deposits yet" in [t.get_text() for t in fig.axes[0].texts]
