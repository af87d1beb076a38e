"""One Chromium and one simulated bank per test process, shared by every portal test (the suite stays fast).

Module-level singletons rather than session fixtures, so the portal tests in different directories share them
without a plugin; each test resets the simulator through its admin endpoint.
"""

from __future__ import annotations

import atexit
import datetime as dt
import time
from decimal import Decimal

from reconwb import connections, otp, sync
from reconwb.connectors.portal import BrowserHost
from reconwb.sim.bank import BankHandle, start_bank
from reconwb.workspace import Workspace

_host: BrowserHost | None = None
_bank: BankHandle | None = None


def browser_host() -> BrowserHost:
    global _host
    if _host is None:
        _host = BrowserHost()
        atexit.register(_host.close)
    return _host


def sim_bank() -> BankHandle:
    """The shared simulator, reset to the built-in scenario."""
    global _bank
    if _bank is None:
        _bank = start_bank()
        atexit.register(_bank.stop)
    _bank.admin("reset", {})
    return _bank


def login(bank: BankHandle, username: str) -> dict:
    return next(x for x in bank.admin("scenario")["logins"] if x["username"] == username)


def add_connection(ws: Workspace, bank: BankHandle, username: str, *, password: str | None = None,
                   login_mode: str = "simple", session_mode: str = "one-shot") -> str:
    """A connection NAME=username at the simulated bank of that login, with its (or the given) password."""
    data = login(bank, username)
    with ws.connect() as con:
        connections.add(con, username, data["bank"], username=username, portal_url=bank.bank_url(data["bank"]),
                        login_mode=login_mode, session_mode=session_mode)
        connections.set_credentials(con, ws.vault(), username, {"password": password or data["password"]})
    return username


def run_sync(ws: Workspace, name: str, *, now: bool = False) -> sync.SyncResult:
    host = browser_host()
    return host.run(sync.sync_async(ws, name, now=now, resources=host.resources), timeout=120)


def stored(ws: Workspace, name: str) -> list[tuple]:
    """What the store holds for connection `name`, in the scenario's terms."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT a.external_ref, coalesce(t.bank_txn_id, ''), t.booked_on, t.amount, t.currency, t.description,"
            " t.reference, t.counterparty, t.status FROM transactions t JOIN accounts a USING (account_id)"
            " JOIN connections c USING (connection_id) WHERE c.name = ?",
            [name],
        ).fetchall()
    return sorted(rows, key=repr)


def expected(bank: BankHandle, username: str) -> list[tuple]:
    """The scenario's transactions of `username` as the simulator serves them now."""
    return sorted(
        ((t["account"], t["bank_txn_id"], dt.date.fromisoformat(t["booked_on"]), Decimal(t["amount"]), t["currency"],
          t["description"], t["reference"], t["counterparty"], t["status"])
         for t in login(bank, username)["transactions"]),
        key=repr,
    )


def health(ws: Workspace, name: str) -> tuple[str, str | None, int]:
    with ws.connect() as con:
        conn = connections.get(con, name)
        assert conn is not None
        return conn.health, conn.health_reason, conn.fatal_failures


def wait_for_challenge(ws: Workspace, name: str, timeout: float = 30) -> otp.Challenge:
    """The OTP challenge an assisted fetch records when it reaches the bank's code page."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        challenge = otp.pending_challenge(ws, name)
        if challenge is not None:
            return challenge
        time.sleep(0.2)
    raise AssertionError("no OTP challenge was recorded")
