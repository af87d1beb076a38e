"""The open-banking aggregator connector (the Lean-style API of `reconwb.sim.aggregator`), with httpx.

A bank login is an *entity* at the aggregator. The connector reads accounts and transactions of an entity and
maps every answer onto the failure taxonomy: `RECONNECT_REQUIRED` carries a `reconnect_id`, `PENDING` a
`results_id` that is parked (never waited for) and completed when `results.ready` arrives or a poll finds it.
The rest of the connection's life happens here too, each step with the store closed during the HTTP call:
linking (customer, entity), the reconnect step after the user updated the password (the OTP step only where
the bank asks for one), the webhooks the aggregator sends (`handle_webhook`) and the bank list (`/banks/v1`).
The app token is sealed in the vault under `aggregator/app-token`; the base URL is the `aggregator_url`
setting, or a connection's `portal_url`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import duckdb
import httpx

from reconwb import banks, connections, jsonutil, lifecycle, settings
from reconwb.connectors import errors as taxonomy
from reconwb.connectors.base import AccountInfo, Connector
from reconwb.errors import Conflict, InvalidInput, ReconwbError
from reconwb.redaction import redact_exception, register_secret
from reconwb.store.db import transaction
from reconwb.transactions import Txn
from reconwb.vault import Vault
from reconwb.webhooks import inbound, signing
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

CONNECTOR_ID = "aggregator"
APP_TOKEN_OWNER = "aggregator/app-token"  # noqa: S105 - a vault owner name, not a secret
WEBHOOK_SOURCE = "aggregator"  # the inbound webhook source: its secret is `inbound.secret_owner(WEBHOOK_SOURCE)`
TOKEN_HEADER = "lean-app-token"  # noqa: S105 - a header name
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRIES = 3  # attempts per request for timeouts, dropped connections and 5xx
BACKOFF = 0.25  # seconds, doubled per attempt, with jitter
MAX_INLINE_RETRY_AFTER = 5.0  # a longer Retry-After is handed to the lifecycle instead of slept
PERMISSIONS = ("identity", "accounts", "balance", "transactions")
POLL_AFTER = dt.timedelta(seconds=60)  # a PENDING result with no results.ready by then is polled
PENDING_EXPIRY = dt.timedelta(hours=6)
T = TypeVar("T")


# -- configuration ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiConfig:
    url: str
    app_token: str

    def __repr__(self) -> str:  # the token must not reach a log through a repr
        return f"ApiConfig(url={self.url!r})"


def configure(con: duckdb.DuckDBPyConnection, vault: Vault, *, url: str | None = None,
              app_token: str | None = None, webhook_secret: str | None = None) -> None:
    """Point reconwb at an aggregator: its base URL (a setting), its app token and webhook secret (sealed)."""
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


def api_config(con: duckdb.DuckDBPyConnection, vault: Vault, url: str | None = None) -> ApiConfig:
    sealed = vault.get(con, APP_TOKEN_OWNER)
    if not sealed:
        raise Conflict("no aggregator app token: run `reconwb aggregator configure --app-token-stdin`")
    base = url or settings.get(con, "aggregator_url")
    if not base:
        raise Conflict("no aggregator URL: set it with `reconwb aggregator configure --url URL`"
                       " (or `reconwb settings set aggregator_url URL`)")
    return ApiConfig(base.rstrip("/"), sealed["token"])


# -- the HTTP client: retries, and every answer mapped to the taxonomy -------------------------------------


class AggregatorClient:
    """One aggregator conversation: app-token auth, timeouts, retries with backoff, answers as exceptions."""

    def __init__(self, config: ApiConfig, *, retries: int | None = None, backoff: float | None = None) -> None:
        register_secret(config.app_token)
        self.config = config
        self.retries = RETRIES if retries is None else retries
        self.backoff = BACKOFF if backoff is None else backoff
        self._http = httpx.AsyncClient(base_url=config.url, timeout=TIMEOUT, headers={TOKEN_HEADER: config.app_token})

    async def __aenter__(self) -> AggregatorClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The decoded answer (numbers as Decimal); transport trouble raised as taxonomy errors."""
        last: taxonomy.ConnectorError | None = None
        for attempt in range(1, self.retries + 1):
            try:
                response = await self._http.request(method, path, json=body)
            except httpx.TimeoutException as err:
                last = taxonomy.Transient(f"aggregator {path}: timed out ({type(err).__name__})")
            except httpx.TransportError as err:
                last = taxonomy.Transient(f"aggregator {path}: {type(err).__name__}: {redact_exception(err)}")
            else:
                if response.status_code == 429:
                    retry_after = _retry_after(response)
                    last = taxonomy.RateLimited(f"aggregator {path}: rate limited", retry_after=retry_after)
                    if retry_after is None or retry_after > MAX_INLINE_RETRY_AFTER or attempt == self.retries:
                        raise last
                    await asyncio.sleep(retry_after)
                    continue
                if response.status_code >= 500 and _status_of(response) != "BANK_UNAVAILABLE":
                    last = taxonomy.Transient(f"aggregator {path}: HTTP {response.status_code}")
                else:
                    return _decode(response, path)
            if attempt < self.retries:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))
        assert last is not None
        raise last

    async def data(self, kind: str, body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """POST /data/v1/<kind>: the payload of an OK answer, anything else raised."""
        return check(await self.call("POST", f"/data/v1/{kind}", body), request)

    async def results(self, results_id: str) -> dict[str, Any] | None:
        """GET /v1/results/<id>: the payload when ready, None while still PENDING."""
        answer = await self.call("GET", f"/v1/results/{results_id}")
        if isinstance(answer, dict) and answer.get("status") == "PENDING":
            return None
        return check(answer, {})


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _status_of(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data.get("status") if isinstance(data, dict) else None


def _decode(response: httpx.Response, path: str) -> Any:
    try:
        data = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise taxonomy.SiteChanged(f"aggregator {path}: HTTP {response.status_code}, not JSON") from None
    if response.status_code == 401:
        raise taxonomy.SiteChanged(f"aggregator {path}: the app token was rejected (HTTP 401); check"
                                   " `reconwb aggregator configure`")
    if response.status_code == 404 and isinstance(data, dict) and data.get("status") == "NOT_FOUND":
        raise taxonomy.SiteChanged(f"aggregator {path}: no such endpoint (HTTP 404)")
    return data


def check(answer: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Map one aggregator answer onto the taxonomy; return the payload of an OK answer."""
    if not isinstance(answer, dict) or "status" not in answer:
        raise taxonomy.SiteChanged("the aggregator answered something that is not a status object")
    status = answer["status"]
    message = str(answer.get("message") or status)
    payload = answer.get("payload") or {}
    if status == "OK":
        return payload if isinstance(payload, dict) else {"items": payload}
    if status == "PENDING":
        return _raise(taxonomy.ResultsPending(f"results pending: {message}", answer.get("results_id") or "", request))
    if status == "RECONNECT_REQUIRED":
        reconnect_id = (payload.get("reconnect_id") if isinstance(payload, dict) else None) or answer.get("results_id")
        return _raise(taxonomy.ReconnectRequired(f"the bank needs the user to reconnect: {message}",
                                                 reconnect_id or "", answer.get("results_id") or ""))
    if status in ("ENTITY_NOT_FOUND", "PERMISSION_DENIED", "CONSENT_EXPIRED"):
        return _raise(taxonomy.ReconnectRequired(f"{status.lower().replace('_', ' ')}: {message}; link the bank again"))
    if status == "INVALID_CREDENTIALS":
        return _raise(taxonomy.InvalidCredentials(message))
    if status == "BANK_UNAVAILABLE":
        return _raise(taxonomy.BankUnavailable(message))
    if status == "UNAUTHORIZED":
        return _raise(taxonomy.SiteChanged(f"the aggregator rejected the app token: {message}"))
    raise taxonomy.SiteChanged(f"unexpected aggregator status {status}: {message}")


def _raise(err: Exception) -> Any:
    raise err


# -- answers -> reconwb values --------------------------------------------------------------------------------


def parse_account(row: dict[str, Any]) -> AccountInfo:
    return AccountInfo(str(row["account_id"]), row.get("name"), row.get("iban"), row.get("currency_code"))


def parse_transaction(row: dict[str, Any], currency: str | None) -> Txn:
    amount = row["amount"]
    amount = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    booked = dt.date.fromisoformat(str(row["timestamp"])[:10])
    return Txn(
        booked_on=booked,
        amount=amount.quantize(Decimal("0.01")),
        currency=row.get("currency_code") or currency or "EUR",
        description=row.get("description") or "",
        reference=row.get("reference") or "",
        counterparty=row.get("counterparty_name") or "",
        bank_txn_id=str(row["transaction_id"]) if row.get("transaction_id") else None,
        status="pending" if row.get("pending") else "booked",
    )


def _account_dict(account: AccountInfo) -> dict[str, Any]:
    return {"external_ref": account.external_ref, "name": account.name, "iban": account.iban,
            "currency": account.currency}


def fetched_from_results(request: dict[str, Any], payload: dict[str, Any]) -> list[tuple[AccountInfo, list[Txn]]]:
    """What a completed PENDING request brings, in the shape `sync` lands."""
    if request.get("kind") == "accounts":
        return [(parse_account(a), []) for a in payload.get("accounts", [])]
    if request.get("kind") == "transactions":
        account = AccountInfo(**request["account"])
        return [(account, [parse_transaction(t, account.currency) for t in payload.get("transactions", [])])]
    raise taxonomy.SiteChanged(f"cannot complete a pending {request.get('kind')!r} request")


# -- the connector ----------------------------------------------------------------------------------------------


class AggregatorConnector(Connector):
    """Reads an entity's accounts and transactions; the bank password is only used to link and reconnect."""

    id = CONNECTOR_ID
    source = "aggregator"
    banks = ()  # they come from /banks/v1: `refresh_banks`
    history_days = 90

    @classmethod
    def prepare(cls, con: duckdb.DuckDBPyConnection, vault: Vault) -> dict[str, Any]:
        config = api_config(con, vault)
        return {"url": config.url, "app_token": config.app_token}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._client: AggregatorClient | None = None

    @property
    def client(self) -> AggregatorClient:
        if self._client is None:
            url = self.ctx.base_url or self.ctx.config["url"]
            self._client = AggregatorClient(ApiConfig(url, self.ctx.config["app_token"]))
        return self._client

    async def login(self) -> None:
        if not self.ctx.external_id:
            raise taxonomy.ReconnectRequired(
                f"{self.ctx.connection_name} is not linked at the aggregator yet:"
                f" run `reconwb aggregator link {self.ctx.connection_name}`"
            )
        self.client  # noqa: B018 - build the client (and register the token for redaction) up front

    async def accounts(self) -> list[AccountInfo]:
        payload = await self.client.data("accounts", {"entity_id": self.ctx.external_id}, {"kind": "accounts"})
        return [parse_account(a) for a in payload.get("accounts", [])]

    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        body = {"entity_id": self.ctx.external_id, "account_id": account.external_ref,
                "start_date": since.isoformat(), "end_date": dt.date.today().isoformat()}
        request = {"kind": "transactions", "account": _account_dict(account), "since": since.isoformat()}
        payload = await self.client.data("transactions", body, request)
        return [parse_transaction(t, account.currency) for t in payload.get("transactions", [])]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


# -- store helpers -------------------------------------------------------------------------------------------


def _in_store(ws: Workspace, work: Callable[[duckdb.DuckDBPyConnection], T], tries: int = 6) -> T:
    """Run `work` in one transaction, again if a concurrent writer in this process conflicted with it."""
    for attempt in range(1, tries + 1):
        try:
            with ws.connect() as con, transaction(con):
                return work(con)
        except (duckdb.TransactionException, duckdb.ConstraintException):
            # two writers in this process raced (e.g. a link answer and its webhook): the loser tries again
            if attempt == tries:
                raise
            time.sleep(0.05 * attempt * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


async def _store(ws: Workspace, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """`_in_store` off the event loop: the store work of an async step must not stall other fetches."""
    return await asyncio.to_thread(_in_store, ws, work)


def _run(factory: Callable[[], Any]) -> Any:
    from reconwb.sync import run_blocking

    return run_blocking(factory)


@dataclass(frozen=True)
class _Opened:
    conn: connections.Connection
    config: ApiConfig
    credentials: dict[str, str] | None


def _open(ws: Workspace, name: str) -> _Opened:
    vault = ws.vault()

    def work(con: duckdb.DuckDBPyConnection) -> _Opened:
        conn = connections.get(con, name)
        assert conn is not None
        if conn.connector != CONNECTOR_ID:
            raise InvalidInput(f"connection {name!r} does not use the aggregator (connector {conn.connector})")
        if conn.removed_at is not None or conn.health == lifecycle.Health.OBSOLETE:
            raise Conflict(f"connection {name!r} is obsolete (removed); reconnect it as a new connection first")
        return _Opened(conn, api_config(con, vault, conn.portal_url), connections.get_credentials(con, vault, conn))

    return _in_store(ws, work)


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


# -- linking and the reconnect step ---------------------------------------------------------------------------


async def link_async(ws: Workspace, name: str) -> dict[str, Any]:
    """Create the aggregator customer and entity of a connection with its stored bank credentials.

    This stands in for the LinkSDK's connect(): the entity id comes back in the answer here and again in the
    `entity.created` webhook; whichever is first links it, the other changes nothing.
    """
    opened = await asyncio.to_thread(_open, ws, name)
    conn = opened.conn
    if conn.external_id:
        return {"connection": name, "status": "linked", "entity_id": conn.external_id}
    if not opened.credentials:
        raise Conflict(f"no credentials stored for {name!r}: `reconwb connections credentials {name}` first")
    async with AggregatorClient(opened.config) as client:
        customer = await client.call("POST", "/customers/v1", {"app_user_id": app_user_id(conn.connection_id)})
        customer_id = str(customer["customer_id"])
        await _store(ws, lambda con: con.execute(
            "INSERT INTO aggregator_customers (connection_id, customer_id, app_user_id) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING", [conn.connection_id, customer_id, app_user_id(conn.connection_id)]))
        body = {"customer_id": customer_id, "bank_identifier": conn.bank_id, "username": conn.username,
                "password": opened.credentials.get("password"), "permissions": list(PERMISSIONS)}
        try:
            payload = check(await client.call("POST", "/link/v1/connect", body), {})
        except taxonomy.ConnectorError as err:
            return await _failed(ws, conn, "linking", err)
    entity = {**(payload if "id" in payload else {}), "id": payload.get("id") or payload.get("entity_id")}
    await _store(ws, lambda con: _record_entity(con, conn.connection_id, entity))
    return {"connection": name, "status": "linked", "entity_id": entity["id"]}


async def _failed(ws: Workspace, conn: connections.Connection, what: str,
                  err: taxonomy.ConnectorError) -> dict[str, Any]:
    """A link or reconnect step failed: the lifecycle decides the state; the notified users get the details."""

    def work(con: duckdb.DuckDBPyConnection) -> str:
        health = lifecycle.record_failure(con, conn.connection_id, err)
        if health not in lifecycle.NOTIFY:  # entering those states notifies already
            lifecycle.report_failure(con, conn.connection_id, what, err,
                                     incident=f"{what}:{dt.datetime.now(dt.UTC).isoformat()}")
        return str(health)

    health = await _store(ws, work)
    return {"connection": conn.name, "status": "failed", "health": health, "error": type(err).__name__,
            "message": redact_exception(err)}


async def reconnect_async(ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
    """The reconnect step with the stored (updated) password; an OTP only if the bank asks for one."""
    opened = await asyncio.to_thread(_open, ws, name)
    conn = opened.conn
    request = await _store(ws, lambda con: lifecycle.reconnect_request(con, conn.connection_id))
    if request is None or not request.open:
        return {"connection": name, "status": "nothing-to-reconnect", "health": conn.health}
    if not opened.credentials:
        raise Conflict(f"no credentials stored for {name!r}: update them first")
    body: dict[str, Any] = {"password": opened.credentials.get("password")}
    if otp:
        body["otp"] = otp
    async with AggregatorClient(opened.config) as client:
        answer = await client.call("POST", f"/reconnect/v1/{request.reconnect_id}", body)
    status = answer.get("status") if isinstance(answer, dict) else None
    if status in ("OTP_REQUIRED", "INVALID_OTP"):
        challenge = ((answer.get("payload") or {}).get("challenge") or answer.get("message") or "a code")
        reason = (f"the bank sent {challenge}; answer with `reconwb aggregator reconnect {name} --otp CODE`"
                  if status == "OTP_REQUIRED" else f"the code was wrong: {answer.get('message')}; try again")
        await _store(ws, lambda con: lifecycle.set_health(con, conn.connection_id, lifecycle.Health.AWAITING_OTP,
                                                          reason))
        return {"connection": name, "status": "otp-required", "health": "awaiting_otp", "message": reason}
    if status == "NOT_FOUND":
        err: taxonomy.ConnectorError = taxonomy.ReconnectRequired(
            "the reconnect request expired at the aggregator; the next fetch asks for a new one")

        def expired(con: duckdb.DuckDBPyConnection) -> None:
            con.execute("DELETE FROM reconnect_requests WHERE connection_id = ?", [conn.connection_id])
            con.execute("UPDATE connections SET next_attempt_at = NULL WHERE connection_id = ?", [conn.connection_id])
            lifecycle.set_health(con, conn.connection_id, lifecycle.Health.REFRESHING, str(err))

        await _store(ws, expired)
        return {"connection": name, "status": "expired", "health": "refreshing", "message": str(err)}
    try:
        check(answer, {})
    except taxonomy.ConnectorError as failure:
        return await _failed(ws, conn, "the reconnect", failure)

    def accepted(con: duckdb.DuckDBPyConnection) -> str:
        lifecycle.reconnect_accepted(con, conn.connection_id)
        con.execute("UPDATE aggregator_entities SET reconnected_at = now() WHERE entity_id = ?", [conn.external_id])
        return connections.get_by_id(con, conn.connection_id).health

    return {"connection": name, "status": "reconnected", "health": await _store(ws, accepted)}


async def apply_credentials_async(ws: Workspace, name: str, *, otp: str | None = None,
                                  fetch: bool = True) -> dict[str, Any]:
    """After the user entered credentials: link or reconnect as needed, then fetch once if that worked."""
    opened = await asyncio.to_thread(_open, ws, name)
    if not opened.conn.external_id:
        outcome = await link_async(ws, name)
    else:
        outcome = await reconnect_async(ws, name, otp=otp)
    if fetch and outcome["status"] in ("linked", "reconnected", "nothing-to-reconnect", "expired"):
        from reconwb.sync import sync_async

        result = await sync_async(ws, name)
        outcome["sync"] = result.as_dict()
        outcome["health"] = result.health
    return outcome


def link(ws: Workspace, name: str) -> dict[str, Any]:
    return _run(lambda: link_async(ws, name))


def reconnect(ws: Workspace, name: str, *, otp: str | None = None) -> dict[str, Any]:
    return _run(lambda: reconnect_async(ws, name, otp=otp))


def apply_credentials(ws: Workspace, name: str, *, otp: str | None = None, fetch: bool = True) -> dict[str, Any]:
    return _run(lambda: apply_credentials_async(ws, name, otp=otp, fetch=fetch))


# -- parked results ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    results_id: str
    connection_id: int
    run_id: int | None
    request: dict[str, Any]
    url: str | None


def _pending(con: duckdb.DuckDBPyConnection, results_id: str) -> _Pending | None:
    row = con.execute(
        "SELECT p.results_id, p.connection_id, p.run_id, CAST(p.request AS VARCHAR), c.portal_url"
        " FROM pending_results p JOIN connections c USING (connection_id)"
        " WHERE p.results_id = ? AND p.status = 'pending'",
        [results_id],
    ).fetchone()
    return _Pending(row[0], row[1], row[2], json.loads(row[3] or "{}"), row[4]) if row else None


def _fail_pending(con: duckdb.DuckDBPyConnection, pending: _Pending, err: BaseException, status: str) -> str:
    message = redact_exception(err)
    con.execute(
        "UPDATE pending_results SET status = ?, message = ?, completed_at = now() WHERE results_id = ?",
        [status, message, pending.results_id],
    )
    con.execute(
        "UPDATE sync_runs SET status = 'failed', finished_at = now(), outcome = ?, message = ? WHERE run_id = ?",
        [type(err).__name__, message, pending.run_id],
    )
    return str(lifecycle.record_failure(con, pending.connection_id, err))


async def complete_results_async(ws: Workspace, results_id: str) -> dict[str, Any]:
    """Fetch a parked result from /v1/results/{id} and land it; still PENDING leaves it parked."""
    vault = ws.vault()

    def opening(con: duckdb.DuckDBPyConnection) -> tuple[_Pending | None, ApiConfig | None]:
        pending = _pending(con, results_id)
        if pending is None:
            return None, None
        con.execute("UPDATE pending_results SET last_polled_at = now() WHERE results_id = ?", [results_id])
        return pending, api_config(con, vault, pending.url)

    pending, config = await _store(ws, opening)
    if pending is None or config is None:
        return {"results_id": results_id, "status": "unknown"}
    try:
        async with AggregatorClient(config) as client:
            payload = await client.results(results_id)
        if payload is None:
            return {"results_id": results_id, "status": "pending"}
        fetched = fetched_from_results(pending.request, payload)
    except taxonomy.ConnectorError as err:
        if isinstance(err, taxonomy.Transient | taxonomy.RateLimited):
            return {"results_id": results_id, "status": "pending", "message": redact_exception(err)}
        failure = err
        health = await _store(ws, lambda con: _fail_pending(con, pending, failure, "failed"))
        return {"results_id": results_id, "status": "failed", "health": health, "message": redact_exception(err)}
    from reconwb.sync import complete_pending

    result = complete_pending(ws, results_id, fetched, source=AggregatorConnector.source)
    if result is None:
        return {"results_id": results_id, "status": "unknown"}
    return {**result.as_dict(), "results_id": results_id, "status": "completed"}


def complete_results(ws: Workspace, results_id: str) -> dict[str, Any]:
    return _run(lambda: complete_results_async(ws, results_id))


def poll_pending(ws: Workspace, *, older_than: dt.timedelta = POLL_AFTER,
                 expire_after: dt.timedelta = PENDING_EXPIRY) -> list[dict[str, Any]]:
    """Complete parked results no webhook came for: each waited at least `older_than`; too old ones expire."""
    now = dt.datetime.now(dt.UTC)

    def due(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[dict[str, Any]]]:
        rows = con.execute(
            "SELECT results_id, created_at, coalesce(last_polled_at, created_at) FROM pending_results"
            " WHERE status = 'pending' ORDER BY created_at"
        ).fetchall()
        expired = []
        for results_id, created, _last in rows:
            if now - created > expire_after:
                pending = _pending(con, results_id)
                assert pending is not None
                health = _fail_pending(con, pending, taxonomy.Transient(
                    f"the aggregator's results {results_id} never came"), "expired")
                expired.append({"results_id": results_id, "status": "expired", "health": health})
        return [r[0] for r in rows if now - r[1] <= expire_after and now - r[2] >= older_than], expired

    ids, outcomes = _in_store(ws, due)
    for results_id in ids:
        outcomes.append(complete_results(ws, results_id))
    return outcomes


# -- webhooks from the aggregator ------------------------------------------------------------------------------


class InvalidSignature(ReconwbError):
    """An inbound webhook that does not verify against the aggregator's secret: ignored, answered 401."""


def verify_and_handle(ws: Workspace, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """What an inbound HTTP route does: verify the Standard Webhooks signature, then `handle_webhook`."""
    vault = ws.vault()
    secret = _in_store(ws, lambda con: webhook_secret(con, vault))
    if secret is None:
        raise InvalidSignature("no aggregator webhook secret: `reconwb aggregator configure --webhook-secret-stdin`")
    try:
        signing.verify(secret, headers, body, now=time.time())
        event = json.loads(body)
    except signing.VerificationFailed as err:
        raise InvalidSignature(f"aggregator webhook rejected: {err.reason}") from None
    except ValueError:
        raise InvalidSignature("aggregator webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise InvalidSignature("aggregator webhook body is not a JSON object")
    return handle_webhook(ws, event)


def handle_webhook(ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    """Act on one verified aggregator webhook; safe to receive twice.

    Returns what was done (`handled` False for events that do not concern this workspace). A store or network
    failure is raised, so the receiver answers 5xx and the aggregator delivers again.
    """
    kind = event.get("type")
    payload = event.get("payload") or {}
    if not isinstance(payload, dict):
        return {"type": kind, "handled": False, "reason": "payload is not an object"}
    try:
        if kind == "entity.created":
            return _on_entity_created(ws, payload)
        if kind == "entity.reconnected":
            return _on_entity_reconnected(ws, payload)
        if kind == "results.ready":
            return _on_results_ready(ws, str(payload.get("id", "")))
        if kind in ("banks.availability.updated", "bank.availability.updated"):
            return _on_availability(ws, payload)
    except ReconwbError as err:
        log.warning("aggregator webhook %s failed: %s", kind, redact_exception(err))
        return {"type": kind, "handled": False, "reason": redact_exception(err)}
    return {"type": kind, "handled": False, "reason": "event type not handled"}


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

    return _in_store(ws, work)


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

    return _in_store(ws, work)


def _on_results_ready(ws: Workspace, results_id: str) -> dict[str, Any]:
    def find(con: duckdb.DuckDBPyConnection) -> tuple[bool, str | None]:
        if _pending(con, results_id) is not None:
            return True, None
        row = con.execute(
            "SELECT c.name FROM reconnect_requests r JOIN connections c USING (connection_id)"
            " WHERE r.results_id = ? AND r.accepted_at IS NOT NULL AND c.removed_at IS NULL",
            [results_id],
        ).fetchone()
        return False, row[0] if row else None

    parked, reconnected = _in_store(ws, find)
    if parked:
        return {"type": "results.ready", "handled": True, **complete_results(ws, results_id)}
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
    changed = _in_store(ws, lambda con: _apply_bank(con, payload))
    return {"type": "banks.availability.updated", "handled": True, "bank_id": identifier, "changed": changed}


# -- banks ---------------------------------------------------------------------------------------------------------


def _apply_bank(con: duckdb.DuckDBPyConnection, bank: dict[str, Any]) -> list[str]:
    """Register one /banks/v1 entry and mirror its switches; return the products whose usability changed."""
    identifier = str(bank["identifier"])
    known = banks.get(con, identifier, missing_ok=True)
    if known is None or bank.get("name"):
        banks.register(con, identifier, str(bank.get("name") or identifier), CONNECTOR_ID,
                       country=bank.get("country_code") or (known.country if known else None), source="aggregator")
    availability = bank.get("availability") or {}
    active, enabled = availability.get("active") or {}, availability.get("enabled") or {}
    changed = []
    for product in banks.PRODUCTS:
        if product not in active and product not in enabled:
            continue
        if banks.set_availability(con, identifier, product, active=_flag(active.get(product)),
                                  enabled=_flag(enabled.get(product))):
            changed.append(product)
    return changed


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


async def refresh_banks_async(ws: Workspace) -> dict[str, Any]:
    """Poll /banks/v1: new banks registered, availability mirrored (connections follow via the lifecycle)."""
    vault = ws.vault()
    config = await _store(ws, lambda con: api_config(con, vault))
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
        usable = [b.bank_id for b in banks.list_banks(con, usable_for="data") if b.connector == CONNECTOR_ID]
        return {"banks": len(listing), "changed": changes, "usable_for_data": usable}

    return await _store(ws, work)


def refresh_banks(ws: Workspace) -> dict[str, Any]:
    return _run(lambda: refresh_banks_async(ws))


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
