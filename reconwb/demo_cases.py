"""The demo's cases for a person to review: deposits the matching engine cannot settle on its own.

The simulated banks' deposits mostly pay an invoice exactly, so a demo without these would show an explorer
with nothing to decide. Here one bank statement (with opening and closing balances, so the dashboard's balance
proof has a statement to check) brings, against a few invoices:

- ambiguous amounts: one deposit of 480.00 with no reference, and two open invoices of 480.00 from other payers;
- a payer under another name: the invoice is Northwind Traders', the money comes from "NWT Holdings Ltd";
- a fee no rule knows: the reference is right, the deposit 7.35 short (no fee schedule explains 7.35);
- one payment for two invoices: 1,250.00 from Birch & Co against its invoices of 750.00 and 500.00.

Nothing here writes a match: the statement and the invoices are imported like any user's files, and whatever
suggestions the explorer shows come from the real matching engine when the pipeline reconciles.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from reconwb import payments
from reconwb.statements.importer import ImportResult, store
from reconwb.statements.model import Balance, Line, Statement
from reconwb.transactions import Txn

CONNECTION = "review-cases"
ACCOUNT = "DE89370400440532013000"
OPENING = Decimal("25000.00")


def deposits(today: dt.date) -> list[Txn]:
    """The statement's lines (the bank's view): the four cases, each a few days old."""
    day = today - dt.timedelta(days=6)
    return [
        Txn(day, Decimal("480.00"), "EUR", "Transfer", counterparty="J. Smith", bank_txn_id="rc-1"),
        Txn(day, Decimal("1375.20"), "EUR", "April services", counterparty="NWT Holdings Ltd", bank_txn_id="rc-2"),
        Txn(day + dt.timedelta(days=1), Decimal("892.65"), "EUR", "Tailspin Toys invoice", counterparty="Tailspin Toys",
            bank_txn_id="rc-3"),
        Txn(day + dt.timedelta(days=2), Decimal("1250.00"), "EUR", "Two invoices", counterparty="B. C. Holdings",
            bank_txn_id="rc-4"),
        Txn(day + dt.timedelta(days=2), Decimal("-310.00"), "EUR", "Office rent share", counterparty="Landlord",
            bank_txn_id="rc-5"),
    ]


def invoices(today: dt.date) -> list[dict[str, str]]:
    """The invoices those deposits might pay, as a payments CSV (CONTRACTS.md) has them."""
    issued = today - dt.timedelta(days=30)
    due = today - dt.timedelta(days=2)
    rows = [
        ("R-101", "480.00", "INV-2026-R101", "Contoso Ltd"),
        ("R-102", "480.00", "INV-2026-R102", "Fabrikam Inc"),
        ("R-103", "1375.20", "INV-2026-R103", "Northwind Traders"),
        ("R-104", "900.00", "INV-2026-R104", "Tailspin Toys"),
        ("R-105", "750.00", "INV-2026-R105", "Birch & Co"),
        ("R-106", "500.00", "INV-2026-R106", "Birch & Co"),
    ]
    return [{"payment_id": pid, "amount": amount, "currency": "EUR", "issued_on": issued.isoformat(),
             "due_on": due.isoformat(), "reference": ref, "payer": payer} for pid, amount, ref, payer in rows]


def statement(today: dt.date) -> Statement:
    """The bank statement holding `deposits`, its closing balance the opening one plus its lines."""
    lines = deposits(today)
    closing = OPENING + sum((t.amount for t in lines), Decimal("0"))
    return Statement(ACCOUNT, currency="EUR", iban=ACCOUNT, name="Operating account",
                     opening=Balance(OPENING, min(t.booked_on for t in lines)),
                     closing=Balance(closing, max(t.booked_on for t in lines)), lines=[Line(t) for t in lines])


def load(con: duckdb.DuckDBPyConnection, folder: Path, today: dt.date | None = None) -> dict[str, object]:
    """Import the statement and the invoices (files written to `folder`, as a user would have them)."""
    today = today or dt.date.today()
    folder.mkdir(parents=True, exist_ok=True)
    invoice_file = folder / "review-cases-invoices.csv"
    with invoice_file.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=("payment_id", "amount", "currency", "issued_on", "due_on",
                                                "reference", "payer"))
        writer.writeheader()
        writer.writerows(invoices(today))
    statement_file = folder / "review-cases-statement.json"  # the statement's name in the import log
    statement_file.write_text("review cases: see reconwb.demo_cases\n", encoding="utf-8")
    imported: ImportResult = store(con, [statement(today)], CONNECTION, file=statement_file, fmt="demo")
    return {"statement": imported.imported, "invoices": payments.import_file(con, invoice_file)}
