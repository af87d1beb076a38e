"""Linking and the reconnect step, the same for every provider: the adapter does the provider's part.

`reconnect_step` is the one hook for "what happens next" after a person gave a connection new credentials or
asked to reconnect it: link it if it never was, otherwise let the provider take the reconnect (update-mode
Link, a new agreement and requisition, the new password), then fetch once when that worked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb

from reconwb import connections, lifecycle
from reconwb.connectors import errors as taxonomy
from reconwb.connectors import registry
from reconwb.errors import Conflict, InvalidInput
from reconwb.openbanking import adapter as adapters
from reconwb.openbanking.store import in_store, in_store_async, run
from reconwb.redaction import redact_exception
from reconwb.vault import Vault
from reconwb.workspace import Workspace

# outcomes of a link or reconnect after which a fetch makes sense
FETCH_AFTER = ("linked", "reconnected", "nothing-to-reconnect", "expired")


@dataclass(frozen=True)
class Opened:
    """A provider connection as a step starts: the row, its decrypted credentials (None when unset) and, when
    asked for, the provider's configuration (its sealed keys), all read in one short transaction."""

    conn: connections.Connection
    credentials: dict[str, str] | None
    config: dict[str, Any] = field(default_factory=dict)


def open_connection(ws: Workspace, name: str, connector_id: str, *, with_config: bool = False) -> Opened:
    """The connection a step works on; refused when it is not the provider's or is obsolete."""
    vault = ws.vault()

    def work(con: duckdb.DuckDBPyConnection) -> Opened:
        conn = connections.get(con, name)
        assert conn is not None
        if conn.connector != connector_id:
            raise InvalidInput(f"connection {name!r} does not use {connector_id} (connector {conn.connector})")
        if conn.removed_at is not None or conn.health == lifecycle.Health.OBSOLETE:
            raise Conflict(f"connection {name!r} is obsolete (removed); reconnect it as a new connection first")
        config = registry.get(connector_id).prepare(con, vault) if with_config else {}
        return Opened(conn, connections.get_credentials(con, vault, conn), config)

    return in_store(ws, work)


def seal_link(con: duckdb.DuckDBPyConnection, vault: Vault, connection_id: int, provider: str, link_id: str,
              credentials: dict[str, str], *, agreement_id: str | None = None,
              institution_id: str | None = None) -> bool:
    """Record a connection's link at a provider: its credential sealed, the link id the fetch uses.

    Returns whether it was relinked (a new link for a connection that had one). A new link starts the refresh
    window (`refreshing` until the first fetch lands); the connection's accounts and history stay.
    """
    before = con.execute("SELECT link_id FROM openbanking_links WHERE connection_id = ?", [connection_id]).fetchone()
    vault.put(con, connections.credentials_owner(connection_id), credentials)
    con.execute(
        "INSERT INTO openbanking_links (connection_id, provider, link_id, agreement_id, institution_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (connection_id) DO UPDATE SET link_id = excluded.link_id,"
        " agreement_id = excluded.agreement_id, institution_id = coalesce(excluded.institution_id, institution_id),"
        " relinked_at = CASE WHEN openbanking_links.link_id <> excluded.link_id THEN now() ELSE relinked_at END",
        [connection_id, provider, link_id, agreement_id, institution_id],
    )
    con.execute("UPDATE connections SET external_id = ?, credentials_set_at = now() WHERE connection_id = ?",
                [link_id, connection_id])
    request = lifecycle.reconnect_request(con, connection_id)
    if request is not None and request.open:
        lifecycle.reconnect_accepted(con, connection_id)
    else:
        lifecycle.credentials_updated(con, connection_id)
    return before is not None and before[0] != link_id


def connection_for_link(con: duckdb.DuckDBPyConnection, provider: str, link_id: str) -> connections.Connection | None:
    """The connection a provider's item or requisition belongs to (webhooks name only those)."""
    row = con.execute("SELECT connection_id FROM openbanking_links WHERE provider = ? AND link_id = ?",
                      [provider, link_id]).fetchone()
    return connections.get_by_id(con, row[0]) if row else None


async def failed(ws: Workspace, conn: connections.Connection, what: str,
                 err: taxonomy.ConnectorError) -> dict[str, Any]:
    """A link or reconnect step failed: the lifecycle decides the state; the notified users get the details."""

    def work(con: duckdb.DuckDBPyConnection) -> str:
        health = lifecycle.record_failure(con, conn.connection_id, err)
        if health not in lifecycle.NOTIFY:  # entering those states notifies already
            lifecycle.report_failure(con, conn.connection_id, what, err,
                                     incident=f"{what}:{dt.datetime.now(dt.UTC).isoformat()}")
        return str(health)

    health = await in_store_async(ws, work)
    return {"connection": conn.name, "status": "failed", "health": health, "error": type(err).__name__,
            "message": redact_exception(err)}


def _adapter(ws: Workspace, name: str) -> adapters.Adapter:
    def work(con: duckdb.DuckDBPyConnection) -> str:
        conn = connections.get(con, name)
        assert conn is not None
        return conn.connector

    connector = in_store(ws, work)
    found = adapters.for_connector(connector)
    if found is None:
        raise InvalidInput(f"connection {name!r} ({connector}) is not an open-banking connection")
    return found


async def reconnect_step_async(ws: Workspace, name: str, *, otp: str | None = None,
                               fetch: bool = True) -> dict[str, Any]:
    """After the user acted: link or reconnect at the provider as needed, then fetch once if that worked."""
    adapter = _adapter(ws, name)
    opened = await asyncio.to_thread(open_connection, ws, name, adapter.connector_id)
    if not opened.conn.external_id:
        outcome = await adapter.link(ws, name)
    else:
        outcome = await adapter.reconnect(ws, name, otp=otp)
    if fetch and outcome["status"] in FETCH_AFTER:
        from reconwb.sync import sync_async

        result = await sync_async(ws, name)
        outcome["sync"] = result.as_dict()
        outcome["health"] = result.health
    return outcome


def reconnect_step(ws: Workspace, name: str, *, otp: str | None = None, fetch: bool = True) -> dict[str, Any]:
    """`reconnect_step_async`, blocking: what the CLI, the credential form and dashboards call."""
    return run(lambda: reconnect_step_async(ws, name, otp=otp, fetch=fetch))


def link(ws: Workspace, name: str) -> dict[str, Any]:
    """Link a connection at its provider without fetching."""
    adapter = _adapter(ws, name)
    return run(lambda: adapter.link(ws, name))


def reconnect(ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
    """Only the provider's reconnect step, without the fetch after it."""
    adapter = _adapter(ws, name)
    return run(lambda: adapter.reconnect(ws, name, otp=otp))
