"""The Plaid connector, through the official `plaid-python` SDK: accounts and `/transactions/sync`.

An item's access token is the connection's credential (sealed by the open-banking layer after the public-token
exchange). A fetch reads `/accounts/get` and pages `/transactions/sync` with its cursor until `has_more` is
false. Plaid's amounts are positive for money out, so they are negated; a posted transaction that names its
pending one in `pending_transaction_id` keeps that id, so the pending line becomes booked instead of a second
line. Plaid's errors map onto the taxonomy in `failure`. Linking, update mode and webhooks are
`reconwb.openbanking.plaid`'s. Keys (`client_id`, `secret`) and the base URL are sealed under `plaid/keys`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import plaid
import urllib3
from plaid.api import plaid_api

from reconwb.connectors import errors as taxonomy
from reconwb.connectors.amounts import exact
from reconwb.connectors.base import AccountInfo, Connector, StatedBalance
from reconwb.errors import Conflict
from reconwb.redaction import register_secret
from reconwb.transactions import Txn

if TYPE_CHECKING:
    import duckdb

    from reconwb.vault import Vault

CONNECTOR_ID = "plaid"
KEYS_OWNER = "plaid/keys"  # noqa: S105 - a vault owner name, not a secret
RATE_LIMIT_WAIT = 60.0  # seconds: Plaid sends no Retry-After with RATE_LIMIT_EXCEEDED
SYNC_PAGE = 500  # /transactions/sync `count` (Plaid's maximum)
UPDATE_REQUIRED = "plaid-update-mode"  # the reconnect id of an item that needs update-mode Link
T = TypeVar("T")

RECONNECT = {"ITEM_LOGIN_REQUIRED", "ITEM_LOCKED", "INVALID_CREDENTIALS", "INVALID_MFA", "INVALID_UPDATED_USERNAME",
             "NO_ACCOUNTS", "ITEM_NOT_SUPPORTED", "INSUFFICIENT_CREDENTIALS", "PENDING_EXPIRATION"}
REVOKED = {"USER_PERMISSION_REVOKED", "ITEM_NOT_FOUND", "ACCESS_NOT_GRANTED", "INVALID_ACCESS_TOKEN"}
BANK_DOWN = {"INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "INSTITUTION_NOT_AVAILABLE",
             "INSTITUTION_NO_LONGER_SUPPORTED"}
TRANSIENT = {"PRODUCT_NOT_READY", "INTERNAL_SERVER_ERROR", "PLANNED_MAINTENANCE"}


def api(keys: dict[str, str]) -> plaid_api.PlaidApi:
    """A Plaid client for the sealed keys: `url` (Plaid's environment or the simulator), `client_id`, `secret`."""
    register_secret(keys["secret"])
    configuration = plaid.Configuration(host=keys["url"].rstrip("/"),
                                        api_key={"clientId": keys["client_id"], "secret": keys["secret"]})
    return plaid_api.PlaidApi(plaid.ApiClient(configuration))


def keys(con: duckdb.DuckDBPyConnection, vault: Vault) -> dict[str, str]:
    sealed = vault.get(con, KEYS_OWNER)
    if not sealed:
        raise Conflict("no Plaid keys: run `reconwb plaid configure --url URL --client-id ID --secret-stdin`")
    return sealed


def error_of(err: plaid.ApiException) -> dict[str, Any]:
    try:
        body = json.loads(err.body or "{}")
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def failure(err: Exception, what: str) -> taxonomy.ConnectorError:
    """One failed Plaid call as the taxonomy error it means for the connection."""
    if isinstance(err, urllib3.exceptions.HTTPError | OSError):
        return taxonomy.Transient(f"plaid {what}: {type(err).__name__}")
    if not isinstance(err, plaid.ApiException):
        return taxonomy.SiteChanged(f"plaid {what}: unexpected {type(err).__name__}")
    body = error_of(err)
    code = str(body.get("error_code") or "")
    text = f"plaid {what}: {code or err.status}: {body.get('error_message') or err.reason}"
    return failure_for(code, str(body.get("error_type") or ""), text, err.status)


def failure_for(code: str, kind: str, text: str, status: int | None = None) -> taxonomy.ConnectorError:
    """A Plaid error (an API answer's or a webhook's `error`) as a taxonomy error."""
    if status == 429 or kind == "RATE_LIMIT_EXCEEDED":
        return taxonomy.RateLimited(text, retry_after=RATE_LIMIT_WAIT)
    if code in REVOKED:
        return taxonomy.ConnectionRevoked(f"{text}; link the bank again")
    if code in RECONNECT:
        return taxonomy.ReconnectRequired(text, reconnect_id=UPDATE_REQUIRED)
    if code in BANK_DOWN:
        return taxonomy.BankUnavailable(text)
    if code in TRANSIENT or kind == "API_ERROR" or (status or 0) >= 500:
        return taxonomy.Transient(text)
    if code == "INVALID_API_KEYS":
        return taxonomy.SiteChanged(f"{text}; check `reconwb plaid configure`")
    return taxonomy.SiteChanged(text)


async def call(fn: Callable[..., T], request: Any, what: str) -> T:
    """One SDK call off the event loop; Plaid's failures raised as taxonomy errors."""
    try:
        return await asyncio.to_thread(fn, request)
    except Exception as err:
        raise failure(err, what) from None


def parse_account(account: Any) -> AccountInfo:
    balances = account.get("balances") or {}
    return AccountInfo(str(account["account_id"]), account.get("name"), None, balances.get("iso_currency_code"))


def parse_transaction(row: Any) -> Txn:
    """A Plaid transaction as reconwb's: money in positive; a posted line keeps its pending line's id."""
    meta = row.get("payment_meta") or {}
    counterparties = row.get("counterparties") or []
    currency = row.get("iso_currency_code") or row.get("unofficial_currency_code") or "EUR"
    return Txn(
        booked_on=_date(row["date"]),
        amount=-exact(row["amount"], f"plaid transaction {row['transaction_id']}"),
        currency=str(currency),
        description=row.get("name") or "",
        reference=meta.get("reference_number") or "",
        counterparty=meta.get("payer") or row.get("merchant_name") or (counterparties[0]["name"] if counterparties
                                                                        else ""),
        bank_txn_id=str(row.get("pending_transaction_id") or row["transaction_id"]),
        status="pending" if row.get("pending") else "booked",
    )


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


class PlaidConnector(Connector):
    """Reads an item's shared accounts and its transactions; the access token is the only credential."""

    id = CONNECTOR_ID
    source = "plaid"
    credential_fields = ("access_token",)
    history_days = 730

    @classmethod
    def prepare(cls, con: duckdb.DuckDBPyConnection, vault: Vault) -> dict[str, Any]:
        return keys(con, vault)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._api: plaid_api.PlaidApi | None = None
        self._balances: dict[str, StatedBalance] = {}  # account id -> what /accounts/get said
        self._synced: dict[str, list[Txn]] | None = None

    @property
    def access_token(self) -> str:
        return self.ctx.credentials["access_token"]

    async def login(self) -> None:
        if not self.ctx.credentials.get("access_token"):
            raise taxonomy.ReconnectRequired(f"{self.ctx.connection_name} is not linked at Plaid yet:"
                                             f" run `reconwb plaid link {self.ctx.connection_name}`")
        register_secret(self.access_token)
        self._api = api(self.ctx.config)

    async def accounts(self) -> list[AccountInfo]:
        from plaid.model.accounts_get_request import AccountsGetRequest

        assert self._api is not None
        answer = await call(self._api.accounts_get, AccountsGetRequest(access_token=self.access_token), "/accounts/get")
        for a in answer["accounts"]:  # /accounts/get carries each account's balances: kept for `balance`
            current = (a.get("balances") or {}).get("current")
            if current is not None:
                self._balances[str(a["account_id"])] = StatedBalance(
                    exact(current, "plaid balance"), dt.date.today(),
                    (a.get("balances") or {}).get("iso_currency_code"), "current")
        return [parse_account(a) for a in answer["accounts"]]

    async def balance(self, account: AccountInfo) -> StatedBalance | None:
        return self._balances.get(account.external_ref)

    async def _sync(self) -> dict[str, list[Txn]]:
        """Every page of /transactions/sync from the start: the item's transactions as they are now."""
        from plaid.model.transactions_sync_request import TransactionsSyncRequest

        assert self._api is not None
        current: dict[str, dict[str, Any]] = {}
        cursor = ""
        while True:
            request = TransactionsSyncRequest(access_token=self.access_token, count=SYNC_PAGE, cursor=cursor)
            page = await call(self._api.transactions_sync, request, "/transactions/sync")
            for row in [*page["added"], *page["modified"]]:
                current[row["transaction_id"]] = row.to_dict()
            for row in page["removed"]:
                current.pop(row["transaction_id"], None)
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        by_account: dict[str, list[Txn]] = {}
        for row in current.values():
            by_account.setdefault(str(row["account_id"]), []).append(parse_transaction(row))
        return by_account

    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        if self._synced is None:
            self._synced = await self._sync()
        return [t for t in self._synced.get(account.external_ref, []) if t.booked_on >= since]

    async def close(self) -> None:
        if self._api is not None:
            self._api.api_client.close()
