"""The fetch guard: one login at a time per connection, written down before it happens.

reconwb promises never to lock a real bank login. Every way into a bank (`reconwb sync`, a widget's Run now, a
job, a Dask worker, the aggregator's reconnect step, the verifying fetch after new credentials) goes through
`reconwb.sync`, whose opening transaction calls `admit` and `begin` here and whose closing transaction calls
`settle`. This module is the only place that decides whether a login may happen:

- Write-ahead: `begin` records the attempt, with its credentials version, and counts it as a failed login
  *before* the bank round trip; `settle` gives the count back once the answer is recorded (a rejection then
  counts for itself). An attempt whose answer never reached the store (kill -9, a crash, a store that stayed
  busy) therefore stays counted until a later fetch proves the credentials good.
- One at a time: the connection row names the attempt under way (`running_run_id`), which is the connection's
  lease; a second fetch is refused with "already running (run N, since HH:MM)". An attempt whose process is
  gone (same host: its pid and start time; another host: its lease expiry) is closed as abandoned.
- A budget per credentials version: the failed logins recorded for the current credentials never reach the
  bank's threshold (`Connector.lockout_after`, default 3) nor the workspace's stricter `lockout_budget`.
- No retry of rejected credentials: once the bank rejected them (a fatal failure of the taxonomy), neither a
  schedule nor Run now logs in with them again; new credentials are the way on. A person may retry them
  deliberately (`retry_same_credentials`) while one more failure cannot reach the threshold.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, TypeVar

import duckdb

from reconwb import lifecycle
from reconwb.connectors import errors as taxonomy
from reconwb.errors import Conflict
from reconwb.store.db import StoreLocked, in_transaction

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")
RECORD_RETRY_LOG_EVERY = 60.0  # seconds between "still waiting to record" warnings while the store is busy

# how long another host waits before it calls a running attempt abandoned (on this host the pid tells at once);
# longer than any fetch, an assisted login's wait for its code included
LEASE_TTL = dt.timedelta(minutes=30)

# why a fetch was refused (`Admission.kind`, `SyncResult.skip_kind`)
RUNNING = "running"  # another fetch of the connection is under way
REJECTED = "credentials"  # the bank rejected these credentials: update them
BUDGET = "budget"  # one more failed login could lock the bank login
HEALTH = "health"  # the health state or its backoff says not now


class Refused(Conflict):
    """A login reconwb will not make now; the message says why and what to do."""


class OutcomeUnknown(taxonomy.ConnectorError):
    """A fetch ended without its outcome reaching the store; its login stays counted as failed."""

    health = "broken"
    retry = taxonomy.BACKOFF


@dataclass(frozen=True)
class Admission:
    allowed: bool
    reason: str = ""
    kind: str = ""
    run_id: int | None = None  # with RUNNING: the attempt under way


@cache
def _this_host() -> str:
    return socket.gethostname()


def _process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when it is gone or a zombie."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _holder() -> tuple[str, int, float | None]:
    return _this_host(), os.getpid(), _process_start(os.getpid())


def _abandoned(host: str | None, pid: int | None, started: float | None, expires: dt.datetime | None) -> bool:
    if host == _this_host() and pid is not None:
        alive_since = _process_start(pid)
        return alive_since is None or (started is not None and abs(alive_since - started) > 1.0)
    return expires is None or expires < dt.datetime.now(dt.UTC)


def recover_abandoned(con: duckdb.DuckDBPyConnection, connection_id: int | None = None) -> list[int]:
    """Close the attempts whose process is gone: their login stays counted, the connection leaves `refreshing`.

    Returns the run ids closed. Call inside a transaction.
    """
    rows = con.execute(
        "SELECT c.connection_id, r.run_id, r.holder_host, r.holder_pid, r.holder_started, r.lease_expires_at"
        " FROM connections c JOIN sync_runs r ON r.run_id = c.running_run_id"
        " WHERE c.running_run_id IS NOT NULL AND (? IS NULL OR c.connection_id = ?)",
        [connection_id, connection_id],
    ).fetchall()
    closed = []
    for conn_id, run_id, host, pid, started, expires in rows:
        if not _abandoned(host, pid, started, expires):
            continue
        failure = OutcomeUnknown(
            f"run {run_id} ended without recording what the bank answered; its login counts as failed"
            " until a fetch succeeds"
        )
        con.execute(
            "UPDATE sync_runs SET status = 'failed', finished_at = now(), outcome = ?, message = ?"
            " WHERE run_id = ? AND status = 'running'",
            [type(failure).__name__, str(failure), run_id],
        )
        con.execute(
            "UPDATE connections SET running_run_id = NULL WHERE connection_id = ? AND running_run_id = ?",
            [conn_id, run_id],
        )
        lifecycle.record_failure(con, conn_id, failure)
        closed.append(run_id)
    return closed


def running(con: duckdb.DuckDBPyConnection, connection_id: int) -> tuple[int, dt.datetime] | None:
    """The attempt under way for the connection: (run id, started at), or None."""
    row = con.execute(
        "SELECT r.run_id, r.started_at FROM connections c JOIN sync_runs r ON r.run_id = c.running_run_id"
        " WHERE c.connection_id = ?",
        [connection_id],
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


def admit(
    con: duckdb.DuckDBPyConnection,
    connection_id: int,
    *,
    bank_threshold: int | None = None,
    now: bool = False,
    retry_same_credentials: bool = False,
) -> Admission:
    """Whether a login may start now. `now`: a person's Run now; `retry_same_credentials`: a person's
    deliberate retry of credentials the bank rejected. Call inside the transaction that then calls `begin`."""
    recover_abandoned(con, connection_id)
    name, rejected = con.execute(
        "SELECT name, credentials_rejected FROM connections WHERE connection_id = ?", [connection_id]
    ).fetchone()
    under_way = running(con, connection_id)
    if under_way is not None:
        run_id, since = under_way
        return Admission(False, f"{name}: already running (run {run_id}, since {since:%H:%M} UTC)", RUNNING, run_id)
    spent = lifecycle.budget(con, connection_id, bank_threshold=bank_threshold)
    if rejected and not retry_same_credentials:
        return Admission(
            False,
            f"the bank rejected the stored credentials of {name} ({_words(rejected)}); reconwb will not log in"
            f" with them again: update them with `reconwb connections credentials {name}`",
            REJECTED,
        )
    if spent.exhausted:
        return Admission(
            False,
            f"{name}: {spent.describe()}, so reconwb will not try again with these credentials: update them with"
            f" `reconwb connections credentials {name}`",
            BUDGET,
        )
    decision = lifecycle.may_attempt(con, connection_id, now=now or retry_same_credentials)
    if not decision.allowed:
        return Admission(False, decision.reason, HEALTH)
    return Admission(True, "retrying the rejected credentials once" if rejected else decision.reason)


def begin(con: duckdb.DuckDBPyConnection, connection_id: int) -> int:
    """Write the attempt down before the bank round trip; return its run id. Counted as failed until settled."""
    host, pid, started = _holder()
    version = con.execute(
        "SELECT credentials_version FROM connections WHERE connection_id = ?", [connection_id]
    ).fetchone()[0]
    run_id = con.execute(
        "INSERT INTO sync_runs (connection_id, credentials_version, holder_host, holder_pid, holder_started,"
        " lease_expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING run_id",
        [connection_id, version, host, pid, started, dt.datetime.now(dt.UTC) + LEASE_TTL],
    ).fetchone()[0]
    taken = con.execute(
        "UPDATE connections SET running_run_id = ?, fatal_failures = fatal_failures + 1, last_attempt_at = now()"
        " WHERE connection_id = ? AND running_run_id IS NULL RETURNING connection_id",
        [run_id, connection_id],
    ).fetchall()
    if not taken:  # `admit` saw it free in this transaction: only a broken caller gets here
        raise RuntimeError(f"connection {connection_id} is already being fetched")
    return int(run_id)


def settle(con: duckdb.DuckDBPyConnection, connection_id: int, run_id: int) -> bool:
    """The outcome of run `run_id` is being recorded (same transaction): release the lease and give back the
    write-ahead count (a rejection counts for itself through `lifecycle.record_failure`). False when the run
    had been closed as abandoned meanwhile, whose count then stays."""
    held = con.execute(
        "UPDATE connections SET running_run_id = NULL, fatal_failures = greatest(fatal_failures - 1, 0)"
        " WHERE connection_id = ? AND running_run_id = ? RETURNING connection_id",
        [connection_id, run_id],
    ).fetchall()
    return bool(held)


def _words(failure: str) -> str:
    return {
        "InvalidCredentials": "wrong username or password",
        "PasswordExpired": "the password expired",
        "AccountLocked": "the bank locked the login",
        "OtpRejected": "the one-time code was refused",
    }.get(failure, failure)


def record(ws: Workspace, what: str, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Write an attempt's outcome, however long the store stays busy: the bank answered, and forgetting that
    answer is how a login gets locked (the next fetch would not know the password was rejected). The caller
    holds nothing else meanwhile; if it is killed, `recover_abandoned` counts the attempt as failed."""
    waited_since = last_log = time.monotonic()
    while True:
        try:
            return in_transaction(ws.connect, work)
        except StoreLocked:
            if time.monotonic() - last_log >= RECORD_RETRY_LOG_EVERY:
                last_log = time.monotonic()
                log.warning("the store is still busy; keeping the outcome of %s to record it (%.0f s)",
                            what, last_log - waited_since)


@contextmanager
def hold(ws: Workspace, name: str) -> Iterator[int]:
    """Hold the connection's lease for a bank round trip that is not a fetch (a provider's reconnect step).

    The attempt is written down first, like a fetch; the caller records what the bank said (its failure goes
    through `lifecycle.record_failure`), and leaving the block gives the write-ahead count back. Raises
    `Refused` when the guard says no.
    """

    def opening(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        from reconwb import connections

        conn = connections.get(con, name)
        assert conn is not None
        admission = admit(con, conn.connection_id, now=True)
        if not admission.allowed:
            raise Refused(admission.reason)
        return conn.connection_id, begin(con, conn.connection_id)

    connection_id, run_id = in_transaction(ws.connect, opening)
    status = "failed"
    try:
        yield run_id
        status = "ok"
    finally:

        def closing(con: duckdb.DuckDBPyConnection) -> None:
            settle(con, connection_id, run_id)
            con.execute(
                "UPDATE sync_runs SET status = ?, finished_at = now(), outcome = coalesce(outcome, 'ProviderStep'),"
                " message = coalesce(message, 'a provider credentials step') WHERE run_id = ?",
                [status, run_id],
            )

        record(ws, f"run {run_id} of {name}", closing)
