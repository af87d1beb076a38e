"""The GoCardless Bank Account Data connector (formerly Nordigen), with httpx: a requisition's accounts and
their booked and pending transactions.

Access tokens come from the secret id and key (`/token/new/`) and are refreshed with the refresh token
(`/token/refresh/`) when they lapse mid-fetch. A connection's link is a requisition (`external_id`); its
accounts are read by id, but shown to reconwb by IBAN, because a new requisition (after the agreement
expired) gives the same bank accounts new ids: by IBAN they stay the same accounts with the same history.
A transaction's id is the bank's `transactionId`, else GoCardless's `internalTransactionId`. Answers map onto
the taxonomy: 429 -> RateLimited with the reset the headers give (the per-account daily limit), 401 for an
expired agreement or a requisition in `EX` -> ReconnectRequired (a new agreement and requisition), a suspended
account -> SiteChanged (broken, with the reason), a deleted requisition -> ConnectionRevoked.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import httpx

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

CONNECTOR_ID = "gocardless"
KEYS_OWNER = "gocardless/keys"  # noqa: S105 - a vault owner name, not a secret
API = "/api/v2"
NEW_REQUISITION = "gocardless-new-requisition"  # the reconnect id: consent must be given again
RATE_LIMIT_DEFAULT = 3600.0  # seconds, when a 429 names no reset
# the reset headers, most specific first: the per-account daily limit, then the endpoint's
RESET_HEADERS = ("http_x_ratelimit_account_success_reset", "x-ratelimit-account-success-reset",
                 "http_x_ratelimit_reset", "x-ratelimit-reset")
LINKED = "LN"
EXPIRED = "EX"
NOT_YET = {"CR", "GC", "UA", "GA", "SA", "ID"}  # created, consent under way: the user has not finished


def keys(con: duckdb.DuckDBPyConnection, vault: Vault) -> dict[str, str]:
    sealed = vault.get(con, KEYS_OWNER)
    if not sealed:
        raise Conflict("no GoCardless keys: run `reconwb gocardless configure --url URL --secret-id ID"
                       " --secret-key-stdin`")
    return sealed


def _reset(response: httpx.Response) -> float:
    headers = {k.lower().replace("-", "_"): v for k, v in response.headers.items()}
    for name in RESET_HEADERS:
        value = headers.get(name.replace("-", "_"))
        if value:
            try:
                return max(float(value), 1.0)
            except ValueError:
                continue
    return RATE_LIMIT_DEFAULT


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class GoCardlessClient:
    """One conversation with the API: token from the sealed secrets, refreshed once when it lapses."""

    def __init__(self, keys: dict[str, str]) -> None:
        register_secret(keys["secret_key"])
        self.keys = keys
        self._http = httpx.AsyncClient(base_url=keys["url"].rstrip("/"), timeout=http.TIMEOUT)
        self._access: str | None = None
        self._refresh: str | None = None

    async def __aenter__(self) -> GoCardlessClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _token(self, *, renew: bool = False) -> str:
        if self._access and not renew:
            return self._access
        if renew and self._refresh:
            answer = await http.send(self._http, "POST", f"{API}/token/refresh/", label="gocardless",
                                     json={"refresh": self._refresh})
            if answer.status_code == 200:
                self._access = str(answer.json()["access"])
                register_secret(self._access)
                return self._access
        answer = await http.send(self._http, "POST", f"{API}/token/new/", label="gocardless",
                                 json={"secret_id": self.keys["secret_id"], "secret_key": self.keys["secret_key"]})
        if answer.status_code == 429:
            raise taxonomy.RateLimited("gocardless /token/new/: rate limited", retry_after=_reset(answer))
        if answer.status_code != 200:
            raise taxonomy.SiteChanged(f"gocardless rejected the secret id and key (HTTP {answer.status_code});"
                                       " check `reconwb gocardless configure`")
        body = answer.json()
        self._access, self._refresh = str(body["access"]), str(body["refresh"])
        register_secret(self._access)
        register_secret(self._refresh)
        return self._access

    async def call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None) -> Any:
        """The decoded answer of a 2xx; every other answer raised as the taxonomy error it means."""
        for renew in (False, True):
            token = await self._token(renew=renew)
            response = await http.send(self._http, method, f"{API}{path}", label="gocardless", json=body,
                                       params=params, headers={"authorization": f"Bearer {token}"})
            error = _error(response)
            if response.status_code == 401 and not renew and error.get("summary") == "Invalid token":
                continue  # the access token lapsed: refresh it and ask once more
            break
        if response.status_code < 300:
            return json.loads(response.content) if response.content else {}
        raise failure(response, error, path)


def failure(response: httpx.Response, error: dict[str, Any], path: str) -> taxonomy.ConnectorError:
    """A GoCardless error answer as a taxonomy error."""
    status = response.status_code
    text = f"gocardless {path}: {error.get('summary') or status}: {error.get('detail') or ''}".rstrip(": ")
    if status == 429:
        return taxonomy.RateLimited(text, retry_after=_reset(response))
    if status == 401 and ("EUA" in str(error.get("summary")) or error.get("type") in ("AccessExpiredError",
                                                                                       "EUAExpiredError")):
        return taxonomy.ReconnectRequired(text, reconnect_id=NEW_REQUISITION)
    if status == 401:
        return taxonomy.SiteChanged(f"{text}; check `reconwb gocardless configure`")
    if status == 409 and "suspend" in text.lower():
        return taxonomy.SiteChanged(text)
    if status == 404 and path.startswith("/requisitions/"):
        return taxonomy.ConnectionRevoked(f"{text}; the requisition is gone: link the bank again")
    if status in (409, 503):
        return taxonomy.BankUnavailable(text)
    return taxonomy.SiteChanged(text)


def parse_transaction(row: dict[str, Any], status: str, currency: str | None) -> Txn:
    amount = row.get("transactionAmount") or {}
    ident = row.get("transactionId") or row.get("internalTransactionId")
    day = row.get("bookingDate") or row.get("valueDate") or row.get("bookingDateTime", "")[:10]
    unstructured = row.get("remittanceInformationUnstructured") or " ".join(
        row.get("remittanceInformationUnstructuredArray") or [])
    counterparty = row.get("debtorName") or row.get("creditorName") or ""
    return Txn(
        booked_on=dt.date.fromisoformat(str(day)[:10]) if day else dt.date.today(),
        amount=exact(amount.get("amount"), f"gocardless transaction {ident}"),
        currency=str(amount.get("currency") or currency or "EUR"),
        description=unstructured,
        reference=row.get("remittanceInformationStructured") or row.get("endToEndId") or "",
        counterparty=counterparty,
        bank_txn_id=str(ident) if ident else None,
        value_date=dt.date.fromisoformat(row["valueDate"][:10]) if row.get("valueDate") else None,
        counterparty_iban=(row.get("debtorAccount") or row.get("creditorAccount") or {}).get("iban"),
        status=status,
    )


# the balance types of the spec (BalanceSchema.balanceType) in the order the proof prefers them: booked ones first
BALANCE_TYPES = ("closingBooked", "interimBooked", "expected", "openingBooked", "interimAvailable",
                 "forwardAvailable", "closingAvailable", "openingAvailable")


def parse_balance(answer: dict[str, Any], currency: str | None) -> StatedBalance | None:
    """The balance the proof uses from `/accounts/{id}/balances/` (AccountBalance): the first of BALANCE_TYPES the
    bank gives, on its `referenceDate` (today when it gives none)."""
    by_type = {b.get("balanceType"): b for b in answer.get("balances") or []}
    found = next((by_type[t] for t in BALANCE_TYPES if t in by_type), None)
    if found is None:
        return None
    amount = found.get("balanceAmount") or {}
    day = found.get("referenceDate")
    return StatedBalance(exact(amount.get("amount"), "gocardless balance"),
                         dt.date.fromisoformat(day) if day else dt.date.today(),
                         amount.get("currency") or currency, str(found.get("balanceType")))


class GoCardlessConnector(Connector):
    """Reads a requisition's accounts (as IBANs) and their transactions."""

    id = CONNECTOR_ID
    source = "gocardless"
    credential_fields = ("requisition_id",)
    history_days = 730

    @classmethod
    def prepare(cls, con: duckdb.DuckDBPyConnection, vault: Vault) -> dict[str, Any]:
        return keys(con, vault)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._client: GoCardlessClient | None = None
        self._ids: dict[str, str] = {}  # external ref (IBAN) -> GoCardless account id of this requisition

    async def login(self) -> None:
        if not self.ctx.external_id:
            raise taxonomy.ReconnectRequired(f"{self.ctx.connection_name} is not linked at GoCardless yet:"
                                             f" run `reconwb gocardless link {self.ctx.connection_name}`")
        self._client = GoCardlessClient(self.ctx.config)

    async def accounts(self) -> list[AccountInfo]:
        assert self._client is not None
        requisition = await self._client.call("GET", f"/requisitions/{self.ctx.external_id}/")
        status = requisition.get("status")
        if status == EXPIRED:
            raise taxonomy.ReconnectRequired("the GoCardless requisition expired (EX): the consent must be given"
                                             " again", reconnect_id=NEW_REQUISITION)
        if status in NOT_YET:
            raise taxonomy.ReconnectRequired(f"the bank consent is not finished (requisition {status})")
        if status != LINKED:
            raise taxonomy.ReconnectRequired(f"the requisition is {status}: link the bank again",
                                             reconnect_id=NEW_REQUISITION)
        found = []
        for account_id in requisition.get("accounts") or []:
            meta = await self._client.call("GET", f"/accounts/{account_id}/")
            if str(meta.get("status")).upper() == "SUSPENDED":
                raise taxonomy.SiteChanged(f"account {meta.get('iban') or account_id} is suspended at the bank")
            detail = (await self._client.call("GET", f"/accounts/{account_id}/details/")).get("account") or {}
            iban = detail.get("iban") or meta.get("iban")
            ref = str(iban or account_id)
            self._ids[ref] = str(account_id)
            found.append(AccountInfo(ref, detail.get("name") or meta.get("name"), iban, detail.get("currency")))
        return found

    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        assert self._client is not None
        params = {"date_from": since.isoformat(), "date_to": dt.date.today().isoformat()}
        answer = await self._client.call("GET", f"/accounts/{self._ids[account.external_ref]}/transactions/",
                                         params=params)
        listed = answer.get("transactions") or {}
        return ([parse_transaction(r, "booked", account.currency) for r in listed.get("booked") or []]
                + [parse_transaction(r, "pending", account.currency) for r in listed.get("pending") or []])

    async def balance(self, account: AccountInfo) -> StatedBalance | None:
        assert self._client is not None
        answer = await self._client.call("GET", f"/accounts/{self._ids[account.external_ref]}/balances/")
        return parse_balance(answer, account.currency)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
