"""Inbound provider webhooks: each provider's own verification, then its adapter acts on the event.

Lean signs with Standard Webhooks, Plaid with an ES256 JWT in `Plaid-Verification`, GoCardless Bank Account
Data sends none. `handle` is the inbound handler the webhook receiver calls for a stored event of a provider
source; `verify_and_handle` is what a route that receives and acts at once does.
"""

from __future__ import annotations

import logging
from typing import Any

from reconwb.errors import ReconwbError
from reconwb.openbanking import adapter as adapters
from reconwb.openbanking.adapter import InvalidSignature
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = ["InvalidSignature", "handle", "verify", "verify_and_handle"]


def _adapter(source: str) -> adapters.Adapter:
    found = adapters.for_source(source)
    if found is None:
        raise InvalidSignature(f"no open-banking provider sends webhooks as {source!r}")
    return found


def verify(ws: Workspace, source: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The event of a webhook that verifies as its provider specifies; InvalidSignature otherwise."""
    return _adapter(source).verify_webhook(ws, body, {k.lower(): v for k, v in headers.items()})


def handle(ws: Workspace, source: str, event: dict[str, Any]) -> dict[str, Any]:
    """Act on one verified event; a provider's refusal is reported, a store or network failure raised."""
    try:
        return _adapter(source).handle_webhook(ws, event)
    except InvalidSignature:
        raise
    except ReconwbError as err:
        log.warning("%s webhook failed: %s", source, redact_exception(err))
        return {"handled": False, "reason": redact_exception(err)}


def verify_and_handle(ws: Workspace, source: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """What an inbound HTTP route does: verify, then act."""
    return handle(ws, source, verify(ws, source, body, headers))
