"""How each simulated bank's pages look: three layouts with their own HTML structure, selectors and formats.

A real scraper breaks when a bank redesigns its site; `version=2` of a layout renames what a connector looks
for, which is how the tests simulate a site change. The HTML is server-rendered with a little JavaScript
(a login that needs script to submit, a ledger rendered client-side), as bank sites are.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from reconwb.sim.bank_scenario import SimAccount, SimBank, SimTxn

CSS = ("body{font-family:sans-serif;margin:0}header{background:#123;color:#fff;padding:12px}main{padding:16px}"
       "table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:4px 8px}.neg{color:#a00}")


@dataclass(frozen=True)
class LoginFields:
    """The form field names the server reads at each login step."""

    username: str
    password: str


def page(bank: SimBank, body: str, title: str, script: str = "") -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)} - {escape(bank.name)}"
        f"</title><style>{CSS}</style></head><body class='{bank.path}'><header>{escape(bank.name)}</header>"
        f"<main>{body}</main>{f'<script>{script}</script>' if script else ''}</body></html>"
    )


def eu_amount(amount: Decimal) -> str:
    """1.234,56 (German style)."""
    text = f"{abs(amount):,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"-{text}" if amount < 0 else text


class Layout:
    """Pages shared by every layout; subclasses change structure and formats."""

    def __init__(self, bank: SimBank, version: int = 1) -> None:
        self.bank = bank
        self.version = version

    # -- pages every bank has, each in its own markup ---------------------------------------------------------
    def fields(self) -> LoginFields:
        raise NotImplementedError

    def login(self, error: str | None = None, code: str = "credentials", csrf: str = "") -> str:
        raise NotImplementedError

    def accounts(self, accounts: list[SimAccount]) -> str:
        raise NotImplementedError

    def transactions(self, account: SimAccount, txns: list[SimTxn], page_no: int, pages: int, since: str) -> str:
        raise NotImplementedError

    def since_param(self) -> str:
        return "from"

    def parse_since(self, text: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None

    def otp(self, error: str | None = None) -> str:
        err = f"<p class='otp-error' role='alert'>{escape(error)}</p>" if error else ""
        body = (f"<h1>Confirm it is you</h1><p class='otp-hint'>We sent a 6-digit code to your phone.</p>{err}"
                "<form id='otp-form' method='post' action='otp'><label>Code <input id='otp' name='otp'"
                " inputmode='numeric' autocomplete='one-time-code'></label><button id='otp-submit'>Confirm</button>"
                "</form>")
        return page(self.bank, body, "Security code")

    def password_form(self, expired: bool, error: str | None = None) -> str:
        head = ("<h1 id='pw-expired'>Your password has expired</h1><p>Choose a new password to continue.</p>"
                if expired else "<h1 id='pw-change'>Change password</h1>")
        err = f"<p class='pw-error' role='alert'>{escape(error)}</p>" if error else ""
        body = (f"{head}{err}<form id='pw-form' method='post' action='password'>"
                "<label>Current password <input type='password' name='current' id='pw-current'></label>"
                "<label>New password <input type='password' name='new' id='pw-new'></label>"
                "<label>Repeat <input type='password' name='confirm' id='pw-confirm'></label>"
                "<button id='pw-submit'>Save</button></form>")
        return page(self.bank, body, "Password")

    def password_changed(self) -> str:
        return page(self.bank, "<p id='pw-done'>Your password was changed. <a href='login'>Log in again</a>.</p>",
                    "Password changed")

    def locked(self) -> str:
        return page(self.bank, "<div id='locked' data-state='locked'><h1>Access locked</h1><p>Too many failed"
                    " attempts. Call us to unlock your access.</p></div>", "Locked")

    def maintenance(self) -> str:
        return page(self.bank, "<div id='maintenance' class='maintenance'><h1>Scheduled maintenance</h1>"
                    "<p>Online banking is unavailable. Please come back later.</p></div>", "Maintenance")

    def server_error(self) -> str:
        return page(self.bank, "<h1>Internal Server Error</h1><p>Something went wrong.</p>", "Error")

    def pager(self, href: str, page_no: int, pages: int, since: str, cls: str, label: str) -> str:
        if page_no >= pages:
            return ""
        query = f"page={page_no + 1}&amp;{self.since_param()}={since}"
        return f"<a class='{cls}' rel='next' href='{href}?{query}'>{label}</a>"


class Nordic(Layout):
    """Classic table layout, ISO dates, plain POST form."""

    def fields(self) -> LoginFields:
        return LoginFields("username", "password") if self.version == 1 else LoginFields("user", "secret")

    def login(self, error: str | None = None, code: str = "credentials", csrf: str = "") -> str:
        f = self.fields()
        ids = ("username", "password", "login-form") if self.version == 1 else ("user-field", "secret-field", "signin")
        err = f"<p class='alert alert-error' data-error='{code}' role='alert'>{escape(error)}</p>" if error else ""
        body = (f"<h1>Online banking</h1>{err}<form id='{ids[2]}' method='post' action='login'>"
                f"<label>Username <input id='{ids[0]}' name='{f.username}' autocomplete='username'></label>"
                f"<label>Password <input id='{ids[1]}' name='{f.password}' type='password'></label>"
                "<button id='login-btn' type='submit'>Log in</button></form>")
        return page(self.bank, body, "Log in")

    def accounts(self, accounts: list[SimAccount]) -> str:
        rows = "".join(f"<tr class='account' data-iban='{a.ref}'><td class='iban'>{a.ref}</td><td class='name'>"
                       f"<a href='account/{a.ref}'>{escape(a.name)}</a></td><td class='ccy'>{a.currency}</td></tr>"
                       for a in accounts)
        return page(self.bank, f"<h1>Your accounts</h1><table id='accounts'>{rows}</table>"
                    "<a id='logout' href='logout'>Log out</a> <a href='password'>Change password</a>", "Accounts")

    def transactions(self, account: SimAccount, txns: list[SimTxn], page_no: int, pages: int, since: str) -> str:
        table_id = "transactions" if self.version == 1 else "movements"
        rows = "".join(
            f"<tr class='txn' data-id='{t.bank_txn_id}' data-status='{t.status}'><td class='date'>{t.booked_on}</td>"
            f"<td class='desc'>{escape(t.description)}</td><td class='ref'>{escape(t.reference)}</td>"
            f"<td class='cpty'>{escape(t.counterparty)}</td><td class='amount{' neg' if t.amount < 0 else ''}'>"
            f"{t.amount:,.2f}</td><td class='ccy'>{t.currency}</td></tr>"
            for t in txns)
        body = (f"<h1>{escape(account.name)}</h1><p class='iban'>{account.ref}</p>"
                f"<table id='{table_id}'><thead><tr><th>Date</th><th>Text</th><th>Reference</th><th>Counterparty</th>"
                f"<th>Amount</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
                f"<p class='pages'>Page {page_no} of {pages}</p>"
                + self.pager(account.ref, page_no, pages, since, "next", "Next page")
                + " <a href='../accounts'>Accounts</a> <a id='logout' href='../logout'>Log out</a>")
        return page(self.bank, body, "Transactions")


class Alpine(Layout):
    """Cards, German labels and number format, a login that only works with JavaScript (CSRF token)."""

    def fields(self) -> LoginFields:
        return LoginFields("user_id", "pin") if self.version == 1 else LoginFields("vertrag", "kennwort")

    def since_param(self) -> str:
        return "von"

    def parse_since(self, text: str) -> dt.date | None:
        try:
            return dt.datetime.strptime(text, "%d.%m.%Y").date()
        except ValueError:
            return None

    def login(self, error: str | None = None, code: str = "credentials", csrf: str = "") -> str:
        f = self.fields()
        err = f"<p class='meldung fehler' data-code='{code}'>{escape(error)}</p>" if error else ""
        body = (f"<h1>E-Banking Anmeldung</h1>{err}<form id='auth' method='post' action='login'>"
                f"<label>Vertragsnummer <input name='{f.username}'></label>"
                f"<label>Passwort <input name='{f.password}' type='password'></label>"
                "<input type='hidden' name='csrf' id='csrf' value=''>"
                "<button type='button' id='go'>Anmelden</button></form>")
        script = (f"window.__boot={{token:{json.dumps(csrf)}}};"
                  "document.getElementById('csrf').value=window.__boot.token;"
                  "document.getElementById('go').addEventListener('click',function(){"
                  "document.getElementById('auth').submit();});")
        return page(self.bank, body, "Anmeldung", script)

    def accounts(self, accounts: list[SimAccount]) -> str:
        cards = "".join(f"<div class='konto' data-iban='{a.ref}'><h3>{escape(a.name)}</h3><span class='waehrung'>"
                        f"{a.currency}</span> <a class='umsaetze' href='account/{a.ref}'>Umsätze</a></div>"
                        for a in accounts)
        return page(self.bank, f"<h1>Übersicht</h1><section id='konten'>{cards}</section>"
                    "<a class='abmelden' href='logout'>Abmelden</a>", "Übersicht")

    def transactions(self, account: SimAccount, txns: list[SimTxn], page_no: int, pages: int, since: str) -> str:
        cls = "buchung" if self.version == 1 else "umsatz"
        items = "".join(
            f"<div class='{cls}' data-ref='{t.bank_txn_id}' data-state='"
            f"{'gebucht' if t.status == 'booked' else 'vorgemerkt'}'><span class='datum'>{t.booked_on:%d.%m.%Y}</span>"
            f"<span class='text'>{escape(t.description)}</span><span class='zweck'>{escape(t.reference)}</span>"
            f"<span class='partner'>{escape(t.counterparty)}</span><span class='betrag'>{eu_amount(t.amount)} "
            f"{t.currency}</span></div>"
            for t in txns)
        body = (f"<h1>Umsätze {escape(account.name)}</h1><div id='umsatzliste'>{items}</div>"
                f"<p>Seite {page_no}/{pages}</p>"
                + self.pager(account.ref, page_no, pages, since, "weiter", "Weitere Umsätze")
                + " <a class='abmelden' href='../logout'>Abmelden</a>")
        return page(self.bank, body, "Umsätze")


class Atlantic(Layout):
    """Two-step login and a ledger that JavaScript renders from embedded JSON."""

    def fields(self) -> LoginFields:
        return LoginFields("login_id", "passcode") if self.version == 1 else LoginFields("customer", "passcode")

    def since_param(self) -> str:
        return "since"

    def login(self, error: str | None = None, code: str = "credentials", csrf: str = "") -> str:
        f = self.fields()
        input_id = "login-id" if self.version == 1 else "customer-number"
        err = f"<div class='notice' data-kind='{code}'>{escape(error)}</div>" if error else ""
        body = (f"<h1>Sign in</h1>{err}<form id='step-user' method='post' action='login'>"
                f"<label>Customer ID <input id='{input_id}' name='{f.username}'></label>"
                "<button id='continue'>Continue</button></form>")
        return page(self.bank, body, "Sign in")

    def passcode(self, username: str, error: str | None = None) -> str:
        err = f"<div class='notice' data-kind='credentials'>{escape(error)}</div>" if error else ""
        body = (f"<h1>Welcome back, {escape(username)}</h1>{err}<form id='step-pass' method='post' "
                f"action='login/passcode'><label>Passcode <input id='passcode' name='{self.fields().password}'"
                " type='password'></label><button id='sign-in'>Sign in</button></form>")
        return page(self.bank, body, "Passcode")

    def accounts(self, accounts: list[SimAccount]) -> str:
        items = "".join(f"<li data-account='{a.ref}'><a href='account/{a.ref}'>{escape(a.name)}</a>"
                        f" <small>{a.ref} · {a.currency}</small></li>" for a in accounts)
        return page(self.bank, f"<h1>Accounts</h1><ul id='account-list'>{items}</ul>"
                    "<a data-nav='signout' href='logout'>Sign out</a>", "Accounts")

    def transactions(self, account: SimAccount, txns: list[SimTxn], page_no: int, pages: int, since: str) -> str:
        data = [{"id": t.bank_txn_id, "d": t.booked_on.strftime("%d %b %Y"), "t": t.description, "r": t.reference,
                 "p": t.counterparty, "a": str(t.amount), "s": t.status} for t in txns]
        blob = json.dumps(data).replace("</", "<\\/")
        body = (f"<h1>{escape(account.name)}</h1><table id='ledger'><thead><tr><th>When</th><th>What</th>"
                "<th>Ref</th><th>Who</th><th>Credit</th><th>Debit</th></tr></thead><tbody></tbody></table>"
                f"<script id='ledger-data' type='application/json'>{blob}</script>"
                + self.pager(account.ref, page_no, pages, since, "older", "Older entries").replace(
                    "class='older'", "class='older' data-nav='older'")
                + " <a data-nav='signout' href='../logout'>Sign out</a>")
        script = (
            "var rows=JSON.parse(document.getElementById('ledger-data').textContent);"
            "var tb=document.querySelector('#ledger tbody');"
            "rows.forEach(function(x){var tr=document.createElement('tr');tr.dataset.txnId=x.id;"
            "if(x.s==='pending'){tr.className='pending';}"
            "var neg=x.a.charAt(0)==='-';var amt=(neg?x.a.slice(1):x.a).replace(/\\B(?=(\\d{3})+(?!\\d))/g,',');"
            "[x.d,x.t,x.r,x.p,neg?'':amt,neg?amt:''].forEach(function(v,i){var td=document.createElement('td');"
            "td.className=['when','what','ref','who','credit','debit'][i];td.textContent=v;tr.appendChild(td);});"
            "tb.appendChild(tr);});document.body.dataset.ready='1';")
        return page(self.bank, body, "Ledger", script)


LAYOUTS: dict[str, type[Layout]] = {"nordic": Nordic, "alpine": Alpine, "atlantic": Atlantic}
