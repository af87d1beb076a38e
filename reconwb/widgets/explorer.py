"""The reconciliation explorer: open deposits and open payments side by side, suggestions with their evidence,
and the decisions a person makes on them (accept, reject, link by hand, unlink, bulk accept).

Every list is one page fetched through `reconwb.matching`'s paged views, with the filters applied in DuckDB, so
the explorer opens as fast on a million transactions as on a hundred. Every decision goes through the
`reconwb.matching` functions, so it is one transaction with its events and an audit row naming the actor.
"""

from __future__ import annotations

import getpass
import html
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import ipywidgets as w
import polars as pl

from reconwb import matching, money, plots, reports
from reconwb.errors import InvalidInput, ReconwbError
from reconwb.widgets.messages import error_html
from reconwb.widgets.reconcile_now import ReconcileNowButton
from reconwb.workspace import Workspace

EVIDENCE_FIELDS = (
    ("reference", "reference"), ("reference_level", "reference match"), ("amount_fit", "amount"),
    ("amount_difference_cents", "difference (cents)"), ("payer", "payer"), ("date", "date"),
    ("days_from_due", "days from due"),
)


def default_actor() -> str:
    """Who the audit log names when the widget is not told: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "analyst"


def parse_amount(text: str, label: str) -> Decimal | None:
    """A filter amount typed by a person (blank: no bound)."""
    text = text.strip().replace("'", "").replace(",", "")
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


def evidence_rows(evidence: Any) -> list[dict[str, Any]]:
    """The per-link, per-field scores a suggestion was made on (`match_groups.evidence`)."""
    return [link for link in _evidence(evidence).get("links", []) if isinstance(link, dict)]


def explanation_html(evidence: Any) -> str:
    """Why the match was made, in words (which alias, fee or rate included), or nothing when none was recorded."""
    said = _evidence(evidence).get("explanation")
    return f"<div class='reconwb-explanation'><i>why:</i> {html.escape(str(said))}</div>" if said else ""


def evidence_html(evidence: Any) -> str:
    """Why, in words, then the confidence breakdown as a small table: one row per link, one column per field the
    rule scored."""
    rows = evidence_rows(evidence)
    if not rows:
        return explanation_html(evidence) + "<i>no field evidence recorded</i>"
    head = "".join(f"<th style='padding:0 6px'>{label}</th>" for _key, label in EVIDENCE_FIELDS)
    body = "".join(
        f"<tr><td style='padding:0 6px'>#{html.escape(str(r.get('txn_id')))} &rarr; "
        f"{html.escape(str(r.get('payment_id')))}</td>"
        + "".join(f"<td style='padding:0 6px'>{html.escape(_fmt(r.get(key)))}</td>" for key, _label in EVIDENCE_FIELDS)
        + "</tr>"
        for r in rows
    )
    return (explanation_html(evidence)
            + f"<table class='reconwb-evidence' style='font-size:0.85em'><thead><tr><th>link</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return money.display(value)


def _label(*parts: Any, width: tuple[int, ...]) -> str:
    """One list line: the parts cut to their widths, " · " between them (browsers collapse padding in a list)."""
    cut = (str(p)[:n] if len(str(p)) <= n else str(p)[: n - 1] + "…" for p, n in zip(parts, width, strict=True)
           if p not in (None, ""))
    return " · ".join(cut)


class _Pager(w.HBox):
    """Previous / next and "page N" for one list; `limit + 1` rows are fetched to know whether more exist."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.page = 0
        self.has_next = False
        self.on_change = on_change
        self.prev = w.Button(description="◀ Previous", disabled=True, layout=w.Layout(width="110px"))
        self.next = w.Button(description="Next ▶", disabled=True, layout=w.Layout(width="110px"))
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
    """Matched vs unmatched over time and the ageing of open items; drawn on demand (they read every deposit)."""

    def __init__(self, ws: Workspace, *, every: str = "week", draw: bool = True) -> None:
        self.ws = ws
        self.every = w.ToggleButtons(options=["day", "week", "month"], value=every, description="Per")
        self.trend_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.ageing_image = w.Image(format="png", layout=w.Layout(width="49%"))
        self.draw = w.Button(description="Draw", icon="bar-chart")
        self.draw.on_click(lambda _b: self.refresh())
        self.every.observe(lambda _c: self.refresh(), names="value")
        self.drawn = False
        super().__init__([w.HBox([self.every, self.draw]), w.HBox([self.trend_image, self.ageing_image])])
        if draw:
            self.refresh()

    def refresh(self) -> None:
        self.trend_image.value = plots.png(plots.trend_figure(reports.trend(self.ws, every=self.every.value)))
        self.ageing_image.value = plots.png(plots.ageing_figure(reports.ageing(self.ws)))
        self.drawn = True


class ReconciliationExplorer(w.VBox):
    """Open items, suggestions and matches of one workspace, for one person (`actor`, named in the audit log)."""

    def __init__(self, ws: Workspace, *, actor: str | None = None, page_size: int = 25) -> None:
        self.ws = ws
        self.actor = actor or default_actor()
        self.page_size = page_size
        self.message = w.HTML()
        # filters
        self.account = w.Dropdown(description="Account", options=[("all accounts", None)])
        self.date_from = w.DatePicker(description="From")
        self.date_to = w.DatePicker(description="To")
        self.amount_min = w.Text(description="Amount ≥", placeholder="e.g. 100.00", layout=w.Layout(width="220px"))
        self.amount_max = w.Text(description="Amount ≤", layout=w.Layout(width="220px"))
        self.text = w.Text(description="Text", placeholder="reference, payer, description…")
        self.apply = w.Button(description="Apply filters", button_style="primary", icon="filter")
        self.clear = w.Button(description="Clear")
        self.apply.on_click(lambda _b: self.apply_filters())
        self.clear.on_click(lambda _b: self.clear_filters())
        self.filters = matching.Filters()
        # open items, side by side
        rows = min(page_size, 15)
        self.deposits = w.SelectMultiple(rows=rows, layout=w.Layout(width="99%"))
        self.pending = w.HTML()  # lines the bank has not booked yet: not unmatched, not matched until booked
        self.payments = w.SelectMultiple(rows=rows, layout=w.Layout(width="99%"))
        self.deposit_pager = _Pager(self.refresh_deposits)
        self.payment_pager = _Pager(self.refresh_payments)
        self.note = w.Text(description="Note", placeholder="why (goes to the audit log)")
        self.write_off = w.Checkbox(value=False, description="Write off the difference as a fee", indent=False)
        self.link_button = w.Button(description="Link selected", icon="link", button_style="success")
        self.link_button.on_click(lambda _b: self.link_selected())
        # suggestions
        self.suggestion_rows = w.VBox()
        self.suggestion_pager = _Pager(self.refresh_suggestions)
        self.threshold = w.FloatSlider(value=0.9, min=0.5, max=1.0, step=0.01, description="Threshold",
                                       readout_format=".2f")
        self.bulk_button = w.Button(description="Accept all at or above", icon="check-double", button_style="warning")
        self.bulk_button.on_click(lambda _b: self.bulk_accept())
        # matches
        self.match_rows = w.VBox()
        self.match_pager = _Pager(self.refresh_matches)
        self.buttons: dict[tuple[str, str], w.Button] = {}
        self.plots = PlotsPanel(ws, draw=False)

        filters = w.VBox([
            w.HBox([self.account, self.text]),
            w.HBox([self.date_from, self.date_to]),
            w.HBox([self.amount_min, self.amount_max, self.apply, self.clear]),
        ])
        open_items = w.VBox([
            w.HBox([
                w.VBox([w.HTML("<b>Unmatched deposits</b>"), self.deposits, self.deposit_pager, self.pending],
                       layout=w.Layout(width="50%")),
                w.VBox([w.HTML("<b>Open payments</b>"), self.payments, self.payment_pager],
                       layout=w.Layout(width="50%")),
            ]),
            w.HTML("Select one deposit and one or more payments (or several deposits and one payment), then link."),
            w.HBox([self.note, self.write_off, self.link_button]),
        ])
        suggestions = w.VBox([w.HBox([self.threshold, self.bulk_button]), self.suggestion_rows,
                              self.suggestion_pager])
        matches = w.VBox([self.match_rows, self.match_pager])
        self.tabs = w.Tab(children=[open_items, suggestions, matches, self.plots])
        for i, title in enumerate(("Open items", "Suggestions", "Matches", "Plots")):
            self.tabs.set_title(i, title)
        self.tabs.observe(self._tab_changed, names="selected_index")
        self.reconcile_now = ReconcileNowButton(ws, on_done=self.refresh)
        super().__init__([filters, self.reconcile_now, self.tabs, self.message])
        self._load_accounts()
        self.refresh()

    # -- reading ---------------------------------------------------------------------------------------------------

    def _load_accounts(self) -> None:
        with self.ws.connect() as con:
            found = con.execute(
                "SELECT a.account_id, coalesce(c.name, '?'), a.external_ref, coalesce(a.currency, '')"
                " FROM accounts a LEFT JOIN connections c USING (connection_id) ORDER BY 2, 3"
            ).fetchall()
        self.account.options = [("all accounts", None)] + [
            (f"{name} · {ref} {currency}".strip(), int(account_id)) for account_id, name, ref, currency in found
        ]

    def refresh(self) -> None:
        """Re-read every list at its current page."""
        self.refresh_deposits()
        self.refresh_payments()
        self.refresh_suggestions()
        self.refresh_matches()
        if self.plots.drawn:
            self.plots.refresh()

    def _fetch(self, pager: _Pager, read: Callable[..., pl.DataFrame], **kwargs: Any) -> pl.DataFrame:
        page = read(self.ws, limit=self.page_size + 1, offset=pager.page * self.page_size, **kwargs)
        if page.is_empty() and pager.page > 0:  # the last page emptied (everything on it was matched)
            pager.page -= 1
            page = read(self.ws, limit=self.page_size + 1, offset=pager.page * self.page_size, **kwargs)
        pager.show(page.height > self.page_size)
        return page.head(self.page_size)

    def refresh_deposits(self) -> None:
        page = self._fetch(self.deposit_pager, matching.open_items, side="transactions", filters=self.filters,
                           pending=False)
        self.deposits.options = [(self._deposit_label(r), int(r["txn_id"])) for r in page.iter_rows(named=True)]
        pending = matching.open_items(self.ws, limit=self.page_size + 1, filters=self.filters, pending=True)
        if pending.is_empty():
            self.pending.value = ""
            return
        more = f" (first {self.page_size} shown)" if pending.height > self.page_size else ""
        lines = "".join(f"<li>{html.escape(self._deposit_label(r))}</li>"
                        for r in pending.head(self.page_size).iter_rows(named=True))
        self.pending.value = (f"<div class='reconwb-pending'><b>Pending at the bank</b>{more}: matched once the"
                              f" bank books them<ul style='color:#57606a;margin:2px 0'>{lines}</ul></div>")

    @staticmethod
    def _deposit_label(r: dict[str, Any]) -> str:
        return _label(r["booked_on"], r["amount"], r["currency"], r["counterparty"], r["reference"] or r["description"],
                      f"#{r['txn_id']}", width=(10, 12, 3, 22, 26, 10))

    def refresh_payments(self) -> None:
        page = self._fetch(self.payment_pager, matching.open_items, side="payments", filters=self.filters)
        self.payments.options = [
            (_label(r["due_on"], r["open_amount"], r["currency"], r["payer"], r["reference"], r["payment_id"],
                    width=(10, 12, 3, 22, 22, 20)), r["payment_id"])
            for r in page.iter_rows(named=True)
        ]

    def refresh_suggestions(self) -> None:
        rows = matching.suggestions(self.ws, limit=self.page_size + 1,
                                    offset=self.suggestion_pager.page * self.page_size, filters=self.filters)
        ids = list(dict.fromkeys(rows["group_id"].to_list()))
        self.suggestion_pager.show(len(ids) > self.page_size)
        ids = ids[: self.page_size]
        self._drop_buttons("accept", "reject")
        self.suggestion_rows.children = [self._suggestion(rows.filter(pl.col("group_id") == g)) for g in ids] or [
            w.HTML("<i>No suggestions waiting.</i>")
        ]

    def refresh_matches(self) -> None:
        rows = matching.groups(self.ws, status="matched", limit=self.page_size + 1,
                               offset=self.match_pager.page * self.page_size, filters=self.filters)
        ids = list(dict.fromkeys(rows["group_id"].to_list()))
        self.match_pager.show(len(ids) > self.page_size)
        ids = ids[: self.page_size]
        self._drop_buttons("unlink")
        self.match_rows.children = [self._match(rows.filter(pl.col("group_id") == g)) for g in ids] or [
            w.HTML("<i>No matches yet.</i>")
        ]

    def _drop_buttons(self, *kinds: str) -> None:
        self.buttons = {k: b for k, b in self.buttons.items() if k[1] not in kinds}

    @staticmethod
    def _links_html(rows: pl.DataFrame, amount_col: str) -> str:
        return "<br>".join(
            f"#{r['txn_id']} {html.escape(str(r['booked_on']))} {html.escape(money.display(r['txn_amount']))} "
            f"{html.escape(str(r['currency']))} {html.escape(str(r['counterparty'] or ''))} "
            f"<i>{html.escape(str(r['txn_reference'] or r['description'] or ''))}</i> &rarr; "
            f"<b>{html.escape(str(r['payment_id']))}</b> {html.escape(money.display(r[amount_col]))} "
            + (f"<small>(fee {html.escape(money.display(r['fee']))} withheld)</small> " if r.get("fee") else "")
            + f"{html.escape(str(r['payer'] or ''))}"
            for r in rows.iter_rows(named=True)
        )

    def _suggestion(self, rows: pl.DataFrame) -> w.Widget:
        first = rows.row(0, named=True)
        group_id = first["group_id"]
        accept = w.Button(description="Accept", icon="check", button_style="success", layout=w.Layout(width="90px"))
        reject = w.Button(description="Reject", icon="times", button_style="danger", layout=w.Layout(width="90px"))
        accept.on_click(lambda _b: self.accept(group_id))
        reject.on_click(lambda _b: self.reject(group_id))
        self.buttons[(group_id, "accept")] = accept
        self.buttons[(group_id, "reject")] = reject
        summary = w.HTML(
            f"<b>{first['confidence']:.2f}</b> {html.escape(first['kind'])} by rule "
            f"<code>{html.escape(first['rule'])}</code> <small>({html.escape(group_id)})</small><br>"
            + self._links_html(rows, "payment_amount"),
            layout=w.Layout(width="75%"),
        )
        breakdown = w.HTML(evidence_html(first["evidence"]))
        return w.VBox([w.HBox([summary, accept, reject]), breakdown],
                      layout=w.Layout(border="1px solid #d0d7de", margin="2px 0", padding="4px"))

    def _match(self, rows: pl.DataFrame) -> w.Widget:
        first = rows.row(0, named=True)
        group_id = first["group_id"]
        unlink = w.Button(description="Unlink", icon="unlink", layout=w.Layout(width="90px"))
        unlink.on_click(lambda _b: self.unlink(group_id))
        self.buttons[(group_id, "unlink")] = unlink
        who = "by hand" if first["rule"] == "manual" else f"rule <code>{html.escape(first['rule'])}</code>"
        summary = w.HTML(
            f"{html.escape(first['kind'])} {who}, {html.escape(first['created_by'])} "
            f"<small>({html.escape(group_id)})</small><br>" + self._links_html(rows, "linked_amount")
            + explanation_html(first["evidence"]),
            layout=w.Layout(width="85%"),
        )
        return w.HBox([summary, unlink], layout=w.Layout(border_bottom="1px solid #d0d7de", padding="2px"))

    def _tab_changed(self, change: dict[str, Any]) -> None:
        if change.get("new") == 3 and not self.plots.drawn:
            self._guard(self.plots.refresh)

    # -- filters ---------------------------------------------------------------------------------------------------

    def apply_filters(self) -> None:
        """Read the filter fields; every list restarts at its first page."""
        try:
            filters = matching.Filters(
                account_id=self.account.value,
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
        for pager in (self.deposit_pager, self.payment_pager, self.suggestion_pager, self.match_pager):
            pager.page = 0
        self.message.value = ""
        self.refresh_deposits()
        self.refresh_payments()
        self.refresh_suggestions()
        self.refresh_matches()

    def clear_filters(self) -> None:
        self.account.value = None
        self.date_from.value = self.date_to.value = None
        self.amount_min.value = self.amount_max.value = self.text.value = ""
        self.apply_filters()

    # -- decisions -------------------------------------------------------------------------------------------------

    def _guard(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except ReconwbError as err:
            self._error(err)
        except Exception as err:  # the explorer stays usable; the message is redacted
            self._error(err)
        return None

    def _error(self, err: BaseException) -> None:
        self.message.value = error_html(err)

    def _done(self, text: str) -> None:
        self.message.value = f"<span style='color:#1a7f37'>{html.escape(text)}</span>"
        self.refresh()

    def _note(self) -> str | None:
        return self.note.value.strip() or None

    def link_selected(self) -> dict[str, Any] | None:
        """Link the selected deposits and payments by hand."""
        txn_ids, payment_ids = list(self.deposits.value), list(self.payments.value)
        if not txn_ids or not payment_ids:
            self.message.value = "Select at least one deposit and one payment to link."
            return None
        result = self._guard(lambda: matching.link(self.ws, txn_ids, payment_ids, actor=self.actor,
                                                   note=self._note(), write_off=self.write_off.value))
        if result is not None:
            self.note.value = ""
            self.write_off.value = False
            self._done(f"Linked {len(txn_ids)} deposit(s) to {', '.join(payment_ids)} ({result['group_id']}).")
        return result

    def accept(self, group_id: str) -> dict[str, Any] | None:
        result = self._guard(lambda: matching.accept(self.ws, group_id, actor=self.actor, note=self._note()))
        if result is not None:
            self._done(f"Accepted {group_id}.")
        return result

    def reject(self, group_id: str) -> dict[str, Any] | None:
        result = self._guard(lambda: matching.reject(self.ws, group_id, actor=self.actor, note=self._note()))
        if result is not None:
            self._done(f"Rejected {group_id}; it will not be suggested again.")
        return result

    def unlink(self, group_id: str) -> dict[str, Any] | None:
        result = self._guard(lambda: matching.unlink(self.ws, group_id, actor=self.actor, note=self._note()))
        if result is not None:
            self._done(f"Unlinked {group_id}; its payments are open again.")
        return result

    def bulk_accept(self, threshold: float | None = None) -> tuple[list[str], list[str]]:
        """Accept every suggestion at or above the threshold that the filters show (each its own audited decision).

        The ids are collected first, page by page, so a suggestion that cannot be accepted (its deposit was
        matched meanwhile) is reported and skipped rather than read again.
        """
        threshold = self.threshold.value if threshold is None else threshold
        ids: list[str] = []
        offset = 0
        while True:
            page = matching.suggestions(self.ws, limit=500, offset=offset, min_confidence=threshold,
                                        filters=self.filters)
            if page.is_empty():
                break
            ids += [g for g in dict.fromkeys(page["group_id"].to_list()) if g not in ids]
            offset += 500
        accepted: list[str] = []
        failed: list[str] = []
        for group_id in ids:
            try:
                matching.accept(self.ws, group_id, actor=self.actor, note=self._note() or f"bulk ≥ {threshold:.2f}")
                accepted.append(group_id)
            except ReconwbError:
                failed.append(group_id)
        text = f"Accepted {len(accepted)} suggestion(s) at or above {threshold:.2f}."
        if failed:
            text += f" {len(failed)} could not be accepted (already decided elsewhere): {', '.join(failed[:5])}"
        self._done(text)
        return accepted, failed

