"""Small builders for matching tests: write the two CSVs of CONTRACTS.md and run file mode on them."""

from __future__ import annotations

import csv
from pathlib import Path

from reconwb.matching import ReconcileReport, reconcile_files

TXN_HEADER = ["txn_id", "account_id", "booked_on", "amount", "currency", "description", "reference", "counterparty"]
PAY_HEADER = ["payment_id", "amount", "currency", "issued_on", "due_on", "reference", "payer"]


def txn(txn_id: str, amount: str, booked_on: str = "2026-03-10", *, description: str = "", reference: str = "",
        counterparty: str = "", currency: str = "EUR", account: str = "ACC-1") -> dict[str, str]:
    return {"txn_id": txn_id, "account_id": account, "booked_on": booked_on, "amount": amount,
            "currency": currency, "description": description, "reference": reference, "counterparty": counterparty}


def pay(payment_id: str, amount: str, due_on: str = "2026-03-08", *, reference: str = "", payer: str = "",
        currency: str = "EUR", issued_on: str = "2026-02-20") -> dict[str, str]:
    return {"payment_id": payment_id, "amount": amount, "currency": currency, "issued_on": issued_on,
            "due_on": due_on, "reference": reference, "payer": payer}


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(tmp_path: Path, txns: list[dict[str, str]], pays: list[dict[str, str]],
        rules: str | None = None, rates: Path | None = None) -> tuple[list[dict[str, str]], ReconcileReport]:
    """File mode on these rows; returns the Matches CSV rows and the report."""
    t = write_csv(tmp_path / "transactions.csv", TXN_HEADER, txns)
    p = write_csv(tmp_path / "payments.csv", PAY_HEADER, pays)
    rules_path = None
    if rules is not None:
        rules_path = tmp_path / "rules.toml"
        rules_path.write_text(rules, encoding="utf-8")
    out = tmp_path / "matches.csv"
    report = reconcile_files(t, p, out, rules_path, rates=rates)
    with out.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh)), report


def links(rows: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(r["txn_id"], r["payment_id"]) for r in rows}
