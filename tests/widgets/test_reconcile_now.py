"""The "Reconcile now" button on the explorer and the totals panel (the reconciliation dashboard)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from reconwb import accounts, banks, connections, settings
from reconwb.payments import import_file
from reconwb.transactions import Txn, ingest
from reconwb.widgets.explorer import ReconciliationExplorer
from reconwb.widgets.totals import TotalsPanel
from reconwb.workspace import Workspace
from tests.matching.helpers import PAY_HEADER, pay, write_csv

D = dt.date(2026, 3, 10)


def _books(ws: Workspace, tmp_path: Path) -> None:
    """Deposits landed with automatic reconcile off (as before payments were known), and their invoices."""
    with ws.connect() as con:
        settings.set_value(con, "auto_reconcile", "false")
        import_file(con, write_csv(tmp_path / "p.csv", PAY_HEADER, [
            pay("INV-1", "120.00", reference="INV-2026-0001", payer="Acme GmbH"),
            pay("INV-2", "310.00", reference="INV-2026-0002", payer="Cedar & Sons"),
        ]))
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "bank1", banks.STATEMENT_BANK)
        acc = accounts.ensure(con, conn.connection_id, "ACC-MAIN", currency="EUR")
        ingest(con, acc, [
            Txn(D, Decimal("120.00"), "EUR", "invoice", reference="INV-2026-0001", counterparty="Acme GmbH"),
            Txn(D, Decimal("310.00"), "EUR", "Payment", reference="INV-2026-0002", counterparty="Cedar & Sons"),
            Txn(D, Decimal("55.00"), "EUR", "card", reference="", counterparty="Shop", status="pending"),
        ], source="statement")


def test_explorer_button_matches_and_refreshes_the_lists(ws: Workspace, tmp_path: Path) -> None:
    _books(ws, tmp_path)
    ex = ReconciliationExplorer(ws, actor="maria")
    states = {r["Amount"]: r["Status"] for r in ex.deposit_grid.df.to_dicts()}
    assert states == {"€120.00": "unmatched", "€310.00": "unmatched", "€55.00": "pending at the bank"}
    ex.reconcile_now.button.click()
    assert "2 payment(s) matched in full" in ex.reconcile_now.message.value
    # still pending: not matched until booked
    assert [r["Status"] for r in ex.deposit_grid.df.to_dicts()] == ["pending at the bank"]


def test_dashboard_totals_button_moves_the_headline(ws: Workspace, tmp_path: Path) -> None:
    _books(ws, tmp_path)
    panel = TotalsPanel(ws, plots_enabled=False)
    assert ">0.0%</span> of EUR deposits reconciled" in panel.headline.value
    assert "€430.00 not reconciled (2 deposits" in panel.headline.value
    assert "€55.00 pending at the bank" in panel.headline.value
    panel.reconcile_now.button.click()
    assert ">100.0%</span> of EUR deposits reconciled: <b>€430.00</b> of €430.00" in panel.headline.value
    assert "€0.00 not reconciled ·" in panel.headline.value and "€55.00 pending at the bank" in panel.headline.value


def test_a_failure_is_one_redacted_line(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    from reconwb import autoreconcile

    def boom(_ws: Workspace) -> None:
        raise RuntimeError("engine down, password=hunter22")

    monkeypatch.setattr(autoreconcile, "reconcile_now", boom)
    panel = TotalsPanel(ws, plots_enabled=False)
    panel.reconcile_now.button.click()
    assert "engine down" in panel.reconcile_now.message.value and "hunter22" not in panel.reconcile_now.message.value
    assert not panel.reconcile_now.button.disabled
