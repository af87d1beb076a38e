"""The bank-reconciliation explorer: one row per open deposit with its best candidate and why, the candidates of
the selected deposit ranked beside it, the difference of what is selected shown live, and one-click decisions.

The grid is itables' `ITable` widget (an anywidget around DataTables; `pip install itables[widget]`). Chosen over
ipydatagrid because it is maintained (monthly releases), renders real DOM table rows, so a person's browser
search, screen readers and our Playwright tests can read and click them, while ipydatagrid draws on a canvas
that neither can read; it sorts and searches in the browser, and its `selected_rows` trait tells the kernel what
was clicked (a plain click toggles a row: no Ctrl-click to learn).

Every list is one page read with the filters applied in DuckDB, so the explorer opens as fast on a million
deposits as on a hundred. Every decision goes through `reconwb.matching` (`accept`, `reject`, `link`, `unlink`):
one transaction each, with its events and an audit row naming the actor. Money is written by
`reconwb.formatting` in the workspace's locale; differences are computed on Decimals.
"""

from __future__ import annotations

import getpass
import html
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import ipywidgets as w
import polars as pl

from reconwb import formatting, matching, reports
from reconwb.errors import InvalidInput, ReconwbError
from reconwb.formatting import Formatter
from reconwb.payments import PAID_SQL
from reconwb.payments import visible as payment_visible
from reconwb.widgets.busy import draw_when_free
from reconwb.widgets.messages import error_html
from reconwb.widgets.reconcile_now import ReconcileNowButton
from reconwb.widgets.tables import Column, table_html
from reconwb.workspace import Workspace

DEPOSIT_COLUMNS = ("Booked", "Amount", "From", "Text", "Account", "Status", "Best candidate", "Why")
PAYMENT_COLUMNS = ("Invoice", "Open amount", "Payer", "Reference", "Due", "Why it may fit")
CANDIDATES = 25  # ranked candidates shown for a deposit
PAYER_ALIKE = 0.85  # payer names at least this alike (Jaro-Winkler) are called the same payer
ALL_ACCOUNTS = 0  # the account filter's "all accounts" (a Dropdown shows None as a blank)


def default_actor() -> str:
    """Who the audit log names when the widget is not told: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "analyst"


def parse_amount(text: str, label: str) -> Decimal | None:
    """A filter amount typed by a person (blank: no bound; grouping characters allowed)."""
    text = text.strip().replace("'", "").replace(",", "").replace("\u2019", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{label} {text!r} is not a number") from None


def _evidence(evidence: Any) -> dict[str, Any]:
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return {}
    return evidence if isinstance(evidence, dict) else {}


def explanation(evidence: Any) -> str:
    """Why the engine (or a person) made the match, in the words it stored; blank when none was recorded."""
    return str(_evidence(evidence).get("explanation") or "")


def explanation_html(evidence: Any) -> str:
    """`explanation` as a line of HTML, or nothing."""
    said = explanation(evidence)
    return f"<div class='reconwb-explanation'><i>why:</i> {html.escape(said)}</div>" if said else ""


def evidence_html(evidence: Any) -> str:
    """Why, in words; says so when nothing was recorded (a match made before explanations were kept)."""
    return explanation_html(evidence) or "<i>no field evidence recorded</i>"


def fit_words(row: dict[str, Any], fmt: Formatter) -> str:
    """Why a payment may be what a deposit pays, in words: reference, amount, payer, timing."""
    said = []
    if row.get("reference_quoted"):
        said.append("reference quoted")
    gap = row["deposit_amount"] - row["open_amount"]
    if gap == 0:
        said.append("same amount")
    else:
        said.append(f"deposit {fmt.money(abs(gap), row['currency'])} {'less' if gap < 0 else 'more'}")
    alike = row.get("payer_alike") or 0.0
    if alike >= PAYER_ALIKE:
        said.append("same payer")
    elif alike >= 0.6:
        said.append(f"payer name {alike:.0%} alike")
    if row.get("days_from_due") is not None:
        days = int(row["days_from_due"])
        said.append("booked on the due day" if days == 0 else
                    f"booked {formatting.age(abs(days))} {'after' if days > 0 else 'before'} due")
    return ", ".join(said)


_CANDIDATES_SQL = """
    WITH pairs AS (
        SELECT t.txn_id, t.amount AS deposit_amount, p.payment_id, p.amount - coalesce(m.paid, 0) AS open_amount,
               p.currency, p.payer, p.reference, p.due_on,
               (p.reference IS NOT NULL AND length(p.reference) >= 4
                AND (strpos(upper(coalesce(t.reference, '')), upper(p.reference)) > 0
                     OR strpos(upper(coalesce(t.description, '')), upper(p.reference)) > 0)) AS reference_quoted,
               jaro_winkler_similarity(lower(coalesce(p.payer, '')), lower(coalesce(t.counterparty, '')))
                   AS payer_alike,
               t.booked_on - p.due_on AS days_from_due
        FROM transactions t
        JOIN payments p ON p.currency = t.currency AND p.status IN ('open', 'partially_paid') AND VISIBLE
        LEFT JOIN (PAID) m USING (payment_id)
        WHERE list_contains(?, t.txn_id) WHERE_MORE
    ), ranked AS (
        SELECT *, row_number() OVER (
            PARTITION BY txn_id
            ORDER BY reference_quoted DESC, open_amount = deposit_amount DESC, payer_alike >= ALIKE DESC,
                     abs(deposit_amount - open_amount), payer_alike DESC, payment_id) AS rank
        FROM pairs
    )
    SELECT * EXCLUDE (rank) FROM ranked WHERE rank <= ? ORDER BY txn_id, rank
"""


def candidates(ws: Workspace, txn_ids: list[int], *, limit: int = CANDIDATES, text: str | None = None) -> pl.DataFrame:
    """Open payments in each deposit's currency, best first: its reference quoted, the same amount, the same
    payer, then the closest amount. `text` searches every open payment (id, reference, payer) instead."""
    if not txn_ids:
        return pl.DataFrame()
    where, params = matching.Filters(text=text).sql("p", "due_on", ("payment_id", "reference", "payer"),
                                                    account=False)
    # read-only: this search takes seconds on a large store, during which other pages' first views
    # (reconwb.server.first_view, read-only too) may read beside it instead of showing "the store is busy"
    with ws.connect(read_only=True) as con:
        sql = (_CANDIDATES_SQL.replace("(PAID)", f"({PAID_SQL})").replace("VISIBLE", payment_visible("p"))
               .replace("WHERE_MORE", where)
               .replace("ALIKE", str(PAYER_ALIKE)))
        return con.sql(sql, params=[txn_ids, *params, limit]).pl()


def _against_sum(rows: list[dict[str, Any]], total: Decimal) -> list[dict[str, Any]]:
    """Candidates of several deposits as candidates of their sum: each payment once, ranked by its reference
    quoted, its open amount equal to the sum, the same payer, then the closest amount."""
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen = best.get(r["payment_id"])
        if seen is None or (r["reference_quoted"], r["payer_alike"] or 0) > (seen["reference_quoted"],
                                                                              seen["payer_alike"] or 0):
            best[r["payment_id"]] = {**r, "deposit_amount": total}
    return sorted(best.values(), key=lambda r: (not r["reference_quoted"], r["open_amount"] != total,
                                                (r["payer_alike"] or 0) < PAYER_ALIKE,
                                                abs(total - r["open_amount"]), r["payment_id"]))[:CANDIDATES]


def suggested_for(ws: Workspace, txn_ids: list[int]) -> pl.DataFrame:
    """The suggestions waiting on these deposits, one row per link, best first."""
    if not txn_ids:
        return pl.DataFrame()
    with ws.connect() as con:
        return con.sql(
            """
            SELECT x.txn_id, g.group_id, g.confidence, g.evidence, x.payment_id, p.payer, p.currency,
                   x.amount AS linked_amount
            FROM match_groups g JOIN matches x USING (group_id) JOIN payments p USING (payment_id)
            WHERE g.status = 'suggested' AND list_contains(?, x.txn_id)
            ORDER BY x.txn_id, g.confidence DESC, g.group_id, x.payment_id
            """,
            params=[txn_ids],
        ).pl()


def _strings(columns: tuple[str, ...], rows: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={c: pl.String for c in columns}, orient="row")


def _itable() -> Any:
    """itables' grid widget, imported without the pandas sample frames its package `__init__` loads (pandas and
    numpy: 0.3 s of a fresh kernel's first view; the grids are fed polars frames). A kernel that imported itables
    already keeps what it has."""
    if "itables" not in sys.modules:
        sys.modules.setdefault("itables.sample_pandas_dfs", None)  # itables catches the ImportError this makes
    from itables.widget import ITable

    return ITable


def _grid(columns: tuple[str, ...], *, select: str, css: str) -> Any:
    """An empty grid; `select` is DataTables' style: `multi` (a click toggles a row), `os` (a click selects one
    row, Ctrl- or Shift-click adds rows), `single`."""
    ITable = _itable()  # noqa: N806 - a class

    return ITable(_strings(columns, []), select={"style": select}, paging=False,
                  showIndex=False, show_dtypes=False, classes=f"display compact {css}", style="width:100%")


def _show(grid: Any, columns: tuple[str, ...], cells: list[list[str]], selected: list[int]) -> None:
    """New rows for a grid (its options are recomputed on each update: the dtype line must be refused again)."""
    grid.update(_strings(columns, cells), selected_rows=selected, show_dtypes=False)


class _Pager(w.HBox):
    """Previous / next and "page N" for one list; `limit + 1` rows are fetched to know whether more exist."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.page = 0
        self.has_next = False
        self.on_change = on_change
        self.prev = w.Button(description="◀ Previous", disabled=True, layout=w.Layout(width="auto"))
        self.next = w.Button(description="Next ▶", disabled=True, layout=w.Layout(width="auto"))
        self.label = w.Label("page 1")
        self.prev.on_click(lambda _b: self.turn(-1))
        self.next.on_click(lambda _b: self.turn(1))
        super().__init__([self.prev, self.label, self.next])

    def turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.on_change()

    def show(self, has_next: bool) -> None:
        self.has_next = has_next
        self.prev.disabled = self.page == 0
        self.next.disabled = not has_next
        self.label.value = f"page {self.page + 1}"


class PlotsPanel(w.VBox):
    """Reconciled vs unmatched money over time and the ageing of open items; drawn on demand (they read every
    deposit)."""

    def __init__(self, ws: Workspace, *, every: str = "week", draw: bool = True) -> None:
        self.ws = ws
        self.every = w.ToggleButtons(options=[("per day", "day"), ("per week", "week"), ("per month", "month")],
                                     value=every)
        self.trend_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.ageing_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.every.observe(lambda _c: self.refresh(), names="value")
        self.drawn = False
        super().__init__([self.every, w.HBox([self.trend_image, self.ageing_image])])
        if draw:
            self.refresh()

    def refresh(self) -> None:
        from reconwb import plots  # matplotlib: 0.4 s of imports the explorer's first view does not need

        locale = formatting.for_workspace(self.ws).locale
        title = f"Deposits per {self.every.value}: reconciled vs unmatched"
        self.trend_image.value = plots.png(plots.trend_figure(reports.trend(self.ws, every=self.every.value),
                                                              title=title, locale=locale))
        self.ageing_image.value = plots.png(plots.ageing_figure(reports.ageing(self.ws)))
        self.drawn = True


@dataclass(frozen=True)
class Deposit:
    """A deposit row as the explorer holds it (the grid shows its text)."""

    txn_id: int
    amount: Decimal
    currency: str
    pending: bool
    group_id: str | None  # its best suggestion, if any
    suggested: tuple[str, ...]  # the payments that suggestion links


def account_options(ws: Workspace) -> list[tuple[str, int]]:
    """The account filter's choices: every account by its display name, currency and connection."""
    with ws.connect() as con:
        found = con.execute(
            f"SELECT a.account_id, coalesce(c.name, '?'), {reports.ACCOUNT_NAME_SQL}, coalesce(a.currency, '')"
            " FROM accounts a LEFT JOIN connections c USING (connection_id) ORDER BY 2, 3"
        ).fetchall()
    return [("all accounts", ALL_ACCOUNTS)] + [
        (f"{name} ({currency}) · {conn}" if currency else f"{name} · {conn}", int(account_id))
        for account_id, conn, name, currency in found
    ]


def account_names(options: list[tuple[str, int]]) -> dict[int, str]:
    """Each account's display name, from `account_options`."""
    return {value: label.split(" · ")[0] for label, value in options if value != ALL_ACCOUNTS}


@dataclass(frozen=True)
class DepositPage:
    """One page of open deposits as read for the grid, with the suggestions waiting on them."""

    rows: list[dict[str, Any]]
    suggested: dict[int, pl.DataFrame]  # txn_id -> its suggestions' links, best first
    has_next: bool
    words: str  # the line above the grid saying which deposits it shows

    @property
    def unsuggested(self) -> list[int]:
        return [int(r["txn_id"]) for r in self.rows if r["txn_id"] not in self.suggested]


def shown_words(count: int, page: int, page_size: int, has_next: bool, filtered: bool) -> str:
    """Which deposits the grid shows, in words (HTML)."""
    if not count:
        said = ("No open deposit matches the filters." if filtered else
                "No open deposits: every deposit is reconciled.")
    else:
        first = page * page_size + 1
        said = f"Deposits {first}–{first + count - 1}, newest first" + (
            " (more on the next page)." if has_next else ".")
    return f"<span class='reconwb-deposits-count'>{html.escape(said)}</span>"


def deposit_page(ws: Workspace, filters: matching.Filters, page: int, page_size: int) -> DepositPage:
    """Page `page` of the open deposits the filters keep (booked ones and those pending at the bank)."""
    with ws.held() as held:  # one open for the page's two reads
        found = matching.open_items(held, side="transactions", limit=page_size + 1, offset=page * page_size,
                                    filters=filters)
        has_next = found.height > page_size
        found = found.head(page_size)
        ids = [int(t) for t in found["txn_id"].to_list()]
        suggested = suggested_for(held, ids)
    by_txn = {t: suggested.filter(pl.col("txn_id") == t) for t in set(suggested["txn_id"].to_list())} \
        if suggested.height else {}
    words = shown_words(found.height, page, page_size, has_next, filters != matching.Filters())
    return DepositPage(list(found.iter_rows(named=True)), by_txn, has_next, words)


def deposit_cells(page: list[dict[str, Any]], by_txn: dict[int, pl.DataFrame],
                  best_by_txn: dict[int, dict[str, Any]] | None, names: dict[int, str],
                  fmt: Formatter) -> tuple[list[Deposit], list[list[str]]]:
    """The deposits of a page and the grid's text for them (DEPOSIT_COLUMNS): drawn by the live grid and by the
    server's first view (`reconwb.server.first_view`). `best_by_txn` None: the best candidates are not read yet."""
    rows, cells = [], []
    for r in page:
        mine = by_txn.get(r["txn_id"])
        pending = r["status"] == "pending"
        group = mine.row(0, named=True) if mine is not None else None
        if group is not None:
            links = mine.filter(pl.col("group_id") == group["group_id"])
            status = f"suggestion, {group['confidence']:.0%} sure"
            candidate = " + ".join(f"{p} · {payer or ''}".strip(" ·") for p, payer in
                                   links.select("payment_id", "payer").iter_rows())
            why = explanation(group["evidence"])
            rows.append(Deposit(r["txn_id"], r["amount"], r["currency"], pending, group["group_id"],
                                tuple(links["payment_id"].to_list())))
        else:
            status = "pending at the bank" if pending else "unmatched"
            found = best_by_txn.get(r["txn_id"]) if best_by_txn is not None else None
            candidate = ("looking…" if best_by_txn is None else
                         f"{found['payment_id']} · {found['payer'] or ''} · "
                         f"{fmt.money(found['open_amount'], found['currency'])}" if found else "none open")
            why = fit_words(found, fmt) if found else ""
            rows.append(Deposit(r["txn_id"], r["amount"], r["currency"], pending, None, ()))
        cells.append([fmt.date(r["booked_on"]), fmt.money(r["amount"], r["currency"]),
                      r["counterparty"] or "", r["reference"] or r["description"] or "",
                      names.get(r["account_id"], ""), status, candidate, why])
    return rows, cells


class ReconciliationExplorer(w.VBox):
    """Open deposits, their candidates, suggestions and matches of one workspace, for one person (`actor`, named
    in the audit log)."""

    def __init__(self, ws: Workspace, *, actor: str | None = None, page_size: int = 25,
                 best_later: bool = False) -> None:
        """`best_later`: draw the deposits first and their best candidates when found (the dashboard's first
        view on a large store: that search reads every open payment for every deposit on the page)."""
        self.ws = ws
        self.best_later = best_later
        self._drawn = 0  # pages drawn so far: a background fill belongs to one
        self._page: tuple[list[dict[str, Any]], dict[int, Any]] = ([], {})
        self.actor = actor or default_actor()
        self.page_size = page_size
        self.fmt = formatting.for_workspace(ws)
        self.message = w.HTML()
        self.message.add_class("reconwb-explorer-message")
        # filters
        self.account = w.Dropdown(description="Account", options=[("all accounts", ALL_ACCOUNTS)],
                                  value=ALL_ACCOUNTS)
        self.date_from = w.DatePicker(description="From")
        self.date_to = w.DatePicker(description="To")
        self.amount_min = w.Text(description="Amount ≥", placeholder="e.g. 100.00", layout=w.Layout(width="220px"))
        self.amount_max = w.Text(description="Amount ≤", layout=w.Layout(width="220px"))
        self.text = w.Text(description="Text", placeholder="reference, payer, description…")
        self.apply = w.Button(description="Apply filters", button_style="primary", icon="filter",
                              layout=w.Layout(width="auto"))
        self.clear = w.Button(description="Clear", layout=w.Layout(width="auto"))
        self.apply.on_click(lambda _b: self.apply_filters())
        self.clear.on_click(lambda _b: self.clear_filters())
        self.filters = matching.Filters()
        # deposits and their candidates
        self.rows: list[Deposit] = []
        self.deposit_grid = _grid(DEPOSIT_COLUMNS, select="os", css="reconwb-deposits")
        self.deposits_shown = w.HTML()
        self.deposits_shown.add_class("reconwb-deposits-shown")
        self.deposit_pager = _Pager(self.refresh_deposits)
        self.payment_rows: list[dict[str, Any]] = []
        self._payment_grid: Any = None  # made when first needed (see `payment_grid`)
        self.payment_slot = w.VBox()
        self.payment_title = w.HTML("<b>Candidates</b>: select a deposit")
        self.search = w.Text(placeholder="search all open payments: invoice, reference or payer",
                             layout=w.Layout(width="420px"))
        self.search.add_class("reconwb-search")
        self.search_button = w.Button(description="Search open payments", icon="search",
                                      layout=w.Layout(width="auto"))
        self.search_button.on_click(lambda _b: self._guard(self.refresh_candidates))
        self.difference = w.HTML()
        self.difference.add_class("reconwb-difference")
        self.note = w.Text(description="Note", placeholder="why (goes to the audit log)")
        self.write_off = w.Checkbox(value=False, description="Write off the difference as a fee", indent=False,
                                    layout=w.Layout(width="auto"))
        self.accept_button = w.Button(description="Accept suggestion", icon="check", button_style="success",
                                      disabled=True, layout=w.Layout(width="auto"))
        self.reject_button = w.Button(description="Reject suggestion", icon="times", button_style="danger",
                                      disabled=True, layout=w.Layout(width="auto"))
        self.link_button = w.Button(description="Link selected", icon="link", button_style="primary",
                                    disabled=True, layout=w.Layout(width="auto"))
        self.accept_button.on_click(lambda _b: self.accept_selected())
        self.reject_button.on_click(lambda _b: self.reject_selected())
        self.link_button.on_click(lambda _b: self.link_selected())
        self.previous_deposit = w.Button(description="Previous deposit", icon="arrow-up",
                                         tooltip="previous deposit (K)", layout=w.Layout(width="auto"))
        self.next_deposit = w.Button(description="Next deposit", icon="arrow-down", tooltip="next deposit (J)",
                                     layout=w.Layout(width="auto"))
        self.previous_deposit.on_click(lambda _b: self._guard(lambda: self.step_deposit(-1)))
        self.next_deposit.on_click(lambda _b: self._guard(lambda: self.step_deposit(1)))
        from reconwb.widgets.shortcuts import Shortcuts

        self.shortcuts = Shortcuts(
            {"j": lambda: self._guard(lambda: self.step_deposit(1)),
             "k": lambda: self._guard(lambda: self.step_deposit(-1)),
             **{str(n): (lambda n=n: self._guard(lambda: self.toggle_candidate(n))) for n in range(1, 10)},
             "a": self.accept_selected, "r": self.reject_selected, "l": self.link_selected},
            [("J K", "next / previous deposit"), ("1 … 9", "select or unselect that candidate"),
             ("A", "accept the suggestion"), ("R", "reject it"), ("L", "link what is selected"),
             ("/", "search open payments")],
            focus={"/": "reconwb-search"})
        self.deposit_grid.observe(lambda _c: self._guard(self._deposit_chosen), names="selected_rows")
        # bulk accept with a preview
        band = _suggest_band()
        self.threshold = w.FloatSlider(value=band, min=0.0, max=1.0, step=0.01, readout_format=".0%",
                                       description="Sure at least", style={"description_width": "initial"})
        self.preview_button = w.Button(description="Preview bulk accept", icon="list",
                                       layout=w.Layout(width="auto"))
        self.confirm_button = w.Button(description="Accept these", icon="check-double", button_style="warning",
                                       disabled=True, layout=w.Layout(width="auto"))
        self.preview = w.HTML()
        self.previewed: list[str] = []
        self.preview_button.on_click(lambda _b: self._guard(self.preview_bulk))
        self.confirm_button.on_click(lambda _b: self.confirm_bulk())
        self.threshold.observe(lambda _c: self._forget_preview(), names="value")
        # matches
        self.match_rows = w.VBox()
        self.matches_drawn = False
        self.match_pager = _Pager(self.refresh_matches)
        self.buttons: dict[tuple[str, str], w.Button] = {}
        self.plots = PlotsPanel(ws, draw=False)

        filters = w.VBox([
            w.HBox([self.account, self.text]),
            w.HBox([self.date_from, self.date_to]),
            w.HBox([self.amount_min, self.amount_max, self.apply, self.clear]),
        ])
        review = w.VBox([
            w.HTML("<b>Open deposits</b> (newest first; click one to see its candidates; Ctrl- or Shift-click"
                   " selects several, for one payment they pay in parts)"),
            self.shortcuts, self.deposits_shown, self.deposit_grid,
            w.HBox([self.deposit_pager, self.previous_deposit, self.next_deposit],
                   layout=w.Layout(flex_flow="row wrap")),
            self.payment_title, w.HBox([self.search, self.search_button]), self.payment_slot,
            self.difference,
            w.HBox([self.accept_button, self.reject_button, self.link_button, self.write_off],
                   layout=w.Layout(flex_flow="row wrap")),
            self.note,
        ])
        bulk = w.VBox([
            w.HTML("Accept every suggestion the filters show that the engine is at least this sure of. The"
                   " preview lists exactly what will be accepted."),
            w.HBox([self.threshold, self.preview_button, self.confirm_button], layout=w.Layout(flex_flow="row wrap")),
            self.preview,
        ])
        matches = w.VBox([self.match_rows, self.match_pager])
        self.tabs = w.Tab(children=[review, bulk, matches, self.plots])
        for i, title in enumerate(("Deposits to reconcile", "Bulk accept", "Matches", "Plots")):
            self.tabs.set_title(i, title)
        self.tabs.observe(self._tab_changed, names="selected_index")
        self.reconcile_now = ReconcileNowButton(ws, on_done=self.refresh)
        super().__init__([filters, self.reconcile_now, self.message, self.tabs])
        self.add_class("reconwb-explorer")
        draw_when_free(self, self._first_draw)

    def _first_draw(self) -> None:
        """The deposits only: the matches are drawn when their tab opens or the next time everything is (the
        first view of a large store must not wait for them)."""
        self._load_accounts()
        self.fmt = formatting.for_workspace(self.ws)
        self.refresh_deposits()

    @property
    def payment_grid(self) -> Any:
        """The candidates' grid, made when a deposit is first selected: each itables grid ships its 0.7 MB
        script and style to the browser, which the explorer's first view need not wait for."""
        if self._payment_grid is None:
            self._payment_grid = _grid(PAYMENT_COLUMNS, select="multi", css="reconwb-candidates")
            self._payment_grid.observe(lambda _c: self._show_difference(), names="selected_rows")
            self.payment_slot.children = (self._payment_grid,)
        return self._payment_grid

    # -- reading ---------------------------------------------------------------------------------------------------

    def _load_accounts(self) -> None:
        self.account.options = account_options(self.ws)

    def refresh(self) -> None:
        """Re-read every list at its current page."""
        self.fmt = formatting.for_workspace(self.ws)
        self.refresh_deposits()
        self.refresh_matches()
        self.matches_drawn = True
        if self.plots.drawn:
            self.plots.refresh()

    def refresh_deposits(self) -> None:
        """One page of open deposits (booked ones and those pending at the bank), each with its best candidate
        (with `best_later`, filled in by a background read once the rows are on the screen)."""
        page = deposit_page(self.ws, self.filters, self.deposit_pager.page, self.page_size)
        if not page.rows and self.deposit_pager.page > 0:  # the last page emptied: everything on it was matched
            self.deposit_pager.page -= 1
            self.refresh_deposits()
            return
        self.deposit_pager.show(page.has_next)
        self.deposits_shown.value = page.words
        self._page = (page.rows, page.suggested)
        self._drawn += 1
        unsuggested = page.unsuggested
        if self.best_later and unsuggested:
            cells = self._deposit_cells(None)
            _show(self.deposit_grid, DEPOSIT_COLUMNS, cells, [])
            self._deposit_chosen()
            drawn = self._drawn
            threading.Thread(target=self._fill_best, args=(drawn, unsuggested), daemon=True,
                             name="reconwb-explorer-best").start()
            return
        _show(self.deposit_grid, DEPOSIT_COLUMNS, self._deposit_cells(self._best(unsuggested)), [])
        self._deposit_chosen()

    def _best(self, txn_ids: list[int]) -> dict[int, dict[str, Any]]:
        best = candidates(self.ws, txn_ids, limit=1)
        return {r["txn_id"]: r for r in best.iter_rows(named=True)} if best.height else {}

    def _fill_best(self, drawn: int, txn_ids: list[int]) -> None:
        """The best candidates of the page drawn as number `drawn` (the candidate search over every open payment
        takes seconds on a large store); a page drawn since then is left alone, the selection is kept."""
        try:
            best = self._best(txn_ids)
        except Exception as err:  # the rows stay; the message says why their candidates are missing
            self._error(err)
            best = {}
        if drawn == self._drawn:
            _show(self.deposit_grid, DEPOSIT_COLUMNS, self._deposit_cells(best),
                  list(self.deposit_grid.selected_rows))

    def _deposit_cells(self, best_by_txn: dict[int, dict[str, Any]] | None) -> list[list[str]]:
        """The grid's text for the page read last, and `self.rows` beside it; `best_by_txn` None: not read yet."""
        page, by_txn = self._page
        self.rows, cells = deposit_cells(page, by_txn, best_by_txn, self._account_names(), self.fmt)
        return cells

    def _account_names(self) -> dict[int, str]:
        return account_names(self.account.options)

    @property
    def selected_deposits(self) -> list[Deposit]:
        return [self.rows[i] for i in self.deposit_grid.selected_rows if i < len(self.rows)]

    @property
    def selected_deposit(self) -> Deposit | None:
        """The selected deposit when exactly one is (its suggestion can be accepted or rejected)."""
        chosen = self.selected_deposits
        return chosen[0] if len(chosen) == 1 else None

    @property
    def selected_payments(self) -> list[dict[str, Any]]:
        if self._payment_grid is None:
            return []
        return [self.payment_rows[i] for i in self.payment_grid.selected_rows if i < len(self.payment_rows)]

    def select_deposit(self, txn_id: int) -> None:
        """Select a deposit by id (what a click on its row does)."""
        self.select_deposits([txn_id])

    def select_deposits(self, txn_ids: list[int]) -> None:
        """Select several deposits by id (what Ctrl-clicks on their rows do): one payment they pay in parts."""
        index = {d.txn_id: i for i, d in enumerate(self.rows)}
        missing = [f"#{t}" for t in txn_ids if t not in index]
        if missing:
            raise InvalidInput(f"deposit {', '.join(missing)} not on this page")
        self.deposit_grid.selected_rows = [index[t] for t in txn_ids]

    def step_deposit(self, step: int) -> None:
        """Select the next (1) or previous (-1) deposit on the page (J and K); the first one when none is."""
        if not self.rows:
            return
        chosen = self.deposit_grid.selected_rows
        at = (chosen[-1] + step) if chosen else (0 if step > 0 else len(self.rows) - 1)
        self.deposit_grid.selected_rows = [min(max(at, 0), len(self.rows) - 1)]

    def toggle_candidate(self, number: int) -> None:
        """Select or unselect the candidate shown at place `number` (1 is the first; keys 1 to 9)."""
        if not 1 <= number <= len(self.payment_rows):
            return
        chosen = list(self.payment_grid.selected_rows)
        index = number - 1
        self.payment_grid.selected_rows = [i for i in chosen if i != index] if index in chosen else [*chosen, index]

    def select_payments(self, payment_ids: list[str]) -> None:
        """Select candidate payments by id (what clicks on their rows do)."""
        index = {r["payment_id"]: i for i, r in enumerate(self.payment_rows)}
        missing = [p for p in payment_ids if p not in index]
        if missing:
            raise InvalidInput(f"{', '.join(missing)} not among the candidates shown")
        self.payment_grid.selected_rows = [index[p] for p in payment_ids]

    def _deposit_chosen(self) -> None:
        self.search.value = self.search.value if self.selected_deposits else ""
        self.refresh_candidates()

    def refresh_candidates(self) -> None:
        """The selected deposit's candidates: its suggestion's payments first (selected), then the ranked open
        payments, or the open payments the search finds. Several deposits selected: the open payments their sum
        may pay (one payment paid in parts), ranked against the sum."""
        chosen = self.selected_deposits  # read once: a background redraw may change the selection meanwhile
        deposit = chosen[0] if len(chosen) == 1 else None
        self.accept_button.disabled = self.reject_button.disabled = deposit is None or deposit.group_id is None
        currencies = {d.currency for d in chosen}
        if not chosen or len(currencies) > 1:
            self.payment_rows = []
            self.payment_title.value = ("<b>Candidates</b>: select a deposit" if not chosen else
                                        "<b>Candidates</b>: select deposits in one currency")
            if self._payment_grid is not None:
                _show(self.payment_grid, PAYMENT_COLUMNS, [], [])
            self._show_difference()
            return
        text = self.search.value.strip() or None
        total = sum((d.amount for d in chosen), Decimal(0))
        found = candidates(self.ws, [d.txn_id for d in chosen], limit=CANDIDATES, text=text)
        rows = list(found.iter_rows(named=True)) if found.height else []
        first = {p: i for i, p in enumerate(deposit.suggested)} if deposit is not None else {}
        if deposit is not None:
            rows.sort(key=lambda r: first.get(r["payment_id"], len(first)))  # stable: the rest keep their rank
        else:
            rows = _against_sum(rows, total)
        self.payment_rows = rows
        amount = html.escape(self.fmt.money(total, currencies.pop()))
        where = f"open payments matching “{html.escape(text)}”" if text else "best candidates"
        whose = f"the deposit of {amount}" if deposit is not None else f"{len(chosen)} deposits of {amount} together"
        self.payment_title.value = (f"<b>Candidates</b> for {whose}: {where} (click to select one or more; keys 1"
                                    " to 9)")
        cells = [[r["payment_id"], self.fmt.money(r["open_amount"], r["currency"]), r["payer"] or "",
                  r["reference"] or "", self.fmt.date(r["due_on"]), fit_words(r, self.fmt)] for r in rows]
        picked = [i for i, r in enumerate(rows) if r["payment_id"] in first]
        _show(self.payment_grid, PAYMENT_COLUMNS, cells, picked)
        self._show_difference()

    def _show_difference(self) -> None:
        """Deposits minus the open amounts of the selected payments, live: zero means the link settles exactly.
        One deposit may pay several payments, or several deposits one payment (never several with several)."""
        deposits = self.selected_deposits
        chosen = self.selected_payments
        both_many = len(deposits) > 1 and len(chosen) > 1
        self.link_button.disabled = not deposits or not chosen or both_many
        if not deposits or not chosen or both_many or len({d.currency for d in deposits}) > 1:
            said = ("Several deposits link to ONE payment: select only the payment they pay." if both_many else
                    "Select a deposit and one or more payments, or several deposits and one payment, to see the"
                    " difference.")
            self.difference.value = f"<div class='reconwb-difference-text'>{said}</div>"
            return
        paid = sum((d.amount for d in deposits), Decimal(0))
        total = sum((r["open_amount"] for r in chosen), Decimal(0))
        gap = paid - total
        cur = deposits[0].currency
        them = "them" if len(chosen) > 1 else "it"
        what = "the deposit" if len(deposits) == 1 else f"the {len(deposits)} deposits"
        if gap == 0:
            verdict, colour = f"difference 0: {what} settle{'s' if len(deposits) == 1 else ''} {them} exactly", \
                "#1a7f37"
        elif gap < 0:
            verdict = (f"difference {self.fmt.money(gap, cur)}: {what} {'is' if len(deposits) == 1 else 'are'}"
                       " short (tick “write off” to settle it as a fee, or leave the last payment partly paid)")
            colour = "#bf8700"
        else:
            verdict = (f"difference {self.fmt.money(gap, cur)}: {what} {'is' if len(deposits) == 1 else 'are'}"
                       f" more than {'they ask' if len(chosen) > 1 else 'it asks'}")
            colour = "#bf8700"
        paying = (f"Deposit {self.fmt.money(paid, cur)}" if len(deposits) == 1 else
                  f"{len(deposits)} deposits {self.fmt.money(paid, cur)}")
        self.difference.value = (
            f"<div class='reconwb-difference-text' style='border-left:6px solid {colour};padding:4px 10px'>"
            f"{html.escape(paying)} − {len(chosen)} payment(s)"
            f" {html.escape(self.fmt.money(total, cur))} = <b class='reconwb-difference-amount'>"
            f"{html.escape(self.fmt.money(gap, cur))}</b> · {html.escape(verdict)}</div>")

    def refresh_matches(self) -> None:
        rows = matching.groups(self.ws, status="matched", limit=self.page_size + 1,
                               offset=self.match_pager.page * self.page_size, filters=self.filters)
        ids = list(dict.fromkeys(rows["group_id"].to_list()))
        self.match_pager.show(len(ids) > self.page_size)
        ids = ids[: self.page_size]
        self.buttons = {k: b for k, b in self.buttons.items() if k[1] != "unlink"}
        self.match_rows.children = [self._match(rows.filter(pl.col("group_id") == g)) for g in ids] or [
            w.HTML("<i>No matches yet.</i>")
        ]

    def _links_html(self, rows: pl.DataFrame) -> str:
        fmt = self.fmt
        return "<br>".join(
            f"{html.escape(fmt.date(r['booked_on']))} {html.escape(fmt.money(r['txn_amount'], r['currency']))}"
            f" from {html.escape(str(r['counterparty'] or '?'))} &rarr; <b>{html.escape(str(r['payment_id']))}</b>"
            f" {html.escape(fmt.money(r['linked_amount'], r['currency']))} {html.escape(str(r['payer'] or ''))}"
            + (f" <small>(fee {html.escape(fmt.money(r['fee'], r['currency']))} withheld)</small>" if r["fee"] else "")
            for r in rows.iter_rows(named=True)
        )

    def _match(self, rows: pl.DataFrame) -> w.Widget:
        first = rows.row(0, named=True)
        group_id = first["group_id"]
        unlink = w.Button(description="Unlink", icon="unlink", layout=w.Layout(width="auto"))
        unlink.on_click(lambda _b: self.unlink(group_id))
        self.buttons[(group_id, "unlink")] = unlink
        who = (f"linked by hand by {html.escape(first['created_by'])}" if first["rule"] == "manual"
               else f"matched by rule {html.escape(first['rule'])}")
        summary = w.HTML(f"{who}<br>{self._links_html(rows)}{explanation_html(first['evidence'])}",
                         layout=w.Layout(width="85%"))
        summary.add_class("reconwb-match")
        return w.HBox([summary, unlink], layout=w.Layout(border_bottom="1px solid #d0d7de", padding="2px"))

    def _tab_changed(self, change: dict[str, Any]) -> None:
        if change.get("new") == 2 and not self.matches_drawn:
            self._guard(self.refresh_matches)
            self.matches_drawn = True
        if change.get("new") == 3 and not self.plots.drawn:
            self._guard(self.plots.refresh)

    # -- filters ---------------------------------------------------------------------------------------------------

    def apply_filters(self) -> None:
        """Read the filter fields; every list restarts at its first page."""
        try:
            filters = matching.Filters(
                account_id=None if self.account.value == ALL_ACCOUNTS else self.account.value,
                date_from=self.date_from.value,
                date_to=self.date_to.value,
                amount_min=parse_amount(self.amount_min.value, "amount from"),
                amount_max=parse_amount(self.amount_max.value, "amount to"),
                text=self.text.value.strip() or None,
            )
            filters.sql("t", "booked_on", (), account=True)  # checks the ranges before anything is read
        except ReconwbError as err:
            self._error(err)
            return
        self.filters = filters
        self.deposit_pager.page = self.match_pager.page = 0
        self.message.value = ""
        self._forget_preview()
        self.refresh_deposits()
        self.refresh_matches()

    def clear_filters(self) -> None:
        self.account.value = ALL_ACCOUNTS
        self.date_from.value = self.date_to.value = None
        self.amount_min.value = self.amount_max.value = self.text.value = ""
        self.apply_filters()

    # -- decisions -------------------------------------------------------------------------------------------------

    def _guard(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as err:  # the explorer stays usable; the message is redacted
            self._error(err)
        return None

    def _error(self, err: BaseException) -> None:
        self.message.value = error_html(err)

    def _done(self, text: str) -> None:
        self.refresh()
        self.message.value = f"<span class='reconwb-done' style='color:#1a7f37'>{html.escape(text)}</span>"

    def _note(self) -> str | None:
        return self.note.value.strip() or None

    def _selected_suggestion(self) -> str | None:
        deposit = self.selected_deposit
        if deposit is None or deposit.group_id is None:
            self.message.value = "Select a deposit that has a suggestion."
            return None
        return deposit.group_id

    def accept_selected(self) -> dict[str, Any] | None:
        """Accept the selected deposit's suggestion."""
        group_id = self._selected_suggestion()
        return self.accept(group_id) if group_id else None

    def reject_selected(self) -> dict[str, Any] | None:
        """Reject the selected deposit's suggestion (the engine will not propose that pair again)."""
        group_id = self._selected_suggestion()
        return self.reject(group_id) if group_id else None

    def link_selected(self) -> dict[str, Any] | None:
        """Link the selected deposit(s) to the selected payment(s) by hand (payments in the order listed): one
        deposit to several payments, or several deposits to one payment."""
        deposits, chosen = self.selected_deposits, self.selected_payments
        if not deposits or not chosen:
            self.message.value = "Select a deposit and at least one payment to link."
            return None
        payment_ids = [r["payment_id"] for r in chosen]
        result = self._guard(lambda: matching.link(self.ws, [d.txn_id for d in deposits], payment_ids,
                                                   actor=self.actor, note=self._note(),
                                                   write_off=self.write_off.value))
        if result is not None:
            self.note.value = ""
            self.write_off.value = False
            paid = self.fmt.money(sum((d.amount for d in deposits), Decimal(0)), deposits[0].currency)
            whose = f"the deposit of {paid}" if len(deposits) == 1 else f"{len(deposits)} deposits of {paid}"
            self._done(f"Linked {whose} to {', '.join(payment_ids)}.")
        return result

    def accept(self, group_id: str) -> dict[str, Any] | None:
        result = self._guard(lambda: matching.accept(self.ws, group_id, actor=self.actor, note=self._note()))
        if result is not None:
            self._done("Suggestion accepted: the payment is reconciled.")
        return result

    def reject(self, group_id: str) -> dict[str, Any] | None:
        result = self._guard(lambda: matching.reject(self.ws, group_id, actor=self.actor, note=self._note()))
        if result is not None:
            self._done("Suggestion rejected; it will not be suggested again.")
        return result

    def unlink(self, group_id: str) -> dict[str, Any] | None:
        result = self._guard(lambda: matching.unlink(self.ws, group_id, actor=self.actor, note=self._note()))
        if result is not None:
            self._done("Unlinked; its payments are open again.")
        return result

    # -- bulk accept -----------------------------------------------------------------------------------------------

    def _forget_preview(self) -> None:
        self.previewed = []
        self.confirm_button.disabled = True
        self.confirm_button.description = "Accept these"
        self.preview.value = ""

    def _bulk_ids(self, threshold: float) -> pl.DataFrame:
        pages, offset = [], 0
        while True:
            page = matching.suggestions(self.ws, limit=500, offset=offset, min_confidence=threshold,
                                        filters=self.filters)
            if page.is_empty():
                return pl.concat(pages) if pages else page
            pages.append(page)
            offset += 500

    def preview_bulk(self) -> list[str]:
        """List exactly the suggestions a bulk accept at the threshold would accept (and remember them)."""
        threshold = self.threshold.value
        found = self._bulk_ids(threshold)
        self.previewed = list(dict.fromkeys(found["group_id"].to_list())) if found.height else []
        fmt = self.fmt
        rows = [[fmt.date(r["booked_on"]), fmt.money(r["txn_amount"], r["currency"]), r["counterparty"] or "",
                 r["payment_id"], r["payer"] or "", fmt.money(r["payment_amount"], r["currency"]),
                 f"{r['confidence']:.0%}"] for r in found.iter_rows(named=True)] if found.height else []
        columns = (Column("Booked"), Column("Deposit", True), Column("From"), Column("Invoice"), Column("Payer"),
                   Column("Invoice amount", True), Column("Sure", True))
        self.preview.value = table_html(columns, rows, empty=f"No suggestion is at least {threshold:.0%} sure.",
                                        css_class="reconwb-bulk-preview")
        self.confirm_button.disabled = not self.previewed
        self.confirm_button.description = f"Accept these {len(self.previewed)}"
        return self.previewed

    def confirm_bulk(self) -> tuple[list[str], list[str]]:
        """Accept exactly what the preview listed, each its own audited decision; one that was decided meanwhile
        is reported and skipped."""
        ids, threshold = self.previewed, self.threshold.value
        accepted: list[str] = []
        failed: list[str] = []
        for group_id in ids:
            try:
                matching.accept(self.ws, group_id, actor=self.actor,
                                note=self._note() or f"bulk accept, at least {threshold:.0%} sure")
                accepted.append(group_id)
            except ReconwbError:
                failed.append(group_id)
        self._forget_preview()
        text = f"Accepted {len(accepted)} suggestion(s) at least {threshold:.0%} sure."
        if failed:
            text += f" {len(failed)} could not be accepted (already decided elsewhere)."
        self._done(text)
        return accepted, failed

    def bulk_accept(self, threshold: float | None = None) -> tuple[list[str], list[str]]:
        """Preview and accept in one step (for notebooks and scripts)."""
        if threshold is not None:
            self.threshold.value = threshold
        self.preview_bulk()
        return self.confirm_bulk()


def _suggest_band() -> float:
    """Where the suggestion band starts (the rules' `suggest` threshold): bulk accept defaults to it, so it
    offers every suggestion rather than none (the automatic band is matched already)."""
    from reconwb.matching import rules

    return rules.load().suggest_threshold
