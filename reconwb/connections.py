"""Connections: one login at a bank (or one statement source), its settings and its credentials.

The password itself is sealed in the vault under `credentials/<connection_id>`; the connection row only says
when it was last set, which is what the credential-age warning needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from reconwb import accounts, banks, events, jsonutil, lifecycle, sessions, settings
from reconwb.errors import AlreadyExists, Conflict, InvalidInput, NotFound, ReconwbError
from reconwb.store.db import transaction
from reconwb.vault import Vault

LOGIN_MODES = ("simple", "assisted")
SESSION_MODES = ("one-shot", "persistent")
STATEMENT_CONNECTOR = "statement"

_COLUMNS = (
    "connection_id, name, bank_id, connector, username, portal_url, login_mode, session_mode, external_id,"
    " health, health_reason, health_changed_at, fatal_failures, next_attempt_at, refreshing_until,"
    " credentials_set_at, last_attempt_at, last_success_at, created_at, removed_at,"
    " coalesce(credentials_version, 0), running_run_id, credentials_rejected, consent_expires_at"
)


@dataclass(frozen=True)
class Connection:
    connection_id: int
    name: str
    bank_id: str
    connector: str
    username: str | None
    portal_url: str | None
    login_mode: str
    session_mode: str
    external_id: str | None
    health: str
    health_reason: str | None
    health_changed_at: dt.datetime
    fatal_failures: int
    next_attempt_at: dt.datetime | None
    refreshing_until: dt.datetime | None
    credentials_set_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_success_at: dt.datetime | None
    created_at: dt.datetime
    removed_at: dt.datetime | None
    credentials_version: int = 0  # how many times credentials were set: the lockout budget is per version
    running_run_id: int | None = None  # the fetch under way (`reconwb.attempts`), if any
    credentials_rejected: str | None = None  # the bank rejected the current credentials with this failure
    consent_expires_at: dt.datetime | None = None  # open-banking providers: access ends then unless reconnected

    @property
    def credentials_owner(self) -> str:
        return credentials_owner(self.connection_id)

    @property
    def needs_credentials(self) -> bool:
        return self.connector != STATEMENT_CONNECTOR

    def credential_age_days(self, now: dt.datetime | None = None) -> int | None:
        if self.credentials_set_at is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return (now - self.credentials_set_at).days

    def as_dict(self) -> dict[str, Any]:
        """The public view (CLI `--json`, dashboards): no secret is part of a connection row."""
        data = asdict(self)
        data["credential_age_days"] = self.credential_age_days()
        return data


def credentials_owner(connection_id: int) -> str:
    return f"credentials/{connection_id}"


NAME_MAX = 64  # a name shows in tables, banners, file names and log lines


def check_name(name: str) -> None:
    """A connection name: printable, no surrounding spaces, no '/', at most `NAME_MAX` characters."""
    if not name or not name.strip() or name != name.strip() or "/" in name:
        raise InvalidInput(f"a connection name must be non-empty, without surrounding spaces or '/', not {name!r}")
    if not name.isprintable():
        raise InvalidInput(f"a connection name must be printable (no newline, tab or control character), not {name!r}")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"a connection name must be at most {NAME_MAX} characters, not {len(name)}")


def add(
    con: duckdb.DuckDBPyConnection,
    name: str,
    bank_id: str,
    *,
    username: str | None = None,
    portal_url: str | None = None,
    login_mode: str = "simple",
    session_mode: str = "one-shot",
    external_id: str | None = None,
    connector: str | None = None,
) -> Connection:
    """Create a connection; a bank that is not usable for data cannot take new ones."""
    check_name(name)
    if portal_url is not None:
        settings.http_url(portal_url, "a portal URL")
    if login_mode not in LOGIN_MODES:
        raise InvalidInput(f"login mode must be one of {', '.join(LOGIN_MODES)}, not {login_mode!r}")
    if session_mode not in SESSION_MODES:
        raise InvalidInput(f"session mode must be one of {', '.join(SESSION_MODES)}, not {session_mode!r}")
    if get(con, name, missing_ok=True, include_removed=True) is not None:
        raise AlreadyExists(f"a connection named {name!r} exists already")
    bank = banks.get(con, bank_id)
    assert bank is not None
    if not bank.usable_for("data"):
        raise Conflict(f"bank {bank_id!r} is not available for new connections (disabled)")
    connector = connector or bank.connector
    if connector == STATEMENT_CONNECTOR:
        health, reason = "ok", None
    else:
        health, reason = "reconnect_required", "no credentials yet: enter the bank password"
    con.execute(
        "INSERT INTO connections (name, bank_id, connector, username, portal_url, login_mode, session_mode,"
        " external_id, health, health_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [name, bank_id, connector, username, portal_url, login_mode, session_mode, external_id, health, reason],
    )
    created = get(con, name)
    assert created is not None
    return created


def get(
    con: duckdb.DuckDBPyConnection, name: str, *, missing_ok: bool = False, include_removed: bool = True
) -> Connection | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM connections WHERE name = ?", [name]).fetchone()  # noqa: S608
    if row is None or (row[19] is not None and not include_removed):
        if missing_ok:
            return None
        raise NotFound(f"no connection {name!r}; `reconwb connections list` shows them")
    return Connection(*row)


def get_by_id(con: duckdb.DuckDBPyConnection, connection_id: int) -> Connection:
    row = con.execute(
        f"SELECT {_COLUMNS} FROM connections WHERE connection_id = ?", [connection_id]  # noqa: S608
    ).fetchone()
    if row is None:
        raise NotFound(f"no connection with id {connection_id}")
    return Connection(*row)


def list_connections(con: duckdb.DuckDBPyConnection, *, include_removed: bool = True) -> list[Connection]:
    where = "" if include_removed else "WHERE removed_at IS NULL"
    rows = con.execute(f"SELECT {_COLUMNS} FROM connections {where} ORDER BY name").fetchall()  # noqa: S608
    return [Connection(*r) for r in rows]


def remove(con: duckdb.DuckDBPyConnection, name: str) -> Connection:
    """Retire a connection: it becomes `obsolete`, its secrets go, its transactions and matches stay."""
    conn = get(con, name)
    assert conn is not None
    if conn.removed_at is not None:
        raise Conflict(f"connection {name!r} was removed already")
    with transaction(con):
        Vault.delete(con, conn.credentials_owner)
        sessions.forget(con, conn.connection_id)
        con.execute(
            "UPDATE connections SET removed_at = now() WHERE connection_id = ?", [conn.connection_id]
        )
        lifecycle.set_health(con, conn.connection_id, "obsolete", "the connection was removed")
    return get_by_id(con, conn.connection_id)


def set_modes(
    con: duckdb.DuckDBPyConnection, name: str, *, login_mode: str | None = None, session_mode: str | None = None
) -> Connection:
    """Change how a connection logs in (`simple`/`assisted`) or keeps its session (`one-shot`/`persistent`).

    The usual reason: the bank started asking for a one-time code at every login, which only an assisted login
    (a person answering) can get past. Leaving `persistent` drops the stored session at once.
    """
    conn = get(con, name)
    assert conn is not None
    if conn.removed_at is not None:
        raise Conflict(f"connection {name!r} was removed; add it again instead")
    if login_mode is not None and login_mode not in LOGIN_MODES:
        raise InvalidInput(f"login mode must be one of {', '.join(LOGIN_MODES)}, not {login_mode!r}")
    if session_mode is not None and session_mode not in SESSION_MODES:
        raise InvalidInput(f"session mode must be one of {', '.join(SESSION_MODES)}, not {session_mode!r}")
    with transaction(con):
        con.execute(
            "UPDATE connections SET login_mode = coalesce(?, login_mode), session_mode = coalesce(?, session_mode)"
            " WHERE connection_id = ?",
            [login_mode, session_mode, conn.connection_id],
        )
        if session_mode == "one-shot":
            sessions.forget(con, conn.connection_id)
    return get_by_id(con, conn.connection_id)


def set_credentials(con: duckdb.DuckDBPyConnection, vault: Vault, name: str, fields: dict[str, str]) -> Connection:
    """Seal new credentials and start the refresh: the next fetch is allowed and expected."""
    conn = get(con, name)
    assert conn is not None
    if conn.removed_at is not None or conn.health == "obsolete":
        raise Conflict(f"connection {name!r} is obsolete (removed); reconnect it as a new connection first")
    if not conn.needs_credentials:
        raise InvalidInput(f"connection {name!r} reads statement files and has no bank login")
    if not fields.get("password"):
        raise InvalidInput("the password is empty")
    with transaction(con):
        vault.put(con, conn.credentials_owner, fields)
        con.execute(
            "UPDATE connections SET credentials_set_at = now() WHERE connection_id = ?",
            [conn.connection_id],
        )
        lifecycle.credentials_updated(con, conn.connection_id)
    return get_by_id(con, conn.connection_id)


def get_credentials(con: duckdb.DuckDBPyConnection, vault: Vault, conn: Connection) -> dict[str, str] | None:
    """The decrypted credentials, for the duration of one fetch. Values are registered for redaction."""
    return vault.get(con, conn.credentials_owner)


class UpdateCancelled(ReconwbError):
    """The person cancelled an update before it was committed: nothing changed."""


@dataclass(frozen=True)
class UpdatePlan:
    """What an update is about to commit; shown to the person, who may still cancel."""

    connection: str
    credentials_changed: bool
    selected: list[str]
    deselected: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def update(
    con: duckdb.DuckDBPyConnection,
    vault: Vault,
    name: str,
    *,
    credentials: dict[str, str] | None = None,
    selected: Iterable[str] | None = None,
    confirm: Callable[[UpdatePlan], bool] | None = None,
) -> UpdatePlan:
    """Update mode (as in Plaid): new credentials and the accounts that stay selected, all or nothing.

    Everything happens in one transaction (do not call this inside another): `confirm` sees the plan before the
    commit, and a `False` from it, or any failure half-way, leaves no trace. An obsolete connection is refused:
    it must be reconnected (added again) first. Unexpected failures are reported to the notified users.
    """
    conn = get(con, name)
    assert conn is not None
    if conn.removed_at is not None or conn.health == "obsolete":
        raise Conflict(
            f"connection {name!r} is obsolete (removed): reconnect it as a new connection before updating it"
        )
    known = {a.external_ref for a in accounts.list_accounts(con, conn.connection_id)}
    keep = set(known if selected is None else selected)
    unknown = sorted(keep - known)
    if unknown:
        raise InvalidInput(
            f"connection {name!r} has no account {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none yet'}"
        )
    if known and not keep:
        raise InvalidInput(f"select at least one account of {name!r}")
    if credentials is not None and not credentials.get("password"):
        raise InvalidInput("the password is empty")
    try:
        with transaction(con):
            if credentials is not None:
                vault.put(con, conn.credentials_owner, credentials)
                con.execute(
                    "UPDATE connections SET credentials_set_at = now() WHERE connection_id = ?", [conn.connection_id]
                )
                lifecycle.credentials_updated(con, conn.connection_id)
            chosen, dropped = accounts.set_selection(con, conn.connection_id, keep)
            plan = UpdatePlan(name, credentials is not None, chosen, dropped)
            con.execute(
                "INSERT INTO audit_log (actor, action, subject, detail) VALUES ('user', 'connection.updated', ?, ?)",
                [f"connection:{conn.connection_id}", jsonutil.dumps(plan.as_dict())],
            )
            if confirm is not None and not confirm(plan):
                raise UpdateCancelled(f"the update of {name!r} was cancelled; nothing changed")
    except (UpdateCancelled, InvalidInput, NotFound, Conflict):
        raise
    except Exception as err:
        with transaction(con):
            lifecycle.report_failure(
                con, conn.connection_id, "the connection update", err, incident=events.new_id("upd")
            )
        raise
    return plan
