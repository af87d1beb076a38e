"""Events: every change of consequence, and the webhook outbox.

`emit` writes the event and, in the same transaction as the caller's change, one pending delivery per enabled
webhook endpoint that wants that type. Delivering is then only a matter of sending what is pending
(`reconwb.webhooks`), and a crash between the change and the send loses nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import duckdb

from reconwb import jsonutil

EVENT_TYPES = (
    "transaction.created",
    "payment.matched",
    "payment.partially_matched",
    "match.removed",
    "connection.health_changed",
    "connection.reconnect_required",
    "connection.reconnected",
    "connection.consent_expiring",
    "bank.availability_changed",
    "job.failed",
)


def new_id(prefix: str) -> str:
    """A random id with a type prefix, e.g. `evt_0f3a...`."""
    return f"{prefix}_{uuid.uuid4().hex}"


def emit(
    con: duckdb.DuckDBPyConnection, type: str, payload: dict[str, Any], *, subject: str | None = None
) -> str:
    """Record an event and queue it for every endpoint that wants it; return the event id."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event_id = new_id("evt")
    con.execute(
        "INSERT INTO events (event_id, type, subject, payload) VALUES (?, ?, ?, ?)",
        [event_id, type, subject, jsonutil.dumps(payload)],
    )
    con.execute(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_id) "
        "SELECT 'msg_' || replace(CAST(gen_random_uuid() AS VARCHAR), '-', ''), endpoint_id, ? "
        "FROM webhook_endpoints WHERE enabled AND (event_types IS NULL OR list_contains(event_types, ?))",
        [event_id, type],
    )
    return event_id


def emit_many(
    con: duckdb.DuckDBPyConnection, type: str, items: Sequence[tuple[dict[str, Any], str | None]]
) -> list[str]:
    """`emit` for many events of one type at once (payload, subject), in bulk: a reconcile run can match
    thousands of payments, and one round trip per event would dominate it."""
    import polars as pl

    from reconwb.store.db import registered

    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    if not items:
        return []
    ids = [new_id("evt") for _ in items]
    frame = pl.DataFrame(
        {"event_id": ids, "subject": [s for _, s in items], "payload": [jsonutil.dumps(p) for p, _ in items]},
        schema={"event_id": pl.String, "subject": pl.String, "payload": pl.String},
    )
    with registered(con, "_new_events", frame.to_arrow()):
        con.execute(
            "INSERT INTO events (event_id, type, subject, payload) SELECT event_id, ?, subject, payload"
            " FROM _new_events",
            [type],
        )
        con.execute(
            "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_id) "
            "SELECT 'msg_' || replace(CAST(gen_random_uuid() AS VARCHAR), '-', ''), w.endpoint_id, n.event_id "
            "FROM _new_events n CROSS JOIN webhook_endpoints w "
            "WHERE w.enabled AND (w.event_types IS NULL OR list_contains(w.event_types, ?))",
            [type],
        )
    return ids
