"""Read-only views for people: suggestions to review, open items, match groups. Paged polars frames.

The analyst widgets and the CLI list commands call these; none of them writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from reconwb.errors import InvalidInput
from reconwb.matching.records import LIVE
from reconwb.payments import PAID_SQL
from reconwb.payments import visible as payment_visible
from reconwb.transactions import visible

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

GROUP_STATUSES = ("matched", "suggested", "rejected", "removed")


def _page(limit: int, offset: int) -> None:
    if limit < 1 or offset < 0:
        raise InvalidInput("limit must be positive and offset not negative")


@dataclass(frozen=True)
class Filters:
    """What a person narrows a list to; every part optional. Applied in DuckDB, so a page stays a page.

    `account_id` applies to deposits (payments carry no store account); dates are the booking day for deposits
    and the due day for payments; amounts compare the full amount; `text` is a case-insensitive substring of
    the description, reference or counterparty (deposits) or the id, reference or payer (payments).
    """

    account_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    text: str | None = None

    def sql(self, alias: str, date_col: str, text_cols: tuple[str, ...], *,
            account: bool) -> tuple[str, list[Any]]:
        """An ` AND ...` clause and its parameters."""
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise InvalidInput(f"amount from {self.amount_min} is more than amount to {self.amount_max}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInput(f"date from {self.date_from} is after date to {self.date_to}")
        parts: list[str] = []
        params: list[Any] = []
        if account and self.account_id is not None:
            parts.append(f"{alias}.account_id = ?")
            params.append(self.account_id)
        for value, test in ((self.date_from, ">="), (self.date_to, "<=")):
            if value is not None:
                parts.append(f"{alias}.{date_col} {test} ?")
                params.append(value)
        for value, test in ((self.amount_min, ">="), (self.amount_max, "<=")):
            if value is not None:
                parts.append(f"{alias}.amount {test} CAST(? AS DECIMAL(18, 2))")
                params.append(str(value))
        if self.text and self.text.strip():
            needle = f"%{self.text.strip()}%"
            parts.append("(" + " OR ".join(f"{alias}.{c} ILIKE ?" for c in text_cols) + ")")
            params += [needle] * len(text_cols)
        return "".join(f" AND {p}" for p in parts), params


NO_FILTERS = Filters()
_TXN_TEXT = ("description", "reference", "counterparty")


def _groups_with_deposits(filters: Filters) -> tuple[str, list[Any]]:
    """` AND group_id IN (groups linking a deposit that passes the filters)`; nothing when there are none."""
    where, params = filters.sql("t", "booked_on", _TXN_TEXT, account=True)
    if not where:
        return "", []
    return (" AND group_id IN (SELECT x.group_id FROM matches x JOIN transactions t ON t.txn_id = x.txn_id"
            f" WHERE TRUE{where})"), params


def groups(ws: Workspace, *, status: str | None = None, limit: int = 100, offset: int = 0,
           filters: Filters = NO_FILTERS) -> pl.DataFrame:
    """One row per link of each group (newest groups first), with both sides' key facts.

    `filters` keep the groups that link at least one deposit passing them."""
    _page(limit, offset)
    if status is not None and status not in GROUP_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(GROUP_STATUSES)}")
    where, extra = _groups_with_deposits(filters)
    with ws.connect() as con:
        return con.sql(
            f"""
            WITH page AS (
                SELECT group_id, created_at FROM match_groups WHERE (? IS NULL OR status = ?){where}
                ORDER BY created_at DESC, group_id LIMIT ? OFFSET ?
            )
            SELECT g.group_id, g.kind, g.rule, g.rule_version, g.confidence, g.status, g.pinned, g.created_by,
                   x.txn_id, t.booked_on, t.amount AS txn_amount, t.currency, t.description,
                   t.reference AS txn_reference,
                   t.counterparty, x.payment_id, p.amount AS payment_amount, p.reference AS payment_reference,
                   p.payer, p.due_on, x.amount AS linked_amount, x.fee, g.evidence
            FROM page JOIN match_groups g USING (group_id) JOIN matches x USING (group_id)
            LEFT JOIN transactions t ON t.txn_id = x.txn_id LEFT JOIN payments p ON p.payment_id = x.payment_id
            ORDER BY page.created_at DESC, g.group_id, x.txn_id, x.payment_id
            """,
            params=[status, status, *extra, limit, offset],
        ).pl()


def suggestions(ws: Workspace, *, limit: int = 100, offset: int = 0, min_confidence: float | None = None,
                filters: Filters = NO_FILTERS) -> pl.DataFrame:
    """Suggestions waiting for a person (at least `min_confidence`, and linking a deposit that passes `filters`,
    when given), best first."""
    _page(limit, offset)
    where, extra = _groups_with_deposits(filters)
    with ws.connect() as con:
        return con.sql(
            f"""
            WITH page AS (
                SELECT group_id FROM match_groups WHERE status = 'suggested'
                  AND (CAST(? AS DOUBLE) IS NULL OR confidence >= ?){where}
                ORDER BY confidence DESC, group_id LIMIT ? OFFSET ?
            )
            SELECT g.group_id, g.kind, g.rule, g.confidence, x.txn_id, t.booked_on, t.amount AS txn_amount,
                   t.currency, t.description, t.reference AS txn_reference, t.counterparty, x.payment_id,
                   p.amount AS payment_amount, p.reference AS payment_reference, p.payer, p.due_on, x.fee,
                   g.evidence
            FROM page JOIN match_groups g USING (group_id) JOIN matches x USING (group_id)
            LEFT JOIN transactions t ON t.txn_id = x.txn_id LEFT JOIN payments p ON p.payment_id = x.payment_id
            ORDER BY g.confidence DESC, g.group_id, x.txn_id
            """,
            params=[min_confidence, min_confidence, *extra, limit, offset],
        ).pl()


def open_items(ws: Workspace, side: str = "transactions", *, limit: int = 100, offset: int = 0,
               filters: Filters = NO_FILTERS, pending: bool | None = None) -> pl.DataFrame:
    """Deposits no live match explains (`side="transactions"`), or payments still open or partly paid.

    Deposits carry their bank `status`; `pending=False` keeps the booked ones (the unmatched), `pending=True`
    the lines still pending at the bank, None both.
    """
    _page(limit, offset)
    with ws.connect() as con:
        if side == "transactions":
            where, params = filters.sql("t", "booked_on", _TXN_TEXT, account=True)
            if pending is not None:
                where += f" AND t.status {'=' if pending else '<>'} 'pending'"
            return con.sql(
                f"""
                SELECT t.txn_id, t.account_id, t.booked_on, t.amount, t.currency, t.description, t.reference,
                       t.counterparty, t.status
                FROM transactions t
                WHERE t.amount > 0 AND {visible("t")} AND t.txn_id NOT IN (
                    SELECT x.txn_id FROM matches x JOIN match_groups g USING (group_id) WHERE g.status = '{LIVE}')
                  {where}
                ORDER BY t.booked_on DESC, t.txn_id LIMIT ? OFFSET ?
                """,
                params=[*params, limit, offset],
            ).pl()
        if side == "payments":
            where, params = filters.sql("p", "due_on", ("payment_id", "reference", "payer"), account=False)
            return con.sql(
                f"""
                SELECT p.payment_id, p.amount, p.amount - coalesce(m.paid, 0) AS open_amount, p.currency,
                       p.issued_on, p.due_on, p.reference, p.payer, p.status
                FROM payments p LEFT JOIN ({PAID_SQL}) m USING (payment_id)
                WHERE p.status IN ('open', 'partially_paid') AND {payment_visible("p")} {where}
                ORDER BY p.due_on NULLS LAST, p.payment_id LIMIT ? OFFSET ?
                """,
                params=[*params, limit, offset],
            ).pl()
    raise InvalidInput("side must be 'transactions' or 'payments'")
