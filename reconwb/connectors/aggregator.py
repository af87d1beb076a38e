"""The open-banking aggregator connector (the Lean-style API of `reconwb.sim.aggregator`), with httpx.

A bank login is an *entity* at the aggregator. The connector reads accounts and transactions of an entity and
maps every answer onto the failure taxonomy: `RECONNECT_REQUIRED` carries a `reconnect_id`, `PENDING` a
`results_id` that is parked (never waited for). The rest of the connection's life (linking, the reconnect
step, webhooks, `/banks/v1`, completing parked results) is the Lean adapter's, `reconwb.openbanking.lean`.
The app token is sealed in the vault under `aggregator/app-token`; the base URL is the `aggregator_url`
setting, or a connection's `portal_url`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from reconwb import settings
from reconwb.connectors import errors as taxonomy
from reconwb.connectors import http
from reconwb.connectors.amounts import exact
from reconwb.connectors.base import AccountInfo, Connector, StatedBalance
from reconwb.errors import Conflict
from reconwb.redaction import register_secret
from reconwb.transactions import Txn

if TYPE_CHECKING:
    import duckdb

    from reconwb.vault import Vault

log = logging.getLogger(__name__)

CONNECTOR_ID = "aggregator"
APP_TOKEN_OWNER = "aggregator/app-token"  # noqa: S105 - a vault owner name, not a secret
TOKEN_HEADER = "lean-app-token"  # noqa: S105 - a header name
TIMEOUT = http.TIMEOUT
RETRIES = http.RETRIES  # attempts per request for timeouts, dropped connections and 5xx
BACKOFF = http.BACKOFF  # seconds, doubled per attempt, with jitter
MAX_INLINE_RETRY_AFTER = 5.0  # a longer Retry-After is handed to the lifecycle instead of slept
PERMISSIONS = ("identity", "accounts", "balance", "transactions")


# -- configuration ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiConfig:
    url: str
    app_token: str

    def __repr__(self) -> str:  # the token must not reach a log through a repr
        return f"ApiConfig(url={self.url!r})"


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
        for attempt in range(1, self.retries + 1):
            response = await http.send(self._http, method, path, label="aggregator", retries=self.retries,
                                       backoff=self.backoff, retry_when=_server_fault, json=body)
            if response.status_code != 429:
                return _decode(response, path)
            retry_after = _retry_after(response)
            limited = taxonomy.RateLimited(f"aggregator {path}: rate limited", retry_after=retry_after)
            if retry_after is None or retry_after > MAX_INLINE_RETRY_AFTER or attempt == self.retries:
                raise limited
            await asyncio.sleep(retry_after)
        raise AssertionError("unreachable")

    async def data(self, kind: str, body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """POST /data/v1/<kind>: the payload of an OK answer, anything else raised."""
        return check(await self.call("POST", f"/data/v1/{kind}", body), request)

    async def results(self, results_id: str) -> dict[str, Any] | None:
        """GET /v1/results/<id>: the payload when ready, None while still PENDING."""
        answer = await self.call("GET", f"/v1/results/{results_id}")
        if isinstance(answer, dict) and answer.get("status") == "PENDING":
            return None
        return check(answer, {})


def _server_fault(response: httpx.Response) -> bool:
    """A 5xx is a passing fault, except the aggregator's own word that the bank is down."""
    return response.status_code >= 500 and _status_of(response) != "BANK_UNAVAILABLE"


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
    booked = dt.date.fromisoformat(str(row["timestamp"])[:10])
    return Txn(
        booked_on=booked,
        amount=exact(row["amount"], f"aggregator transaction {row.get('transaction_id')}"),
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

    async def balance(self, account: AccountInfo) -> StatedBalance | None:
        body = {"entity_id": self.ctx.external_id, "account_id": account.external_ref}
        payload = await self.client.data("balance", body, {"kind": "balance"})
        if payload.get("balance") is None:
            return None
        return StatedBalance(exact(payload["balance"], "aggregator balance"), dt.date.today(),
                             payload.get("currency_code") or account.currency, str(payload.get("type") or ""))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
