"""Bank accounts of a connection: found by fetching, selected (or not) by the user."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Account:
    account_id: int
    connection_id: int
    external_ref: str
    iban: str | None
    name: str | None
    currency: str | None
    selected: bool
    active: bool


def ensure(
    con: duckdb.DuckDBPyConnection,
    connection_id: int,
    external_ref: str,
    *,
    iban: str | None = None,
    name: str | None = None,
    currency: str | None = None,
) -> int:
    """The id of the account `external_ref` of a connection, created on first sight; details refreshed."""
    row = con.execute(
        "INSERT INTO accounts (connection_id, external_ref, iban, name, currency) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (connection_id, external_ref) DO UPDATE SET iban = coalesce(excluded.iban, accounts.iban),"
        " name = coalesce(excluded.name, accounts.name), currency = coalesce(excluded.currency, accounts.currency) "
        "RETURNING account_id",
        [connection_id, external_ref, iban, name, currency],
    ).fetchone()
    return int(row[0])


def list_accounts(con: duckdb.DuckDBPyConnection, connection_id: int) -> list[Account]:
    rows = con.execute(
        "SELECT account_id, connection_id, external_ref, iban, name, currency, selected, active FROM accounts"
        " WHERE connection_id = ? ORDER BY external_ref",
        [connection_id],
    ).fetchall()
    return [Account(*r) for r in rows]


def set_selection(con: duckdb.DuckDBPyConnection, connection_id: int, keep: set[str]) -> tuple[list[str], list[str]]:
    """Keep `keep` selected and active; every other account of the connection becomes unselected and inactive.

    Inactive accounts stay with their transactions and matches (kept, not deleted); selecting one again
    reactivates it. Returns (selected, deselected) external refs.
    """
    refs = [a.external_ref for a in list_accounts(con, connection_id)]
    selected = [r for r in refs if r in keep]
    deselected = [r for r in refs if r not in keep]
    con.execute(
        "UPDATE accounts SET selected = list_contains(?, external_ref), active = list_contains(?, external_ref)"
        " WHERE connection_id = ?",
        [selected, selected, connection_id],
    )
    return selected, deselected
