"""Read-only views for people: suggestions to review, open items, match groups. Paged polars frames.

The analyst widgets and the CLI list commands call these; none of them writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from reconwb.errors import InvalidInput
from reconwb.matching.records import LIVE
from reconwb.payments import PAID_SQL

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

GROUP_STATUSES = ("matched", "suggested", "rejected", "removed")


def _page(limit: int, offset: int) -> None:
    if limit < 1 or offset < 0:
        raise InvalidInput("limit must be positive and offset not negative")


def groups(ws: Workspace, *, status: str | None = None, limit: int = 100, offset: int = 0) -> pl.DataFrame:
    """One row per link of each group (newest groups first), with both sides' key facts."""
    _page(limit, offset)
    if status is not None and status not in GROUP_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(GROUP_STATUSES)}")
    with ws.connect() as con:
        return con.sql(
            """
            WITH page AS (
                SELECT group_id, created_at FROM match_groups WHERE ? IS NULL OR status = ?
                ORDER BY created_at DESC, group_id LIMIT ? OFFSET ?
            )
            SELECT g.group_id, g.kind, g.rule, g.rule_version, g.confidence, g.status, g.pinned, g.created_by,
                   x.txn_id, t.booked_on, t.amount AS txn_amount, t.currency, t.description,
                   t.reference AS txn_reference,
                   t.counterparty, x.payment_id, p.amount AS payment_amount, p.reference AS payment_reference,
                   p.payer, p.due_on, x.amount AS linked_amount, g.evidence
            FROM page JOIN match_groups g USING (group_id) JOIN matches x USING (group_id)
            LEFT JOIN transactions t ON t.txn_id = x.txn_id LEFT JOIN payments p ON p.payment_id = x.payment_id
            ORDER BY page.created_at DESC, g.group_id, x.txn_id, x.payment_id
            """,
            params=[status, status, limit, offset],
        ).pl()


def suggestions(ws: Workspace, *, limit: int = 100, offset: int = 0) -> pl.DataFrame:
    """Suggestions waiting for a person, best first."""
    _page(limit, offset)
    with ws.connect() as con:
        return con.sql(
            """
            WITH page AS (
                SELECT group_id FROM match_groups WHERE status = 'suggested'
                ORDER BY confidence DESC, group_id LIMIT ? OFFSET ?
            )
            SELECT g.group_id, g.kind, g.rule, g.confidence, x.txn_id, t.booked_on, t.amount AS txn_amount,
                   t.currency, t.description, t.reference AS txn_reference, t.counterparty, x.payment_id,
                   p.amount AS payment_amount, p.reference AS payment_reference, p.payer, p.due_on, g.evidence
            FROM page JOIN match_groups g USING (group_id) JOIN matches x USING (group_id)
            LEFT JOIN transactions t ON t.txn_id = x.txn_id LEFT JOIN payments p ON p.payment_id = x.payment_id
            ORDER BY g.confidence DESC, g.group_id, x.txn_id
            """,
            params=[limit, offset],
        ).pl()


def open_items(ws: Workspace, side: str = "transactions", *, limit: int = 100, offset: int = 0) -> pl.DataFrame:
    """Deposits no live match explains (`side="transactions"`), or payments still open or partly paid."""
    _page(limit, offset)
    with ws.connect() as con:
        if side == "transactions":
            return con.sql(
                f"""
                SELECT t.txn_id, t.account_id, t.booked_on, t.amount, t.currency, t.description, t.reference,
                       t.counterparty
                FROM transactions t
                WHERE t.amount > 0 AND t.txn_id NOT IN (
                    SELECT x.txn_id FROM matches x JOIN match_groups g USING (group_id) WHERE g.status = '{LIVE}')
                ORDER BY t.booked_on DESC, t.txn_id LIMIT ? OFFSET ?
                """,
                params=[limit, offset],
            ).pl()
        if side == "payments":
            return con.sql(
                f"""
                SELECT p.payment_id, p.amount, p.amount - coalesce(m.paid, 0) AS open_amount, p.currency,
                       p.issued_on, p.due_on, p.reference, p.payer, p.status
                FROM payments p LEFT JOIN ({PAID_SQL}) m USING (payment_id)
                WHERE p.status IN ('open', 'partially_paid')
                ORDER BY p.due_on NULLS LAST, p.payment_id LIMIT ? OFFSET ?
                """,
                params=[limit, offset],
            ).pl()
    raise InvalidInput("side must be 'transactions' or 'payments'")
