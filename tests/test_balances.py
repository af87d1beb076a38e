"""The balance proof where a source states a balance beyond statements: the aggregator, Plaid and GoCardless
simulators over real HTTP, their balances landed by `sync` through `reconwb.balances`, shown per account with the
difference to what reconwb holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconwb import accounts, balances, banks, connections, formatting, reports, sync
from reconwb.connectors.base import StatedBalance
from reconwb.transactions import Txn, ingest
from reconwb.widgets.totals import accounts_html
from reconwb.workspace import Workspace
from tests.aggregator_env import Agg, agg  # noqa: F401 - the simulator fixture
from tests.openbanking.conftest import Provider, gocardless_env, plaid_env  # noqa: F401 - fixtures
from tests.openbanking.test_gocardless import add as add_gocardless
from tests.openbanking.test_plaid import add as add_plaid

D = dt.date(2026, 5, 4)


def _proof(ws: Workspace) -> dict[int, dict]:
    return {r["account_id"]: r for r in reports.overview(ws).balances.iter_rows(named=True)}


def _stored(ws: Workspace, source: str) -> list[tuple]:
    with ws.connect() as con:
        return con.execute("SELECT account_id, currency, opening, closing, closing_on FROM account_balances"
                           " WHERE source = ? ORDER BY account_id, recorded_at", [source]).fetchall()


def _held(ws: Workspace, account_id: int) -> Decimal:
    with ws.connect() as con:
        return con.execute("SELECT coalesce(sum(amount), 0) FROM transactions WHERE account_id = ?"
                           " AND status = 'booked'", [account_id]).fetchall()[0][0]


def test_a_stated_balance_opens_from_the_one_stated_the_day_before(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.ensure_statement_bank(con)
        conn = connections.add(con, "api", banks.STATEMENT_BANK)
        acc = accounts.ensure(con, conn.connection_id, "ACC-1", currency="EUR")
        ingest(con, acc, [Txn(D, Decimal("40.00"), "EUR", "before")], source="aggregator")
        balances.record_stated(con, acc, StatedBalance(Decimal("1040.00"), D, "EUR"), source="api balance")
    first = _proof(ws)[acc]
    assert first["closing"] == Decimal("1040.00") and first["difference"] is None  # nothing before it to prove
    with ws.connect() as con:
        ingest(con, acc, [Txn(D + dt.timedelta(days=1), Decimal("250.50"), "EUR", "a"),
                          Txn(D + dt.timedelta(days=2), Decimal("-0.50"), "EUR", "fee"),
                          Txn(D + dt.timedelta(days=2), Decimal("99.99"), "EUR", "late", status="pending")],
               source="aggregator")
        balances.record_stated(con, acc, StatedBalance(Decimal("1290.00"), D + dt.timedelta(days=2), "EUR"),
                               source="api balance")
    proven = _proof(ws)[acc]
    assert (proven["opening"], proven["held"], proven["difference"]) == (
        Decimal("1040.00"), Decimal("1290.00"), Decimal("0.00"))  # the two booked lines explain the move
    with ws.connect() as con:  # the bank says 10.00 more than reconwb's lines explain: a line is missing
        balances.record_stated(con, acc, StatedBalance(Decimal("1300.00"), D + dt.timedelta(days=3), "EUR"),
                               source="api balance")
    missing = _proof(ws)[acc]
    assert missing["opening"] == Decimal("1290.00") and missing["difference"] == Decimal("10.00")
    fmt = formatting.Formatter("en_US")
    shown = accounts_html(reports.deposit_totals(ws), reports.overview(ws).balances, fmt)
    assert "€1,300.00 on May 7, 2026" in shown and "€10.00" in shown


def test_the_aggregator_balance_lands_with_the_fetch(agg: Agg) -> None:  # noqa: F811 - the fixture
    agg.add()
    assert sync.sync(agg.ws, "acme").status == "ok"
    stored = _stored(agg.ws, "aggregator balance")
    assert len(stored) == 2  # one per account
    for account_id, currency, opening, closing, on in stored:
        # the simulator's balance is 10,000.00 plus every booked line it has; reconwb fetched them all
        assert (currency, opening, on) == ("EUR", None, dt.date.today())
        assert closing == Decimal("10000.00") + _held(agg.ws, account_id)
    assert sync.sync(agg.ws, "acme", now=True).status == "ok"  # a second fetch the same day: one more reading
    assert len(_stored(agg.ws, "aggregator balance")) == 4
    shown = accounts_html(reports.deposit_totals(agg.ws), reports.overview(agg.ws).balances,
                          formatting.Formatter("en_US"))
    assert shown.count(f"on {formatting.Formatter('en_US').date(dt.date.today())}") == 2


def test_plaid_states_the_current_balance_of_accounts_get(plaid_env: Provider) -> None:  # noqa: F811
    conn = add_plaid(plaid_env, "plaid-ok")
    assert sync.sync(plaid_env.ws, conn.name).status == "ok"
    said = {a["account_id"]: Decimal(str(a["balances"]["current"]))
            for item in plaid_env.sim.state.items.values() for a in item.accounts}
    with plaid_env.ws.connect() as con:
        refs = dict(con.execute("SELECT account_id, external_ref FROM accounts").fetchall())
    stored = _stored(plaid_env.ws, "plaid balance")
    assert len(stored) == 2
    assert {(refs[a], c, closing, on) for a, c, _, closing, on in stored} == {
        (ref, "EUR", said[ref], dt.date.today()) for ref in refs.values()}


def test_gocardless_balance_lands_with_its_type_and_reference_date(gocardless_env: Provider) -> None:  # noqa: F811
    conn = add_gocardless(gocardless_env, "gc")
    assert sync.sync(gocardless_env.ws, conn.name).status == "ok"
    stored = _stored(gocardless_env.ws, "gocardless balance")
    assert stored and {(c, closing, on) for _, c, _, closing, on in stored} == {
        ("EUR", Decimal("10450.00"), dt.date.today())}


def test_gocardless_prefers_a_booked_balance_on_its_reference_date() -> None:
    from reconwb.connectors.errors import SiteChanged
    from reconwb.connectors.gocardless import parse_balance

    answer = {"balances": [
        {"balanceAmount": {"amount": "10450.00", "currency": "EUR"}, "balanceType": "interimAvailable",
         "referenceDate": "2026-05-07"},
        {"balanceAmount": {"amount": "10399.95", "currency": "EUR"}, "balanceType": "closingBooked",
         "referenceDate": "2026-05-06"}]}
    assert parse_balance(answer, "EUR") == StatedBalance(Decimal("10399.95"), dt.date(2026, 5, 6), "EUR",
                                                         "closingBooked")
    assert parse_balance({"balances": []}, "EUR") is None
    with pytest.raises(SiteChanged, match="more than two decimal places"):  # refused, never rounded
        parse_balance({"balances": [{"balanceAmount": {"amount": "1.005", "currency": "EUR"},
                                     "balanceType": "expected"}]}, "EUR")
