"""Parked asynchronous results: a provider that answers "later" (Lean's PENDING) parks the sync run here.

The run waits as `pending` with its results id (`reconwb.sync` parks it); it is completed when the provider's
webhook says the results are ready, or when a poll finds them, and expires when they never come. What the
provider's answer means is the adapter's business (`Adapter.fetch_results`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from reconwb import lifecycle
from reconwb.connectors import errors as taxonomy
from reconwb.openbanking import adapter as adapters
from reconwb.openbanking.store import in_store, in_store_async, run
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace

POLL_AFTER = dt.timedelta(seconds=60)  # a pending result with no webhook by then is polled
PENDING_EXPIRY = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Pending:
    results_id: str
    connection_id: int
    run_id: int | None
    request: dict[str, Any]
    url: str | None
    connector: str


def find(con: duckdb.DuckDBPyConnection, results_id: str) -> Pending | None:
    """The parked result with this id while it still waits."""
    row = con.execute(
        "SELECT p.results_id, p.connection_id, p.run_id, CAST(p.request AS VARCHAR), c.portal_url, c.connector"
        " FROM pending_results p JOIN connections c USING (connection_id)"
        " WHERE p.results_id = ? AND p.status = 'pending'",
        [results_id],
    ).fetchone()
    return Pending(row[0], row[1], row[2], json.loads(row[3] or "{}"), row[4], row[5]) if row else None


def _fail(con: duckdb.DuckDBPyConnection, pending: Pending, err: BaseException, status: str) -> str:
    message = redact_exception(err)
    con.execute(
        "UPDATE pending_results SET status = ?, message = ?, completed_at = now() WHERE results_id = ?",
        [status, message, pending.results_id],
    )
    con.execute(
        "UPDATE sync_runs SET status = 'failed', finished_at = now(), outcome = ?, message = ? WHERE run_id = ?",
        [type(err).__name__, message, pending.run_id],
    )
    return str(lifecycle.record_failure(con, pending.connection_id, err))


async def complete_results_async(ws: Workspace, results_id: str) -> dict[str, Any]:
    """Ask the provider for a parked result and land it; still pending leaves it parked."""

    def opening(con: duckdb.DuckDBPyConnection) -> Pending | None:
        pending = find(con, results_id)
        if pending is not None:
            con.execute("UPDATE pending_results SET last_polled_at = now() WHERE results_id = ?", [results_id])
        return pending

    pending = await in_store_async(ws, opening)
    adapter = adapters.for_connector(pending.connector) if pending else None
    if pending is None or adapter is None:
        return {"results_id": results_id, "status": "unknown"}
    try:
        fetched = await adapter.fetch_results(ws, pending)
        if fetched is None:
            return {"results_id": results_id, "status": "pending"}
    except taxonomy.ConnectorError as err:
        if isinstance(err, taxonomy.Transient | taxonomy.RateLimited):
            return {"results_id": results_id, "status": "pending", "message": redact_exception(err)}
        failure = err
        health = await in_store_async(ws, lambda con: _fail(con, pending, failure, "failed"))
        return {"results_id": results_id, "status": "failed", "health": health, "message": redact_exception(err)}
    from reconwb.connectors.registry import get as connector_class
    from reconwb.sync import complete_pending

    result = complete_pending(ws, results_id, fetched, source=connector_class(pending.connector).source)
    if result is None:
        return {"results_id": results_id, "status": "unknown"}
    return {**result.as_dict(), "results_id": results_id, "status": "completed"}


def complete_results(ws: Workspace, results_id: str) -> dict[str, Any]:
    return run(lambda: complete_results_async(ws, results_id))


def poll_pending(ws: Workspace, *, older_than: dt.timedelta = POLL_AFTER,
                 expire_after: dt.timedelta = PENDING_EXPIRY) -> list[dict[str, Any]]:
    """Complete parked results no webhook came for: each waited at least `older_than`; too old ones expire."""
    now = dt.datetime.now(dt.UTC)

    def due(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[dict[str, Any]]]:
        rows = con.execute(
            "SELECT results_id, created_at, coalesce(last_polled_at, created_at) FROM pending_results"
            " WHERE status = 'pending' ORDER BY created_at"
        ).fetchall()
        expired = []
        for results_id, created, _last in rows:
            if now - created > expire_after:
                pending = find(con, results_id)
                assert pending is not None
                health = _fail(con, pending, taxonomy.Transient(
                    f"the provider's results {results_id} never came"), "expired")
                expired.append({"results_id": results_id, "status": "expired", "health": health})
        return [r[0] for r in rows if now - r[1] <= expire_after and now - r[2] >= older_than], expired

    ids, outcomes = in_store(ws, due)
    for results_id in ids:
        outcomes.append(complete_results(ws, results_id))
    return outcomes
