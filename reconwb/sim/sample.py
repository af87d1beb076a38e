"""Sample books around the simulated bank: connect a scenario login, and the invoices its customers pay.

The getting-started notebook, the demo and the notebook tests use these, so a first session reaches
"reconciled" without a real bank or a real ledger. The scenario's passwords go straight into the vault (and
the redaction registry); nothing here returns or prints them.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import polars as pl

from reconwb import connections
from reconwb.payments import REQUIRED
from reconwb.redaction import register_secret
from reconwb.sim.bank import BankHandle
from reconwb.workspace import Workspace


def scenario_login(bank: BankHandle, username: str) -> dict[str, Any]:
    found = [x for x in bank.admin("scenario")["logins"] if x["username"] == username]
    if not found:
        raise LookupError(f"the simulated bank has no login {username!r}")
    register_secret(found[0]["password"])
    return found[0]


def connect_login(ws: Workspace, bank: BankHandle, username: str, *, name: str | None = None,
                  login_mode: str = "simple") -> str:
    """A connection (named `name`, default the username) to the simulator with the scenario's password sealed.

    Connecting again (a new simulator, another port) points the connection at the new URL and keeps its data.
    """
    login = scenario_login(bank, username)
    name = name or username
    url = bank.bank_url(login["bank"])
    with ws.connect() as con:
        if connections.get(con, name, missing_ok=True) is None:
            connections.add(con, name, login["bank"], username=username, portal_url=url, login_mode=login_mode)
        else:
            con.execute("UPDATE connections SET portal_url = ? WHERE name = ?", [url, name])
        connections.set_credentials(con, ws.vault(), name, {"password": login["password"]})
    return name


def sample_payments(bank: BankHandle, usernames: list[str], *, unpaid: int = 5, seed: int = 2026) -> pl.DataFrame:
    """Expected payments for the logins' incoming transfers, as a customer's ledger would hold them.

    Most invoices carry the reference the deposit quotes; some were paid short (partial payments), some have
    neither reference nor a known payer (suggestions at best), a few do not fit at all, and `unpaid` invoices
    have no deposit yet. Deterministic for a seed.
    """
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for username in usernames:
        login = scenario_login(bank, username)
        for txn in login["transactions"]:
            amount = float(txn["amount"])
            reference = txn["reference"]
            if amount <= 0 or not reference or reference in seen:
                continue
            seen.add(reference)
            booked = dt.date.fromisoformat(txn["booked_on"])
            owed, payer, ref = txn["amount"], txn["counterparty"], reference
            roll = rng.random()
            if roll < 0.1:
                owed = f"{amount * 2:.2f}"  # paid half so far
            elif roll < 0.3:
                payer, ref = f"Customer {rng.randint(100, 999)}", ""  # only amount and date to go on
            elif roll < 0.35:
                owed, ref = f"{amount + 1:.2f}", ""  # nothing fits: stays open
            payment_id = reference if reference.startswith("INV-") else f"PAY-{reference[-8:]}"
            rows.append({
                "payment_id": payment_id, "amount": owed, "currency": txn["currency"],
                "issued_on": (booked - dt.timedelta(days=30)).isoformat(),
                "due_on": (booked - dt.timedelta(days=rng.randint(0, 10))).isoformat(),
                "reference": ref, "payer": payer,
            })
    today = dt.date.today()
    for n in range(unpaid):
        rows.append({
            "payment_id": f"INV-{today.year}-9{n:03d}", "amount": f"{rng.randint(5_000, 300_000) / 100:.2f}",
            "currency": "EUR", "issued_on": (today - dt.timedelta(days=20 + 15 * n)).isoformat(),
            "due_on": (today - dt.timedelta(days=5 + 15 * n - 30)).isoformat(),
            "reference": f"INV-{today.year}-9{n:03d}", "payer": rng.choice(["Granite Works", "Iris Design"]),
        })
    return pl.DataFrame(rows, schema={c: pl.String for c in REQUIRED}).sort("payment_id")


def write_sample_payments(path: str | Path, bank: BankHandle, usernames: list[str], **kwargs: Any) -> Path:
    """`sample_payments` as a Payments CSV (CONTRACTS.md), ready for `payments.import_file`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_payments(bank, usernames, **kwargs).write_csv(path)
    return path
