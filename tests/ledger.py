"""An in-process connector for testing the sync engine and the widgets without a browser.

The simulator-backed tests (real Chromium against `reconwb.sim.bank`) cover the real connectors; this one lets
engine-level behaviour (lockout budget, retries, widgets' buttons) be tested quickly and deterministically.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconwb import connections
from reconwb.connectors import errors, registry
from reconwb.connectors.base import AccountInfo, BankInfo, Connector
from reconwb.transactions import Txn
from reconwb.workspace import Workspace


class LedgerBank:
    """What the connector talks to: a password, a login counter, and a ledger."""

    password = "right-pw-1"
    logins = 0
    fail_with: Exception | None = None
    ledger = [Txn(dt.date.today(), Decimal("12.50"), "EUR", "INV-1 thanks", bank_txn_id="t1")]


class LedgerConnector(Connector):
    id = "test-ledger"
    banks = (BankInfo("ledger", "Ledger Bank"),)

    async def login(self) -> None:
        LedgerBank.logins += 1
        if LedgerBank.fail_with:
            raise LedgerBank.fail_with
        if self.ctx.credentials["password"] != LedgerBank.password:
            raise errors.InvalidCredentials(f"bad password {self.ctx.credentials['password']}")

    async def accounts(self) -> list[AccountInfo]:
        return [AccountInfo("DE001", "Main", currency="EUR")]

    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        return [t for t in LedgerBank.ledger if t.booked_on >= since]


@pytest.fixture
def ledger(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setattr(registry, "discover", lambda: {"test-ledger": LedgerConnector})
    LedgerBank.logins = 0
    LedgerBank.fail_with = None
    with ws.connect() as con:
        registry.register_banks(con)
        connections.add(con, "c1", "ledger", username="u")
    return ws


def set_password(ws: Workspace, pw: str, name: str = "c1") -> None:
    with ws.connect() as con:
        connections.set_credentials(con, ws.vault(), name, {"password": pw})
