"""The outbox in the store: claiming due messages under a lease, recording attempts, replaying, the log.

`events.emit` writes one `webhook_deliveries` row per endpoint in the same transaction as the change it reports;
this module is everything the delivery worker does with those rows. A claim leases a message until a time; a
worker that dies holding it simply lets the lease run out, and the message is due again. Recording only touches
messages that are still pending, so a late, duplicate worker cannot turn a delivered message back into a pending
one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from reconwb import jsonutil, settings
from reconwb.errors import InvalidInput, NotFound
from reconwb.events import new_id
from reconwb.store import chunks
from reconwb.store.db import registered, transaction
from reconwb.webhooks.endpoints import TEST_EVENT_TYPE, get

if TYPE_CHECKING:
    from reconwb.workspace import Workspace


@dataclass(frozen=True)
class Message:
    """One claimed delivery: what to send, where, and how many times it was tried before."""

    message_id: str
    endpoint_id: str
    attempts: int
    url: str
    auth_scheme: str
    event_type: str
    body: str


@dataclass(frozen=True)
class Attempt:
    """The outcome of sending one message once, and what happens to the message next."""

    message_id: str
    endpoint_id: str
    attempt: int
    attempted_at: dt.datetime
    outcome: str  # delivered | failed | gone | timeout | error
    http_status: int | None
    latency_ms: float
    response: str | None
    error: str | None
    status: str  # pending | delivered | dead: the message's status after this attempt
    next_attempt_at: dt.datetime | None


_ATTEMPT_SCHEMA = {
    "message_id": pl.String,
    "endpoint_id": pl.String,
    "attempt": pl.Int32,
    "attempted_at": pl.Datetime("us", "UTC"),
    "outcome": pl.String,
    "http_status": pl.Int32,
    "latency_ms": pl.Float64,
    "response": pl.String,
    "error": pl.String,
    "status": pl.String,
    "next_attempt_at": pl.Datetime("us", "UTC"),
}


def body_for(event_id: str, event_type: str, occurred_at: dt.datetime, subject: str | None, payload: Any) -> str:
    """The JSON body of a message: the Standard Webhooks envelope (`type`, `timestamp`, `data`).

    It depends on the event only, so every retry sends the same bytes.
    """
    envelope: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "timestamp": occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": json.loads(payload) if isinstance(payload, str) else payload,
    }
    if subject is not None:
        envelope["subject"] = subject
    return jsonutil.dumps(envelope, separators=(",", ":"))


def claim(
    con: duckdb.DuckDBPyConnection,
    *,
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
    only: list[str] | None = None,
) -> list[Message]:
    """Lease up to `limit` due messages of enabled endpoints (or exactly the messages `only`, enabled or not)."""
    if limit <= 0:
        return []
    where = "d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until <= ?)"
    params: list[Any] = [now]
    if only is None:
        where += " AND e.enabled AND d.next_attempt_at <= ?"
        params.append(now)
    else:
        where += " AND list_contains(?, d.message_id)"
        params.append(only)
    with transaction(con):
        rows = con.execute(
            "SELECT d.message_id, d.endpoint_id, d.attempts, e.url, e.auth_scheme, v.event_id, v.type,"
            " v.occurred_at, v.subject, v.payload"
            " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.endpoint_id = d.endpoint_id"
            " JOIN events v ON v.event_id = d.event_id"
            f" WHERE {where} ORDER BY d.next_attempt_at LIMIT ?",
            [*params, limit],
        ).fetchall()
        if not rows:
            return []
        con.execute(
            "UPDATE webhook_deliveries SET lease_until = ? WHERE list_contains(?, message_id)",
            [lease_until, [r[0] for r in rows]],
        )
    return [
        Message(r[0], r[1], r[2], r[3], r[4], r[6], body_for(r[5], r[6], r[7], r[8], r[9])) for r in rows
    ]


def record(con: duckdb.DuckDBPyConnection, attempts: list[Attempt], gone: dict[str, str]) -> None:
    """Write attempts to the log and their outcome to the messages, and disable endpoints that answered 410.

    One transaction for the whole batch: a crash loses the batch's records, never half of them, and the lost
    messages are sent again once their lease runs out.
    """
    if not attempts and not gone:
        return
    frame = pl.DataFrame([a.__dict__ for a in attempts], schema=_ATTEMPT_SCHEMA)
    with transaction(con), registered(con, "attempts_batch", frame):
        if attempts:
            con.execute(
                "INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, attempted_at, outcome, http_status,"
                " latency_ms, response, error, next_attempt_at) SELECT message_id, endpoint_id, attempt,"
                " attempted_at, outcome, http_status, latency_ms, response, error, next_attempt_at"
                " FROM attempts_batch"
            )
            con.execute(
                "UPDATE webhook_deliveries d SET status = b.status, attempts = d.attempts + 1,"
                " next_attempt_at = coalesce(b.next_attempt_at, d.next_attempt_at), lease_until = NULL,"
                " last_status = b.http_status, last_error = b.error,"
                " delivered_at = CASE WHEN b.status = 'delivered' THEN b.attempted_at ELSE d.delivered_at END"
                " FROM attempts_batch b WHERE d.message_id = b.message_id AND d.status = 'pending'"
            )
        for endpoint_id, reason in gone.items():
            con.execute(
                "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = ? WHERE endpoint_id = ? AND enabled",
                [reason, endpoint_id],
            )


def count_pending(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").fetchall()[0][0]


def replay(
    con: duckdb.DuckDBPyConnection, *, now: dt.datetime, message_id: str | None = None, dead: bool = False
) -> int:
    """Queue messages again from their first attempt: one message by id, or every dead one. Returns how many."""
    if (message_id is None) == (not dead):
        raise InvalidInput("replay: give a message id or --dead (not both)")
    sql = (
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_until = NULL,"
        " delivered_at = NULL WHERE "
    )
    if message_id is not None:
        rows = con.execute(
            sql + "message_id = ? AND status IN ('delivered', 'dead', 'pending') RETURNING message_id",
            [now, message_id],
        ).fetchall()
        if not rows:
            raise NotFound(f"no webhook message {message_id!r} to replay (see `reconwb webhooks messages`)")
        return 1
    return len(con.execute(sql + "status = 'dead' RETURNING message_id", [now]).fetchall())


def prune(con: duckdb.DuckDBPyConnection, *, older_than: dt.datetime, limit: int | None = None) -> dict[str, int]:
    """Forget delivered and cancelled messages finished before `older_than` (at most `limit`), with their attempts.

    Pending and dead messages stay, however old: one is still being tried, the other waits for a person to
    look and replay it. The events themselves stay too (they are the audit trail, not the delivery log). A
    message goes with its attempts in one transaction, so a sweep cut short anywhere leaves a whole log.
    """
    with transaction(con):
        con.execute(
            "CREATE TEMP TABLE _pruned AS SELECT message_id FROM webhook_deliveries"
            " WHERE status IN ('delivered', 'cancelled') AND coalesce(delivered_at, created_at) < ?"
            + (" LIMIT ?" if limit is not None else ""),
            [older_than, *([limit] if limit is not None else [])],
        )
        try:
            attempts = con.execute("DELETE FROM webhook_attempts WHERE message_id IN (SELECT message_id FROM"
                                   " _pruned)").fetchall()[0][0]
            messages = con.execute("DELETE FROM webhook_deliveries WHERE message_id IN (SELECT message_id FROM"
                                   " _pruned)").fetchall()[0][0]
        finally:
            con.execute("DROP TABLE _pruned")
    return {"messages": int(messages), "attempts": int(attempts)}


def prune_by_retention(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """`prune` at the workspace's `webhook_retention_days`, in one transaction (see `prune_in_chunks`)."""
    return prune(con, older_than=retention_cutoff(con))


def retention_cutoff(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    days = settings.get_int(con, "webhook_retention_days")
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def prune_in_chunks(ws: Workspace, *, older_than: dt.datetime | None = None) -> dict[str, int]:
    """`prune` (by default at the retention setting) in bounded chunks, each its own short transaction: a
    years-old log of millions of messages never holds the store for long, and a sweep that is killed simply
    goes on at the next one (what is left is older than the cutoff still)."""
    if older_than is None:
        with ws.connect() as con:
            older_than = retention_cutoff(con)
    total = {"messages": 0, "attempts": 0}

    def step(con: duckdb.DuckDBPyConnection, size: int) -> tuple[int, bool]:
        done = prune(con, older_than=older_than, limit=size)
        total["messages"] += done["messages"]
        total["attempts"] += done["attempts"]
        return done["messages"] + done["attempts"], done["messages"] < size

    chunks.in_chunks(ws.connect, ws.db_path, step)
    return total


def enqueue_test(con: duckdb.DuckDBPyConnection, endpoint_id: str, *, now: dt.datetime) -> str:
    """A `webhook.test` event queued for one endpoint only; returns its message id."""
    endpoint = get(con, endpoint_id)
    event_id = new_id("evt")
    message_id = new_id("msg")
    payload = {"endpoint_id": endpoint.endpoint_id, "message": "test event from reconwb"}
    with transaction(con):
        con.execute(
            "INSERT INTO events (event_id, type, subject, payload) VALUES (?, ?, ?, ?)",
            [event_id, TEST_EVENT_TYPE, endpoint_id, jsonutil.dumps(payload)],
        )
        con.execute(
            "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_id, next_attempt_at) VALUES (?, ?, ?, ?)",
            [message_id, endpoint_id, event_id, now],
        )
    return message_id


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def attempt_log(
    con: duckdb.DuckDBPyConnection,
    *,
    message_id: str | None = None,
    endpoint_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest attempts first, optionally for one message or endpoint (the dashboards query this too)."""
    where, params = _filters(message_id=message_id, endpoint_id=endpoint_id)
    return _dicts(
        con.execute(
            "SELECT attempt_id, attempted_at, message_id, endpoint_id, attempt, outcome, http_status,"
            f" round(latency_ms, 1) AS latency_ms, next_attempt_at, error, response FROM webhook_attempts{where}"
            " ORDER BY attempt_id DESC LIMIT ?",
            [*params, limit],
        )
    )


def messages(
    con: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    endpoint_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Messages with their state, newest first: what is pending, delivered, or dead and replayable."""
    where, params = _filters(status=status, endpoint_id=endpoint_id)
    return _dicts(
        con.execute(
            "SELECT d.message_id, d.endpoint_id, v.type AS event_type, d.event_id, d.status, d.attempts,"
            " d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at"
            f" FROM webhook_deliveries d JOIN events v ON v.event_id = d.event_id{where}"
            " ORDER BY d.created_at DESC, d.message_id LIMIT ?",
            [*params, limit],
        )
    )


def _filters(**filters: str | None) -> tuple[str, list[Any]]:
    clauses = [(f"{name} = ?", value) for name, value in filters.items() if value is not None]
    if not clauses:
        return "", []
    return " WHERE " + " AND ".join(c for c, _ in clauses), [v for _, v in clauses]
