"""The interface every bank implements, whatever the way in (portal scraping, aggregator API).

A connector class declares what it can do (banks, credential fields, login modes, history depth) and implements
three steps: log in, list accounts, fetch transactions since a date. The steps are coroutines so that one
process can drive many connections at once (one browser, one context per connection). A connector reports
trouble only by raising the exceptions of `reconwb.connectors.errors`; `reconwb.sync` and `reconwb.lifecycle`
decide what that means for the connection.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from reconwb.transactions import Txn

if TYPE_CHECKING:
    import duckdb

    from reconwb.vault import Vault


@dataclass(frozen=True)
class BankInfo:
    """A bank a connector can read; registered in the bank registry by `reconwb init`."""

    bank_id: str
    name: str
    country: str | None = None
    # a bank that exists only in reconwb's simulators: registered by the demo and `reconwb sim register`,
    # never by `reconwb init`, so real books hold no simulated bank
    simulated: bool = False


@dataclass(frozen=True)
class StatedBalance:
    """What the source says an account holds on a day (a booked balance where it says which), for the balance
    proof on the reconciliation dashboard. Exact money (`connectors.amounts.exact`)."""

    amount: Decimal
    on: dt.date
    currency: str | None = None
    kind: str = ""  # the source's own name for it: closingBooked, current, ClosingAvailable...


@dataclass(frozen=True)
class AccountInfo:
    """One bank account as the bank shows it."""

    external_ref: str
    name: str | None = None
    iban: str | None = None
    currency: str | None = None
    balance: StatedBalance | None = None  # set by `sync` from `Connector.balance`, not by connectors


@dataclass
class FetchContext:
    """What a connector gets for one fetch. Credentials are plaintext here and nowhere else."""

    connection_name: str
    connection_id: int
    username: str | None
    credentials: dict[str, str]
    base_url: str | None = None
    login_mode: str = "simple"
    session_mode: str = "one-shot"
    external_id: str | None = None
    # connector-specific state carried between runs (e.g. a portal's storage state), sealed by sync
    state: dict[str, Any] = field(default_factory=dict)
    # objects the runner shares between fetches (a browser, an HTTP client)
    resources: dict[str, Any] = field(default_factory=dict)
    # assisted login: show a person the bank's second-factor page (PNG, prompt) and wait for the code they enter;
    # raises OtpExpired when nobody answers in time. None: unattended, the connector raises OtpRequired instead.
    ask_otp: Callable[[bytes, str], Awaitable[str]] | None = None
    # connector configuration read from the store before the fetch (`Connector.prepare`), e.g. an API token
    config: dict[str, Any] = field(default_factory=dict)


class Connector(ABC):
    """One login at one bank, for the duration of one fetch."""

    id: ClassVar[str]
    banks: ClassVar[tuple[BankInfo, ...]] = ()
    credential_fields: ClassVar[tuple[str, ...]] = ("password",)
    login_modes: ClassVar[tuple[str, ...]] = ("simple",)
    history_days: ClassVar[int] = 90
    # failed logins after which the bank locks the login; reconwb never lets one set of credentials reach it
    lockout_after: ClassVar[int] = 3
    source: ClassVar[str] = "portal"  # the `transactions.source` of what this connector fetches

    def __init__(self, ctx: FetchContext) -> None:
        self.ctx = ctx

    @classmethod
    def prepare(cls, con: duckdb.DuckDBPyConnection, vault: Vault) -> dict[str, Any]:
        """Configuration the fetch needs from the store (read while it is open): becomes `ctx.config`."""
        return {}

    @abstractmethod
    async def login(self) -> None:
        """Authenticate; raise a taxonomy error (InvalidCredentials, OtpRequired, ...) when that fails."""

    @abstractmethod
    async def accounts(self) -> list[AccountInfo]:
        """The accounts this login can see."""

    @abstractmethod
    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        """Booked and pending transactions of `account` from `since` on."""

    async def balance(self, account: AccountInfo) -> StatedBalance | None:
        """The balance the source states for `account` now, if it states one (asked after `transactions`)."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Log out and release what `login` took."""
