"""The Plaid adapter: linking an item, update mode (re-login, account selection, consent renewal), webhooks
verified as Plaid specifies, and Plaid's institutions as the bank list.

Link: `/link/token/create`, then the user's Link step, then `/item/public_token/exchange`; the access token is
sealed as the connection's credential and `/item/get` gives `consent_expiration_time`. Where a browser can show
Plaid Link (notebooks, dashboards) `link_token` is handed to the drop-in and `complete_link` takes its public
token; offline (the simulator, Plaid's sandbox) the Link step is `/sandbox/public_token/create`, and update mode
is finished by the simulator's Link stand-in. Webhooks: the `Plaid-Verification` JWT must be ES256, signed by
the key `/webhook_verification_key/get` gives for its `kid`, at most 5 minutes old, over the body's SHA-256.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from typing import Any

import duckdb
import httpx
import jwt

from reconwb import accounts, connections, lifecycle
from reconwb.connectors import errors as taxonomy
from reconwb.connectors import plaid as connector
from reconwb.errors import Conflict, InvalidInput
from reconwb.openbanking import banklist, consent, linking
from reconwb.openbanking.adapter import Adapter, InvalidSignature
from reconwb.openbanking.store import in_store, in_store_async, run
from reconwb.redaction import register_secret
from reconwb.vault import Vault
from reconwb.workspace import Workspace

CONNECTOR_ID = connector.CONNECTOR_ID
WEBHOOK_SOURCE = "plaid"
LINK_MODES = ("simulator", "drop-in")  # who completes Link: the simulator's stand-in, or a person in a browser
MAX_WEBHOOK_AGE = 300  # seconds: Plaid's rule for the JWT's `iat`
COUNTRIES = ("GB", "DE", "FR", "ES", "NL", "IE", "US", "CA")
CLIENT_NAME = "reconwb"
PRODUCTS = ["transactions"]


def configure(con: duckdb.DuckDBPyConnection, vault: Vault, *, url: str, client_id: str, secret: str,
              webhook_url: str | None = None, link_mode: str = "drop-in") -> None:
    """Seal the Plaid keys with the environment's URL (sandbox, production, or the simulator)."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the Plaid URL must start with http:// or https://, not {url!r}")
    if not client_id.strip() or not secret.strip():
        raise InvalidInput("the Plaid client_id and secret must not be empty")
    if link_mode not in LINK_MODES:
        raise InvalidInput(f"link mode must be one of {', '.join(LINK_MODES)}")
    vault.put(con, connector.KEYS_OWNER, {"url": url.rstrip("/"), "client_id": client_id.strip(),
                                          "secret": secret.strip(), "webhook_url": webhook_url or "",
                                          "link_mode": link_mode})


def _keys(ws: Workspace) -> dict[str, str]:
    vault = ws.vault()
    return in_store(ws, lambda con: connector.keys(con, vault))


async def _open(ws: Workspace, name: str) -> linking.Opened:
    return await asyncio.to_thread(linking.open_connection, ws, name, CONNECTOR_ID, with_config=True)


def _consent_time(item: Any) -> dt.datetime | None:
    value = item.get("consent_expiration_time")
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def _item(api: Any, access_token: str) -> Any:
    from plaid.model.item_get_request import ItemGetRequest

    return (await connector.call(api.item_get, ItemGetRequest(access_token=access_token), "/item/get"))["item"]


async def link_token(ws: Workspace, name: str, *, update: bool = False, account_selection: bool = False,
                     opened: linking.Opened | None = None) -> str:
    """A Link token for the drop-in: create mode for a new item, update mode for the connection's item."""
    from plaid.model.country_code import CountryCode
    from plaid.model.link_token_create_request import LinkTokenCreateRequest
    from plaid.model.link_token_create_request_update import LinkTokenCreateRequestUpdate
    from plaid.model.link_token_create_request_user import LinkTokenCreateRequestUser
    from plaid.model.products import Products

    opened = opened or await _open(ws, name)
    keys = opened.config
    fields: dict[str, Any] = {
        "client_name": CLIENT_NAME, "language": "en", "country_codes": [CountryCode(c) for c in COUNTRIES[:6]],
        "user": LinkTokenCreateRequestUser(client_user_id=f"reconwb-connection-{opened.conn.connection_id}"),
    }
    if keys.get("webhook_url"):
        fields["webhook"] = keys["webhook_url"]
    if update:
        if not opened.credentials or not opened.credentials.get("access_token"):
            raise Conflict(f"{name!r} has no Plaid item to update; link it first")
        fields["access_token"] = opened.credentials["access_token"]
        fields["update"] = LinkTokenCreateRequestUpdate(account_selection_enabled=account_selection)
    else:
        fields["products"] = [Products(p) for p in PRODUCTS]
    answer = await connector.call(connector.api(keys).link_token_create, LinkTokenCreateRequest(**fields),
                                  "/link/token/create")
    return str(answer["link_token"])


async def complete_link_async(ws: Workspace, name: str, public_token: str,
                              opened: linking.Opened | None = None) -> dict[str, Any]:
    """What Link's onSuccess hands back: exchange the public token, seal the access token, read the consent."""
    from plaid.model.item_public_token_exchange_request import ItemPublicTokenExchangeRequest

    opened = opened or await _open(ws, name)
    api = connector.api(opened.config)
    exchanged = await connector.call(api.item_public_token_exchange,
                                     ItemPublicTokenExchangeRequest(public_token=public_token),
                                     "/item/public_token/exchange")
    access_token, item_id = str(exchanged["access_token"]), str(exchanged["item_id"])
    register_secret(access_token)
    item = await _item(api, access_token)
    vault = ws.vault()

    def work(con: duckdb.DuckDBPyConnection) -> bool:
        relinked = linking.seal_link(con, vault, opened.conn.connection_id, CONNECTOR_ID, item_id,
                                     {"access_token": access_token}, institution_id=item.get("institution_id"))
        consent.record(con, opened.conn.connection_id, _consent_time(item))
        consent.notify_expiring(con)
        error = item.get("error")
        if error:  # linked, but Plaid already knows the item needs the user (e.g. ITEM_LOGIN_REQUIRED)
            lifecycle.record_failure(con, opened.conn.connection_id, connector.failure_for(
                str(error.get("error_code")), str(error.get("error_type")),
                f"plaid item: {error.get('error_code')}: {error.get('error_message')}"))
        return relinked

    relinked = await in_store_async(ws, work)
    return {"connection": name, "status": "linked", "item_id": item_id, "relinked": relinked}


def complete_link(ws: Workspace, name: str, public_token: str) -> dict[str, Any]:
    return run(lambda: complete_link_async(ws, name, public_token))


async def update_completed_async(ws: Workspace, name: str, account_ids: list[str] | None = None,
                                 opened: linking.Opened | None = None) -> dict[str, Any]:
    """Update-mode Link finished: the item works again, the chosen accounts stay selected, consent is renewed."""
    opened = opened or await _open(ws, name)
    item = await _item(connector.api(opened.config), (opened.credentials or {})["access_token"])
    conn_id = opened.conn.connection_id

    def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        selected: list[str] = []
        deselected: list[str] = []
        if account_ids is not None:
            for ref in account_ids:  # accounts shared now but never fetched yet: known, so selection sees them
                accounts.ensure(con, conn_id, ref)
            selected, deselected = accounts.set_selection(con, conn_id, set(account_ids))
        con.execute("UPDATE openbanking_links SET new_accounts_at = NULL, relinked_at = now()"
                    " WHERE connection_id = ?", [conn_id])
        consent.record(con, conn_id, _consent_time(item))
        request = lifecycle.reconnect_request(con, conn_id)
        conn = connections.get_by_id(con, conn_id)
        if (request is not None and request.open) or conn.health == lifecycle.Health.RECONNECT_REQUIRED:
            lifecycle.reconnect_accepted(con, conn_id)
        return {"connection": name, "status": "reconnected", "selected": selected, "deselected": deselected,
                "health": connections.get_by_id(con, conn_id).health}

    return await in_store_async(ws, work)


class PlaidAdapter(Adapter):
    connector_id = CONNECTOR_ID
    webhook_source = WEBHOOK_SOURCE

    def __init__(self) -> None:
        self._keys_by_kid: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    async def link(self, ws: Workspace, name: str) -> dict[str, Any]:
        """Link a new item. Offline the Link step is `/sandbox/public_token/create` with the connection's
        username as the sandbox user (a simulator behaviour); otherwise the drop-in needs the link token."""
        from plaid.model.products import Products
        from plaid.model.sandbox_public_token_create_request import SandboxPublicTokenCreateRequest
        from plaid.model.sandbox_public_token_create_request_options import SandboxPublicTokenCreateRequestOptions

        opened = await _open(ws, name)
        conn, keys = opened.conn, opened.config
        if conn.external_id:
            return {"connection": name, "status": "linked", "item_id": conn.external_id}
        try:
            token = await link_token(ws, name, opened=opened)
            if keys.get("link_mode") != "simulator":
                return {"connection": name, "status": "link-required", "link_token": token, "mode": "create"}
            options = {"override_username": conn.username or "user_good"}
            if keys.get("webhook_url"):
                options["webhook"] = keys["webhook_url"]
            request = SandboxPublicTokenCreateRequest(
                institution_id=conn.bank_id, initial_products=[Products(p) for p in PRODUCTS],
                options=SandboxPublicTokenCreateRequestOptions(**options))
            public = await connector.call(connector.api(keys).sandbox_public_token_create, request,
                                          "/sandbox/public_token/create")
            return await complete_link_async(ws, name, str(public["public_token"]), opened)
        except taxonomy.ConnectorError as err:
            return await linking.failed(ws, conn, "linking", err)

    async def reconnect(self, ws: Workspace, name: str, *, otp: str | None = None,
                        accounts: list[str] | None = None) -> dict[str, Any]:
        """Update mode when the item needs it (re-login, new accounts to choose, consent ending soon)."""
        opened = await _open(ws, name)
        conn, keys = opened.conn, opened.config

        def why(con: duckdb.DuckDBPyConnection) -> tuple[bool, bool]:
            request = lifecycle.reconnect_request(con, conn.connection_id)
            row = con.execute("SELECT new_accounts_at FROM openbanking_links WHERE connection_id = ?",
                              [conn.connection_id]).fetchone()
            return bool(request and request.open), bool(row and row[0])

        login, new_accounts = await in_store_async(ws, why)
        selecting = new_accounts or accounts is not None
        renew = consent.due(conn.consent_expires_at)
        if not (login or selecting or renew or conn.health == lifecycle.Health.RECONNECT_REQUIRED):
            return {"connection": name, "status": "nothing-to-reconnect", "health": conn.health}
        try:
            token = await link_token(ws, name, update=True, account_selection=selecting, opened=opened)
        except taxonomy.ConnectorError as err:
            return await linking.failed(ws, conn, "the reconnect", err)
        if keys.get("link_mode") != "simulator":
            return {"connection": name, "status": "link-required", "link_token": token, "mode": "update"}
        body: dict[str, Any] = {"link_token": token}
        if accounts is not None:
            body["account_ids"] = accounts
        async with httpx.AsyncClient(base_url=keys["url"], timeout=20) as http:  # the Link drop-in's part
            answer = (await http.post("/__admin/link/complete", json=body)).raise_for_status().json()
        chosen = [a["id"] for a in answer.get("accounts", [])] if selecting else None
        return await update_completed_async(ws, name, chosen, opened)

    # -- webhooks ----------------------------------------------------------------------------------------

    def _verification_key(self, ws: Workspace, kid: str) -> dict[str, Any]:
        with self._lock:
            cached = self._keys_by_kid.get(kid)
        if cached is None:
            from plaid.model.webhook_verification_key_get_request import WebhookVerificationKeyGetRequest

            api = connector.api(_keys(ws))
            try:
                cached = api.webhook_verification_key_get(WebhookVerificationKeyGetRequest(key_id=kid))["key"].to_dict()
            except Exception as err:
                raise InvalidSignature(f"plaid webhook key {kid!r} could not be read:"
                                       f" {connector.failure(err, '/webhook_verification_key/get')}") from None
            with self._lock:
                self._keys_by_kid[kid] = cached
        if cached.get("expired_at") and int(cached["expired_at"]) < time.time():
            raise InvalidSignature("plaid webhook signed with an expired key")
        return cached

    def verify_webhook(self, ws: Workspace, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        token = headers.get("plaid-verification")
        if not token:
            raise InvalidSignature("plaid webhook without a Plaid-Verification header")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidSignature("plaid webhook: Plaid-Verification is not a JWT") from None
        if header.get("alg") != "ES256" or not header.get("kid"):
            raise InvalidSignature("plaid webhook: the JWT must be ES256 with a kid")
        jwk = self._verification_key(ws, str(header["kid"]))
        try:
            key = jwt.PyJWK({k: jwk[k] for k in ("kty", "crv", "x", "y", "alg", "kid")}).key
            claims = jwt.decode(token, key=key, algorithms=["ES256"], options={"require": ["iat"]})
        except jwt.PyJWTError as err:
            raise InvalidSignature(f"plaid webhook: {type(err).__name__}") from None
        if time.time() - float(claims["iat"]) > MAX_WEBHOOK_AGE:
            raise InvalidSignature("plaid webhook: the token is older than 5 minutes")
        expected = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(str(claims.get("request_body_sha256", "")), expected):
            raise InvalidSignature("plaid webhook: the body does not match the signed hash")
        try:
            event = json.loads(body)
        except ValueError:
            raise InvalidSignature("plaid webhook body is not JSON") from None
        if not isinstance(event, dict):
            raise InvalidSignature("plaid webhook body is not a JSON object")
        return event

    def handle_webhook(self, ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
        kind, code = event.get("webhook_type"), event.get("webhook_code")
        item_id = str(event.get("item_id") or "")
        done = {"type": f"{kind}.{code}", "item_id": item_id}

        def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
            conn = linking.connection_for_link(con, CONNECTOR_ID, item_id)
            if conn is None:
                return {**done, "handled": False, "reason": "unknown item"}
            result = {**done, "handled": True, "connection": conn.name}
            if kind == "ITEM" and code in ("ERROR", "USER_PERMISSION_REVOKED"):
                error = event.get("error") or {}
                failure = connector.failure_for(str(error.get("error_code") or code), str(error.get("error_type")),
                                                f"plaid webhook {code}: {error.get('error_message') or code}")
                result["health"] = str(lifecycle.record_failure(con, conn.connection_id, failure))
            elif kind == "ITEM" and code in ("PENDING_EXPIRATION", "PENDING_DISCONNECT"):
                when = event.get("consent_expiration_time") or event.get("disconnect_time")
                consent.record(con, conn.connection_id, _consent_time({"consent_expiration_time": when}))
                result["warned"] = [w.connection for w in consent.notify_expiring(con)]
            elif kind == "ITEM" and code == "NEW_ACCOUNTS_AVAILABLE":
                con.execute("UPDATE openbanking_links SET new_accounts_at = coalesce(new_accounts_at, now())"
                            " WHERE connection_id = ?", [conn.connection_id])
            elif kind == "ITEM" and code == "LOGIN_REPAIRED":
                request = lifecycle.reconnect_request(con, conn.connection_id)
                if request is not None and request.open:
                    lifecycle.reconnect_accepted(con, conn.connection_id)
            elif kind == "TRANSACTIONS" and code in ("SYNC_UPDATES_AVAILABLE", "DEFAULT_UPDATE"):
                result["fetch"] = lifecycle.may_attempt(con, conn.connection_id).allowed
            else:
                return {**result, "handled": False, "reason": "event type not handled"}
            return result

        result = in_store(ws, work)
        if result.pop("fetch", False):
            from reconwb.sync import sync

            result["sync"] = sync(ws, result["connection"]).as_dict()
        return result

    async def refresh_banks(self, ws: Workspace) -> dict[str, Any]:
        """Plaid's institutions for the supported countries into the bank registry."""
        from plaid.model.country_code import CountryCode
        from plaid.model.institutions_get_request import InstitutionsGetRequest

        api = connector.api(await asyncio.to_thread(_keys, ws))
        request = InstitutionsGetRequest(count=500, offset=0, country_codes=[CountryCode(c) for c in COUNTRIES])
        listing = (await connector.call(api.institutions_get, request, "/institutions/get"))["institutions"]

        def work(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
            for bank in listing:
                codes = bank.get("country_codes") or []
                banklist.apply(con, CONNECTOR_ID, str(bank["institution_id"]), str(bank["name"]),
                               country=str(codes[0]) if codes else None)
            return {"banks": len(listing), "usable_for_data": banklist.usable(con, CONNECTOR_ID)}

        return await in_store_async(ws, work)


ADAPTER = PlaidAdapter()


def link(ws: Workspace, name: str) -> dict[str, Any]:
    return run(lambda: ADAPTER.link(ws, name))


def reconnect(ws: Workspace, name: str, *, accounts: list[str] | None = None) -> dict[str, Any]:
    return run(lambda: ADAPTER.reconnect(ws, name, accounts=accounts))


def refresh_banks(ws: Workspace) -> dict[str, Any]:
    return run(lambda: ADAPTER.refresh_banks(ws))


def handle_webhook(ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    """The inbound handler of source `plaid` (`reconwb.webhooks.inbound.BUILTIN_HANDLERS`)."""
    from reconwb.openbanking import webhooks

    return webhooks.handle(ws, WEBHOOK_SOURCE, event)


def verify_inbound(ws: Workspace, headers: Any, body: bytes) -> tuple[str, float]:
    """The receiver's check of a Plaid webhook: (an id from the body's hash, the time received)."""
    from reconwb.webhooks.signing import VerificationFailed

    try:
        ADAPTER.verify_webhook(ws, body, {str(k).lower(): v for k, v in dict(headers).items()})
    except InvalidSignature as err:
        raise VerificationFailed(401, str(err)) from None
    return f"plaid_{hashlib.sha256(body).hexdigest()[:32]}", time.time()
