"""Webhook endpoints: where events go, how we authenticate to them, and the secret we sign with.

The endpoint's own token (Bearer or Api-Key) and our Standard Webhooks signing secret are both sealed in the
vault, never stored in the clear: owners `webhook-endpoint/<id>/token` and `webhook-endpoint/<id>/secret`. The
signing secret is shown once, when it is made (`add`, `rotate_secret`).

Rotation overlaps, as Svix does it: for `ROTATION_OVERLAP` after a rotation every delivery carries a signature
with the new secret and one with the previous secret (sealed as `webhook-endpoint/<id>/previous-secret`), so the
receiver may switch to the new secret whenever it likes within that window. Past it the previous secret is
dropped from the vault the next time credentials are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import duckdb

from reconwb.errors import InvalidInput, NotFound
from reconwb.events import EVENT_TYPES, new_id
from reconwb.store.db import transaction
from reconwb.vault import Vault
from reconwb.webhooks.signing import generate_secret

AUTH_SCHEMES = ("bearer", "api-key", "none")
ROTATION_OVERLAP = dt.timedelta(hours=24)
TEST_EVENT_TYPE = "webhook.test"


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    auth_scheme: str
    event_types: list[str] | None
    enabled: bool
    disabled_reason: str | None
    created_at: dt.datetime
    previous_secret_until: dt.datetime | None = None  # deliveries are signed with the old secret too until then

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Credentials:
    """What a delivery needs in the clear, for the time of one run."""

    token: str | None
    secret: str
    previous_secret: str | None = None  # still signing, within the rotation overlap

    @property
    def signing_secrets(self) -> tuple[str, ...]:
        return (self.secret, self.previous_secret) if self.previous_secret else (self.secret,)

    def auth_headers(self, scheme: str) -> dict[str, str]:
        if scheme == "bearer" and self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if scheme == "api-key" and self.token:
            return {"Api-Key": self.token}
        return {}


def token_owner(endpoint_id: str) -> str:
    return f"webhook-endpoint/{endpoint_id}/token"


def secret_owner(endpoint_id: str) -> str:
    return f"webhook-endpoint/{endpoint_id}/secret"


def previous_secret_owner(endpoint_id: str) -> str:
    return f"webhook-endpoint/{endpoint_id}/previous-secret"


_COLUMNS = "endpoint_id, url, auth_scheme, event_types, enabled, disabled_reason, created_at, previous_secret_until"


def _row(row: tuple[Any, ...]) -> Endpoint:
    return Endpoint(row[0], row[1], row[2], list(row[3]) if row[3] is not None else None, *row[4:])


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"webhook URL {url!r}: expected http:// or https:// with a host")
    if parts.username or parts.password:
        raise InvalidInput("webhook URL: put credentials in the token (--token-stdin), not in the URL")
    return url.strip()


def parse_event_types(text: str | None) -> list[str] | None:
    """`"a,b"` -> `["a", "b"]`, checked against the known event types; None or empty means every event."""
    if text is None or not text.strip():
        return None
    types = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(types))


def add(
    con: duckdb.DuckDBPyConnection,
    vault: Vault,
    url: str,
    *,
    auth: str,
    token: str | None,
    event_types: list[str] | None = None,
) -> tuple[Endpoint, str]:
    """Create an endpoint; return it and its new signing secret (the only time the secret is returned)."""
    url = check_url(url)
    if auth not in AUTH_SCHEMES:
        raise InvalidInput(f"auth scheme {auth!r}: expected one of {', '.join(AUTH_SCHEMES)}")
    token = (token or "").strip() or None
    if auth != "none" and not token:
        raise InvalidInput(f"a token is required for the {auth!r} auth scheme (pass it on stdin with --token-stdin)")
    if token and any(c in token for c in "\r\n\0"):
        raise InvalidInput("the token must be one line")
    if event_types is not None:
        event_types = parse_event_types(",".join(event_types))
    endpoint_id = new_id("ep")
    secret = generate_secret()
    with transaction(con):
        con.execute(
            "INSERT INTO webhook_endpoints (endpoint_id, url, auth_scheme, event_types) VALUES (?, ?, ?, ?)",
            [endpoint_id, url, auth, event_types],
        )
        if token:
            vault.put(con, token_owner(endpoint_id), token)
        vault.put(con, secret_owner(endpoint_id), secret)
    return get(con, endpoint_id), secret


def get(con: duckdb.DuckDBPyConnection, endpoint_id: str) -> Endpoint:
    row = con.execute(f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE endpoint_id = ?", [endpoint_id]).fetchall()
    if not row:
        raise NotFound(f"no webhook endpoint {endpoint_id!r} (see `reconwb webhooks list`)")
    return _row(row[0])


def list_endpoints(con: duckdb.DuckDBPyConnection) -> list[Endpoint]:
    return [_row(r) for r in con.execute(f"SELECT {_COLUMNS} FROM webhook_endpoints ORDER BY created_at").fetchall()]


def summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every endpoint with how many of its messages are pending, delivered and dead (for `list` and dashboards)."""
    counts = {
        (ep, status): n
        for ep, status, n in con.execute(
            "SELECT endpoint_id, status, count(*) FROM webhook_deliveries GROUP BY ALL"
        ).fetchall()
    }
    out = []
    for endpoint in list_endpoints(con):
        row = endpoint.as_dict()
        row["event_types"] = ",".join(endpoint.event_types) if endpoint.event_types else "*"
        for status in ("pending", "delivered", "dead"):
            row[status] = counts.get((endpoint.endpoint_id, status), 0)
        out.append(row)
    return out


def remove(con: duckdb.DuckDBPyConnection, endpoint_id: str) -> int:
    """Delete an endpoint and its secrets; its undelivered messages are cancelled (the log is kept).

    Returns how many pending messages were cancelled.
    """
    get(con, endpoint_id)
    with transaction(con):
        cancelled = con.execute(
            "UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL "
            "WHERE endpoint_id = ? AND status = 'pending' RETURNING message_id",
            [endpoint_id],
        ).fetchall()
        con.execute("DELETE FROM webhook_endpoints WHERE endpoint_id = ?", [endpoint_id])
        for owner in (token_owner, secret_owner, previous_secret_owner):
            Vault.delete(con, owner(endpoint_id))
    return len(cancelled)


def rotate_secret(
    con: duckdb.DuckDBPyConnection, vault: Vault, endpoint_id: str, *, overlap: dt.timedelta = ROTATION_OVERLAP
) -> str:
    """Replace the signing secret; return the new one.

    Deliveries from now on are signed with it and, for `overlap` (zero: not at all), with the secret it replaces,
    so receivers that still check the old one keep accepting. Rotating again within the overlap retires the
    oldest secret at once: two secrets sign at most.
    """
    if overlap < dt.timedelta(0):
        raise InvalidInput("the rotation overlap cannot be negative")
    get(con, endpoint_id)
    secret = generate_secret()
    with transaction(con):
        current = vault.get(con, secret_owner(endpoint_id))
        if overlap and current:
            vault.put(con, previous_secret_owner(endpoint_id), current)
            con.execute("UPDATE webhook_endpoints SET previous_secret_until = ? WHERE endpoint_id = ?",
                        [dt.datetime.now(dt.UTC) + overlap, endpoint_id])
        else:
            _retire_previous_secret(con, endpoint_id)
        vault.put(con, secret_owner(endpoint_id), secret)
    return secret


def set_enabled(
    con: duckdb.DuckDBPyConnection, endpoint_id: str, enabled: bool, reason: str | None = None
) -> Endpoint:
    """Enable (messages held while it was off become due) or disable an endpoint, with the reason why."""
    get(con, endpoint_id)
    con.execute(
        "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ? WHERE endpoint_id = ?",
        [enabled, None if enabled else (reason or "disabled by a user"), endpoint_id],
    )
    return get(con, endpoint_id)


def credentials(con: duckdb.DuckDBPyConnection, vault: Vault, endpoint_id: str) -> Credentials:
    """What one delivery run signs and authenticates with; a previous secret past its overlap is dropped here."""
    secret = vault.get(con, secret_owner(endpoint_id))
    if secret is None:
        raise NotFound(f"webhook endpoint {endpoint_id} has no signing secret; run `reconwb webhooks rotate-secret`")
    previous = None
    until = get(con, endpoint_id).previous_secret_until
    if until is not None:
        if until > dt.datetime.now(dt.UTC):
            previous = vault.get(con, previous_secret_owner(endpoint_id))
        else:
            _retire_previous_secret(con, endpoint_id)
    return Credentials(token=vault.get(con, token_owner(endpoint_id)), secret=secret, previous_secret=previous)


def _retire_previous_secret(con: duckdb.DuckDBPyConnection, endpoint_id: str) -> None:
    """The rotation overlap is over (or was none): only the current secret signs from now on."""
    with transaction(con):
        Vault.delete(con, previous_secret_owner(endpoint_id))
        con.execute("UPDATE webhook_endpoints SET previous_secret_until = NULL WHERE endpoint_id = ?", [endpoint_id])
