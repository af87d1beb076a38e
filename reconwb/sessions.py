"""Persistent portal sessions: a connector's logged-in state kept between runs, sealed, with an expiry.

The state (for portals, Playwright's storage state: cookies and local storage) is as good as a password while
it lives, so it is sealed in the vault under `session/<connection_id>`; the `sessions` row holds only its expiry.
An expired or unreadable state is dropped, and the connector simply logs in again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import duckdb

from reconwb.redaction import redact_exception
from reconwb.vault import Vault, VaultError

log = logging.getLogger(__name__)

DEFAULT_TTL = dt.timedelta(minutes=20)


def owner(connection_id: int) -> str:
    return f"session/{connection_id}"


def load(con: duckdb.DuckDBPyConnection, vault: Vault, connection_id: int) -> dict[str, Any] | None:
    """The stored state if it has not expired; otherwise forget it."""
    row = con.execute("SELECT expires_at FROM sessions WHERE connection_id = ?", [connection_id]).fetchall()
    if not row or row[0][0] <= dt.datetime.now(dt.UTC):
        forget(con, connection_id)
        return None
    try:
        return vault.get(con, owner(connection_id))
    except VaultError as err:
        log.warning("dropping an unreadable session of connection %s: %s", connection_id, redact_exception(err))
        forget(con, connection_id)
        return None


def save(con: duckdb.DuckDBPyConnection, vault: Vault, connection_id: int, state: dict[str, Any]) -> None:
    """Seal `state`; its `expires_at` (ISO text, set by the connector) becomes the row's expiry."""
    expires_text = state.get("expires_at")
    expires = dt.datetime.fromisoformat(expires_text) if expires_text else dt.datetime.now(dt.UTC) + DEFAULT_TTL
    vault.put(con, owner(connection_id), state)
    con.execute(
        "INSERT INTO sessions (connection_id, expires_at) VALUES (?, ?) ON CONFLICT (connection_id)"
        " DO UPDATE SET expires_at = excluded.expires_at, created_at = now()",
        [connection_id, expires],
    )


def forget(con: duckdb.DuckDBPyConnection, connection_id: int) -> None:
    Vault.delete(con, owner(connection_id))
    con.execute("DELETE FROM sessions WHERE connection_id = ?", [connection_id])
