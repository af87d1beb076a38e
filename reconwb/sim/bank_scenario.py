"""The simulated bank's people and money: logins, accounts and seeded transactions.

Everything is derived from a seed and a reference day, so the same scenario prints, serves and is asserted on
identically. Incoming payments carry references the matching engine can use (invoice numbers such as
`INV-2026-0001` and ISO 11649 `RF` creditor references); the most recent lines are pending, as at a real bank.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

SEED = 2026
BEHAVIOURS = ("healthy", "password_expired", "otp_every_login", "locks_after_3", "multi_account", "flaky")


@dataclass(frozen=True)
class SimBank:
    """A bank the simulator serves under `/<path>/`, with its own page layout."""

    bank_id: str
    name: str
    path: str
    connector: str
    page_size: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


BANKS: tuple[SimBank, ...] = (
    SimBank("sim-nordic", "Nordic Savings Bank (simulated)", "nordic", "portal-nordic", 50),
    SimBank("sim-alpine", "Alpine Cantonal Bank (simulated)", "alpine", "portal-alpine", 15),
    SimBank("sim-atlantic", "Atlantic Trust (simulated)", "atlantic", "portal-atlantic", 25),
)
BANK_BY_PATH = {b.path: b for b in BANKS}
BANK_BY_ID = {b.bank_id: b for b in BANKS}


@dataclass
class SimTxn:
    account: str
    bank_txn_id: str  # empty while pending: banks rarely give a stable id before booking
    booked_on: dt.date
    amount: Decimal
    currency: str
    description: str
    reference: str
    counterparty: str
    status: str  # booked | pending

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["booked_on"] = self.booked_on.isoformat()
        data["amount"] = str(self.amount)
        return data


@dataclass
class SimAccount:
    ref: str  # the IBAN
    name: str
    currency: str = "EUR"


@dataclass
class SimLogin:
    bank: str  # bank_id
    username: str
    password: str
    behaviour: str
    accounts: list[SimAccount] = field(default_factory=list)
    transactions: list[SimTxn] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bank": self.bank,
            "username": self.username,
            "password": self.password,
            "behaviour": self.behaviour,
            "accounts": [asdict(a) for a in self.accounts],
            "transactions": [t.as_dict() for t in self.transactions],
        }


@dataclass
class Scenario:
    banks: tuple[SimBank, ...]
    logins: list[SimLogin]

    def as_dict(self) -> dict[str, Any]:
        return {"banks": [b.as_dict() for b in self.banks], "logins": [x.as_dict() for x in self.logins]}

    def login(self, username: str) -> SimLogin:
        return next(x for x in self.logins if x.username == username)


def rf_reference(body: str) -> str:
    """An ISO 11649 creditor reference (`RFkk` + body) with valid check digits."""
    digits = "".join(str(int(ch, 36)) for ch in (body + "RF00").upper())
    return f"RF{98 - int(digits) % 97:02d}{body}"


def iban(country: str, rng: random.Random) -> str:
    """A syntactically valid IBAN (mod-97 check digits) with a random basic account number."""
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    digits = "".join(str(int(ch, 36)) for ch in (bban + country + "00"))
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


PAYERS = ("Acme GmbH", "Blue Harbor Ltd", "Cedar & Sons", "Delta Foods AG", "Elm Street Dental", "Fjord Logistics AS",
          "Granite Works", "Helios Solar BV", "Iris Design", "Juniper Bakery")
PAYEES = ("Office Rent Property Mgmt", "Telecom Nord", "City Energy", "Card: Cafe Central", "Card: Fuel Station 24",
          "Payroll batch", "Tax Office", "Insurance Mutual")


def _transactions(rng: random.Random, account: SimAccount, count: int, invoice_base: int, today: dt.date,
                  pending: int) -> list[SimTxn]:
    out: list[SimTxn] = []
    days = sorted((rng.randint(3, 80) for _ in range(count - pending)), reverse=True)
    days += sorted((rng.randint(0, 2) for _ in range(pending)), reverse=True)
    for i, ago in enumerate(days):
        booked_on = today - dt.timedelta(days=ago)
        status = "pending" if i >= count - pending else "booked"
        kind = rng.random()
        if kind < 0.55:
            number = invoice_base + i + 1
            ref = f"INV-{today.year}-{number % 10000:04d}"
            payer = rng.choice(PAYERS)
            txn = (Decimal(rng.randint(5_000, 900_000)) / 100, f"Payment {ref} {payer}", ref, payer)
        elif kind < 0.7:
            ref = rf_reference(f"{rng.randint(10**9, 10**10 - 1)}")
            payer = rng.choice(PAYERS)
            txn = (Decimal(rng.randint(5_000, 500_000)) / 100, f"SEPA credit {payer}", ref, payer)
        else:
            payee = rng.choice(PAYEES)
            txn = (-Decimal(rng.randint(300, 300_000)) / 100, payee, "", payee)
        amount, description, reference, counterparty = txn
        bank_id = "" if status == "pending" else f"{account.ref[-6:]}-{booked_on:%y%m%d}-{i:04d}"
        out.append(SimTxn(account.ref, bank_id, booked_on, amount, account.currency, description, reference,
                          counterparty, status))
    return out


def make_login(bank: str, username: str, password: str, behaviour: str, *, index: int, today: dt.date,
               accounts: int = 1, per_account: int = 30, pending: int = 2, seed: int = SEED) -> SimLogin:
    """One login with `accounts` accounts of `per_account` transactions each; invoices numbered from `index`."""
    rng = random.Random(f"{seed}:{bank}:{username}")
    login = SimLogin(bank, username, password, behaviour)
    for n in range(accounts):
        account = SimAccount(iban("DE" if bank != "sim-alpine" else "CH", rng), f"{username.title()} account {n + 1}")
        login.accounts.append(account)
        login.transactions += _transactions(rng, account, per_account, index * 400 + n * 130, today, pending)
    return login


def builtin(today: dt.date | None = None) -> Scenario:
    """The scenario `reconwb sim bank --print-scenario` prints and the tests run against."""
    today = today or dt.date.today()
    spec = [
        ("sim-nordic", "alice", "Alice-pw-2026", "healthy", {}),
        ("sim-nordic", "bob", "Bob-pw-2026", "password_expired", {}),
        ("sim-nordic", "carol", "Carol-pw-2026", "otp_every_login", {}),
        ("sim-nordic", "dave", "Dave-pw-2026", "locks_after_3", {}),
        ("sim-alpine", "erin", "Erin-pw-2026", "multi_account", {"accounts": 3, "per_account": 40}),
        ("sim-alpine", "frank", "Frank-pw-2026", "flaky", {}),
        ("sim-alpine", "gus", "Gus-pw-2026", "healthy", {}),
        ("sim-atlantic", "grace", "Grace-pw-2026", "healthy", {"per_account": 60}),
        ("sim-atlantic", "heidi", "Heidi-pw-2026", "otp_every_login", {}),
    ]
    logins = [make_login(bank, user, pw, behaviour, index=i, today=today, **extra)
              for i, (bank, user, pw, behaviour, extra) in enumerate(spec)]
    return Scenario(BANKS, logins)


def bulk(count: int, per_login: int, *, bank: str = "sim-nordic", today: dt.date | None = None) -> Scenario:
    """`count` healthy logins of `per_login` transactions each (the benchmark's load)."""
    today = today or dt.date.today()
    logins = [make_login(bank, f"user{i:03d}", f"Pw-{i:03d}-2026", "healthy", index=i, today=today,
                         per_account=per_login) for i in range(count)]
    return Scenario(BANKS, logins)
