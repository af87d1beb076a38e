"""The GoCardless connector's client against the simulator: tokens renewed, answers as taxonomy errors."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from reconwb.connectors import errors as taxonomy
from reconwb.connectors import gocardless
from reconwb.sim import gocardless as sim


def test_a_lapsed_access_token_is_refreshed_and_wrong_secrets_are_site_changed() -> None:
    async def run(handle) -> None:
        keys = {"url": handle.url, "secret_id": sim.SECRET_ID, "secret_key": sim.SECRET_KEY}
        async with gocardless.GoCardlessClient(keys) as client:
            assert len(await client.call("GET", "/institutions/", params={"country": "DE"})) == 6
            with handle.state.lock:  # the access token lapses mid-conversation
                for token, (kind, _until) in list(handle.state.tokens.items()):
                    if kind == "access":
                        handle.state.tokens[token] = (kind, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            assert await client.call("GET", "/institutions/SANDBOXFINANCE_SFIN0000/")
            with pytest.raises(taxonomy.ConnectionRevoked):
                await client.call("GET", "/requisitions/00000000-0000-0000-0000-000000000000/")
        async with gocardless.GoCardlessClient({**keys, "secret_key": "wrong"}) as client:
            with pytest.raises(taxonomy.SiteChanged, match="secret id and key"):
                await client.call("GET", "/institutions/")

    with sim.start_gocardless() as handle:
        asyncio.run(run(handle))
        refreshes = [p for _m, p, _s, _b in handle.transcript if p.startswith("/api/v2/token/refresh/")]
        assert len(refreshes) == 1


def test_booked_and_pending_rows() -> None:
    booked = gocardless.parse_transaction({"transactionId": "T1", "internalTransactionId": "I1",
                                           "bookingDate": "2026-02-01", "valueDate": "2026-02-02",
                                           "transactionAmount": {"amount": "-12.30", "currency": "EUR"},
                                           "creditorName": "Power Co", "remittanceInformationUnstructured": "bill"},
                                          "booked", None)
    assert (booked.amount, booked.bank_txn_id, booked.counterparty, booked.value_date) == (
        Decimal("-12.30"), "T1", "Power Co", dt.date(2026, 2, 2))
    pending = gocardless.parse_transaction({"internalTransactionId": "I2", "valueDate": "2026-02-03",
                                            "transactionAmount": {"amount": "99", "currency": "EUR"}}, "pending", "EUR")
    assert (pending.bank_txn_id, pending.status, pending.booked_on, pending.amount) == (
        "I2", "pending", dt.date(2026, 2, 3), Decimal("99.00"))
