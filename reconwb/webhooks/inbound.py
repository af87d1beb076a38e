"""Inbound webhooks (e.g. from the aggregator): verify, store raw and idempotently, then process.

Receiving and processing are apart on purpose. `receive` checks the Standard Webhooks signature with the
source's secret (sealed in the vault as `inbound/<source>/secret`), stores the body exactly as signed, keyed by
(source, webhook-id), and returns: the sender gets its 2xx fast, and a redelivery of the same id is a no-op.
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
from reconwb.webhooks.signing import TOLERANCE_SECONDS, VerificationFailed, check_secret, verify
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

Handler = Callable[[Workspace, dict[str, Any]], Any]

SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_BODY_BYTES = 1024 * 1024
MAX_PROCESS_ATTEMPTS = 5

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
    """Verify one inbound webhook and store it; never raises for the sender's mistakes (they become a status)."""
    now = time.time() if now is None else now
    try:
        if not SOURCE_PATTERN.match(source):
            return _reject(source, 404, "unknown webhook source", headers)
        if len(body) > MAX_BODY_BYTES:
            return _reject(source, 413, f"body larger than {MAX_BODY_BYTES} bytes", headers)
        own = _own_verifier(source)
        if own is not None:  # verified before the store opens: it may ask the sender for its key
            webhook_id, timestamp = own(ws, headers, body)
        with ws.connect() as con:
            if own is None:
                secret = ws.vault().get(con, secret_owner(source))
                if secret is None:
                    return _reject(source, 404, "no secret configured for this source", headers)
                webhook_id, timestamp = verify(secret, headers, body, now=now, tolerance=tolerance)
            try:
                event = json.loads(body)
            except ValueError:
                return _reject(source, 400, "body is not JSON", headers)
            if not isinstance(event, dict):
                return _reject(source, 400, "body is not a JSON object", headers)
            event_type = event.get("type") if isinstance(event.get("type"), str) else None
            inserted = con.execute(
                "INSERT INTO inbound_events (source, webhook_id, sent_at, event_type, body)"
                " VALUES (?, ?, to_timestamp(?), ?, ?) ON CONFLICT DO NOTHING RETURNING webhook_id",
                [source, webhook_id, timestamp, event_type, body.decode("utf-8")],
            ).fetchall()
    except VerificationFailed as err:
        return _reject(source, err.status, err.reason, headers)
    if inserted:
        return Received(200, "stored", webhook_id, stored=True)
    return Received(200, "duplicate (already stored)", webhook_id)


def _reject(source: str, status: int, reason: str, headers: Mapping[str, str]) -> Received:
    webhook_id = next((v for k, v in headers.items() if k.lower() == "webhook-id"), None)
    log.warning(
        "rejected inbound webhook for %s (webhook-id %s): %d %s",
        redact(source), redact(webhook_id or "-")[:80], status, redact(reason),
    )
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
