"""Notifications to the people who hold a permission: e-mail through SMTP, or a webhook POST.

Notifying is an outbox, like webhooks: `queue` writes one row per user and channel in the caller's
transaction, keyed by an incident key, so an incident that is reported again (a retry, a second job run) adds
nothing and each user hears of it once. `deliver` sends what is queued with the store closed, claiming rows
first so two deliverers never send the same row twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import duckdb
import httpx

from reconwb import jsonutil, settings
from reconwb.errors import AlreadyExists, InvalidInput, NotFound
from reconwb.redaction import redact, redact_exception
from reconwb.store.db import transaction
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

PERMISSIONS = ("reconciliation", "admin")
RECONCILIATION = "reconciliation"
CHANNELS = ("email", "webhook")
MAX_ATTEMPTS = 5
# a row claimed by a deliverer that died is claimed again after this long
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
WEBHOOK_TIMEOUT = 10.0
SMTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    email: str | None
    webhook_url: str | None
    permissions: tuple[str, ...]

    @property
    def channels(self) -> list[str]:
        return [c for c, v in (("email", self.email), ("webhook", self.webhook_url)) if v]

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "email": self.email,
            "webhook_url": self.webhook_url,
            "permissions": list(self.permissions),
        }


def _user(row: tuple) -> User:
    return User(row[0], row[1], row[2], row[3], tuple(row[4] or ()))


_USER_COLUMNS = "user_id, name, email, webhook_url, permissions"


def add_user(
    con: duckdb.DuckDBPyConnection,
    name: str,
    *,
    email: str | None = None,
    webhook_url: str | None = None,
    permissions: Iterable[str] = (),
) -> User:
    """Register a person who may be notified; at least one channel is needed to reach them."""
    perms = sorted(set(permissions))
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise InvalidInput(f"unknown permission {unknown[0]!r}; known: {', '.join(PERMISSIONS)}")
    if not name.strip():
        raise InvalidInput("a user name must not be empty")
    if email is not None and ("@" not in email or any(c.isspace() for c in email)):
        raise InvalidInput(f"{email!r} is not an e-mail address")
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise InvalidInput(f"{webhook_url!r} is not an http(s) URL")
    if not email and not webhook_url:
        raise InvalidInput(f"user {name!r} needs --email or --webhook-url to be reachable")
    if get_user(con, name, missing_ok=True) is not None:
        raise AlreadyExists(f"a user named {name!r} exists already")
    con.execute(
        "INSERT INTO users (name, email, webhook_url, permissions) VALUES (?, ?, ?, ?)",
        [name, email, webhook_url, perms],
    )
    user = get_user(con, name)
    assert user is not None
    return user


def get_user(con: duckdb.DuckDBPyConnection, name: str, *, missing_ok: bool = False) -> User | None:
    row = con.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", [name]).fetchone()
    if row is None:
        if missing_ok:
            return None
        raise NotFound(f"no user {name!r}; `reconwb users list` shows them")
    return _user(row)


def list_users(con: duckdb.DuckDBPyConnection, *, permission: str | None = None) -> list[User]:
    rows = con.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE ? IS NULL OR list_contains(permissions, ?) ORDER BY name",
        [permission, permission],
    ).fetchall()
    return [_user(r) for r in rows]


def queue(
    con: duckdb.DuckDBPyConnection,
    incident_key: str,
    subject: str,
    body: str,
    *,
    permission: str = RECONCILIATION,
    detail: dict[str, Any] | None = None,
) -> int:
    """Queue a notice for every user holding `permission`, once per incident; return how many are new."""
    subject, body = redact(subject), redact(body)
    detail_json = redact(jsonutil.dumps(detail)) if detail is not None else None
    before = _count(con, incident_key)
    con.execute(
        "INSERT INTO notifications (incident_key, user_id, channel, subject, body, detail)"
        " SELECT ?, user_id, channel, ?, ?, ? FROM ("
        "  SELECT user_id, 'email' AS channel FROM users WHERE email IS NOT NULL AND list_contains(permissions, ?)"
        "  UNION ALL"
        "  SELECT user_id, 'webhook' FROM users WHERE webhook_url IS NOT NULL AND list_contains(permissions, ?)"
        ") ORDER BY user_id, channel ON CONFLICT DO NOTHING",
        [incident_key, subject, body, detail_json, permission, permission],
    )
    return _count(con, incident_key) - before


def _count(con: duckdb.DuckDBPyConnection, incident_key: str) -> int:
    rows = con.execute("SELECT count(*) FROM notifications WHERE incident_key = ?", [incident_key]).fetchall()
    return int(rows[0][0])


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "errors": self.errors}


@dataclass(frozen=True)
class _Claimed:
    notification_id: int
    channel: str
    subject: str
    body: str
    detail: str | None
    incident_key: str
    address: str


def _claim(ws: Workspace) -> tuple[list[_Claimed], dict[str, str]]:
    with ws.connect() as con, transaction(con):
        stale = dt.datetime.now(dt.UTC) - CLAIM_TIMEOUT
        ids = con.execute(
            "UPDATE notifications SET status = 'sending', claimed_at = now(), attempts = attempts + 1"
            " WHERE status = 'pending' OR (status = 'sending' AND claimed_at < ?) RETURNING notification_id",
            [stale],
        ).fetchall()
        rows = con.execute(
            "SELECT n.notification_id, n.channel, n.subject, n.body, CAST(n.detail AS VARCHAR), n.incident_key,"
            " CASE n.channel WHEN 'email' THEN u.email ELSE u.webhook_url END"
            " FROM notifications n JOIN users u USING (user_id) WHERE list_contains(?, n.notification_id)"
            " ORDER BY n.notification_id",
            [[i[0] for i in ids]],
        ).fetchall()
        smtp = {k: settings.get(con, k) for k in ("smtp_host", "smtp_port", "smtp_from")}
    return [_Claimed(*r) for r in rows], smtp


def _send_email(item: _Claimed, smtp: dict[str, str]) -> None:
    message = EmailMessage()
    message["From"] = smtp["smtp_from"]
    message["To"] = item.address
    message["Subject"] = item.subject
    message["X-Reconwb-Incident"] = item.incident_key
    message.set_content(item.body)
    with smtplib.SMTP(smtp["smtp_host"], int(smtp["smtp_port"]), timeout=SMTP_TIMEOUT) as client:
        client.send_message(message)


def _send_webhook(item: _Claimed) -> None:
    payload = {
        "type": "notification",
        "incident": item.incident_key,
        "subject": item.subject,
        "body": item.body,
        "detail": json.loads(item.detail) if item.detail else None,
    }
    response = httpx.post(item.address, json=payload, timeout=WEBHOOK_TIMEOUT)
    response.raise_for_status()


def deliver(ws: Workspace) -> DeliveryReport:
    """Send every queued notification now; failures are retried by the next call, up to MAX_ATTEMPTS."""
    claimed, smtp = _claim(ws)
    report = DeliveryReport()
    outcomes: list[tuple[int, str | None]] = []
    for item in claimed:
        try:
            if item.channel == "email":
                _send_email(item, smtp)
            else:
                _send_webhook(item)
            outcomes.append((item.notification_id, None))
            report.sent += 1
        except Exception as err:  # one unreachable person must not stop the others
            message = redact_exception(err)
            log.warning("notification %s via %s failed: %s", item.notification_id, item.channel, message)
            outcomes.append((item.notification_id, message))
            report.failed += 1
            report.errors.append(f"{item.channel} {item.address}: {message}")
    if outcomes:
        with ws.connect() as con, transaction(con):
            for notification_id, error in outcomes:
                if error is None:
                    con.execute(
                        "UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL"
                        " WHERE notification_id = ?",
                        [notification_id],
                    )
                else:
                    con.execute(
                        "UPDATE notifications SET last_error = ?,"
                        " status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END"
                        " WHERE notification_id = ?",
                        [error, MAX_ATTEMPTS, notification_id],
                    )
    return report


def list_notifications(con: duckdb.DuckDBPyConnection, *, incident_key: str | None = None) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT n.notification_id, n.incident_key, u.name, n.channel, n.subject, n.status, n.attempts,"
        " n.last_error, n.created_at, n.sent_at FROM notifications n JOIN users u USING (user_id)"
        " WHERE ? IS NULL OR n.incident_key = ? ORDER BY n.notification_id",
        [incident_key, incident_key],
    ).fetchall()
    keys = ("notification_id", "incident_key", "user", "channel", "subject", "status", "attempts", "last_error",
            "created_at", "sent_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def job_failed(ws: Workspace, run: dict[str, Any]) -> int:
    """Tell the reconciliation users that a scheduled job failed (once per run); the jobs runner calls this."""
    with ws.connect() as con:
        return queue(
            con,
            f"job.failed:{run.get('id')}",
            f"reconwb job {run.get('job')} failed",
            f"Job {run.get('job')} (run {run.get('id')}) failed: {run.get('error') or 'see its output notebook'}."
            f" Output notebook: {run.get('output_path') or 'not written'}.",
            detail={k: run.get(k) for k in ("id", "job", "status", "output_path", "finished_at")},
        )
