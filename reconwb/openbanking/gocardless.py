"""The GoCardless Bank Account Data adapter: agreements and requisitions, re-consent, and institutions.

Linking creates an end-user agreement (`max_historical_days`, `access_valid_for_days`, `access_scope`) and a
requisition; the user gives consent at the bank through the requisition's `link` (in a browser; offline the
simulator's link consents at once) and the requisition becomes `LN` with its accounts. The connection's consent
ends `access_valid_for_days` after the agreement was accepted. When it expires (401, requisition `EX`) or the
user renews early, the reconnect step makes a new agreement and requisition for the same bank: its accounts
have new ids but the same IBANs, so they are the same reconwb accounts, and the bank's transaction ids keep
their history free of duplicates. GoCardless sends no webhooks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import duckdb
import httpx

from reconwb import lifecycle
from reconwb.connectors import errors as taxonomy
from reconwb.connectors import gocardless as connector
from reconwb.errors import InvalidInput
from reconwb.openbanking import banklist, consent, linking
from reconwb.openbanking.adapter import Adapter
from reconwb.openbanking.store import in_store, in_store_async, run
from reconwb.vault import Vault
from reconwb.workspace import Workspace

CONNECTOR_ID = connector.CONNECTOR_ID
LINK_MODES = ("simulator", "browser")  # who gives consent at the bank: the simulator's link, or a person
ACCESS_SCOPE = ["balances", "details", "transactions"]
HISTORY_DAYS = 730  # asked for; the institution's `transaction_total_days` caps it
ACCESS_DAYS = 90  # asked for; the institution's `max_access_valid_for_days` caps it
COUNTRIES = ("DE", "GB", "FR", "NL", "ES", "IT", "IE", "AT", "BE")
REDIRECT = "http://127.0.0.1/reconwb/gocardless/done"  # where the bank sends the user back


def configure(con: duckdb.DuckDBPyConnection, vault: Vault, *, url: str, secret_id: str, secret_key: str,
              link_mode: str = "browser", redirect_url: str = REDIRECT) -> None:
    """Seal the secret id and key with the API's URL (GoCardless or the simulator)."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the GoCardless URL must start with http:// or https://, not {url!r}")
    if not secret_id.strip() or not secret_key.strip():
        raise InvalidInput("the GoCardless secret id and key must not be empty")
    if link_mode not in LINK_MODES:
        raise InvalidInput(f"link mode must be one of {', '.join(LINK_MODES)}")
    vault.put(con, connector.KEYS_OWNER, {"url": url.rstrip("/"), "secret_id": secret_id.strip(),
                                          "secret_key": secret_key.strip(), "link_mode": link_mode,
                                          "redirect_url": redirect_url})


def _keys(ws: Workspace) -> dict[str, str]:
    vault = ws.vault()
    return in_store(ws, lambda con: connector.keys(con, vault))


def _days(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def _open(ws: Workspace, name: str) -> linking.Opened:
    return await asyncio.to_thread(linking.open_connection, ws, name, CONNECTOR_ID, with_config=True)


async def start_link(ws: Workspace, name: str, opened: linking.Opened | None = None) -> dict[str, Any]:
    """A new agreement and requisition for the connection's bank; the user gives consent at `link`."""
    opened = opened or await _open(ws, name)
    keys = opened.config
    institution = opened.conn.bank_id
    async with connector.GoCardlessClient(keys) as client:
        bank = await client.call("GET", f"/institutions/{institution}/")
        agreement = await client.call("POST", "/agreements/enduser/", body={
            "institution_id": institution,
            "max_historical_days": min(HISTORY_DAYS, _days(bank.get("transaction_total_days"), HISTORY_DAYS)),
            "access_valid_for_days": min(ACCESS_DAYS, _days(bank.get("max_access_valid_for_days"), ACCESS_DAYS)),
            "access_scope": ACCESS_SCOPE})
        requisition = await client.call("POST", "/requisitions/", body={
            "redirect": keys.get("redirect_url") or REDIRECT, "institution_id": institution,
            "agreement": agreement["id"], "user_language": "EN",
            "reference": f"reconwb-{opened.conn.connection_id}-{uuid.uuid4().hex[:12]}"})
    return {"connection": name, "status": "link-required", "requisition_id": requisition["id"],
            "link": requisition["link"]}


async def complete_link_async(ws: Workspace, name: str, requisition_id: str,
                              opened: linking.Opened | None = None) -> dict[str, Any]:
    """The user came back from the bank: a linked requisition becomes the connection's link."""
    opened = opened or await _open(ws, name)
    keys = opened.config
    async with connector.GoCardlessClient(keys) as client:
        requisition = await client.call("GET", f"/requisitions/{requisition_id}/")
        if requisition.get("status") != connector.LINKED:
            return {"connection": name, "status": "link-required", "requisition_id": requisition_id,
                    "link": requisition.get("link"), "message": f"requisition is {requisition.get('status')}"}
        agreement = await client.call("GET", f"/agreements/enduser/{requisition['agreement']}/")
    accepted = agreement.get("accepted")
    expires = (dt.datetime.fromisoformat(str(accepted).replace("Z", "+00:00"))
               + dt.timedelta(days=int(agreement.get("access_valid_for_days") or ACCESS_DAYS))) if accepted else None
    vault = ws.vault()
    old = opened.conn.external_id

    def work(con: duckdb.DuckDBPyConnection) -> bool:
        relinked = linking.seal_link(con, vault, opened.conn.connection_id, CONNECTOR_ID, requisition_id,
                                     {"requisition_id": requisition_id}, agreement_id=str(agreement["id"]),
                                     institution_id=str(requisition.get("institution_id")))
        consent.record(con, opened.conn.connection_id, expires)
        consent.notify_expiring(con)
        return relinked

    relinked = await in_store_async(ws, work)
    if relinked and old:
        await _forget_requisition(keys, old)
    return {"connection": name, "status": "linked", "requisition_id": requisition_id, "relinked": relinked,
            "consent_expires_at": expires.isoformat() if expires else None}


def complete_link(ws: Workspace, name: str, requisition_id: str) -> dict[str, Any]:
    return run(lambda: complete_link_async(ws, name, requisition_id))


async def _forget_requisition(keys: dict[str, str], requisition_id: str) -> None:
    """Delete the replaced requisition at GoCardless (it holds the old consent); failing that changes nothing."""
    try:
        async with connector.GoCardlessClient(keys) as client:
            await client.call("DELETE", f"/requisitions/{requisition_id}/")
    except taxonomy.ConnectorError:
        pass


async def _consent_at_bank(link: str) -> None:
    """The simulator's bank pages: opening the link is consenting."""
    async with httpx.AsyncClient(timeout=20) as http:
        answer = await http.get(link, follow_redirects=False)
    if answer.status_code not in (200, 302, 303):
        raise taxonomy.SiteChanged(f"the consent link answered HTTP {answer.status_code}")


class GoCardlessAdapter(Adapter):
    connector_id = CONNECTOR_ID
    webhook_source = "gocardless"  # GoCardless sends none; the name keeps `for_source` total

    async def _link_anew(self, ws: Workspace, name: str, opened: linking.Opened) -> dict[str, Any]:
        started = await start_link(ws, name, opened)
        if opened.config.get("link_mode") != "simulator":
            return started
        await _consent_at_bank(started["link"])
        return await complete_link_async(ws, name, started["requisition_id"], opened)

    async def link(self, ws: Workspace, name: str) -> dict[str, Any]:
        opened = await _open(ws, name)
        if opened.conn.external_id:
            return {"connection": name, "status": "linked", "requisition_id": opened.conn.external_id}
        try:
            return await self._link_anew(ws, name, opened)
        except taxonomy.ConnectorError as err:
            return await linking.failed(ws, opened.conn, "linking", err)

    async def reconnect(self, ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
        """A new agreement and requisition when the consent expired, was refused, or ends soon."""
        opened = await _open(ws, name)
        conn = opened.conn
        request = await in_store_async(ws, lambda con: lifecycle.reconnect_request(con, conn.connection_id))
        wanted = (request is not None and request.open) or consent.due(conn.consent_expires_at) \
            or conn.health == lifecycle.Health.RECONNECT_REQUIRED
        if not wanted:
            return {"connection": name, "status": "nothing-to-reconnect", "health": conn.health}
        try:
            outcome = await self._link_anew(ws, name, opened)
        except taxonomy.ConnectorError as err:
            return await linking.failed(ws, conn, "the reconnect", err)
        if outcome["status"] == "linked":
            outcome["status"] = "reconnected"
        return outcome

    async def refresh_banks(self, ws: Workspace) -> dict[str, Any]:
        keys = await asyncio.to_thread(_keys, ws)
        found: dict[str, dict[str, Any]] = {}
        async with connector.GoCardlessClient(keys) as client:
            for country in COUNTRIES:
                for bank in await client.call("GET", "/institutions/", params={"country": country}):
                    found.setdefault(str(bank["id"]), {**bank, "country": country})

        def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
            for bank_id, bank in found.items():
                banklist.apply(con, CONNECTOR_ID, bank_id, str(bank.get("name") or bank_id),
                               country=bank["country"])
            return {"banks": len(found), "usable_for_data": banklist.usable(con, CONNECTOR_ID)}

        return await in_store_async(ws, work)


ADAPTER = GoCardlessAdapter()


def link(ws: Workspace, name: str) -> dict[str, Any]:
    return run(lambda: ADAPTER.link(ws, name))


def refresh_banks(ws: Workspace) -> dict[str, Any]:
    return run(lambda: ADAPTER.refresh_banks(ws))

