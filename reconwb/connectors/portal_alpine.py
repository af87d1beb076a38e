"""Alpine Cantonal Bank (simulated): account cards, German labels and number format, a script-driven login."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from reconwb.connectors.base import AccountInfo, BankInfo
from reconwb.connectors.portal import PortalConnector, parse_amount, parse_date
from reconwb.transactions import Txn

_ROWS = """rows => rows.map(r => ({
  id: r.dataset.ref, state: r.dataset.state,
  date: r.querySelector('.datum').textContent, text: r.querySelector('.text').textContent,
  ref: r.querySelector('.zweck').textContent, partner: r.querySelector('.partner').textContent,
  amount: r.querySelector('.betrag').textContent}))"""
_ACCOUNTS = """cards => cards.map(c => ({iban: c.dataset.iban, name: c.querySelector('h3').textContent,
  ccy: c.querySelector('.waehrung').textContent}))"""


class AlpineConnector(PortalConnector):
    id = "portal-alpine"
    banks = (BankInfo("sim-alpine", "Alpine Cantonal Bank (simulated)", "CH", simulated=True),)
    history_days = 120
    outcomes = {
        "maintenance": "#maintenance",
        "locked": "#locked",
        "expired": "#pw-expired",
        "otp_rejected": ".otp-error",
        "otp": "#otp-form",
        "invalid": ".fehler[data-code=credentials]",
        "session": ".fehler[data-code=session]",
        "ok": "#konten",
        "login_form": "form#auth",
    }

    async def submit_login(self, username: str, password: str) -> None:
        await self.fill("form#auth input[name=user_id]", username, "the contract number field")
        await self.fill("form#auth input[name=pin]", password, "the password field")
        await self.submit("form#auth #go", "the login button")  # the page's script fills the CSRF token

    async def read_accounts(self) -> list[AccountInfo]:
        if not await self.on_page(self.accounts_path):
            await self.goto(self.accounts_path)
        found, _ = await self.read_page("#konten", ".konto", _ACCOUNTS, "the account overview")
        return [AccountInfo(r["iban"], r["name"].strip(), iban=r["iban"], currency=r["ccy"].strip()) for r in found]

    async def read_transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        url: str | None = f"account/{quote(account.external_ref)}?von={since:%d.%m.%Y}"
        found: list[Txn] = []
        while url:
            await self.goto(url)
            rows, url = await self.read_page("#umsatzliste", ".buchung", _ROWS, "the transaction list", "a.weiter")
            for r in rows:
                amount_text, _, currency = r["amount"].strip().rpartition(" ")
                found.append(Txn(
                    booked_on=parse_date(r["date"], "%d.%m.%Y"),
                    amount=parse_amount(amount_text, decimal_comma=True),
                    currency=currency or account.currency or "CHF",
                    description=r["text"].strip(),
                    reference=r["ref"].strip(),
                    counterparty=r["partner"].strip(),
                    bank_txn_id=r["id"] or None,
                    status="pending" if r["state"] == "vorgemerkt" else "booked",
                ))
        return found
