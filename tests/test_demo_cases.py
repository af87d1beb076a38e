"""The demo's review cases go through the real matching engine and leave a person something to decide."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from reconwb import demo_cases, matching, reports, settings
from reconwb.workspace import Workspace


def test_the_engine_leaves_suggestions_and_open_cases(ws: Workspace, tmp_path) -> None:
    today = dt.date(2026, 5, 20)
    with ws.connect() as con:
        settings.set_value(con, "auto_reconcile", "false")
        done = demo_cases.load(con, tmp_path, today)
    assert done["statement"] == 5 and done["invoices"]["imported"] == 6
    report = matching.reconcile_store(ws)
    assert report.matched == 0  # nothing here is sure enough to match on its own
    found = matching.suggestions(ws)
    by_deposit = {r["txn_amount"]: r for r in found.iter_rows(named=True)}
    # the ambiguous 480.00 goes to one of the two invoices of that amount; NWT Holdings pays Northwind's invoice
    assert by_deposit[Decimal("480")]["payment_id"] in ("R-101", "R-102")
    assert by_deposit[Decimal("1375.20")]["payment_id"] == "R-103"
    assert all(r["rule"] != "manual" for r in found.iter_rows(named=True))
    open_deposits = matching.open_items(ws, pending=False)["amount"].to_list()
    assert {Decimal("892.65"), Decimal("1250")} <= set(open_deposits)  # the unknown fee and the two-invoice payment
    proof = reports.overview(ws).balances.row(0, named=True)
    assert proof["difference"] == 0  # the statement's closing balance is what reconwb holds
