"""Pictures of the report frames, for people who would rather look than read (notebooks and dashboards)."""

from __future__ import annotations

import io

import polars as pl
from matplotlib.figure import Figure

from reconwb.reports import AGE_BUCKETS

STATE_COLOURS = {"matched": "#1a7f37", "suggested": "#bf8700", "unmatched": "#cf222e", "pending": "#8c959f"}


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (for image widgets and HTML, where a live figure cannot go)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


STATE_LABELS = {"matched": "reconciled", "suggested": "waiting for review", "unmatched": "unmatched",
                "pending": "pending at the bank"}
MOST_CURRENCIES = 3  # one panel each; more would be unreadable at dashboard width


def trend_figure(trend: pl.DataFrame, *, title: str = "Deposits per week: reconciled vs unmatched",
                 locale: str = "en_US") -> Figure:
    """Stacked bars of deposit MONEY per period by state (`reports.trend`), one panel per currency (the largest
    MOST_CURRENCIES): amounts in different currencies cannot share a bar. Bar heights are floats, the only
    place money becomes one: a pixel height, never a figure anybody reads (the axis says it in the locale)."""
    from babel.numbers import format_compact_decimal

    totals = (trend.group_by("currency").agg(pl.col("amount").sum()).sort("amount", descending=True)
              if trend.height else trend)
    currencies = totals["currency"].head(MOST_CURRENCIES).to_list() if trend.height else []
    fig = Figure(figsize=(8, 2.6 * max(1, len(currencies))), layout="constrained")
    if not currencies:
        ax = fig.add_subplot()
        ax.set_title(title)
        ax.text(0.5, 0.5, "no deposits yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    periods = trend["period"].unique().sort().to_list()
    # a date axis, not one text label per bar: two years of weeks were 105 rotated labels nobody could read, and
    # most of a second to lay out on a large store's dashboard
    gaps = [(b - a).days for a, b in zip(periods, periods[1:], strict=False)]
    width = 0.8 * min(gaps) if gaps else 0.8
    axes = fig.subplots(len(currencies), 1, squeeze=False, sharex=True)[:, 0]
    for ax, currency in zip(axes, currencies, strict=True):
        mine = trend.filter(pl.col("currency") == currency)
        bottom = [0.0] * len(periods)
        for state, colour in STATE_COLOURS.items():
            sums = dict(mine.filter(pl.col("state") == state).select("period", "amount").iter_rows())
            values = [float(sums.get(p, 0)) for p in periods]
            ax.bar(periods, values, width=width, bottom=bottom, color=colour, label=STATE_LABELS[state],
                   align="edge")
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel(currency)
        ax.yaxis.set_major_formatter(lambda v, _pos: format_compact_decimal(v, locale=locale, fraction_digits=1))
        locator = AutoDateLocator(maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_title(title)
    axes[0].legend(frameon=False, ncols=4, fontsize=8)
    return fig


def ageing_figure(ageing: pl.DataFrame, *, title: str = "Open items by age") -> Figure:
    """Grouped bars of open payments and unmatched deposits per age bucket (`reports.ageing`)."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.4
    xs = range(len(AGE_BUCKETS))
    for offset, (item, colour) in zip((-width / 2, width / 2), (("payment", "#0969da"), ("deposit", "#cf222e")),
                                      strict=True):
        counts = ageing.filter(pl.col("item") == item).group_by("bucket").agg(pl.col("items").sum())
        lookup = dict(counts.iter_rows())
        ax.bar([x + offset for x in xs], [lookup.get(b, 0) for b in AGE_BUCKETS], width, color=colour,
               label="open invoices" if item == "payment" else "unmatched deposits")
    ax.set_xticks(list(xs), AGE_BUCKETS)
    ax.set_title(title)
    ax.set_ylabel("how many")
    ax.legend(frameon=False)
    return fig
