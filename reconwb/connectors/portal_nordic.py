"""Nordic Savings Bank (simulated): a classic table layout, ISO dates, a plain login form."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from reconwb.connectors.base import AccountInfo, BankInfo
from reconwb.connectors.portal import PortalConnector, parse_amount, parse_date
from reconwb.transactions import Txn

_ROWS = """rows => rows.map(r => ({
  id: r.dataset.id, status: r.dataset.status,
  date: r.querySelector('td.date').textContent, desc: r.querySelector('td.desc').textContent,
  ref: r.querySelector('td.ref').textContent, cpty: r.querySelector('td.cpty').textContent,
  amount: r.querySelector('td.amount').textContent, ccy: r.querySelector('td.ccy').textContent}))"""
_ACCOUNTS = """rows => rows.map(r => ({iban: r.dataset.iban, name: r.querySelector('td.name').textContent,
  ccy: r.querySelector('td.ccy').textContent}))"""


class NordicConnector(PortalConnector):
    id = "portal-nordic"
    banks = (BankInfo("sim-nordic", "Nordic Savings Bank (simulated)", "DE", simulated=True),)
    history_days = 90
    outcomes = {
        "maintenance": "#maintenance",
        "locked": "#locked",
        "expired": "#pw-expired",
        "otp_rejected": ".otp-error",
        "otp": "#otp-form",
        "invalid": ".alert-error[data-error=credentials]",
        "session": ".alert-error[data-error=session]",
        "ok": "table#accounts",
        "login_form": "form#login-form",
    }

    async def submit_login(self, username: str, password: str) -> None:
        await self.fill("#username", username, "the username field")
        await self.fill("#password", password, "the password field")
        await self.submit("#login-btn", "the login button")

    async def read_accounts(self) -> list[AccountInfo]:
        if not await self.on_page(self.accounts_path):
            await self.goto(self.accounts_path)
        found, _ = await self.read_page("table#accounts", "tr.account", _ACCOUNTS, "the account list")
        return [AccountInfo(r["iban"], r["name"].strip(), iban=r["iban"], currency=r["ccy"].strip()) for r in found]

    async def read_transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        url: str | None = f"account/{quote(account.external_ref)}?from={since.isoformat()}"
        found: list[Txn] = []
        while url:
            await self.goto(url)
            rows, url = await self.read_page("table#transactions", "tr.txn", _ROWS, "the transaction list",
                                             "a.next[rel=next]")
            for r in rows:
                found.append(Txn(
                    booked_on=parse_date(r["date"], "%Y-%m-%d"),
                    amount=parse_amount(r["amount"]),
                    currency=r["ccy"].strip(),
                    description=r["desc"].strip(),
                    reference=r["ref"].strip(),
                    counterparty=r["cpty"].strip(),
                    bank_txn_id=r["id"] or None,
                    status="pending" if r["status"] == "pending" else "booked",
                ))
        return found
