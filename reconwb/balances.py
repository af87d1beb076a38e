"""Balances a source states for an account (a statement's opening and closing balance), kept for the balance proof.

A statement's closing balance is the bank's word on what the account held at the end of the period; the
reconciliation dashboard compares it with the opening balance plus the booked lines reconwb holds for that period
(`reports._balance_proof`), so a line lost or doubled by any source shows as a difference in money.
"""

from __future__ import annotations

import duckdb

from reconwb.statements.model import Statement


def record(con: duckdb.DuckDBPyConnection, account_id: int, st: Statement, *, source: str) -> bool:
    """Keep the statement's closing balance (and its opening one, when stated) for `account_id`; False when the
    statement states no dated closing balance (nothing to prove against)."""
    if st.closing is None:
        return False
    days = st.booked_days()
    closing_on = st.closing.on or (days[1] if days else None)
    if closing_on is None:
        return False
    opening = st.opening.amount if st.opening is not None else None
    period_from = days[0] if days else ((st.opening.on if st.opening else None) or closing_on)
    con.execute(
        "INSERT INTO account_balances (account_id, currency, opening, period_from, closing, closing_on, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [account_id, st.currency, opening, period_from, st.closing.amount, closing_on, source],
    )
    return True
