"""Inbound webhooks (e.g. from the aggregator): verify, store raw and idempotently, then process.

Receiving and processing are apart on purpose. `receive` checks the Standard Webhooks signature with the
source's secret (sealed in the vault as `inbound/<source>/secret`), stores the body exactly as signed, keyed by
(source, webhook-id), and returns: the sender gets its 2xx fast, and a redelivery of the same id is a no-op.
The route is open to the internet, so junk must cost nothing: headers, timestamp and body are checked before
any secret is looked up, the secret is read once and kept `SECRET_CACHE_SECONDS` (forgotten when it is set
again; re-read at most once a second when a signature fails, for a rotation made by another process), the store
is opened for writing only for a verified webhook, and rejections are logged at most once a second per source,
with how many there were.
`process_inbound` then hands each stored event to the handler registered for its source, outside any store
session (handlers open the store themselves), and records the outcome; a failing handler is retried on the next
call, up to `MAX_PROCESS_ATTEMPTS`.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from reconwb.errors import InvalidInput
from reconwb.redaction import redact, redact_exception
from reconwb.vault import Vault
from reconwb.webhooks.signing import (
    TOLERANCE_SECONDS,
    VerificationFailed,
    check_headers,
    check_secret,
    check_signature,
)
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

Handler = Callable[[Workspace, dict[str, Any]], Any]

SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_BODY_BYTES = 1024 * 1024
MAX_PROCESS_ATTEMPTS = 5
SECRET_CACHE_SECONDS = 30.0  # how long a source's secret is trusted without reading the store again
SECRET_REREAD_SECONDS = 1.0  # a failed signature or an unknown source reads the store again at most this often
REJECTION_LOG_SECONDS = 1.0  # one log line per source per this long, with the count
MAX_TRACKED_SOURCES = 1000  # bounds the caches against a flood of made-up source names

# Handlers shipped with reconwb, imported when first needed: "source" -> "module:function".
BUILTIN_HANDLERS: dict[str, str] = {"aggregator": "reconwb.openbanking.lean:handle_webhook",
                                    "plaid": "reconwb.openbanking.plaid:handle_webhook"}
# Sources that sign their own way instead of Standard Webhooks: "source" -> "module:function", called as
# fn(ws, headers, body) -> (webhook id, timestamp), raising VerificationFailed for a refused one.
BUILTIN_VERIFIERS: dict[str, str] = {"plaid": "reconwb.openbanking.plaid:verify_inbound"}

_handlers: dict[str, Handler] = {}
_handlers_lock = threading.Lock()


def secret_owner(source: str) -> str:
    return f"inbound/{source}/secret"


def check_source(source: str) -> str:
    if not SOURCE_PATTERN.match(source):
        raise InvalidInput(f"inbound source {source!r}: use lowercase letters, digits, '-' and '_'")
    return source


def set_secret(con: duckdb.DuckDBPyConnection, vault: Vault, source: str, secret: str) -> None:
    """Seal the secret the sender signs `source` webhooks with."""
    check_source(source)
    vault.put(con, secret_owner(source), check_secret(secret, f"inbound secret for {source}"))
    _secrets.forget(source)


class _SecretCache:
    """Each source's secret as last read from the store (None: no secret), with when it was read."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self.reads = 0  # store reads, for tests

    def get(self, ws: Workspace, source: str, *, max_age: float = SECRET_CACHE_SECONDS) -> str | None:
        key = (str(ws.db_path), source)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            read_at, secret = entry
            limit = max_age if secret is not None else min(max_age, SECRET_REREAD_SECONDS)
            if time.monotonic() - read_at < limit:
                return secret
        with ws.connect() as con:
            secret = ws.vault().get(con, secret_owner(source))
        with self._lock:
            self.reads += 1
            if len(self._entries) >= MAX_TRACKED_SOURCES:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), secret)
        return secret

    def forget(self, source: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._entries if source is None or k[1] == source]:
                del self._entries[key]


class _RejectionLog:
    """At most one warning per source per REJECTION_LOG_SECONDS, carrying how many rejections it stands for.

    Rejections inside the window are counted, and a timer reports them when it closes, so the last burst of a
    flood is not lost from the log just because nothing came after it.
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._pending: dict[str, tuple[int, int, str, str | None]] = {}  # count, latest status, reason, id
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def note(self, source: str, status: int, reason: str, webhook_id: str | None) -> None:
        key = source if SOURCE_PATTERN.match(source) else "(invalid source)"
        now = time.monotonic()
        with self._lock:
            if len(self._last) >= MAX_TRACKED_SOURCES and key not in self._last:
                self._last = {k: v for k, v in self._last.items() if k in self._pending}
            count = self._pending.get(key, (0, 0, "", None))[0] + 1
            self._pending[key] = (count, status, reason, webhook_id)
            wait = REJECTION_LOG_SECONDS - (now - self._last.get(key, float("-inf")))
            if wait > 0:
                if key not in self._timers:
                    timer = threading.Timer(wait, self._flush, args=(key,))
                    timer.daemon = True
                    self._timers[key] = timer
                    timer.start()
                return
        self._flush(key)

    def _flush(self, key: str) -> None:
        with self._lock:
            self._timers.pop(key, None)
            pending = self._pending.pop(key, None)
            if pending is None:
                return
            self._last[key] = time.monotonic()
        count, status, reason, webhook_id = pending
        log.warning(
            "rejected inbound webhook for %s: %d since the last report; latest (webhook-id %s): %d %s",
            redact(key), count, redact(webhook_id or "-")[:80], status, redact(reason),
        )


_secrets = _SecretCache()
_rejections = _RejectionLog()


# -- handlers ---------------------------------------------------------------------------------------------------


def register_handler(source: str, fn: Handler) -> None:
    """Process `source` events with `fn(ws, event)`, where `event` is the parsed JSON body the sender signed."""
    check_source(source)
    with _handlers_lock:
        _handlers[source] = fn


def unregister_handler(source: str) -> None:
    with _handlers_lock:
        _handlers.pop(source, None)


def handler_for(source: str) -> Handler | None:
    """The registered handler, else the built-in one (imported now), else None."""
    with _handlers_lock:
        if source in _handlers:
            return _handlers[source]
    target = BUILTIN_HANDLERS.get(source)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return None  # that part of reconwb is not installed: events wait, stored
    fn = getattr(module, attr, None)
    if fn is not None:
        register_handler(source, fn)
    return fn


def _own_verifier(source: str) -> Callable[..., tuple[str, float]] | None:
    target = BUILTIN_VERIFIERS.get(source)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


# -- receiving --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What the receiver answers: an HTTP status, a short reason, and whether a new event was stored."""

    status: int
    reason: str
    webhook_id: str | None = None
    stored: bool = False


def receive(
    ws: Workspace,
    source: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> Received:
    """Verify one inbound webhook and store it; never raises for the sender's mistakes (they become a status).

    The store is opened for writing only once the webhook is verified; a secret not in the cache is read first.
    """
    now = time.time() if now is None else now
    try:
        if not SOURCE_PATTERN.match(source):
            return _reject(source, 404, "unknown webhook source", headers)
        if len(body) > MAX_BODY_BYTES:
            return _reject(source, 413, f"body larger than {MAX_BODY_BYTES} bytes", headers)
        own = _own_verifier(source)
        if own is not None:  # a sender that signs its own way (it may ask the sender for its key)
            webhook_id, timestamp = own(ws, headers, body)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                return _reject(source, 400, "body is not UTF-8", headers)
        else:
            message = check_headers(headers, body, now=now, tolerance=tolerance)
            secret = _secrets.get(ws, source)
            if secret is None:
                return _reject(source, 404, "no secret configured for this source", headers)
            try:
                check_signature(secret, message)
            except VerificationFailed:
                fresher = _secrets.get(ws, source, max_age=SECRET_REREAD_SECONDS)  # rotated by another process?
                if fresher is None or fresher == secret:
                    raise
                check_signature(fresher, message)
            webhook_id, timestamp, text = message.message_id, message.timestamp, message.text
        try:
            event = json.loads(text)
        except ValueError:
            return _reject(source, 400, "body is not JSON", headers)
        if not isinstance(event, dict):
            return _reject(source, 400, "body is not a JSON object", headers)
    except VerificationFailed as err:
        return _reject(source, err.status, err.reason, headers)
    event_type = event.get("type") if isinstance(event.get("type"), str) else None
    with ws.connect() as con:
        inserted = con.execute(
            "INSERT INTO inbound_events (source, webhook_id, sent_at, event_type, body)"
            " VALUES (?, ?, to_timestamp(?), ?, ?) ON CONFLICT DO NOTHING RETURNING webhook_id",
            [source, webhook_id, timestamp, event_type, text],
        ).fetchall()
    if inserted:
        return Received(200, "stored", webhook_id, stored=True)
    return Received(200, "duplicate (already stored)", webhook_id)


def _reject(source: str, status: int, reason: str, headers: Mapping[str, str]) -> Received:
    webhook_id = next((v for k, v in headers.items() if k.lower() == "webhook-id"), None)
    _rejections.note(source, status, reason, webhook_id)
    return Received(status, reason, webhook_id)


# -- processing -------------------------------------------------------------------------------------------------


@dataclass
class ProcessReport:
    processed: int = 0
    failed: int = 0  # handler raised; will be retried (or gave up after MAX_PROCESS_ATTEMPTS)
    waiting: int = 0  # stored events whose source has no handler yet

    def as_dict(self) -> dict[str, int]:
        return {"processed": self.processed, "failed": self.failed, "waiting": self.waiting}


_process_lock = threading.Lock()


def process_inbound(ws: Workspace, *, limit: int = 500) -> ProcessReport:
    """Hand stored events to their handlers, oldest first, and record each outcome.

    One caller at a time per process (the server schedules it after every stored event; overlapping calls
    would only run the same events twice).
    """
    report = ProcessReport()
    with _process_lock:
        with ws.connect() as con:
            waiting = dict(con.execute(
                "SELECT source, count(*) FROM inbound_events WHERE status = 'received' GROUP BY source"
            ).fetchall())
            handlers = {source: fn for source in waiting if (fn := handler_for(source)) is not None}
            report.waiting = sum(n for source, n in waiting.items() if source not in handlers)
            rows = con.execute(  # only sources with a handler, so unhandled ones cannot crowd them out
                "SELECT source, webhook_id, body, attempts FROM inbound_events"
                " WHERE status = 'received' AND list_contains(?, source)"
                " ORDER BY received_at, webhook_id LIMIT ?",
                [list(handlers), limit],
            ).fetchall()
        outcomes: list[tuple[str, str, str, str | None]] = []
        for source, webhook_id, body, attempts in rows:
            try:
                handlers[source](ws, json.loads(body))
            except Exception as err:  # a handler's bug must not stop the others
                report.failed += 1
                message = f"{type(err).__name__}: {redact_exception(err)}"
                log.warning("inbound %s event %s failed: %s", source, webhook_id, message)
                status = "failed" if attempts + 1 >= MAX_PROCESS_ATTEMPTS else "received"
                outcomes.append((source, webhook_id, status, message))
            else:
                report.processed += 1
                outcomes.append((source, webhook_id, "processed", None))
        if outcomes:
            with ws.connect() as con:
                con.executemany(
                    "UPDATE inbound_events SET status = ?, attempts = attempts + 1, error = ?,"
                    " processed_at = CASE WHEN ? = 'processed' THEN now() END"
                    " WHERE source = ? AND webhook_id = ?",
                    [[status, error, status, source, wid] for source, wid, status, error in outcomes],
                )
    return report


def list_inbound(
    con: duckdb.DuckDBPyConnection, *, source: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Stored inbound events, newest first (without their bodies)."""
    clauses, params = [], []
    for name, value in (("source", source), ("status", status)):
        if value is not None:
            clauses.append(f"{name} = ?")
            params.append(value)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    cursor = con.execute(
        "SELECT source, webhook_id, event_type, status, attempts, sent_at, received_at, processed_at, error"
        f" FROM inbound_events{where} ORDER BY received_at DESC LIMIT ?",
        [*params, limit],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
