"""What each open-banking provider implements, and which adapter serves which connector.

An adapter maps one provider's flows onto the provider-neutral service: linking a connection, the step after
the user reconnected (new password, update-mode Link, a new requisition), completing parked results, checking
and acting on the provider's webhooks, and its bank list. Provider errors become taxonomy errors in the thin
connector the adapter builds on (`reconwb.connectors.<provider>`), so the lifecycle decides every state.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from reconwb.errors import ReconwbError

if TYPE_CHECKING:
    from reconwb.connectors.base import AccountInfo
    from reconwb.openbanking.pending import Pending
    from reconwb.transactions import Txn
    from reconwb.workspace import Workspace

Fetched = list[tuple["AccountInfo", list["Txn"]]]

# connector id -> "module:attribute" of its adapter instance (imported when first needed)
ADAPTERS: dict[str, str] = {
    "aggregator": "reconwb.openbanking.lean:ADAPTER",
    "plaid": "reconwb.openbanking.plaid:ADAPTER",
    "gocardless": "reconwb.openbanking.gocardless:ADAPTER",
}


class InvalidSignature(ReconwbError):
    """An inbound provider webhook that does not verify: ignored, answered 401."""


class Adapter:
    """One provider. Steps are coroutines that open the store only around their own reads and writes."""

    connector_id: ClassVar[str]
    webhook_source: ClassVar[str]  # the inbound webhook source name (`/reconwb/webhooks/<source>`)

    async def link(self, ws: Workspace, name: str) -> dict[str, Any]:
        """Connect a new connection at the provider; the answer's `status` is `linked` or `failed`."""
        raise NotImplementedError

    async def reconnect(self, ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
        """The step after the user acted on a reconnect request (or renews consent early)."""
        raise NotImplementedError

    async def fetch_results(self, ws: Workspace, pending: Pending) -> Fetched | None:
        """A parked result's data once the provider has it; None while still pending."""
        raise NotImplementedError(f"{self.connector_id} does not park results")

    def verify_webhook(self, ws: Workspace, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """The event of a webhook whose signature verifies as the provider specifies; else InvalidSignature."""
        raise InvalidSignature(f"{self.connector_id} sends no webhooks")

    def handle_webhook(self, ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
        """Act on one verified event; safe to receive twice."""
        return {"handled": False, "reason": "event type not handled"}

    async def refresh_banks(self, ws: Workspace) -> dict[str, Any]:
        """Read the provider's bank list into the registry."""
        raise NotImplementedError


@cache
def _load(target: str) -> Adapter:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def for_connector(connector_id: str) -> Adapter | None:
    """The adapter of an open-banking connector; None for portals and statement files."""
    target = ADAPTERS.get(connector_id)
    return _load(target) if target else None


def for_source(source: str) -> Adapter | None:
    """The adapter whose provider sends webhooks as `source`."""
    for target in ADAPTERS.values():
        adapter = _load(target)
        if adapter.webhook_source == source:
            return adapter
    return None
