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


def trend_figure(trend: pl.DataFrame, *, title: str = "Deposits: matched vs unmatched") -> Figure:
    """Stacked bars of deposits per period by state (`reports.trend`)."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.add_subplot()
    periods = trend["period"].unique().sort().to_list() if trend.height else []
    bottom = [0] * len(periods)
    for state, colour in STATE_COLOURS.items():
        counts = dict(trend.filter(pl.col("state") == state).select("period", "deposits").iter_rows())
        values = [counts.get(p, 0) for p in periods]
        ax.bar([str(p) for p in periods], values, bottom=bottom, color=colour, label=state)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title)
    ax.set_ylabel("deposits")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    if periods:
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no deposits yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
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
               label=f"open {item}s")
    ax.set_xticks(list(xs), AGE_BUCKETS)
    ax.set_title(title)
    ax.set_ylabel("items")
    ax.legend(frameon=False)
    return fig
