"""Balances a source states for an account, kept for the balance proof: a statement's opening and closing
balance, or the balance an open-banking API or aggregator reports when reconwb fetches.

A statement's closing balance is the bank's word on what the account held at the end of the period; the
reconciliation dashboard compares it with the opening balance plus the booked lines reconwb holds for that period
(`reports._balance_proof`), so a line lost or doubled by any source shows as a difference in money.

An API states a balance without an opening one. Its opening is the balance stated for the account on an
earlier day (by the API or a statement), and its period the days after that one: the proof then says whether
the booked lines reconwb holds for those days explain how the balance moved. The first balance an account ever
states has nothing before it: it is shown, and proven from the next day's on.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from reconwb.connectors.base import StatedBalance
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


def record_stated(con: duckdb.DuckDBPyConnection, account_id: int, stated: StatedBalance, *, source: str) -> None:
    """Keep a balance a source stated for `account_id` on `stated.on`, opening from the balance stated for the
    account on the latest earlier day (none: the first one, shown without a proof)."""
    before = con.execute(
        "SELECT closing, closing_on FROM account_balances WHERE account_id = ? AND closing_on < ?"
        " ORDER BY closing_on DESC, recorded_at DESC LIMIT 1",
        [account_id, stated.on],
    ).fetchone()
    opening, period_from = (before[0], before[1] + dt.timedelta(days=1)) if before else (None, stated.on)
    con.execute(
        "INSERT INTO account_balances (account_id, currency, opening, period_from, closing, closing_on, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [account_id, stated.currency, opening, period_from, stated.amount, stated.on, source],
    )
