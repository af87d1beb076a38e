"""How much is reconciled: headline numbers, totals per account and currency, and the two plots."""

from __future__ import annotations

import html

import ipywidgets as w
import polars as pl

from reconwb import money, plots, reports
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.reconcile_now import ReconcileNowButton
from reconwb.workspace import Workspace


def frame_html(frame: pl.DataFrame, *, empty: str = "nothing yet") -> str:
    """A plain HTML table for a small frame (numbers stay exact: polars prints Decimals as text)."""
    if frame.is_empty():
        return f"<i>{html.escape(empty)}</i>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(money.display(v))}</td>" for v in row)
        + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table class='reconwb-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class TotalsPanel(w.VBox):
    """Matched, suggested, unmatched and pending deposits; paid, partially paid and open payments; trend and
    ageing."""

    def __init__(self, ws: Workspace, *, plots_enabled: bool = True) -> None:
        self.ws = ws
        self.plots_enabled = plots_enabled
        self.headline = w.HTML()
        self.deposits = w.HTML()
        self.payments = w.HTML()
        self.trend_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.ageing_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.reconcile_now = ReconcileNowButton(ws, on_done=self.refresh)
        children: list[w.Widget] = [
            self.headline,
            self.reconcile_now,
            w.HTML("<h4>Deposits by account</h4>"),
            self.deposits,
            w.HTML("<h4>Expected payments</h4>"),
            self.payments,
        ]
        if plots_enabled:
            children.append(w.HBox([self.trend_image, self.ageing_image]))
        super().__init__(children)
        draw_when_free(self)

    def refresh(self) -> None:
        data = reports.overview(self.ws)
        numbers = data.headline
        self.headline.value = (
            "<div class='reconwb-headline' style='font-size:1.1em'>"
            f"<b>{numbers['deposits_matched']}</b> deposits matched, "
            f"<b>{numbers['deposits_suggested']}</b> waiting for review, "
            f"<b>{numbers['deposits_unmatched']}</b> unmatched, "
            f"<b>{numbers['deposits_pending']}</b> pending at the bank &middot; "
            f"<b>{numbers['payments_paid']}</b> payments paid, "
            f"<b>{numbers['payments_partially_paid']}</b> partially paid, "
            f"<b>{numbers['payments_open']}</b> open</div>"
        )
        self.deposits.value = frame_html(data.deposit_totals, empty="no deposits yet")
        self.payments.value = frame_html(data.payment_totals, empty="no expected payments yet")
        if self.plots_enabled:
            self.trend_image.value = plots.png(plots.trend_figure(data.trend))
            self.ageing_image.value = plots.png(plots.ageing_figure(data.ageing))
