"""Events: every change of consequence, and the webhook outbox.

`emit` writes the event and, in the same transaction as the caller's change, one pending delivery per enabled
webhook endpoint that wants that type. Delivering is then only a matter of sending what is pending
(`reconwb.webhooks`), and a crash between the change and the send loses nothing.
"""

from __future__ import annotations

import os
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


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids like `new_id`'s (random version-4 UUIDs in hex), drawn at once: a million `uuid4()` calls
    take seconds, one read of the system's randomness a few milliseconds."""
    import numpy as np  # only long work asks for many ids at once

    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4 and the RFC 4122 variant, as uuid4 sets them
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = raw.tobytes().hex()
    return [f"{prefix}_{text[i:i + 32]}" for i in range(0, 32 * count, 32)]


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
        {"event_id": ids, "type": type, "subject": [s for _, s in items],
         "payload": [jsonutil.dumps(p) for p, _ in items]},
        schema={"event_id": pl.String, "type": pl.String, "subject": pl.String, "payload": pl.String},
    )
    with registered(con, "_new_events", frame.to_arrow()):
        emit_table(con, "_new_events")
    return ids


def emit_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Record the events a table or view holds (event_id, type, subject, payload: JSON text) and queue each for
    every endpoint that wants its type: bulk emission whose payloads were built before the store was opened."""
    con.execute(f"INSERT INTO events (event_id, type, subject, payload) SELECT event_id, type, subject, payload"
                f" FROM {table}")
    con.execute(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, event_id) "
        "SELECT 'msg_' || replace(CAST(gen_random_uuid() AS VARCHAR), '-', ''), w.endpoint_id, n.event_id "
        f"FROM {table} n JOIN webhook_endpoints w "
        "ON w.enabled AND (w.event_types IS NULL OR list_contains(w.event_types, n.type))"
    )
