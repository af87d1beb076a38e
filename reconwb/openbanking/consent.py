"""Consent expiry, the same for every provider: when the provider's access to the bank ends, and the warnings.

PSD2 consent (GoCardless agreements, Plaid's EU items, Lean) lasts a fixed time; once it ends, fetches fail
until the user reconnects. reconwb stores the end as `connections.consent_expires_at`, shows it (banner, list),
and warns once at each of `WARN_DAYS` before it: one `connection.consent_expiring` event (and so webhook) and
one notification to the people with the reconciliation permission. A first check that finds less than 7 days
left gives one warning, not two. Reconnecting early moves the date and keeps the accounts and their history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

WARN_DAYS = (14, 7)  # warn this many days before the consent ends (the banner shows from the first)


def message(name: str, expires_at: dt.datetime) -> str:
    """The words every surface uses (banner, notification, event)."""
    return f"Bank access for {name} ends on {expires_at:%Y-%m-%d}: reconnect"


def days_left(expires_at: dt.datetime, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    return max((expires_at - now).days, 0) if expires_at > now else -1


def due(expires_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """Whether a consent ending at `expires_at` is inside the warning window now (the banner's rule)."""
    return expires_at is not None and days_left(expires_at, now) <= max(WARN_DAYS)


def record(con: duckdb.DuckDBPyConnection, connection_id: int, expires_at: dt.datetime | None) -> bool:
    """Store when a connection's consent ends; return whether it changed."""
    row = con.execute("SELECT consent_expires_at FROM connections WHERE connection_id = ?",
                      [connection_id]).fetchone()
    if row is None or row[0] == expires_at:
        return False
    con.execute("UPDATE connections SET consent_expires_at = ? WHERE connection_id = ?", [expires_at, connection_id])
    return True


@dataclass(frozen=True)
class ConsentWarning:
    connection: str
    connection_id: int
    consent_expires_at: dt.datetime
    days_left: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"connection": self.connection, "connection_id": self.connection_id,
                "consent_expires_at": self.consent_expires_at.isoformat(), "days_left": self.days_left,
                "message": self.message}


def warnings(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> list[ConsentWarning]:
    """Connections whose consent ends inside the warning window (or has ended), soonest first."""
    now = now or dt.datetime.now(dt.UTC)
    rows = con.execute(
        "SELECT name, connection_id, consent_expires_at FROM connections WHERE removed_at IS NULL"
        " AND health <> 'obsolete' AND consent_expires_at IS NOT NULL AND consent_expires_at <= ?"
        " ORDER BY consent_expires_at, name",
        [now + dt.timedelta(days=max(WARN_DAYS) + 1)],
    ).fetchall()
    return [ConsentWarning(name, cid, at, days_left(at, now), message(name, at))
            for name, cid, at in rows if due(at, now)]


def check(ws: Workspace) -> list[ConsentWarning]:
    """`notify_expiring` in its own short transaction: what a scheduled job runs after its fetches."""
    from reconwb.openbanking.store import in_store

    return in_store(ws, notify_expiring)


def notify_expiring(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> list[ConsentWarning]:
    """Give the warnings that are due and were not given yet: one event and one notification each."""
    from reconwb import events, notify

    now = now or dt.datetime.now(dt.UTC)
    given = []
    for warning in warnings(con, now):
        crossed = [d for d in WARN_DAYS if warning.days_left <= d]
        new = con.execute(
            "INSERT INTO consent_notices (connection_id, consent_expires_at, days_before)"
            " SELECT ?, ?, unnest(?) ON CONFLICT DO NOTHING RETURNING days_before",
            [warning.connection_id, warning.consent_expires_at, crossed],
        ).fetchall()
        if not new:
            continue
        threshold = min(r[0] for r in new)
        payload = {**warning.as_dict(), "days_before": threshold}
        subject = f"connection:{warning.connection_id}"
        events.emit(con, "connection.consent_expiring", payload, subject=subject)
        notify.queue(
            con,
            f"connection:{warning.connection_id}:consent:{warning.consent_expires_at:%Y%m%d}:{threshold}",
            warning.message,
            f"{warning.message}.\nThe bank's consent for {warning.connection} ends in {warning.days_left} days."
            " Reconnect it from the reconwb dashboard (\"Reconnect\") before then; accounts and history are kept.",
            detail=payload,
        )
        given.append(warning)
    return given
