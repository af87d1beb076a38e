"""The aggregator connector against the simulator over real HTTP, with webhooks through a verifying receiver."""

from __future__ import annotations

import datetime as dt

import pytest

from reconwb import accounts, banks, connections, lifecycle, notify, sync
from reconwb.connectors import aggregator as connector
from reconwb.errors import Conflict
from reconwb.openbanking import lean as aggregator
from reconwb.workspace import Workspace
from tests import aggregator_env
from tests.aggregator_env import ACME_PASSWORD, Agg, add_users, json_of, wait_for

agg = aggregator_env.agg  # the fixture


def _count(ws: Workspace, sql: str, params: list | None = None) -> int:
    with ws.connect() as con:
        return int(con.execute(sql, params or []).fetchall()[0][0])


def test_entity_created_webhook_links_the_connection(agg: Agg) -> None:
    """The user finishes linking at the aggregator (LinkSDK); reconwb only learns the entity from the webhook."""
    conn = agg.add(link=False)
    assert conn.external_id is None
    customer = agg.http.post("/customers/v1", json={"app_user_id": aggregator.app_user_id(conn.connection_id)})
    answer = agg.http.post("/link/v1/connect", json={
        "customer_id": customer.json()["customer_id"], "bank_identifier": "AGGM_DEU",
        "username": "acme", "password": ACME_PASSWORD}).json()
    agg.settle()
    assert agg.receiver.of_type("entity.created")[0]["handled"] is True
    assert agg.conn().external_id == answer["entity_id"]
    with agg.ws.connect() as con:
        entity = aggregator.entity_payload(con, conn.connection_id)
    assert entity["bank_identifier"] == "AGGM_DEU" and entity["permissions"] == sorted(aggregator.PERMISSIONS)
    result = sync.sync(agg.ws, "acme")
    assert (result.status, result.health) == ("ok", "ok")
    assert result.inserted == 24  # two accounts, twelve transactions each
    assert _count(agg.ws, "SELECT count(*) FROM transactions WHERE source = 'aggregator'") == 24
    assert _count(agg.ws, "SELECT count(*) FROM transactions WHERE reference LIKE 'INV-%'") > 10


def test_a_forged_webhook_is_rejected_and_changes_nothing(agg: Agg) -> None:
    import datetime as _dt
    import json as _json

    import httpx
    from standardwebhooks import Webhook

    conn = agg.add(link=False)
    body = _json.dumps({"type": "entity.created", "payload": {
        "id": "forged-entity", "app_user_id": aggregator.app_user_id(conn.connection_id)}})
    stamp = _dt.datetime.now(_dt.UTC)
    forged = Webhook("whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0").sign("msg_1", stamp, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(stamp.timestamp())), "webhook-signature": forged}
    assert httpx.post(agg.receiver.url, content=body, headers=headers).status_code == 401
    assert httpx.post(agg.receiver.url, content=body).status_code == 401
    assert agg.receiver.rejected == 2 and agg.receiver.handled == []
    assert agg.conn().external_id is None


def test_link_answer_and_webhook_record_one_entity(agg: Agg) -> None:
    conn = agg.add()
    assert conn.external_id
    # the aggregator sends the webhook while it answers the link call: either may be handled first, and
    # whichever comes second finds the entity already recorded
    (event,) = agg.receiver.of_type("entity.created")
    assert event["handled"] and event["entity_id"] == conn.external_id and event["connection"] == "acme"
    assert _count(agg.ws, "SELECT count(*) FROM aggregator_entities") == 1
    again = aggregator.link(agg.ws, "acme")
    assert again["entity_id"] == conn.external_id
    assert len(agg.state()["entities"]) == 1


def test_a_wrong_password_at_link_time_is_invalid_credentials(agg: Agg) -> None:
    agg.add(password="not-it-1", link=False)
    outcome = aggregator.link(agg.ws, "acme")
    assert outcome["status"] == "failed" and outcome["error"] == "InvalidCredentials"
    assert "not-it-1" not in str(outcome)
    assert agg.conn().health == "reconnect_required"


def test_a_pending_result_is_parked_then_completed_by_results_ready(agg: Agg) -> None:
    conn = agg.add()
    agg.admin(f"entities/{conn.external_id}/pending", count=1, hold=True, kinds=["transactions"])
    result = sync.sync(agg.ws, "acme")
    assert result.status == "pending" and result.health == "refreshing"
    with agg.ws.connect() as con:
        (results_id, run_status), = con.execute(
            "SELECT p.results_id, r.status FROM pending_results p JOIN sync_runs r USING (run_id)").fetchall()
    assert run_status == "pending"
    assert _count(agg.ws, "SELECT count(*) FROM transactions") == 0
    agg.admin(f"results/{results_id}/release")
    agg.settle()
    handled = agg.receiver.of_type("results.ready")[0]
    assert handled["status"] == "completed" and handled["inserted"] == 12
    assert agg.conn().health == "ok"
    with agg.ws.connect() as con:
        assert con.execute("SELECT status FROM sync_runs WHERE run_id = ?", [result.run_id]).fetchall() == [("ok",)]
        assert con.execute("SELECT status FROM pending_results").fetchall() == [("done",)]
    # a second results.ready for the same id changes nothing
    again = aggregator.handle_webhook(agg.ws, {"type": "results.ready", "payload": {"id": results_id}})
    assert again["handled"] is False and _count(agg.ws, "SELECT count(*) FROM transactions") == 12


def test_a_pending_result_without_webhook_is_completed_by_polling(agg: Agg) -> None:
    conn = agg.add()
    agg.admin("webhook-url", url=None)
    agg.admin(f"entities/{conn.external_id}/pending", count=1, delay=0, kinds=["accounts"])
    assert sync.sync(agg.ws, "acme").status == "pending"
    assert aggregator.poll_pending(agg.ws) == []  # too young: a webhook may still come
    outcomes = wait_for(lambda: [o for o in aggregator.poll_pending(agg.ws, older_than=dt.timedelta(0))
                                 if o["status"] == "completed"], what="poll completes")
    assert outcomes[0]["health"] == "ok"
    with agg.ws.connect() as con:
        assert len(accounts.list_accounts(con, conn.connection_id)) == 2


def test_a_result_that_never_comes_expires_as_a_transient_failure(agg: Agg) -> None:
    conn = agg.add()
    agg.admin(f"entities/{conn.external_id}/pending", count=1, hold=True)
    sync.sync(agg.ws, "acme")
    outcomes = aggregator.poll_pending(agg.ws, older_than=dt.timedelta(0), expire_after=dt.timedelta(0))
    assert [o["status"] for o in outcomes] == ["expired"]
    assert agg.conn().health == "refreshing"  # a passing failure: the state stays, the next run retries
    assert _count(agg.ws, "SELECT count(*) FROM sync_runs WHERE status = 'failed'") == 1


def test_server_errors_are_retried_and_then_reported_as_transient(agg: Agg, monkeypatch) -> None:
    monkeypatch.setattr(connector, "BACKOFF", 0.01)
    agg.add()
    agg.admin("faults", status=503, count=2)
    assert sync.sync(agg.ws, "acme").status == "ok"  # the client retried twice
    agg.admin("faults", status=502, count=12)
    failed = sync.sync(agg.ws, "acme")
    assert (failed.status, failed.health) == ("failed", "ok")
    assert "HTTP 502" in failed.message


def test_rate_limit_with_a_short_retry_after_is_waited_out(agg: Agg) -> None:
    agg.add()
    agg.admin("faults", status=429, count=1, retry_after=0.1)
    assert sync.sync(agg.ws, "acme").status == "ok"


def test_a_rejected_app_token_is_a_broken_connector_and_never_leaks(agg: Agg) -> None:
    agg.add()
    assert agg.sim.app_token.encode() not in agg.ws.db_path.read_bytes()  # sealed in the vault
    with agg.ws.connect() as con:
        aggregator.configure(con, agg.ws.vault(), app_token="wrong-token-123")
    result = sync.sync(agg.ws, "acme")
    assert (result.status, result.health) == ("failed", "broken")
    assert "app token" in result.message and "wrong-token-123" not in result.message


def test_reconnect_required_stops_automatic_fetches_and_keeps_the_reconnect_id(agg: Agg) -> None:
    conn = agg.add()
    assert sync.sync(agg.ws, "acme").health == "ok"
    reconnect_id = agg.admin(f"entities/{conn.external_id}/invalidate-password",
                             new_password="acme-pass-2")["reconnect_id"]
    result = sync.sync(agg.ws, "acme")
    assert (result.status, result.health) == ("failed", "reconnect_required")
    with agg.ws.connect() as con:
        request = lifecycle.reconnect_request(con, conn.connection_id)
    assert request.reconnect_id == reconnect_id and request.open
    assert sync.due_connections(agg.ws) == []
    assert sync.sync(agg.ws, "acme").status == "skipped"


@pytest.mark.parametrize("flag", ["active", "enabled"])
def test_bank_disabled_by_polling_then_re_enabled(agg: Agg, flag: str) -> None:
    agg.add()
    sync.sync(agg.ws, "acme")
    agg.admin("webhook-url", url=None)  # this test uses polling only
    agg.admin("banks/AGGM_DEU/availability", product="data", **{flag: False})
    refreshed = aggregator.refresh_banks(agg.ws)
    assert refreshed["changed"] == {"AGGM_DEU": ["data"]} and "AGGM_DEU" not in refreshed["usable_for_data"]
    assert agg.conn().health == "bank_disabled"
    with agg.ws.connect() as con:
        assert "AGGM_DEU" not in [b.bank_id for b in banks.list_banks(con, usable_for="data")]
        with pytest.raises(Conflict, match="not available for new connections"):
            connections.add(con, "another", "AGGM_DEU", username="globex")
    assert sync.sync(agg.ws, "acme").status == "skipped"
    assert aggregator.refresh_banks(agg.ws)["changed"] == {}  # polling again changes nothing
    agg.admin("banks/AGGM_DEU/availability", product="data", **{flag: True})
    assert aggregator.refresh_banks(agg.ws)["changed"] == {"AGGM_DEU": ["data"]}
    assert agg.conn().health == "ok"


@pytest.mark.parametrize("flag", ["active", "enabled"])
def test_bank_disabled_by_webhook_then_re_enabled(agg: Agg, flag: str) -> None:
    agg.add()  # refreshing: the state to come back to
    agg.admin("banks/AGGM_DEU/availability", product="data", **{flag: False})
    agg.settle()
    assert agg.receiver.of_type("banks.availability.updated")[-1]["changed"] == ["data"]
    assert agg.conn().health == "bank_disabled"
    agg.admin("banks/AGGM_DEU/availability", product="payments", **{flag: False})
    agg.settle()
    assert agg.conn().health == "bank_disabled"  # payments do not matter to data connections
    agg.admin("banks/AGGM_DEU/availability", product="data", **{flag: True})
    agg.settle()
    assert agg.conn().health == "refreshing"
    with agg.ws.connect() as con:
        bank = banks.get(con, "AGGM_DEU")
    assert bank.usable_for("data") and not bank.usable_for("payments")


def _snapshot(ws: Workspace) -> dict[str, list]:
    with ws.connect() as con:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()  # noqa: S608
            for table in ("accounts", "connections", "secrets", "events", "audit_log", "notifications",
                          "webhook_deliveries")
        }


def test_account_selection_update_is_all_or_nothing(agg: Agg) -> None:
    add_users(agg.ws)
    conn = agg.add()
    sync.sync(agg.ws, "acme")
    with agg.ws.connect() as con:
        refs = [a.external_ref for a in accounts.list_accounts(con, conn.connection_id)]
    before = _snapshot(agg.ws)
    seen = []
    with agg.ws.connect() as con, pytest.raises(connections.UpdateCancelled, match="nothing changed"):
        connections.update(con, agg.ws.vault(), "acme", credentials={"password": "acme-pass-9"},
                           selected=[refs[0]], confirm=lambda plan: seen.append(plan) or False)
    assert seen[0].selected == [refs[0]] and seen[0].deselected == [refs[1]] and seen[0].credentials_changed
    assert _snapshot(agg.ws) == before  # a cancel leaves no trace

    def crash(plan: connections.UpdatePlan) -> bool:
        raise OSError("disk full while saving the selection")

    with agg.ws.connect() as con, pytest.raises(OSError):
        connections.update(con, agg.ws.vault(), "acme", selected=[refs[0]], confirm=crash)
    after = _snapshot(agg.ws)
    assert {k: v for k, v in after.items() if k != "notifications"} == {
        k: v for k, v in before.items() if k != "notifications"}
    with agg.ws.connect() as con:
        reported = notify.list_notifications(con)
    assert {n["user"] for n in reported} == {"ana", "ben"}  # the reconciliation people hear of the failure
    assert all("disk full" in n["subject"] + str(after["notifications"]) for n in reported)

    with agg.ws.connect() as con:
        plan = connections.update(con, agg.ws.vault(), "acme", selected=[refs[0]])
        flags = {a.external_ref: (a.selected, a.active) for a in accounts.list_accounts(con, conn.connection_id)}
    assert plan.deselected == [refs[1]]
    assert flags == {refs[0]: (True, True), refs[1]: (False, False)}  # kept, not deleted
    stored = _count(agg.ws, "SELECT count(*) FROM transactions")
    requests_before = len(agg.state()["requests"])
    assert sync.sync(agg.ws, "acme").status == "ok"
    asked = agg.state()["requests"][requests_before:]
    assert asked.count("POST /data/v1/transactions") == 1  # only the selected account is fetched
    assert _count(agg.ws, "SELECT count(*) FROM transactions") == stored  # nothing of the inactive one lost


def test_an_obsolete_connection_cannot_be_updated(agg: Agg, run_cli) -> None:
    agg.add()
    with agg.ws.connect() as con:
        connections.remove(con, "acme")
        with pytest.raises(Conflict, match="obsolete .* reconnect it as a new connection"):
            connections.update(con, agg.ws.vault(), "acme", credentials={"password": "x-123456"})
    done = run_cli("connections", "update", "acme", "--password-stdin", "--yes", input="x-123456\n")
    assert done.returncode == 3
    assert done.stderr.startswith("error: connection 'acme' is obsolete") and done.stderr.count("\n") == 1
    with pytest.raises(Conflict, match="obsolete"):
        aggregator.link(agg.ws, "acme")


def test_cli_banks_refresh_users_and_update(agg: Agg, run_cli) -> None:
    agg.add()
    sync.sync(agg.ws, "acme")
    configured = run_cli("aggregator", "configure", "--url", agg.sim.url, "--app-token-stdin",
                         "--webhook-secret-stdin", input=f"{agg.sim.app_token}\n{agg.sim.webhook_secret}\n")
    assert configured.returncode == 0, configured.stderr
    with agg.ws.connect() as con:
        assert aggregator.webhook_secret(con, agg.ws.vault()) == agg.sim.webhook_secret
    bad = run_cli("aggregator", "configure", "--webhook-secret-stdin", input="not-a-secret\n")
    assert bad.returncode == 2 and "whsec_" in bad.stderr and "not-a-secret" not in bad.stderr
    refreshed = json_of(run_cli("banks", "refresh", "--json"))
    assert refreshed["banks"] == 2 and refreshed["changed"] == {}
    user = json_of(run_cli("users", "add", "ana", "--email", "ana@example.test", "--permission", "reconciliation",
                           "--json"))
    assert user["permissions"] == ["reconciliation"]
    bad = run_cli("users", "add", "bo", "--email", "bo@example.test", "--permission", "root")
    assert bad.returncode != 0 and bad.stderr.startswith("error:")
    with agg.ws.connect() as con:
        refs = [a.external_ref for a in accounts.list_accounts(con, agg.conn().connection_id)]
    updated = json_of(run_cli("connections", "update", "acme", "--select", refs[1], "--yes", "--json"))
    assert updated["update"]["selected"] == [refs[1]] and updated["health"] == "ok"
    unknown = run_cli("connections", "update", "acme", "--select", "nope", "--yes")
    assert unknown.returncode == 2 and "has no account nope" in unknown.stderr
