"""Books for the explorer: payments, deposits on two accounts, and an engine run that leaves suggestions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from reconwb import accounts, banks, connections, matching
from reconwb.matching.rules import DEFAULT_TOML
from reconwb.payments import import_file
from reconwb.transactions import Txn, ingest
from reconwb.workspace import Workspace
from tests.matching.helpers import PAY_HEADER, pay, write_csv

D = dt.date(2026, 3, 10)


@pytest.fixture
def review(ws: Workspace, tmp_path: Path) -> Workspace:
    """Six invoices, seven deposits; the engine runs with auto-matching above 0.999, so its finds are suggestions."""
    rows = [
        pay("INV-1", "120.00", reference="INV-2026-0001", payer="Acme GmbH"),
        pay("INV-2", "77.70", payer="Pine Media AG"),
        pay("INV-3", "250.00", reference="INV-2026-0003", payer="Blue Harbor Ltd"),
        pay("INV-4", "310.00", reference="INV-2026-0004", payer="Cedar & Sons"),
        pay("INV-5", "99.00", payer="Delta Foods AG"),
        pay("INV-6", "300.00", payer="Fjord Logistics AS", due_on="2026-03-20"),
        pay("INV-7", "200.00", payer="Fjord Logistics AS", due_on="2026-03-25"),
    ]
    with ws.connect() as con:
        import_file(con, write_csv(tmp_path / "payments.csv", PAY_HEADER, rows))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bank1", banks.STATEMENT_BANK)
        main = accounts.ensure(con, conn.connection_id, "ACC-MAIN", currency="EUR")
        other = accounts.ensure(con, conn.connection_id, "ACC-OTHER", currency="EUR")
        ingest(con, main, [
            Txn(D, Decimal("120.00"), "EUR", "invoice", reference="INV-2026-0001", counterparty="Acme GmbH"),
            Txn(D, Decimal("77.70"), "EUR", "SEPA credit", counterparty="Someone"),
            Txn(D, Decimal("249.00"), "EUR", "Payment INV-2026-0003", counterparty="Blue Harbor Ltd"),
            Txn(D, Decimal("310.00"), "EUR", "Payment INV-2026-0O04", counterparty="Cedar and Sons"),
            Txn(D, Decimal("99.00"), "EUR", "credit", counterparty="Delta Foods AG"),
            Txn(D, Decimal("-30.00"), "EUR", "bank fees"),
        ], source="statement")
        ingest(con, other, [
            Txn(D + dt.timedelta(days=12), Decimal("500.00"), "EUR", "two invoices", counterparty="Fjord Logistics"),
            Txn(D - dt.timedelta(days=20), Decimal("12.34"), "EUR", "CARD REFUND", counterparty="Coffee"),
        ], source="statement")
    rules = tmp_path / "rules.toml"
    rules.write_text(DEFAULT_TOML.replace("auto = 0.90", "auto = 0.999"), encoding="utf-8")
    matching.reconcile_store(ws, rules=rules)
    return ws
