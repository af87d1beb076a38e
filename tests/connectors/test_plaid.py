"""How Plaid's answers become reconwb transactions and taxonomy errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconwb.connectors import errors as taxonomy
from reconwb.connectors import plaid


@pytest.mark.parametrize(("code", "kind", "status", "expected", "health"), [
    ("ITEM_LOGIN_REQUIRED", "ITEM_ERROR", 400, taxonomy.ReconnectRequired, "reconnect_required"),
    ("USER_PERMISSION_REVOKED", "ITEM_ERROR", 400, taxonomy.ConnectionRevoked, "obsolete"),
    ("ITEM_NOT_FOUND", "ITEM_ERROR", 400, taxonomy.ConnectionRevoked, "obsolete"),
    ("INSTITUTION_DOWN", "INSTITUTION_ERROR", 400, taxonomy.BankUnavailable, None),
    ("TRANSACTIONS_SYNC_LIMIT", "RATE_LIMIT_EXCEEDED", 429, taxonomy.RateLimited, None),
    ("PRODUCT_NOT_READY", "ITEM_ERROR", 400, taxonomy.Transient, None),
    ("INTERNAL_SERVER_ERROR", "API_ERROR", 500, taxonomy.Transient, None),
    ("INVALID_API_KEYS", "INVALID_INPUT", 400, taxonomy.SiteChanged, "broken"),
    ("SOMETHING_NEW", "ITEM_ERROR", 400, taxonomy.SiteChanged, "broken"),
])
def test_errors_map_onto_the_taxonomy(code, kind, status, expected, health) -> None:
    err = plaid.failure_for(code, kind, f"plaid: {code}", status)
    assert type(err) is expected and type(err).health == health
    if expected is taxonomy.ReconnectRequired:
        assert err.reconnect_id == plaid.UPDATE_REQUIRED  # the lifecycle records the update-mode request
    if expected is taxonomy.RateLimited:
        assert err.retry_after == plaid.RATE_LIMIT_WAIT


def test_a_deposit_is_money_in_and_a_posted_line_keeps_its_pending_id() -> None:
    row = {"transaction_id": "posted-1", "pending_transaction_id": "pending-1", "account_id": "a", "amount": -1250.1,
           "iso_currency_code": "EUR", "date": "2026-03-02", "name": "Hooli INV-9", "pending": False,
           "payment_meta": {"reference_number": "INV-9", "payer": "Hooli BV"}}
    txn = plaid.parse_transaction(row)
    assert (txn.amount, txn.bank_txn_id, txn.status, txn.reference, txn.counterparty) == (
        Decimal("1250.10"), "pending-1", "booked", "INV-9", "Hooli BV")
    fee = plaid.parse_transaction({**row, "amount": 4.9, "pending_transaction_id": None, "pending": True})
    assert (fee.amount, fee.bank_txn_id, fee.status) == (Decimal("-4.90"), "posted-1", "pending")


def test_an_amount_finer_than_a_cent_is_refused_not_rounded() -> None:
    with pytest.raises(taxonomy.SiteChanged, match="more than two decimal places"):
        plaid.parse_transaction({"transaction_id": "t", "account_id": "a", "amount": 10.005, "date": "2026-03-02"})
