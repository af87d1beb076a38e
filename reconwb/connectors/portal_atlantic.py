"""Atlantic Trust (simulated): a two-step sign-in and a ledger that the page's JavaScript renders."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from reconwb.connectors.base import AccountInfo, BankInfo
from reconwb.connectors.portal import PortalConnector, parse_amount, parse_date
from reconwb.transactions import Txn

_ROWS = """rows => rows.map(r => { const c = k => r.querySelector('td.' + k).textContent; return {
  id: r.dataset.txnId, pending: r.classList.contains('pending'), date: c('when'), what: c('what'), ref: c('ref'),
  who: c('who'), credit: c('credit'), debit: c('debit')}; })"""
_ACCOUNTS = """items => items.map(i => ({ref: i.dataset.account, name: i.querySelector('a').textContent,
  meta: i.querySelector('small').textContent}))"""


class AtlanticConnector(PortalConnector):
    id = "portal-atlantic"
    banks = (BankInfo("sim-atlantic", "Atlantic Trust (simulated)", "IE", simulated=True),)
    history_days = 90
    outcomes = {
        "maintenance": "#maintenance",
        "locked": "[data-state=locked]",
        "expired": "#pw-expired",
        "otp_rejected": ".otp-error",
        "otp": "#otp-form",
        "invalid": ".notice[data-kind=credentials]",
        "ok": "#account-list",
        "login_form": "form#step-user",
    }

    async def submit_login(self, username: str, password: str) -> None:
        await self.fill("form#step-user #login-id", username, "the customer ID field")
        await self.submit("form#step-user #continue", "the continue button")
        if await self.present(self.outcomes["invalid"]) or await self.present(self.outcomes["maintenance"]):
            return  # outcome() names it
        await self.fill("form#step-pass #passcode", password, "the passcode field")
        await self.submit("form#step-pass #sign-in", "the sign-in button")

    async def read_accounts(self) -> list[AccountInfo]:
        if not await self.on_page(self.accounts_path):
            await self.goto(self.accounts_path)
        found, _ = await self.read_page("#account-list", "li[data-account]", _ACCOUNTS, "the account list")
        return [AccountInfo(r["ref"], r["name"].strip(), iban=r["ref"], currency=r["meta"].split("·")[-1].strip())
                for r in found]

    async def read_transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        url: str | None = f"account/{quote(account.external_ref)}?since={since.isoformat()}"
        found: list[Txn] = []
        while url:
            await self.goto(url)
            rows, url = await self.read_page("body[data-ready='1'] #ledger", "tbody tr", _ROWS, "the rendered ledger",
                                             "a[data-nav=older]")
            for r in rows:
                credit, debit = r["credit"].strip(), r["debit"].strip()
                found.append(Txn(
                    booked_on=parse_date(r["date"], "%d %b %Y"),
                    amount=parse_amount(credit) if credit else -parse_amount(debit),
                    currency=account.currency or "EUR",
                    description=r["what"].strip(),
                    reference=r["ref"].strip(),
                    counterparty=r["who"].strip(),
                    bank_txn_id=r["id"] or None,
                    status="pending" if r["pending"] else "booked",
                ))
        return found
