"""The simulated business's invoice list: what its ERP expects to be paid, for the demo and the notebooks.

Derived from what the simulated bank portal and aggregator will show, the way a real business's open invoices
relate to its deposits: most deposits pay an invoice exactly, some short by a bank fee, a few pay an invoice
that quotes a slightly different reference, a few deposits pay nothing we know, and some invoices are not paid
yet. Deterministic for a given day.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconwb.sim import aggregator, bank_scenario

COLUMNS = ("payment_id", "amount", "currency", "issued_on", "due_on", "reference", "payer")


def _deposits(today: dt.date) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for login in bank_scenario.builtin(today).logins:
        for txn in login.transactions:
            found.append({"amount": Decimal(str(txn.amount)), "currency": txn.currency, "booked_on": txn.booked_on,
                          "reference": txn.reference, "payer": txn.counterparty})
    for login in aggregator.DEFAULT_LOGINS:
        for account in aggregator.account_rows(login):
            for row in aggregator.transaction_rows(login, account["account_id"], today):
                found.append({"amount": Decimal(str(row["amount"])), "currency": row["currency_code"],
                              "booked_on": dt.date.fromisoformat(row["timestamp"][:10]),
                              "reference": row["reference"], "payer": row["counterparty_name"]})
    return [d for d in found if d["amount"] > 0 and d["reference"]]


def invoices(today: dt.date | None = None, *, seed: int = 2026) -> list[dict[str, str]]:
    """Payments CSV rows (CONTRACTS.md) for the simulators' deposits, plus a few unpaid invoices."""
    today = today or dt.date.today()
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data
    rows: list[dict[str, str]] = []
    for i, dep in enumerate(sorted(_deposits(today), key=lambda d: (d["booked_on"], d["reference"]))):
        roll = rng.random()
        if roll < 0.06:
            continue  # a deposit nobody invoiced: stays unmatched
        amount = dep["amount"]
        if roll < 0.14:
            amount += Decimal("2.50")  # the payer's bank kept a fee: the deposit is short
        issued = dep["booked_on"] - dt.timedelta(days=rng.randint(10, 40))
        rows.append({
            "payment_id": f"P-{i:05d}",
            "amount": f"{amount:.2f}",
            "currency": dep["currency"],
            "issued_on": issued.isoformat(),
            "due_on": (issued + dt.timedelta(days=30)).isoformat(),
            "reference": dep["reference"],
            "payer": dep["payer"],
        })
    for n in range(12):  # invoices not paid yet
        issued = today - dt.timedelta(days=rng.randint(5, 120))
        rows.append({
            "payment_id": f"P-OPEN-{n:03d}",
            "amount": f"{Decimal(rng.randint(5_000, 900_000)) / 100:.2f}",
            "currency": "EUR",
            "issued_on": issued.isoformat(),
            "due_on": (issued + dt.timedelta(days=30)).isoformat(),
            "reference": f"INV-{issued.year}-{9000 + n}",
            "payer": rng.choice(["Northwind Traders", "Contoso Ltd", "Fabrikam Inc", "Tailspin Toys"]),
        })
    return rows


def write_csv(path: Path, today: dt.date | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(invoices(today))
    return path
