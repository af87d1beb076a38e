"""The numbers managers and analysts look at: totals, trends, ageing. Computed in DuckDB, returned as polars.

A deposit is a transaction with a positive amount. It is `matched` when a live (status `matched`) group links
it, `pending` while the bank has not booked it (pending at the bank: not unexplained money, and not matched
automatically until booked), `suggested` when only a suggestion does, else `unmatched`. A payment's status
(`open`, `partially_paid`, `paid`, `cancelled`) is kept by the matching engine. Dashboards, widgets and the
demo summary read the same functions, so they never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from reconwb.payments import visible as payment_visible
from reconwb.store.db import frame
from reconwb.transactions import visible
from reconwb.workspace import Workspace

_DEPOSIT_STATE = f"""
    SELECT t.txn_id, t.account_id, t.booked_on, t.amount, t.currency,
           CASE WHEN t.txn_id IN (SELECT x.txn_id FROM matches x JOIN match_groups g USING (group_id)
                                  WHERE g.status = 'matched') THEN 'matched'
                WHEN t.status = 'pending' THEN 'pending'
                WHEN t.txn_id IN (SELECT x.txn_id FROM matches x JOIN match_groups g USING (group_id)
                                  WHERE g.status = 'suggested') THEN 'suggested'
                ELSE 'unmatched' END AS state
    FROM transactions t
    WHERE t.amount > 0 AND {visible("t")}
"""  # semi-joins, not a GROUP BY per deposit: 0.16-0.3 s instead of 0.5 s on 1M deposits


# An account as people know it: its name (with the last four characters of its IBAN or reference, as banks print
# them, since two accounts are often both called "Current account"), else its IBAN, else the bank's reference.
# Aggregators' references are UUIDs: those are shortened to their last four characters too.
ACCOUNT_NAME_SQL = """CASE
    WHEN nullif(trim(a.name), '') IS NOT NULL
        THEN trim(a.name) || ' ··' || right(replace(coalesce(a.iban, a.external_ref), '-', ''), 4)
    WHEN a.iban IS NOT NULL THEN a.iban
    WHEN regexp_full_match(a.external_ref, '[0-9a-fA-F-]{32,36}') THEN 'account ··' || right(a.external_ref, 4)
    ELSE a.external_ref END"""


def _frame(ws: Workspace, sql: str, params: list[object] | None = None) -> pl.DataFrame:
    with ws.connect() as con:
        return frame(con, sql, params)


def _with_deposit_state(con: duckdb.DuckDBPyConnection) -> None:
    """Every deposit's state, once per connection: the dashboard's queries all read it (1M rows: the slow part)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE deposit_state AS {_DEPOSIT_STATE}")


def _deposit_totals(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Summed per account first, named after: the account's name is worked out per account, not per deposit
    (1M deposits: 0.06 s instead of 0.17 s)."""
    return frame(
        con,
        f"""
        WITH per_account AS (
            SELECT account_id, currency,
                   count(*) FILTER (WHERE state = 'matched') AS matched,
                   coalesce(sum(amount) FILTER (WHERE state = 'matched'), 0) AS matched_amount,
                   count(*) FILTER (WHERE state = 'suggested') AS suggested,
                   coalesce(sum(amount) FILTER (WHERE state = 'suggested'), 0) AS suggested_amount,
                   count(*) FILTER (WHERE state = 'unmatched') AS unmatched,
                   coalesce(sum(amount) FILTER (WHERE state = 'unmatched'), 0) AS unmatched_amount,
                   count(*) FILTER (WHERE state = 'pending') AS pending,
                   coalesce(sum(amount) FILTER (WHERE state = 'pending'), 0) AS pending_amount
            FROM deposit_state GROUP BY account_id, currency
        )
        SELECT coalesce(c.name, '?') AS connection, a.external_ref AS account, d.currency,
               any_value(d.account_id) AS account_id, any_value({ACCOUNT_NAME_SQL}) AS account_name,
               sum(matched)::BIGINT AS matched, sum(matched_amount) AS matched_amount,
               sum(suggested)::BIGINT AS suggested, sum(suggested_amount) AS suggested_amount,
               sum(unmatched)::BIGINT AS unmatched, sum(unmatched_amount) AS unmatched_amount,
               sum(pending)::BIGINT AS pending, sum(pending_amount) AS pending_amount
        FROM per_account d JOIN accounts a USING (account_id) LEFT JOIN connections c USING (connection_id)
        GROUP BY ALL ORDER BY connection, account, currency
        """,
    )


def _payment_totals(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per currency and status: how many payments, their amount, the fees settled on them (not received) and the
    FX differences deposits in other currencies left. Only links with a fee or an FX difference are summed per
    payment (the sums are the same; most links have neither: 1M store without fees, 0.2 s to 0.02 s)."""
    from reconwb.payments import STATUSES

    return frame(
        con,
        f"""
        SELECT p.currency, p.status, count(*) AS payments, sum(p.amount) AS amount,
               coalesce(sum(f.fees), 0) AS fees, coalesce(sum(f.fx), 0) AS fx_differences
        FROM payments p LEFT JOIN (
            SELECT x.payment_id, sum(x.fee) AS fees, sum(coalesce(x.fx_difference, 0)) AS fx
            FROM matches x JOIN match_groups g USING (group_id)
            WHERE g.status = 'matched' AND (x.fee <> 0 OR coalesce(x.fx_difference, 0) <> 0) GROUP BY x.payment_id
        ) f USING (payment_id)
        WHERE p.status IN {STATUSES!r} AND {payment_visible("p")}  -- not a file still being imported
        GROUP BY ALL ORDER BY p.currency, p.status
        """,
    )


def _headline(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    deposits = dict(con.execute("SELECT state, count(*) FROM deposit_state GROUP BY state").fetchall())
    payments = dict(con.execute(f"SELECT status, count(*) FROM payments p WHERE {payment_visible('p')}"
                                " GROUP BY status").fetchall())
    return {
        "deposits_matched": int(deposits.get("matched", 0)),
        "deposits_suggested": int(deposits.get("suggested", 0)),
        "deposits_unmatched": int(deposits.get("unmatched", 0)),
        "deposits_pending": int(deposits.get("pending", 0)),
        "payments_paid": int(payments.get("paid", 0)),
        "payments_partially_paid": int(payments.get("partially_paid", 0)),
        "payments_open": int(payments.get("open", 0)),
    }


def _money_headline(con: duckdb.DuckDBPyConnection, today: dt.date | None) -> pl.DataFrame:
    """Per currency, in money: booked deposits and how much of them is reconciled, waiting for review and
    unmatched (with the oldest unmatched booking day and its age), pending at the bank, and the invoices still
    open with the amount still owed on them. Exact sums (DECIMAL), counts beside them."""
    from reconwb.payments import paid_sql

    # what is paid of the invoices still open, summed over their own links only (not every payment's)
    open_links = ("(SELECT x.* FROM matches x WHERE x.payment_id IN"
                  " (SELECT payment_id FROM payments WHERE status IN ('open', 'partially_paid')))")
    today = today or dt.date.today()
    return frame(
        con,
        f"""
        WITH deposits AS (
            SELECT currency,
                   count(*) FILTER (WHERE state <> 'pending') AS deposits,
                   coalesce(sum(amount) FILTER (WHERE state <> 'pending'), 0) AS deposits_amount,
                   count(*) FILTER (WHERE state = 'matched') AS reconciled,
                   coalesce(sum(amount) FILTER (WHERE state = 'matched'), 0) AS reconciled_amount,
                   count(*) FILTER (WHERE state = 'suggested') AS review,
                   coalesce(sum(amount) FILTER (WHERE state = 'suggested'), 0) AS review_amount,
                   count(*) FILTER (WHERE state IN ('suggested', 'unmatched')) AS unmatched,
                   coalesce(sum(amount) FILTER (WHERE state IN ('suggested', 'unmatched')), 0) AS unmatched_amount,
                   min(booked_on) FILTER (WHERE state IN ('suggested', 'unmatched')) AS oldest_unmatched,
                   count(*) FILTER (WHERE state = 'pending') AS pending,
                   coalesce(sum(amount) FILTER (WHERE state = 'pending'), 0) AS pending_amount
            FROM deposit_state GROUP BY currency
        ), invoices AS (
            SELECT p.currency, count(*) AS open_invoices, sum(p.amount - coalesce(m.paid, 0)) AS open_amount
            FROM payments p LEFT JOIN ({paid_sql(open_links)}) m USING (payment_id)
            WHERE p.status IN ('open', 'partially_paid') AND {payment_visible("p")} GROUP BY p.currency
        )
        SELECT currency, coalesce(deposits, 0) AS deposits, coalesce(deposits_amount, 0) AS deposits_amount,
               coalesce(reconciled, 0) AS reconciled, coalesce(reconciled_amount, 0) AS reconciled_amount,
               coalesce(review, 0) AS review, coalesce(review_amount, 0) AS review_amount,
               coalesce(unmatched, 0) AS unmatched, coalesce(unmatched_amount, 0) AS unmatched_amount,
               oldest_unmatched, ?::DATE - oldest_unmatched AS oldest_unmatched_days,
               coalesce(pending, 0) AS pending, coalesce(pending_amount, 0) AS pending_amount,
               coalesce(open_invoices, 0) AS open_invoices, coalesce(open_amount, 0) AS open_amount
        FROM deposits FULL JOIN invoices USING (currency)
        ORDER BY coalesce(deposits_amount, 0) + coalesce(open_amount, 0) DESC, currency
        """,
        [today],
    )


def _balance_proof(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per account, the newest closing balance a statement stated, and what reconwb holds for the same period:
    the statement's opening balance plus every booked line reconwb holds for the account from the statement's
    first day to its closing day (whichever source brought it). A difference means a line is missing or extra."""
    return frame(
        con,
        """
        WITH latest AS (
            SELECT * FROM account_balances
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY closing_on DESC, recorded_at DESC) = 1
        )
        SELECT account_id, currency, closing_on, closing, opening, held, closing - held AS difference
        FROM (SELECT b.*, b.opening + coalesce((SELECT sum(t.amount) FROM transactions t
                                                WHERE t.account_id = b.account_id AND t.status = 'booked'
                                                  AND t.booked_on BETWEEN b.period_from AND b.closing_on), 0) AS held
              FROM latest b WHERE b.opening IS NOT NULL)
        UNION ALL
        SELECT b.account_id, b.currency, b.closing_on, b.closing, NULL, NULL, NULL
        FROM latest b WHERE b.opening IS NULL
        ORDER BY account_id
        """,
    )


def _trend(con: duckdb.DuckDBPyConnection, every: str, since: dt.date | None) -> pl.DataFrame:
    if every not in ("day", "week", "month"):
        raise ValueError(f"every must be day, week or month, not {every!r}")
    return frame(
        con,
        f"""
        SELECT date_trunc('{every}', booked_on)::DATE AS period, state, currency, count(*) AS deposits,
               sum(amount) AS amount
        FROM deposit_state WHERE ? IS NULL OR booked_on >= ?
        GROUP BY ALL ORDER BY period, state, currency
        """,
        [since, since],
    )


AGE_BUCKETS = ("not due", "0-30 days", "31-60 days", "61-90 days", "over 90 days")


def _ageing(con: duckdb.DuckDBPyConnection, today: dt.date | None) -> pl.DataFrame:
    today = today or dt.date.today()
    bucket = """CASE WHEN age < 0 THEN 'not due' WHEN age <= 30 THEN '0-30 days' WHEN age <= 60 THEN '31-60 days'
                     WHEN age <= 90 THEN '61-90 days' ELSE 'over 90 days' END"""
    return frame(
        con,
        f"""
        WITH items AS (
            SELECT 'payment' AS item, currency, amount, ?::DATE - coalesce(due_on, issued_on) AS age
            FROM payments p WHERE status IN ('open', 'partially_paid') AND {payment_visible("p")}
            UNION ALL
            SELECT 'deposit', currency, amount, ?::DATE - booked_on FROM deposit_state
            WHERE state NOT IN ('matched', 'pending')
        )
        SELECT item, {bucket} AS bucket, currency, count(*) AS items, sum(amount) AS amount
        FROM items GROUP BY ALL ORDER BY item, bucket, currency
        """,
        [today, today],
    )


def deposit_totals(ws: Workspace) -> pl.DataFrame:
    """Per account and currency: count and sum of deposits that are matched, suggested, unmatched, pending."""
    with ws.connect() as con:
        _with_deposit_state(con)
        return _deposit_totals(con)


def payment_totals(ws: Workspace) -> pl.DataFrame:
    """Per currency and status: how many expected payments, and how much."""
    with ws.connect() as con:
        return _payment_totals(con)


def headline(ws: Workspace) -> dict[str, int]:
    """The few numbers for the top of a dashboard and the demo summary."""
    with ws.connect() as con:
        _with_deposit_state(con)
        return _headline(con)


def trend(ws: Workspace, *, every: str = "week", since: dt.date | None = None) -> pl.DataFrame:
    """Deposits per period (day, week or month), state and currency, counted and summed: the "reconciled vs
    unmatched over time" plot."""
    with ws.connect() as con:
        _with_deposit_state(con)
        return _trend(con, every, since)


def ageing(ws: Workspace, *, today: dt.date | None = None) -> pl.DataFrame:
    """Open items by age: payments by days past due, unmatched deposits by days since booking (pending lines
    are the bank's to book, not open items)."""
    with ws.connect() as con:
        _with_deposit_state(con)
        return _ageing(con, today)


@dataclass(frozen=True)
class Overview:
    """Everything the totals panel shows, from one pass over the deposits."""

    headline: dict[str, int]
    money: pl.DataFrame  # `_money_headline`: per currency, in money
    balances: pl.DataFrame  # `_balance_proof`: per account with a stated closing balance
    deposit_totals: pl.DataFrame
    payment_totals: pl.DataFrame
    trend: pl.DataFrame
    ageing: pl.DataFrame


def overview(ws: Workspace, *, every: str = "week", today: dt.date | None = None) -> Overview:
    """`headline`, `deposit_totals`, `payment_totals`, `trend` and `ageing` at once: the deposit state is
    computed once instead of four times (what makes a 1M-transaction dashboard render quickly)."""
    with ws.connect() as con:
        _with_deposit_state(con)
        return Overview(_headline(con), _money_headline(con, today), _balance_proof(con), _deposit_totals(con),
                        _payment_totals(con), _trend(con, every, None),
                        _ageing(con, today))


def job_runs(ws: Workspace, *, limit: int = 10) -> pl.DataFrame:
    """The newest job runs, for the dashboard's "latest job runs" panel (errors are stored redacted)."""
    return _frame(
        ws,
        """
        SELECT run_id, job, status, trigger, attempt, started_at,
               round(epoch(coalesce(finished_at, now()) - started_at), 1) AS seconds, error
        FROM job_runs ORDER BY started_at DESC, run_id LIMIT ?
        """,
        [limit],
    )


def job_summary(ws: Workspace, *, hours: int = 24) -> pl.DataFrame:
    """Per job: the last run's status and time, and how many runs succeeded, failed or were partial (some
    connections failing) in the last `hours`."""
    return _frame(
        ws,
        """
        SELECT job, arg_max(status, started_at) AS last_status, max(started_at) AS last_started,
               count(*) FILTER (WHERE status = 'succeeded' AND started_at >= now() - to_hours(?)) AS succeeded,
               count(*) FILTER (WHERE status = 'failed' AND started_at >= now() - to_hours(?)) AS failed,
               count(*) FILTER (WHERE status = 'running') AS running,
               count(*) FILTER (WHERE status = 'partial' AND started_at >= now() - to_hours(?)) AS partial
        FROM job_runs GROUP BY job ORDER BY job
        """,
        [hours, hours, hours],
    )


def delivery_health(ws: Workspace, *, hours: int = 24, backlog_minutes: int = 15) -> pl.DataFrame:
    """Per webhook endpoint: a health word, the queue (pending, delivered, dead), and the last `hours` of tries.

    `health` is `disabled` (the endpoint is off), `failing` (dead messages, or the last try failed), `backlog`
    (a message has waited longer than `backlog_minutes`), else `healthy`. The URL is shown without user info or
    query string: endpoint URLs may carry tokens.
    """
    return _frame(
        ws,
        """
        WITH queue AS (
            SELECT endpoint_id,
                   count(*) FILTER (WHERE status = 'pending') AS pending,
                   count(*) FILTER (WHERE status = 'delivered') AS delivered,
                   count(*) FILTER (WHERE status = 'dead') AS dead,
                   min(created_at) FILTER (WHERE status = 'pending') AS oldest_pending
            FROM webhook_deliveries GROUP BY endpoint_id
        ), tries AS (
            SELECT endpoint_id, count(*) AS attempts,
                   count(*) FILTER (WHERE outcome = 'delivered') AS succeeded,
                   round(quantile_cont(latency_ms, 0.95), 1) AS p95_ms,
                   arg_max(outcome, attempt_id) AS last_outcome, max(attempted_at) AS last_attempt
            FROM webhook_attempts WHERE attempted_at >= now() - to_hours(?) GROUP BY endpoint_id
        )
        SELECT e.endpoint_id,
               regexp_replace(split_part(e.url, '?', 1), '//[^/@]*@', '//') AS url,
               CASE WHEN NOT e.enabled THEN 'disabled'
                    WHEN coalesce(q.dead, 0) > 0 OR t.last_outcome NOT IN ('delivered') THEN 'failing'
                    WHEN q.oldest_pending < now() - to_minutes(?) THEN 'backlog'
                    ELSE 'healthy' END AS health,
               coalesce(q.pending, 0) AS pending, coalesce(q.delivered, 0) AS delivered, coalesce(q.dead, 0) AS dead,
               q.oldest_pending, coalesce(t.attempts, 0) AS attempts, coalesce(t.succeeded, 0) AS succeeded,
               t.p95_ms, t.last_outcome, t.last_attempt, e.disabled_reason
        FROM webhook_endpoints e LEFT JOIN queue q USING (endpoint_id) LEFT JOIN tries t USING (endpoint_id)
        ORDER BY e.endpoint_id
        """,
        [hours, backlog_minutes],
    )
