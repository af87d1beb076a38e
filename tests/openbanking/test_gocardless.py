"""GoCardless Bank Account Data over real HTTP against `reconwb.sim.gocardless`, with every simulator answer
checked against the published OpenAPI document."""

from __future__ import annotations

import datetime as dt

import pytest

from reconwb import banks, connections, lifecycle, sync
from reconwb.openbanking import gocardless, linking
from reconwb.sim import gocardless as sim_gocardless
from tests.openbanking.conftest import Provider, validate_transcript

BANK_OF = {b: i for i, (_n, b) in sim_gocardless.INSTITUTIONS.items()}


def add(env: Provider, name: str, behaviour: str = "healthy") -> connections.Connection:
    with env.ws.connect() as con:
        connections.add(con, name, BANK_OF[behaviour])
    outcome = gocardless.link(env.ws, name)
    assert outcome["status"] == "linked", outcome
    return env.conn(name)


def test_institutions_become_banks_of_the_gocardless_connector(gocardless_env: Provider) -> None:
    with gocardless_env.ws.connect() as con:
        found = banks.get(con, "SANDBOXFINANCE_SFIN0000")
        usable = [b.bank_id for b in banks.list_banks(con, usable_for="data") if b.connector == "gocardless"]
    assert found.connector == "gocardless" and found.name == "Sandbox Finance"
    assert sorted(usable) == sorted(sim_gocardless.INSTITUTIONS)


def test_link_fetch_booked_and_pending_then_posted_without_a_second_row(gocardless_env: Provider) -> None:
    conn = add(gocardless_env, "gc-pending", "pending_posts")
    assert conn.external_id and conn.consent_expires_at is not None
    assert conn.consent_expires_at - dt.datetime.now(dt.UTC) > dt.timedelta(days=89)
    result = sync.sync(gocardless_env.ws, conn.name)
    assert (result.status, result.inserted) == ("ok", 2 * 8 + 2)
    with gocardless_env.ws.connect() as con:
        refs = {r[0] for r in con.execute("SELECT external_ref FROM accounts WHERE connection_id = ?",
                                          [conn.connection_id]).fetchall()}
    assert refs == set(sim_gocardless.ibans(conn.bank_id, 2))  # accounts are known by IBAN
    assert gocardless_env.count("SELECT count(*) FROM transactions WHERE status = 'pending'") == 2
    assert gocardless_env.admin("post_pending")["posted"] == 2
    again = sync.sync(gocardless_env.ws, conn.name)
    assert (again.status, again.inserted, again.updated) == ("ok", 0, 2)
    assert gocardless_env.count("SELECT count(*) FROM transactions WHERE status = 'pending'") == 0
    assert gocardless_env.count("SELECT count(*) FROM transactions WHERE amount = 1250.00") == 2
    assert gocardless_env.count("SELECT count(*) FROM transactions") == 18


def test_expired_agreement_means_a_new_requisition_with_the_same_accounts_and_no_duplicates(
        gocardless_env: Provider) -> None:
    conn = add(gocardless_env, "gc-healthy")
    assert sync.sync(gocardless_env.ws, conn.name).inserted == 16
    first = conn.external_id
    gocardless_env.admin(f"requisitions/{first}/expire")
    failed = sync.sync(gocardless_env.ws, conn.name)
    assert failed.status == "failed" and failed.health == "reconnect_required"
    with gocardless_env.ws.connect() as con:
        assert not lifecycle.may_attempt(con, conn.connection_id).allowed
    outcome = linking.reconnect_step(gocardless_env.ws, conn.name)
    assert outcome["status"] == "reconnected" and outcome["relinked"] is True, outcome
    assert outcome["sync"]["status"] == "ok" and outcome["sync"]["inserted"] == 0 and outcome["health"] == "ok"
    after = gocardless_env.conn(conn.name)
    assert after.external_id != first
    assert gocardless_env.count("SELECT count(*) FROM accounts WHERE connection_id = ?", [conn.connection_id]) == 2
    assert gocardless_env.count("SELECT count(*) FROM transactions") == 16
    state = gocardless_env.http.get("/__admin/state").json()
    assert first not in state["requisitions"]  # the replaced requisition was deleted at GoCardless


def test_login_required_bank_links_then_asks_for_consent_again(gocardless_env: Provider) -> None:
    conn = add(gocardless_env, "gc-relogin", "login_required")
    failed = sync.sync(gocardless_env.ws, conn.name)
    assert failed.health == "reconnect_required" and "expired" in failed.message
    outcome = linking.reconnect_step(gocardless_env.ws, conn.name)
    assert outcome["health"] == "ok" and outcome["sync"]["inserted"] == 16


def test_new_accounts_after_a_new_requisition_are_added_beside_the_old(gocardless_env: Provider) -> None:
    conn = add(gocardless_env, "gc-grow", "new_accounts")
    assert sync.sync(gocardless_env.ws, conn.name).inserted == 16
    gocardless_env.admin(f"requisitions/{conn.external_id}/expire")
    sync.sync(gocardless_env.ws, conn.name)
    outcome = linking.reconnect_step(gocardless_env.ws, conn.name)
    assert outcome["sync"]["inserted"] == 8  # only the third account's history is new
    assert gocardless_env.count("SELECT count(*) FROM accounts") == 3


def test_the_daily_account_limit_is_respected(gocardless_env: Provider) -> None:
    conn = add(gocardless_env, "gc-busy", "rate_limited")
    limited = sync.sync(gocardless_env.ws, conn.name)
    assert limited.status == "failed" and "Rate limit" in limited.message
    wait = gocardless_env.conn(conn.name).next_attempt_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=2, minutes=59) < wait <= dt.timedelta(hours=3)  # the reset header's 3 hours
    before = len(gocardless_env.sim.transcript)
    assert sync.sync(gocardless_env.ws, conn.name).status == "skipped"
    assert len(gocardless_env.sim.transcript) == before
    assert gocardless_env.conn(conn.name).health != "reconnect_required"


def test_a_suspended_account_is_broken_with_the_reason(gocardless_env: Provider) -> None:
    conn = add(gocardless_env, "gc-suspended")
    account = gocardless_env.http.get("/__admin/state").json()["requisitions"][conn.external_id]["accounts"][0]
    gocardless_env.admin(f"accounts/{account}/suspend")
    result = sync.sync(gocardless_env.ws, conn.name)
    assert result.status == "failed" and result.health == "broken" and "suspended" in result.message


def test_consent_expiring_in_5_days_warns_once_and_early_reconnect_keeps_history(gocardless_env: Provider) -> None:
    from reconwb.openbanking import consent

    conn = add(gocardless_env, "gc-expiring", "consent_expiring")
    left = conn.consent_expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=4) < left <= dt.timedelta(days=5)
    assert sync.sync(gocardless_env.ws, conn.name).inserted == 16
    assert gocardless_env.count("SELECT count(*) FROM events WHERE type = 'connection.consent_expiring'") == 1
    outcome = linking.reconnect_step(gocardless_env.ws, conn.name)
    assert outcome["status"] == "reconnected" and outcome["sync"]["inserted"] == 0
    renewed = gocardless_env.conn(conn.name).consent_expires_at
    assert renewed - dt.datetime.now(dt.UTC) > dt.timedelta(days=80)
    assert gocardless_env.count("SELECT count(*) FROM transactions") == 16
    with gocardless_env.ws.connect() as con:
        assert consent.warnings(con) == []


@pytest.mark.slow
def test_every_simulator_answer_matches_the_published_openapi_document(gocardless_env: Provider,
                                                                        openapi_of) -> None:
    for behaviour in sim_gocardless.BEHAVIOURS:
        conn = add(gocardless_env, f"spec-{behaviour}", behaviour)
        sync.sync(gocardless_env.ws, conn.name, now=True)
    gocardless_env.http.get("/api/v2/institutions/?country=DE")  # no token: 401
    gocardless_env.http.post("/api/v2/token/new/", json={"secret_id": "x", "secret_key": "y"})
    statuses = {s for _m, _p, s, _b in gocardless_env.sim.transcript}
    assert {200, 201, 401, 429} <= statuses
    assert validate_transcript(openapi_of, "gocardless", gocardless_env.sim) == len(gocardless_env.sim.transcript)
