"""Connection health: the state machine of DESIGN.md, in one place every connector reports to.

Each transition is written to the connection row and recorded as a `connection.health_changed` event (plus
`connection.reconnect_required` / `connection.reconnected` where those apply). Whether a fetch may run at all
is decided here too (`may_attempt`), which is what keeps an automatic job from retrying a login that could lock
a real account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from reconwb import events, settings
from reconwb.connectors import errors as taxonomy
from reconwb.redaction import redact_exception


class Health(StrEnum):
    OK = "ok"
    REFRESHING = "refreshing"
    RECONNECT_REQUIRED = "reconnect_required"
    AWAITING_OTP = "awaiting_otp"
    BLOCKED = "blocked"
    BROKEN = "broken"
    BANK_DISABLED = "bank_disabled"
    OBSOLETE = "obsolete"


# States in which a scheduled job may start a fetch on its own.
AUTOMATIC = frozenset({Health.OK, Health.REFRESHING, Health.BROKEN})
# Consecutive non-fatal failures (timeouts, maintenance) after which an `ok` connection is shown as broken.
TRANSIENT_LIMIT = 5
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=6)
# failed logins a bank tolerates when its connector does not say (`Connector.lockout_after`)
DEFAULT_LOCKOUT_AFTER = 3


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _row(con: duckdb.DuckDBPyConnection, connection_id: int) -> tuple:
    row = con.execute(
        "SELECT name, health, health_reason, fatal_failures, next_attempt_at, refreshing_until, removed_at "
        "FROM connections WHERE connection_id = ?",
        [connection_id],
    ).fetchone()
    if row is None:
        raise LookupError(f"no connection with id {connection_id}")
    return row


def set_health(
    con: duckdb.DuckDBPyConnection, connection_id: int, state: str, reason: str | None = None
) -> bool:
    """Move a connection to `state`; return whether anything changed. Events only on a real change."""
    state = Health(state)
    name, before, before_reason, *_ = _row(con, connection_id)
    if before == state and before_reason == reason:
        return False
    con.execute(
        "UPDATE connections SET health = ?, health_reason = ?, health_changed_at = now() "
        "WHERE connection_id = ?",
        [state.value, reason, connection_id],
    )
    if before == state:
        return True
    payload = {"connection": name, "connection_id": connection_id, "from": before, "to": state.value, "reason": reason}
    subject = f"connection:{connection_id}"
    event_id = events.emit(con, "connection.health_changed", payload, subject=subject)
    if state == Health.RECONNECT_REQUIRED:
        events.emit(con, "connection.reconnect_required", payload, subject=subject)
    elif state == Health.OK and before in (Health.RECONNECT_REQUIRED, Health.REFRESHING, Health.BLOCKED):
        events.emit(con, "connection.reconnected", payload, subject=subject)
    if state in NOTIFY:
        _notify_incident(con, connection_id, name, state, reason, event_id)
    return True


# States that need a person: entering one is an incident, and the people holding the reconciliation
# permission hear of it once (the incident key is the transition's event, so retries add nothing).
NOTIFY = frozenset({Health.RECONNECT_REQUIRED, Health.BLOCKED})
_NOTICES = {
    Health.RECONNECT_REQUIRED: ("{name}: update the bank credentials", "The bank needs you to reconnect {name}."),
    Health.BLOCKED: ("{name} needs attention", "Automatic fetches of {name} stopped to protect the bank login."),
}


def _notify_incident(
    con: duckdb.DuckDBPyConnection, connection_id: int, name: str, state: Health, reason: str | None, event_id: str
) -> None:
    from reconwb import notify

    subject, lead = (t.format(name=name) for t in _NOTICES[state])
    body = f"{lead}\nReason: {reason or 'not given'}\n\nOpen the reconwb dashboard and choose \"Update credentials\"."
    notify.queue(
        con,
        f"connection:{connection_id}:{state.value}:{event_id}",
        subject,
        body,
        detail={"connection": name, "connection_id": connection_id, "health": state.value, "reason": reason},
    )


def report_failure(
    con: duckdb.DuckDBPyConnection, connection_id: int, what: str, err: BaseException, *, incident: str
) -> int:
    """Tell the notified users that `what` failed for a connection, with the (redacted) details; once per incident."""
    name = _row(con, connection_id)[0]
    from reconwb import notify

    message = redact_exception(err)
    return notify.queue(
        con,
        f"connection:{connection_id}:failure:{incident}",
        f"{name}: {what} failed",
        f"{what} of {name} failed: {type(err).__name__}: {message}",
        detail={"connection": name, "connection_id": connection_id, "what": what, "error": type(err).__name__,
                "message": message},
    )


@dataclass(frozen=True)
class Budget:
    """The failed logins recorded for the current credentials, and how many reconwb lets happen.

    The bank's threshold (declared by its connector) is the hard cap: attempts may start only while one more
    failure stays below it; the workspace's `lockout_budget` setting may be stricter.
    """

    failures: int
    limit: int  # attempts may start while failures < limit
    lockout_after: int  # the bank locks the login at this many failures

    @property
    def exhausted(self) -> bool:
        return self.failures >= self.limit

    def describe(self) -> str:
        plural = "" if self.failures == 1 else "s"
        return f"{self.failures} failed login{plural} recorded; this bank locks after {self.lockout_after}"


def lockout_after(con: duckdb.DuckDBPyConnection, connection_id: int) -> int:
    """The failed logins the connection's bank tolerates, as its connector declares."""
    from reconwb.connectors import registry

    row = con.execute("SELECT connector FROM connections WHERE connection_id = ?", [connection_id]).fetchone()
    try:
        cls = registry.get(row[0]) if row else None
    except Exception:  # a plugin that is not installed here: assume the common threshold
        cls = None
    return int(getattr(cls, "lockout_after", None) or DEFAULT_LOCKOUT_AFTER)


def budget(con: duckdb.DuckDBPyConnection, connection_id: int, *, bank_threshold: int | None = None) -> Budget:
    threshold = bank_threshold if bank_threshold is not None else lockout_after(con, connection_id)
    failures = _row(con, connection_id)[3]
    limit = max(0, min(settings.get_int(con, "lockout_budget"), threshold - 1))
    return Budget(int(failures or 0), limit, threshold)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def may_attempt(con: duckdb.DuckDBPyConnection, connection_id: int, *, now: bool = False) -> Decision:
    """Whether a fetch may start. `now=True` is a person's "Run now": it clears a block and tries once."""
    name, health, reason, _fatal, next_at, _until, removed_at = _row(con, connection_id)
    if removed_at is not None or health == Health.OBSOLETE:
        return Decision(False, f"{name} is obsolete (removed); reconnect it first")
    if health == Health.BANK_DISABLED:
        return Decision(False, f"{name}: the bank is disabled")
    if now:
        return Decision(True, "run now")
    if health not in AUTOMATIC:
        return Decision(False, f"{name} is {health}: {reason or 'a person must act'}")
    if next_at is not None and next_at > _now():
        return Decision(False, f"{name}: next attempt at {next_at.isoformat(timespec='seconds')}")
    return Decision(True)


def run_now(con: duckdb.DuckDBPyConnection, connection_id: int) -> None:
    """A person asked for a fetch: forget the block and the backoff (the lockout count stays)."""
    _name, health, *_ = _row(con, connection_id)
    con.execute("UPDATE connections SET next_attempt_at = NULL WHERE connection_id = ?", [connection_id])
    if health == Health.BLOCKED:
        set_health(con, connection_id, Health.REFRESHING, "run now requested")


def credentials_updated(con: duckdb.DuckDBPyConnection, connection_id: int, *, new_version: bool = True) -> None:
    """New credentials: a new version with a fresh lockout budget, `refreshing` until the first fetch lands or
    the refresh window passes. (`new_version=False`: the provider accepted a reconnect of the same ones.)"""
    minutes = settings.get_int(con, "refresh_window_minutes")
    until = _now() + dt.timedelta(minutes=minutes)
    con.execute(
        "UPDATE connections SET refreshing_until = ?, next_attempt_at = NULL WHERE connection_id = ?",
        [until, connection_id],
    )
    if new_version:
        con.execute(
            "UPDATE connections SET credentials_version = coalesce(credentials_version, 0) + 1,"
            " fatal_failures = 0, credentials_rejected = NULL WHERE connection_id = ?",
            [connection_id],
        )
    set_health(
        con,
        connection_id,
        Health.REFRESHING,
        f"new credentials; deposits may take up to {minutes} minutes (expected by {until:%H:%M} UTC)",
    )


def record_attempt(con: duckdb.DuckDBPyConnection, connection_id: int) -> None:
    con.execute("UPDATE connections SET last_attempt_at = now() WHERE connection_id = ?", [connection_id])


def record_success(con: duckdb.DuckDBPyConnection, connection_id: int) -> None:
    """A fetch worked: `ok`, lockout budget refilled, backoff cleared."""
    con.execute(
        "UPDATE connections SET fatal_failures = 0, next_attempt_at = NULL, refreshing_until = NULL,"
        " credentials_rejected = NULL, last_success_at = now() WHERE connection_id = ?",
        [connection_id],
    )
    con.execute("DELETE FROM reconnect_requests WHERE connection_id = ?", [connection_id])
    set_health(con, connection_id, Health.OK, None)


def _backoff(failures: int) -> dt.timedelta:
    return min(BACKOFF_BASE * (2 ** max(failures - 1, 0)), BACKOFF_MAX)


def record_failure(con: duckdb.DuckDBPyConnection, connection_id: int, err: BaseException) -> Health:
    """Map a failure to a health state and retry policy, spending the lockout budget on fatal ones."""
    _name, health, _reason, fatal_failures, *_ = _row(con, connection_id)
    message = redact_exception(err)
    if isinstance(err, taxonomy.ReconnectRequired) and err.reconnect_id:
        con.execute(
            "INSERT INTO reconnect_requests (connection_id, reconnect_id, results_id) VALUES (?, ?, ?)"
            " ON CONFLICT (connection_id) DO UPDATE SET reconnect_id = excluded.reconnect_id,"
            " results_id = excluded.results_id, requested_at = now(), accepted_at = NULL",
            [connection_id, err.reconnect_id, getattr(err, "results_id", None) or None],
        )
    if isinstance(err, taxonomy.ConnectorError):
        kind = type(err)
        target = kind.health
        if kind.fatal:  # the bank rejected these credentials: counted, and never sent again
            fatal_failures += 1
            con.execute(
                "UPDATE connections SET fatal_failures = ?, credentials_rejected = ? WHERE connection_id = ?",
                [fatal_failures, kind.__name__, connection_id],
            )
        spent = budget(con, connection_id)
        if spent.exhausted and spent.failures > 0 and target != Health.BLOCKED:
            target = Health.BLOCKED
            message = f"needs attention: {spent.describe()} ({message})"
        if kind.retry == taxonomy.AFTER and getattr(err, "retry_after", None):
            _schedule(con, connection_id, dt.timedelta(seconds=float(err.retry_after)))
        elif kind.retry == taxonomy.BACKOFF:
            _schedule_backoff(con, connection_id)
        if target is None:
            # a passing failure: keep the state unless it keeps happening
            transient = _count_recent_failures(con, connection_id)
            if health == Health.OK and transient >= TRANSIENT_LIMIT:
                target = Health.BROKEN
                message = f"{transient} failed fetches in a row: {message}"
            else:
                return Health(health)
        set_health(con, connection_id, target, message)
        return Health(target)
    _schedule_backoff(con, connection_id)
    set_health(con, connection_id, Health.BROKEN, f"connector failed: {type(err).__name__}: {message}")
    return Health.BROKEN


def _count_recent_failures(con: duckdb.DuckDBPyConnection, connection_id: int) -> int:
    """Failed sync runs since the last successful one (the caller's own run included when recorded)."""
    row = con.execute(
        "SELECT count(*) FROM sync_runs WHERE connection_id = ? AND status = 'failed' AND started_at >"
        " coalesce((SELECT max(started_at) FROM sync_runs WHERE connection_id = ? AND status = 'ok'),"
        " TIMESTAMPTZ '1970-01-01')",
        [connection_id, connection_id],
    ).fetchone()
    return int(row[0]) + 1


def _schedule(con: duckdb.DuckDBPyConnection, connection_id: int, delay: dt.timedelta) -> None:
    con.execute(
        "UPDATE connections SET next_attempt_at = ? WHERE connection_id = ?", [_now() + delay, connection_id]
    )


def _schedule_backoff(con: duckdb.DuckDBPyConnection, connection_id: int) -> None:
    _schedule(con, connection_id, _backoff(_count_recent_failures(con, connection_id)))


def expire_refresh_windows(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Connections still `refreshing` after their window go back to `reconnect_required` (the seeds' rule)."""
    rows = con.execute(
        "SELECT connection_id FROM connections WHERE health = 'refreshing' AND refreshing_until < ?", [_now()]
    ).fetchall()
    for (connection_id,) in rows:
        set_health(
            con, connection_id, Health.RECONNECT_REQUIRED, "no deposits arrived within the refresh window"
        )
    return [r[0] for r in rows]


def bank_availability_changed(con: duckdb.DuckDBPyConnection, bank_id: str, *, usable: bool) -> None:
    """A disabled bank parks its connections in `bank_disabled`; re-enabling restores what they were."""
    if not usable:
        rows = con.execute(
            "SELECT connection_id, health FROM connections WHERE bank_id = ? AND removed_at IS NULL"
            " AND health <> 'bank_disabled'",
            [bank_id],
        ).fetchall()
        for connection_id, health in rows:
            con.execute(
                "UPDATE connections SET health_before_disable = ? WHERE connection_id = ?", [health, connection_id]
            )
            set_health(con, connection_id, Health.BANK_DISABLED, "the bank is unavailable for data")
    else:
        rows = con.execute(
            "SELECT connection_id, coalesce(health_before_disable, 'ok') FROM connections"
            " WHERE bank_id = ? AND health = 'bank_disabled'",
            [bank_id],
        ).fetchall()
        for connection_id, previous in rows:
            con.execute(
                "UPDATE connections SET health_before_disable = NULL WHERE connection_id = ?", [connection_id]
            )
            set_health(con, connection_id, previous, "the bank is available again")


@dataclass(frozen=True)
class ReconnectRequest:
    """What the provider handed back with a ReconnectRequired answer, kept until the reconnect is done."""

    connection_id: int
    reconnect_id: str
    results_id: str | None
    requested_at: dt.datetime
    accepted_at: dt.datetime | None

    @property
    def open(self) -> bool:
        return self.accepted_at is None


def reconnect_request(con: duckdb.DuckDBPyConnection, connection_id: int) -> ReconnectRequest | None:
    row = con.execute(
        "SELECT connection_id, reconnect_id, results_id, requested_at, accepted_at FROM reconnect_requests"
        " WHERE connection_id = ?",
        [connection_id],
    ).fetchone()
    return ReconnectRequest(*row) if row else None


def reconnect_accepted(con: duckdb.DuckDBPyConnection, connection_id: int) -> None:
    """The provider accepted the reconnect: `refreshing` until the first fetch lands (the seeds' window).

    The request row stays (accepted) until that fetch lands, so the results the provider sends after the
    reconnect can still be traced to the connection.
    """
    con.execute(
        "UPDATE reconnect_requests SET accepted_at = coalesce(accepted_at, now()) WHERE connection_id = ?",
        [connection_id],
    )
    _name, health, *_rest, until, _removed = _row(con, connection_id)
    if health != Health.REFRESHING or until is None:
        credentials_updated(con, connection_id, new_version=False)


@dataclass(frozen=True)
class CredentialWarning:
    connection: str
    connection_id: int
    age_days: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"connection": self.connection, "connection_id": self.connection_id, "age_days": self.age_days,
                "message": self.message}


def credential_warnings(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> list[CredentialWarning]:
    """Passwords older than `credential_max_age_days` (the seeds: rotate every 2 months; banks force ~3)."""
    max_age = settings.get_int(con, "credential_max_age_days")
    now = now or _now()
    rows = con.execute(
        "SELECT name, connection_id, credentials_set_at FROM connections"
        " WHERE removed_at IS NULL AND credentials_set_at IS NOT NULL ORDER BY credentials_set_at, name"
    ).fetchall()
    warnings = []
    for name, connection_id, set_at in rows:
        age = (now - set_at).days
        if age > max_age:
            warnings.append(
                CredentialWarning(
                    name,
                    connection_id,
                    age,
                    f"the password of {name} is {age} days old; change it at the bank and update it here"
                    f" (banks invalidate passwords about every 3 months)",
                )
            )
    return warnings
