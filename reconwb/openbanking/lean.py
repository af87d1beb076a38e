"""The Lean adapter: the aggregator's side of a connection (customer, entity), its reconnect step, webhooks
and `/banks/v1`, as the seeds' v1 flow defines them.

A bank login is an *entity*: linking creates the customer and the entity with the stored bank password;
`RECONNECT_REQUIRED` carries a `reconnect_id` that the reconnect step answers with the updated password (and
an OTP only where the bank asks for one); `PENDING` parks a result until `results.ready`. The app token is
sealed in the vault (`reconwb.connectors.aggregator.APP_TOKEN_OWNER`); webhooks are Standard Webhooks signed
with the secret sealed for the inbound source `aggregator`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import duckdb

from reconwb import connections, jsonutil, lifecycle, settings
from reconwb.connectors import errors as taxonomy
from reconwb.connectors.aggregator import (
    CONNECTOR_ID,
    PERMISSIONS,
    AggregatorClient,
    api_config,
    check,
    fetched_from_results,
)
from reconwb.errors import Conflict, InvalidInput
from reconwb.openbanking import banklist, linking, pending
from reconwb.openbanking.adapter import Adapter, Fetched, InvalidSignature
from reconwb.openbanking.store import in_store, in_store_async, run
from reconwb.vault import Vault
from reconwb.webhooks import inbound, signing
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

WEBHOOK_SOURCE = "aggregator"  # the inbound webhook source: its secret is `inbound.secret_owner(WEBHOOK_SOURCE)`

__all__ = ["CONNECTOR_ID", "PERMISSIONS", "WEBHOOK_SOURCE", "InvalidSignature", "LeanAdapter"]


# -- configuration ------------------------------------------------------------------------------------------


def configure(con: duckdb.DuckDBPyConnection, vault: Vault, *, url: str | None = None,
              app_token: str | None = None, webhook_secret: str | None = None) -> None:
    """Point reconwb at an aggregator: its base URL (a setting), its app token and webhook secret (sealed)."""
    from reconwb.connectors.aggregator import APP_TOKEN_OWNER

    if url is not None:
        settings.set_value(con, "aggregator_url", url)
    if app_token is not None:
        if not app_token.strip():
            raise InvalidInput("the app token is empty")
        vault.put(con, APP_TOKEN_OWNER, {"token": app_token.strip()})
    if webhook_secret is not None:
        if not webhook_secret.strip().startswith("whsec_"):
            raise InvalidInput("the aggregator's webhook secret must start with whsec_")
        inbound.set_secret(con, vault, WEBHOOK_SOURCE, webhook_secret.strip())


def webhook_secret(con: duckdb.DuckDBPyConnection, vault: Vault) -> str | None:
    """The secret the aggregator signs its webhooks with: the one the Jupyter server's receiver verifies."""
    return vault.get(con, inbound.secret_owner(WEBHOOK_SOURCE))


# -- the aggregator's records of a connection -------------------------------------------------------------


def app_user_id(connection_id: int) -> str:
    """The id reconwb gives the aggregator for a connection's customer; entity.created brings it back."""
    return f"reconwb-connection-{connection_id}"


def _connection_for_customer(con: duckdb.DuckDBPyConnection, customer_id: str | None,
                             app_user: str | None) -> int | None:
    row = con.execute(
        "SELECT connection_id FROM aggregator_customers WHERE customer_id = ? OR app_user_id = ?",
        [customer_id, app_user],
    ).fetchone()
    if row:
        return int(row[0])
    prefix = app_user_id(0)[:-1]
    if app_user and app_user.startswith(prefix) and app_user[len(prefix):].isdigit():
        found = con.execute(
            "SELECT connection_id FROM connections WHERE connection_id = ?", [int(app_user[len(prefix):])]
        ).fetchone()
        return int(found[0]) if found else None
    return None


def _connection_for_entity(con: duckdb.DuckDBPyConnection, entity_id: str) -> int | None:
    row = con.execute(
        "SELECT connection_id FROM connections WHERE external_id = ? AND connector = ? ORDER BY removed_at NULLS FIRST",
        [entity_id, CONNECTOR_ID],
    ).fetchone()
    return int(row[0]) if row else None


def _record_entity(con: duckdb.DuckDBPyConnection, connection_id: int, entity: dict[str, Any]) -> bool:
    """Link an entity to its connection (idempotent); return whether the connection's entity changed."""
    permissions = entity.get("permissions") or {}
    if isinstance(permissions, dict):
        permissions = [p for p, on in permissions.items() if on]
    bank_id = entity.get("bank_identifier") or (entity.get("bank_details") or {}).get("identifier")
    con.execute(
        "INSERT INTO aggregator_entities (entity_id, connection_id, customer_id, bank_identifier, permissions)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity_id) DO UPDATE SET connection_id = excluded.connection_id,"
        " permissions = excluded.permissions",
        [entity["id"], connection_id, entity.get("customer_id"), bank_id, sorted(permissions)],
    )
    conn = connections.get_by_id(con, connection_id)
    if conn.external_id == entity["id"]:
        return False
    con.execute("UPDATE connections SET external_id = ? WHERE connection_id = ?", [entity["id"], connection_id])
    if conn.credentials_set_at is not None and conn.health in (lifecycle.Health.RECONNECT_REQUIRED,
                                                               lifecycle.Health.REFRESHING):
        lifecycle.reconnect_accepted(con, connection_id)
    return True


def entity_payload(con: duckdb.DuckDBPyConnection, connection_id: int) -> dict[str, Any] | None:
    """The entity a connection is linked to, as recorded (dashboards, `--json`)."""
    row = con.execute(
        "SELECT entity_id, customer_id, bank_identifier, permissions, created_at, reconnected_at"
        " FROM aggregator_entities WHERE connection_id = ? ORDER BY created_at DESC LIMIT 1",
        [connection_id],
    ).fetchone()
    if row is None:
        return None
    keys = ("entity_id", "customer_id", "bank_identifier", "permissions", "created_at", "reconnected_at")
    return json.loads(jsonutil.dumps(dict(zip(keys, row, strict=True))))


def _config(ws: Workspace, url: str | None = None) -> Any:
    vault = ws.vault()
    return in_store(ws, lambda con: api_config(con, vault, url))


# -- the adapter ----------------------------------------------------------------------------------------------


class LeanAdapter(Adapter):
    connector_id = CONNECTOR_ID
    webhook_source = WEBHOOK_SOURCE

    async def link(self, ws: Workspace, name: str) -> dict[str, Any]:
        """Create the aggregator customer and entity of a connection with its stored bank credentials.

        This stands in for the LinkSDK's connect(): the entity id comes back in the answer here and again in
        the `entity.created` webhook; whichever is first links it, the other changes nothing.
        """
        opened = await asyncio.to_thread(linking.open_connection, ws, name, CONNECTOR_ID)
        conn = opened.conn
        if conn.external_id:
            return {"connection": name, "status": "linked", "entity_id": conn.external_id}
        if not opened.credentials:
            raise Conflict(f"no credentials stored for {name!r}: `reconwb connections credentials {name}` first")
        config = await asyncio.to_thread(_config, ws, conn.portal_url)
        async with AggregatorClient(config) as client:
            customer = await client.call("POST", "/customers/v1", {"app_user_id": app_user_id(conn.connection_id)})
            customer_id = str(customer["customer_id"])
            await in_store_async(ws, lambda con: con.execute(
                "INSERT INTO aggregator_customers (connection_id, customer_id, app_user_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING", [conn.connection_id, customer_id, app_user_id(conn.connection_id)]))
            body = {"customer_id": customer_id, "bank_identifier": conn.bank_id, "username": conn.username,
                    "password": opened.credentials.get("password"), "permissions": list(PERMISSIONS)}
            try:
                payload = check(await client.call("POST", "/link/v1/connect", body), {})
            except taxonomy.ConnectorError as err:
                return await linking.failed(ws, conn, "linking", err)
        entity = {**(payload if "id" in payload else {}), "id": payload.get("id") or payload.get("entity_id")}
        await in_store_async(ws, lambda con: _record_entity(con, conn.connection_id, entity))
        return {"connection": name, "status": "linked", "entity_id": entity["id"]}

    async def reconnect(self, ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
        """The reconnect step with the stored (updated) password; an OTP only if the bank asks for one."""
        opened = await asyncio.to_thread(linking.open_connection, ws, name, CONNECTOR_ID)
        conn = opened.conn
        request = await in_store_async(ws, lambda con: lifecycle.reconnect_request(con, conn.connection_id))
        if request is None or not request.open:
            return {"connection": name, "status": "nothing-to-reconnect", "health": conn.health}
        if not opened.credentials:
            raise Conflict(f"no credentials stored for {name!r}: update them first")
        body: dict[str, Any] = {"password": opened.credentials.get("password")}
        if otp:
            body["otp"] = otp
        config = await asyncio.to_thread(_config, ws, conn.portal_url)
        async with AggregatorClient(config) as client:
            answer = await client.call("POST", f"/reconnect/v1/{request.reconnect_id}", body)
        status = answer.get("status") if isinstance(answer, dict) else None
        if status in ("OTP_REQUIRED", "INVALID_OTP"):
            challenge = ((answer.get("payload") or {}).get("challenge") or answer.get("message") or "a code")
            reason = (f"the bank sent {challenge}; answer with `reconwb aggregator reconnect {name} --otp CODE`"
                      if status == "OTP_REQUIRED" else f"the code was wrong: {answer.get('message')}; try again")
            await in_store_async(ws, lambda con: lifecycle.set_health(
                con, conn.connection_id, lifecycle.Health.AWAITING_OTP, reason))
            return {"connection": name, "status": "otp-required", "health": "awaiting_otp", "message": reason}
        if status == "NOT_FOUND":
            err: taxonomy.ConnectorError = taxonomy.ReconnectRequired(
                "the reconnect request expired at the aggregator; the next fetch asks for a new one")

            def expired(con: duckdb.DuckDBPyConnection) -> None:
                con.execute("DELETE FROM reconnect_requests WHERE connection_id = ?", [conn.connection_id])
                con.execute("UPDATE connections SET next_attempt_at = NULL WHERE connection_id = ?",
                            [conn.connection_id])
                lifecycle.set_health(con, conn.connection_id, lifecycle.Health.REFRESHING, str(err))

            await in_store_async(ws, expired)
            return {"connection": name, "status": "expired", "health": "refreshing", "message": str(err)}
        try:
            check(answer, {})
        except taxonomy.ConnectorError as failure:
            return await linking.failed(ws, conn, "the reconnect", failure)

        def accepted(con: duckdb.DuckDBPyConnection) -> str:
            lifecycle.reconnect_accepted(con, conn.connection_id)
            con.execute("UPDATE aggregator_entities SET reconnected_at = now() WHERE entity_id = ?",
                        [conn.external_id])
            return connections.get_by_id(con, conn.connection_id).health

        return {"connection": name, "status": "reconnected", "health": await in_store_async(ws, accepted)}

    async def fetch_results(self, ws: Workspace, parked: pending.Pending) -> Fetched | None:
        config = await asyncio.to_thread(_config, ws, parked.url)
        async with AggregatorClient(config) as client:
            payload = await client.results(parked.results_id)
        return None if payload is None else fetched_from_results(parked.request, payload)

    def verify_webhook(self, ws: Workspace, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        vault = ws.vault()
        secret = in_store(ws, lambda con: webhook_secret(con, vault))
        if secret is None:
            raise InvalidSignature(
                "no aggregator webhook secret: `reconwb aggregator configure --webhook-secret-stdin`")
        try:
            signing.verify(secret, headers, body, now=time.time())
            event = json.loads(body)
        except signing.VerificationFailed as err:
            raise InvalidSignature(f"aggregator webhook rejected: {err.reason}") from None
        except ValueError:
            raise InvalidSignature("aggregator webhook body is not JSON") from None
        if not isinstance(event, dict):
            raise InvalidSignature("aggregator webhook body is not a JSON object")
        return event

    def handle_webhook(self, ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
        """Act on one verified aggregator webhook; safe to receive twice.

        Returns what was done (`handled` False for events that do not concern this workspace). A store or
        network failure is raised, so the receiver answers 5xx and the aggregator delivers again.
        """
        kind = event.get("type")
        payload = event.get("payload") or {}
        if not isinstance(payload, dict):
            return {"type": kind, "handled": False, "reason": "payload is not an object"}
        if kind == "entity.created":
            return _on_entity_created(ws, payload)
        if kind == "entity.reconnected":
            return _on_entity_reconnected(ws, payload)
        if kind == "results.ready":
            return _on_results_ready(ws, str(payload.get("id", "")))
        if kind in ("banks.availability.updated", "bank.availability.updated"):
            return _on_availability(ws, payload)
        return {"type": kind, "handled": False, "reason": "event type not handled"}

    async def refresh_banks(self, ws: Workspace) -> dict[str, Any]:
        """Poll /banks/v1: new banks registered, availability mirrored (connections follow via the lifecycle)."""
        config = await asyncio.to_thread(_config, ws)
        async with AggregatorClient(config) as client:
            listing = await client.call("GET", "/banks/v1")
        if not isinstance(listing, list):
            raise taxonomy.SiteChanged("/banks/v1 did not answer a list")

        def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
            changes = {}
            for bank in listing:
                changed = _apply_bank(con, bank)
                if changed:
                    changes[str(bank["identifier"])] = changed
            return {"banks": len(listing), "changed": changes, "usable_for_data": banklist.usable(con, CONNECTOR_ID)}

        return await in_store_async(ws, work)


ADAPTER = LeanAdapter()


def _apply_bank(con: duckdb.DuckDBPyConnection, bank: dict[str, Any]) -> list[str]:
    availability = bank.get("availability") or {}
    return banklist.apply(con, CONNECTOR_ID, str(bank["identifier"]), bank.get("name"),
                          country=bank.get("country_code"), active=availability.get("active"),
                          enabled=availability.get("enabled"))


def _on_entity_created(ws: Workspace, entity: dict[str, Any]) -> dict[str, Any]:
    if not entity.get("id"):
        return {"type": "entity.created", "handled": False, "reason": "no entity id"}

    def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        connection_id = _connection_for_customer(con, entity.get("customer_id"), entity.get("app_user_id"))
        if connection_id is None:
            return {"type": "entity.created", "handled": False, "reason": "no connection for this customer"}
        if connections.get_by_id(con, connection_id).removed_at is not None:
            return {"type": "entity.created", "handled": False, "reason": "the connection was removed"}
        changed = _record_entity(con, connection_id, entity)
        conn = connections.get_by_id(con, connection_id)
        return {"type": "entity.created", "handled": True, "connection": conn.name, "entity_id": entity["id"],
                "changed": changed}

    return in_store(ws, work)


def _on_entity_reconnected(ws: Workspace, payload: dict[str, Any]) -> dict[str, Any]:
    def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        connection_id = _connection_for_entity(con, str(payload.get("id", "")))
        if connection_id is None:
            return {"type": "entity.reconnected", "handled": False, "reason": "unknown entity"}
        request = lifecycle.reconnect_request(con, connection_id)
        if request is not None and request.open:
            lifecycle.reconnect_accepted(con, connection_id)
        con.execute("UPDATE aggregator_entities SET reconnected_at = now() WHERE entity_id = ?", [payload["id"]])
        conn = connections.get_by_id(con, connection_id)
        return {"type": "entity.reconnected", "handled": True, "connection": conn.name, "health": conn.health}

    return in_store(ws, work)


def _on_results_ready(ws: Workspace, results_id: str) -> dict[str, Any]:
    def find(con: duckdb.DuckDBPyConnection) -> tuple[bool, str | None]:
        if pending.find(con, results_id) is not None:
            return True, None
        row = con.execute(
            "SELECT c.name FROM reconnect_requests r JOIN connections c USING (connection_id)"
            " WHERE r.results_id = ? AND r.accepted_at IS NOT NULL AND c.removed_at IS NULL",
            [results_id],
        ).fetchone()
        return False, row[0] if row else None

    parked, reconnected = in_store(ws, find)
    if parked:
        return {"type": "results.ready", "handled": True, **pending.complete_results(ws, results_id)}
    if reconnected:
        # the data asked for before the reconnect is ready: fetch the connection now instead of a fragment
        from reconwb.sync import sync

        result = sync(ws, reconnected)
        return {"type": "results.ready", "handled": True, "connection": reconnected, "sync": result.as_dict()}
    return {"type": "results.ready", "handled": False, "reason": "unknown results id"}


def _on_availability(ws: Workspace, payload: dict[str, Any]) -> dict[str, Any]:
    identifier = payload.get("identifier")
    availability = payload.get("availability")
    if not identifier or not isinstance(availability, dict):
        return {"type": "banks.availability.updated", "handled": False, "reason": "no identifier or availability"}
    changed = in_store(ws, lambda con: _apply_bank(con, payload))
    return {"type": "banks.availability.updated", "handled": True, "bank_id": identifier, "changed": changed}


# -- the functions callers used before the split (CLI, demo, jobs, tests) --------------------------------------


def link(ws: Workspace, name: str) -> dict[str, Any]:
    return run(lambda: ADAPTER.link(ws, name))


def reconnect(ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
    return run(lambda: ADAPTER.reconnect(ws, name, otp=otp))


def apply_credentials(ws: Workspace, name: str, *, otp: str | None = None, fetch: bool = True) -> dict[str, Any]:
    return linking.reconnect_step(ws, name, otp=otp, fetch=fetch)


def refresh_banks(ws: Workspace) -> dict[str, Any]:
    return run(lambda: ADAPTER.refresh_banks(ws))


def handle_webhook(ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    """The inbound handler of source `aggregator` (`reconwb.webhooks.inbound.BUILTIN_HANDLERS`)."""
    from reconwb.openbanking import webhooks

    return webhooks.handle(ws, WEBHOOK_SOURCE, event)


def verify_and_handle(ws: Workspace, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    from reconwb.openbanking import webhooks

    return webhooks.verify_and_handle(ws, WEBHOOK_SOURCE, body, headers)


complete_results = pending.complete_results
poll_pending = pending.poll_pending
