"""Plaid through the official SDK against `reconwb.sim.plaid` over real HTTP, webhooks through a verifying
receiver, and every simulator answer checked against Plaid's published OpenAPI document."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from reconwb import connections, lifecycle, sync
from reconwb.openbanking import linking, plaid, webhooks
from reconwb.sim import plaid as sim_plaid
from tests.openbanking.conftest import Provider, validate_transcript

BANK = sim_plaid.INSTITUTIONS[0][0]


def add(env: Provider, name: str, behaviour: str = "healthy") -> connections.Connection:
    """A Plaid connection linked through Link's offline stand-in; the sandbox username picks the behaviour."""
    with env.ws.connect() as con:
        connections.add(con, name, BANK, username=behaviour)
    outcome = plaid.link(env.ws, name)
    assert outcome["status"] == "linked", outcome
    env.settle()
    return env.conn(name)


def test_link_fetch_and_consent_date(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-ok")
    assert conn.external_id and conn.health == "refreshing"
    assert conn.consent_expires_at is not None and conn.consent_expires_at > dt.datetime.now(dt.UTC)
    with plaid_env.ws.connect() as con:
        sealed = plaid_env.ws.vault().get(con, conn.credentials_owner)
        raw = con.execute("SELECT count(*) FROM secrets WHERE CAST(ciphertext AS VARCHAR) LIKE '%access-sandbox%'")
        assert raw.fetchall()[0][0] == 0  # sealed, not stored in the clear
    assert sealed["access_token"].startswith("access-sandbox-")
    result = sync.sync(plaid_env.ws, "plaid-ok")
    assert (result.status, result.health, result.inserted) == ("ok", "ok", 20)
    # deposits are money in (Plaid's negative amounts), exact to the cent; the fee is money out
    assert plaid_env.count("SELECT count(*) FROM transactions WHERE amount > 0 AND reference LIKE 'INV-%'") == 16
    assert plaid_env.count("SELECT count(*) FROM transactions WHERE amount = -4.90") == 4
    again = sync.sync(plaid_env.ws, "plaid-ok")
    assert (again.status, again.inserted) == ("ok", 0)
    assert plaid_env.count("SELECT count(*) FROM transactions") == 20


def test_a_pending_deposit_that_posts_under_a_new_id_stays_one_transaction(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-pending", "pending_posts")
    assert sync.sync(plaid_env.ws, conn.name).inserted == 21
    assert plaid_env.count("SELECT count(*) FROM transactions WHERE status = 'pending' AND amount = 1250") == 1
    token = plaid_env.ws.vault()
    with plaid_env.ws.connect() as con:
        access = token.get(con, conn.credentials_owner)["access_token"]
    assert plaid_env.admin(f"items/{access}/post_pending")["posted"] == 1
    plaid_env.settle()  # SYNC_UPDATES_AVAILABLE fetches again
    (event,) = [h for h in plaid_env.receiver.handled if h["type"] == "TRANSACTIONS.SYNC_UPDATES_AVAILABLE"]
    assert event["sync"]["status"] == "ok" and event["sync"]["updated"] == 1 and event["sync"]["inserted"] == 0
    assert plaid_env.count("SELECT count(*) FROM transactions WHERE amount = 1250") == 1
    assert plaid_env.count("SELECT count(*) FROM transactions WHERE amount = 1250 AND status = 'booked'") == 1


def test_login_required_then_update_mode_then_ok(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-login", "login_required")
    assert plaid_env.conn(conn.name).health == "reconnect_required"  # /item/get at link time says so
    failed = sync.sync(plaid_env.ws, conn.name, now=True)
    assert failed.status == "failed" and "ITEM_LOGIN_REQUIRED" in failed.message
    assert not_allowed(plaid_env, conn)
    outcome = linking.reconnect_step(plaid_env.ws, conn.name)
    assert outcome["status"] == "reconnected" and outcome["health"] == "ok", outcome
    assert outcome["sync"]["inserted"] == 20
    plaid_env.settle()
    assert any(h["type"] == "ITEM.LOGIN_REPAIRED" for h in plaid_env.receiver.handled)


def test_the_login_required_webhook_asks_for_a_reconnect(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-reset")
    assert sync.sync(plaid_env.ws, conn.name).status == "ok"
    plaid_env.http.post("/sandbox/item/reset_login", json={
        "client_id": plaid_env.sim.state.client_id, "secret": plaid_env.sim.state.secret,
        "access_token": access_token(plaid_env, conn)}).raise_for_status()
    plaid_env.settle()
    (event,) = [h for h in plaid_env.receiver.handled if h["type"] == "ITEM.ERROR"]
    assert event["health"] == "reconnect_required" and plaid_env.conn(conn.name).health == "reconnect_required"
    assert not_allowed(plaid_env, conn)
    assert linking.reconnect_step(plaid_env.ws, conn.name)["health"] == "ok"


def access_token(env: Provider, conn: connections.Connection) -> str:
    with env.ws.connect() as con:
        return env.ws.vault().get(con, conn.credentials_owner)["access_token"]


def not_allowed(env: Provider, conn: connections.Connection) -> bool:
    with env.ws.connect() as con:
        return not lifecycle.may_attempt(con, conn.connection_id).allowed


def test_new_accounts_are_offered_for_selection(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-new", "new_accounts")
    assert sync.sync(plaid_env.ws, conn.name).inserted == 20  # the two accounts shared at link time
    with plaid_env.ws.connect() as con:
        flagged = con.execute("SELECT new_accounts_at FROM openbanking_links WHERE connection_id = ?",
                              [conn.connection_id]).fetchall()[0][0]
    assert flagged is not None  # NEW_ACCOUNTS_AVAILABLE arrived
    state = plaid_env.http.get("/__admin/state").json()["items"]
    everything = sim_plaid.account_rows  # the simulator's three accounts of this item
    item = next(i for i in state.values() if i["item_id"] == conn.external_id)
    first = item["shared"][0]
    third = [a for a in _all_accounts(plaid_env, conn) if a not in item["shared"]][0]
    assert everything  # noqa: B018
    outcome = plaid.reconnect(plaid_env.ws, conn.name, accounts=[first, third])
    assert outcome["status"] == "reconnected" and sorted(outcome["selected"]) == sorted([first, third])
    assert outcome["deselected"] == [item["shared"][1]]
    result = sync.sync(plaid_env.ws, conn.name)
    assert result.status == "ok" and result.inserted == 10  # the new account's history
    with plaid_env.ws.connect() as con:
        rows = dict(con.execute("SELECT external_ref, active FROM accounts WHERE connection_id = ?",
                                [conn.connection_id]).fetchall())
    assert rows == {first: True, third: True, item["shared"][1]: False}


def _all_accounts(env: Provider, conn: connections.Connection) -> list[str]:
    with env.sim.state.lock:
        item = next(i for i in env.sim.state.items.values() if i.item_id == conn.external_id)
        return [a["account_id"] for a in item.accounts]


def test_revoked_permission_makes_the_connection_obsolete(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-revoked")
    with plaid_env.ws.connect() as con:
        access = plaid_env.ws.vault().get(con, conn.credentials_owner)["access_token"]
    plaid_env.http.post("/sandbox/item/fire_webhook", json={
        "client_id": plaid_env.sim.state.client_id, "secret": plaid_env.sim.state.secret, "access_token": access,
        "webhook_code": "USER_PERMISSION_REVOKED"}).raise_for_status()
    plaid_env.settle()
    assert plaid_env.conn(conn.name).health == "obsolete"
    skipped = sync.sync(plaid_env.ws, conn.name, now=True)
    assert skipped.status == "skipped" and "obsolete" in skipped.message


def test_rate_limits_are_respected(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-limited", "rate_limited")
    limited = sync.sync(plaid_env.ws, conn.name)
    assert limited.status == "failed" and "TRANSACTIONS_SYNC_LIMIT" in limited.message
    after = plaid_env.conn(conn.name)
    assert after.next_attempt_at is not None and after.next_attempt_at > dt.datetime.now(dt.UTC) + dt.timedelta(
        seconds=50)
    assert sync.sync(plaid_env.ws, conn.name).status == "skipped"  # the scheduler waits
    before = len(plaid_env.sim.transcript)
    assert sync.sync(plaid_env.ws, conn.name).status == "skipped"
    assert len(plaid_env.sim.transcript) == before  # nothing reached Plaid
    assert sync.sync(plaid_env.ws, conn.name, now=True).inserted == 20


def test_institution_down_is_bank_unavailable_not_a_reconnect(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-down")
    with plaid_env.ws.connect() as con:
        access = plaid_env.ws.vault().get(con, conn.credentials_owner)["access_token"]
    plaid_env.admin(f"items/{access}/down")
    result = sync.sync(plaid_env.ws, conn.name)
    assert result.status == "failed" and "INSTITUTION_DOWN" in result.message
    assert plaid_env.conn(conn.name).health == "refreshing"  # not reconnect_required, not broken


def _signed(env: Provider, body: bytes, *, key=None, iat: float | None = None, kid: str | None = None,
            digest: str | None = None, alg: str = "ES256") -> dict[str, str]:
    state = env.sim.state
    claims = {"iat": int(iat if iat is not None else time.time()),
              "request_body_sha256": digest or hashlib.sha256(body).hexdigest()}
    token = jwt.encode(claims, key or state.key, algorithm=alg, headers={"kid": kid or state.kid})
    return {"Plaid-Verification": token, "content-type": "application/json"}


def test_webhook_jwt_verification_refuses_forged_and_stale_tokens(plaid_env: Provider) -> None:
    conn = add(plaid_env, "plaid-hooks")
    body = json.dumps({"webhook_type": "ITEM", "webhook_code": "USER_PERMISSION_REVOKED",
                       "item_id": conn.external_id, "environment": "sandbox"}).encode()
    url = plaid_env.receiver.url
    forged_key = ec.generate_private_key(ec.SECP256R1())
    refused = [
        {},  # no header at all
        _signed(plaid_env, body, key=forged_key),  # signed by someone else under Plaid's kid
        _signed(plaid_env, body, iat=time.time() - 301),  # older than 5 minutes
        _signed(plaid_env, body, digest=hashlib.sha256(b"{}").hexdigest()),  # another body's hash
        _signed(plaid_env, body, kid="not-a-plaid-key"),  # a key Plaid does not know
        _signed(plaid_env, body, key="a-shared-secret-of-thirty-two-bytes!", alg="HS256"),  # not ES256
    ]
    for headers in refused:
        assert httpx.post(url, content=body, headers=headers).status_code == 401
    assert plaid_env.receiver.rejected == len(refused)
    assert plaid_env.conn(conn.name).health != "obsolete"
    with pytest.raises(webhooks.InvalidSignature):  # a valid token replayed over another body
        webhooks.verify(plaid_env.ws, "plaid", body + b" ", _signed(plaid_env, body))
    assert httpx.post(url, content=body, headers=_signed(plaid_env, body)).status_code == 204
    assert plaid_env.conn(conn.name).health == "obsolete"


def test_consent_warnings_at_14_and_7_days_then_early_reconnect(plaid_env: Provider, smtp) -> None:
    from reconwb import notify
    from reconwb.openbanking import consent
    from tests.aggregator_env import add_users

    add_users(plaid_env.ws)
    conn = add(plaid_env, "plaid-consent", "consent_expiring")
    ends = plaid_env.conn(conn.name).consent_expires_at
    assert dt.timedelta(days=4) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(days=5)
    assert sync.sync(plaid_env.ws, conn.name).status == "ok"
    with plaid_env.ws.connect() as con:
        events = con.execute("SELECT payload FROM events WHERE type = 'connection.consent_expiring'").fetchall()
        found = consent.warnings(con)
    assert len(events) == 1 and json.loads(events[0][0])["days_before"] == 7  # one warning, not two
    assert [w.connection for w in found] == [conn.name] and "Bank access for plaid-consent ends on" in found[0].message
    notify.deliver(plaid_env.ws)
    mails = [m for m in smtp.messages if "Bank access for plaid-consent" in m["content"]]
    assert len(mails) == 2  # ana and ben hold the reconciliation permission; carl does not
    with plaid_env.ws.connect() as con:
        assert consent.notify_expiring(con) == []  # given once
    # reconnecting early renews the consent and keeps the accounts and their history
    outcome = linking.reconnect_step(plaid_env.ws, conn.name)
    assert outcome["status"] == "reconnected" and outcome["sync"]["inserted"] == 0
    renewed = plaid_env.conn(conn.name)
    assert renewed.consent_expires_at - dt.datetime.now(dt.UTC) > dt.timedelta(days=170)
    assert plaid_env.count("SELECT count(*) FROM transactions") == 20
    with plaid_env.ws.connect() as con:
        assert consent.warnings(con) == []


@pytest.mark.slow
def test_every_simulator_answer_matches_plaids_openapi_document(plaid_env: Provider, openapi_of) -> None:
    for behaviour in sim_plaid.BEHAVIOURS:
        conn = add(plaid_env, f"spec-{behaviour}", behaviour)
        sync.sync(plaid_env.ws, conn.name, now=True)
    linking.reconnect_step(plaid_env.ws, "spec-login_required")
    plaid.reconnect(plaid_env.ws, "spec-new_accounts")
    plaid_env.http.post("/item/get", json={"access_token": "nope", "client_id": "x", "secret": "y"})
    paths = {p.partition("?")[0] for _m, p, _s, _b in plaid_env.sim.transcript}
    assert {"/link/token/create", "/sandbox/public_token/create", "/item/public_token/exchange", "/accounts/get",
            "/transactions/sync", "/item/get", "/webhook_verification_key/get", "/institutions/get"} <= paths
    assert {s for _m, _p, s, _b in plaid_env.sim.transcript} >= {200, 400, 429}
    assert validate_transcript(openapi_of, "plaid", plaid_env.sim) == len(plaid_env.sim.transcript)
    # the check can fail: an answer without a required field is refused
    from openapi_core.testing import MockRequest, MockResponse

    openapi, server = openapi_of("plaid")
    _m, _p, _s, good = next(t for t in plaid_env.sim.transcript if t[1] == "/item/get" and t[2] == 200)
    broken = json.loads(good)
    del broken["item"]["item_id"]
    with pytest.raises(Exception, match="(?i)invalid|item_id"):
        openapi.validate_response(MockRequest(server, "POST", "/item/get"),
                                  MockResponse(json.dumps(broken).encode(), status_code=200))


def test_the_servers_inbound_route_verifies_plaid_webhooks_and_processes_them(plaid_env: Provider) -> None:
    from reconwb.webhooks import inbound

    conn = add(plaid_env, "plaid-inbound")
    body = json.dumps({"webhook_type": "ITEM", "webhook_code": "USER_PERMISSION_REVOKED",
                       "item_id": conn.external_id, "environment": "sandbox"}).encode()
    forged = _signed(plaid_env, body, key=ec.generate_private_key(ec.SECP256R1()))
    assert inbound.receive(plaid_env.ws, "plaid", forged, body).status == 401
    assert inbound.receive(plaid_env.ws, "plaid", {}, body).status == 401
    stored = inbound.receive(plaid_env.ws, "plaid", _signed(plaid_env, body), body)
    assert (stored.status, stored.stored) == (200, True)
    assert inbound.receive(plaid_env.ws, "plaid", _signed(plaid_env, body), body).stored is False  # redelivery
    assert inbound.process_inbound(plaid_env.ws).processed == 1
    assert plaid_env.conn(conn.name).health == "obsolete"


def test_drop_in_mode_hands_out_link_tokens_and_takes_the_public_token(plaid_env: Provider) -> None:
    keys = {"url": plaid_env.sim.url, "client_id": plaid_env.sim.state.client_id, "secret": plaid_env.sim.state.secret}
    with plaid_env.ws.connect() as con:
        plaid.configure(con, plaid_env.ws.vault(), **keys, link_mode="drop-in")
        connections.add(con, "plaid-browser", BANK)
    started = linking.reconnect_step(plaid_env.ws, "plaid-browser")
    assert started["status"] == "link-required" and started["link_token"].startswith("link-sandbox-")
    assert "sync" not in started  # nothing to fetch before the person finished Link
    public = plaid_env.admin("link/complete", link_token=started["link_token"], username="healthy")  # the drop-in
    assert plaid.complete_link(plaid_env.ws, "plaid-browser", public["public_token"])["status"] == "linked"
    assert sync.sync(plaid_env.ws, "plaid-browser").inserted == 20
    plaid_env.http.post("/sandbox/item/reset_login", json={**keys, "access_token": access_token(
        plaid_env, plaid_env.conn("plaid-browser"))}).raise_for_status()
    plaid_env.settle()
    update = linking.reconnect_step(plaid_env.ws, "plaid-browser")
    assert update["status"] == "link-required" and update["mode"] == "update"
    plaid_env.admin("link/complete", link_token=update["link_token"])
    from reconwb.openbanking.store import run

    done = run(lambda: plaid.update_completed_async(plaid_env.ws, "plaid-browser"))
    assert done["status"] == "reconnected" and done["health"] == "refreshing"
    assert sync.sync(plaid_env.ws, "plaid-browser").health == "ok"
