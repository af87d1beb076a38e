"""Each connection's last attempt, and what a person is shown because of it.

A fetch that fails for a passing reason (the bank was down, a timeout) leaves the connection's health `ok`,
and the runs after it skip the connection until its next attempt. Health alone would then show a plainly
healthy connection while nothing arrives. The rule, in one place for the CLI, both dashboards and the jobs:
a connection whose last attempt failed is `retrying` (with that attempt's reason) while its health is still
`ok` or `refreshing`; any other health already says what is wrong. It stays so until an attempt succeeds (or
new credentials replace the ones that failed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from reconwb.connections import Connection

RETRYING = "retrying"
FAILED = "failed"
# healths that by themselves look fine, and so must not hide a failed last attempt
_LOOKS_FINE = ("ok", "refreshing")


@dataclass(frozen=True)
class Attempt:
    """The newest sync run of a connection: when it started, its outcome (ok, failed, pending, running) and why."""

    at: dt.datetime
    outcome: str
    reason: str | None
    failure: str | None = None  # the failure class, e.g. BankUnavailable

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "outcome": self.outcome, "reason": self.reason, "failure": self.failure}


@dataclass(frozen=True)
class Display:
    """What a person is shown for a connection: a state word (a health, or `retrying`) and its reason."""

    state: str
    reason: str | None
    last_attempt: Attempt | None
    next_attempt_at: dt.datetime | None

    @property
    def healthy(self) -> bool:
        return self.state == "ok"

    def fields(self) -> dict[str, Any]:
        """The keys `connections list --json` adds to each connection."""
        last = self.last_attempt
        return {
            "state": self.state,
            "state_reason": self.reason,
            "last_attempt": last.as_dict() if last else None,
            "last_attempt_outcome": last.outcome if last else None,
            "last_attempt_reason": last.reason if last else None,
            "next_attempt_at": self.next_attempt_at,
        }


def last_attempts(con: duckdb.DuckDBPyConnection) -> dict[int, Attempt]:
    """Every connection's newest sync run, by connection id."""
    rows = con.execute(
        "SELECT connection_id, started_at, status, message, outcome FROM sync_runs"
        " QUALIFY row_number() OVER (PARTITION BY connection_id ORDER BY started_at DESC, run_id DESC) = 1"
    ).fetchall()
    return {int(cid): Attempt(at, status, message, outcome) for cid, at, status, message, outcome in rows}


def display(conn: Connection, last: Attempt | None) -> Display:
    """`retrying` when the last attempt failed and the health looks fine; else the health and its reason.

    A failure from before the credentials were last changed does not count: new credentials are the way on
    after a rejection, and `refreshing` already says their first fetch is due."""
    if _failed(conn, last) and conn.health in _LOOKS_FINE:
        return Display(RETRYING, _reason(last), last, conn.next_attempt_at)
    return Display(conn.health, conn.health_reason, last, conn.next_attempt_at)


def _failed(conn: Connection, last: Attempt | None) -> bool:
    """The last attempt failed, with the credentials the connection has now."""
    if last is None or last.outcome != FAILED:
        return False
    return conn.credentials_set_at is None or last.at >= conn.credentials_set_at


def _reason(last: Attempt) -> str:
    return last.reason or last.failure or "the last fetch failed"


def displays(con: duckdb.DuckDBPyConnection, conns: list[Connection]) -> dict[str, Display]:
    """`display` for several connections with one read of the runs, by connection name."""
    last = last_attempts(con)
    return {c.name: display(c, last.get(c.connection_id)) for c in conns}


def failing(con: duckdb.DuckDBPyConnection, names: list[str] | None = None) -> dict[str, str]:
    """Bank connections (all, or `names`) whose last attempt failed, with its reason: what a job run must name
    whether it tried them and failed, or skipped them because of that failure."""
    from reconwb import connections

    conns = [c for c in connections.list_connections(con, include_removed=False) if c.needs_credentials
             and (names is None or c.name in names)]
    last = last_attempts(con)
    return {c.name: _reason(last[c.connection_id]) for c in conns if _failed(c, last.get(c.connection_id))}
