"""How much is reconciled, in money: a headline per currency, deposits per account with the statement balance
proof, the invoices, and the two plots.

A manager reads the headline, not the tables: per currency, the share of booked deposits that is reconciled (in
percent and in money), what is still unmatched and how old the oldest of it is, and the invoices still open.
Everything is written through `reconwb.formatting` in the workspace's locale.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from reconwb import formatting, report_cache
from reconwb.formatting import Formatter
from reconwb.widgets import idle, prefetch
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.reconcile_now import ReconcileNowButton
from reconwb.widgets.tables import Column, table_html
from reconwb.workspace import Workspace

ACCOUNTS_TITLE = "<h4>Deposits by account</h4>"
INVOICES_TITLE = "<h4>Invoices</h4>"
PAYMENT_STATUS = {"open": "Open", "partially_paid": "Partly paid", "paid": "Paid", "cancelled": "Cancelled"}

ACCOUNT_COLUMNS = (
    Column("Account"), Column("Connection"), Column("Reconciled", True), Column("Waiting for review", True),
    Column("Unmatched", True), Column("Pending at the bank", True), Column("Balance the bank states", True),
    Column("Difference to reconwb", True),
)
INVOICE_COLUMNS = (
    Column("Status"), Column("Invoices", True), Column("Amount", True), Column("Fees withheld", True),
    Column("Exchange differences", True),
)


def headline_html(money: Any, fmt: Formatter) -> str:
    """One line per currency: share reconciled (percent and money), unmatched and its age, open invoices."""
    if money.is_empty():
        return ("<div class='reconwb-headline'><i>No deposits and no open invoices yet: import a statement or"
                " connect a bank.</i></div>")
    lines = []
    for r in money.iter_rows(named=True):
        cur = r["currency"]
        unmatched = f"{fmt.money(r['unmatched_amount'], cur)} not reconciled"
        if r["unmatched"]:
            unmatched += (f" ({fmt.count(r['unmatched'])} deposits, the oldest "
                          f"{formatting.age(r['oldest_unmatched_days'])} old")
            unmatched += f"; {fmt.money(r['review_amount'], cur)} waiting for review)" if r["review"] else ")"
        pending = (f" · {fmt.money(r['pending_amount'], cur)} pending at the bank" if r["pending"] else "")
        share = fmt.share(r["reconciled_amount"], r["deposits_amount"])
        lines.append(
            f"<div class='reconwb-currency' data-currency='{html.escape(cur)}' style='margin:4px 0'>"
            f"<span style='font-size:1.5em;font-weight:600'>{html.escape(share)}</span>"
            f" of {html.escape(cur)} deposits reconciled: <b>{html.escape(fmt.money(r['reconciled_amount'], cur))}</b>"
            f" of {html.escape(fmt.money(r['deposits_amount'], cur))}"
            f" · {html.escape(unmatched)}{html.escape(pending)}"
            f" · <b>{html.escape(fmt.count(r['open_invoices']))}</b> open invoices,"
            f" {html.escape(fmt.money(r['open_amount'], cur))} still owed</div>"
        )
    return f"<div class='reconwb-headline' style='font-size:1.05em'>{''.join(lines)}</div>"


def _amount(fmt: Formatter, amount: Any, count: int, currency: str) -> str:
    return f"{fmt.money(amount, currency)} ({fmt.count(count)})" if count else "–"


def accounts_html(totals: Any, balances: Any, fmt: Formatter) -> str:
    """Per account: reconciled, for review, unmatched and pending money (count in brackets), the newest balance
    the bank stated (a statement's closing balance, or what an open-banking API or aggregator said at the last
    fetch) and the difference to what reconwb holds; a total per currency below."""
    proof = {r["account_id"]: r for r in balances.iter_rows(named=True)}
    rows = []
    for r in totals.iter_rows(named=True):
        cur = r["currency"]
        stated = proof.get(r["account_id"])
        balance = difference = "–"
        if stated is not None and stated["currency"] in (None, cur):
            balance = f"{fmt.money(stated['closing'], cur)} on {fmt.date(stated['closing_on'])}"
            if stated["difference"] is not None:
                difference = "none" if stated["difference"] == 0 else fmt.money(stated["difference"], cur)
        rows.append([f"{r['account_name']} ({cur})", r["connection"],
                     _amount(fmt, r["matched_amount"], r["matched"], cur),
                     _amount(fmt, r["suggested_amount"], r["suggested"], cur),
                     _amount(fmt, r["unmatched_amount"], r["unmatched"], cur),
                     _amount(fmt, r["pending_amount"], r["pending"], cur), balance, difference])
    foot = []
    if totals.height:
        import polars as pl

        states = ("matched", "suggested", "unmatched", "pending")
        sums = totals.group_by("currency").agg(
            *(pl.col(s).sum() for s in states), *(pl.col(f"{s}_amount").sum() for s in states)).sort("currency")
        foot = [[f"Total {s['currency']}", "", *(_amount(fmt, s[f"{k}_amount"], s[k], s["currency"]) for k in states),
                 "", ""] for s in sums.iter_rows(named=True)]
    return table_html(ACCOUNT_COLUMNS, rows, foot=foot, empty="No deposits yet.", css_class="reconwb-accounts")


def invoices_html(payments: Any, fmt: Formatter) -> str:
    """Per currency and status: how many invoices, their amount, fees withheld and exchange differences."""
    rows = [[f"{PAYMENT_STATUS.get(r['status'], r['status'])} ({r['currency']})", fmt.count(r["payments"]),
             fmt.money(r["amount"], r["currency"]), fmt.money(r["fees"], r["currency"]),
             fmt.money(r["fx_differences"], r["currency"])] for r in payments.iter_rows(named=True)]
    return table_html(INVOICE_COLUMNS, rows, empty="No expected payments yet.", css_class="reconwb-invoices")


def tables_html(data: Any, fmt: Formatter) -> tuple[str, str, str]:
    """The headline, the accounts table and the invoices table of `reports.overview` data: drawn by the live
    panel and by the server's first view (`reconwb.server.first_view`), so both say the same."""
    return (headline_html(data.money, fmt), accounts_html(data.deposit_totals, data.balances, fmt),
            invoices_html(data.payment_totals, fmt))


class TotalsPanel(w.VBox):
    """Reconciled, waiting, unmatched and pending money per currency and account; invoices; trend and ageing."""

    def __init__(self, ws: Workspace, *, plots_enabled: bool = True, plots_later: bool = False) -> None:
        """`plots_later`: draw the two plots in a thread once the money is on the page and the page's other
        cells have run (the dashboard: drawing them takes 0.3-1.5 s of the kernel, which the page's other panels
        need to show first; `reconwb.widgets.idle`)."""
        self.ws = ws
        self.plots_enabled = plots_enabled
        self.plots_later = plots_later
        self._drawn = 0  # refreshes so far: a background drawing belongs to one
        self.headline = w.HTML()
        self.deposits = w.HTML()
        self.payments = w.HTML()
        self.trend_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.ageing_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.reconcile_now = ReconcileNowButton(ws, on_done=self.refresh)
        children: list[w.Widget] = [
            self.headline,
            self.reconcile_now,
            w.HTML(ACCOUNTS_TITLE),
            self.deposits,
            w.HTML(INVOICES_TITLE),
            self.payments,
        ]
        if plots_enabled:
            children.append(w.HBox([self.trend_image, self.ageing_image]))
        super().__init__(children)
        draw_when_free(self)

    def refresh(self) -> None:
        fmt = formatting.for_workspace(self.ws)
        data = prefetch.take(prefetch.totals_key(self.ws), lambda: report_cache.overview(self.ws))
        self.headline.value, self.deposits.value, self.payments.value = tables_html(data, fmt)
        if not self.plots_enabled:
            return
        self._drawn += 1
        if self.plots_later:
            drawn = self._drawn
            idle.after_cells(lambda: self._draw_plots(data, fmt.locale, drawn), name="reconwb-totals-plots")
        else:
            self._draw_plots(data, fmt.locale, self._drawn)

    def _draw_plots(self, data: Any, locale: str, drawn: int) -> None:
        """The trend and ageing plots of refresh number `drawn` (a later refresh's drawing wins)."""
        from reconwb import plots

        trend = plots.png(plots.trend_figure(data.trend, locale=locale))
        ageing = plots.png(plots.ageing_figure(data.ageing))
        if drawn == self._drawn:
            self.trend_image.value, self.ageing_image.value = trend, ageing
