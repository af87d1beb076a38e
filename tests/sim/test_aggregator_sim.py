"""The simulated aggregator over real HTTP: the API shapes the connector relies on, and its signed webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from reconwb.sim.aggregator import DEFAULT_WEBHOOK_SECRET, SIM_OTP, start_aggregator
from tests.aggregator_env import wait_for


class Inbox:
    """A loopback endpoint that keeps what it receives, verified or not."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = dict(self.headers.items())
                inbox.raw.append((body, headers))
                inbox.events.append(Webhook(DEFAULT_WEBHOOK_SECRET).verify(body, headers))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
def sim() -> Iterator[tuple[Any, httpx.Client, Inbox]]:
    inbox = Inbox()
    handle = start_aggregator(webhook_url=inbox.url)
    client = httpx.Client(base_url=handle.url, headers={"lean-app-token": handle.app_token}, timeout=10)
    try:
        yield handle, client, inbox
    finally:
        client.close()
        handle.stop()
        inbox.server.shutdown()


def _decoded(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def _entity(client: httpx.Client, username: str = "acme", password: str = "acme-pass-1",
            bank: str = "AGGM_DEU") -> str:
    customer = client.post("/customers/v1", json={"app_user_id": f"user-{username}"}).json()["customer_id"]
    answer = client.post("/link/v1/connect", json={"customer_id": customer, "bank_identifier": bank,
                                                   "username": username, "password": password}).json()
    assert answer["status"] == "OK", answer
    return answer["entity_id"]


def test_app_token_is_required(sim) -> None:
    handle, client, _ = sim
    assert httpx.get(f"{handle.url}/banks/v1").status_code == 401
    assert httpx.get(f"{handle.url}/banks/v1", headers={"lean-app-token": "wrong"}).json()["status"] == "UNAUTHORIZED"
    banks = client.get("/banks/v1").json()
    mock = next(b for b in banks if b["identifier"] == "AGGM_DEU")
    assert mock["availability"] == {"active": {"data": True, "payments": True},
                                    "enabled": {"data": True, "payments": True}}


def test_entity_created_webhook_is_signed_and_describes_the_entity(sim) -> None:
    handle, client, inbox = sim
    entity_id = _entity(client)
    handle.state.drain()
    assert inbox.types() == ["entity.created"]
    payload = inbox.events[0]["payload"]
    assert payload["id"] == entity_id and payload["bank_identifier"] == "AGGM_DEU"
    assert payload["customer_id"] and payload["app_user_id"] == "user-acme"
    assert payload["permissions"] == {"identity": True, "accounts": True, "balance": True, "transactions": True}
    body, headers = inbox.raw[0]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=").verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(DEFAULT_WEBHOOK_SECRET).verify(body.replace(b"acme", b"evil"), headers)


def test_wrong_bank_password_creates_no_entity(sim) -> None:
    handle, client, inbox = sim
    customer = client.post("/customers/v1", json={"app_user_id": "u"}).json()["customer_id"]
    answer = client.post("/link/v1/connect", json={"customer_id": customer, "bank_identifier": "AGGM_DEU",
                                                   "username": "acme", "password": "nope"}).json()
    assert answer["status"] == "INVALID_CREDENTIALS"
    handle.state.drain()
    assert inbox.events == []


def test_transactions_are_deterministic_exact_and_carry_invoice_references(sim) -> None:
    handle, client, _ = sim
    entity_id = _entity(client)
    accounts = client.post("/data/v1/accounts", json={"entity_id": entity_id}).json()["payload"]["accounts"]
    assert [a["type"] for a in accounts] == ["CURRENT", "SAVINGS"]
    body = {"entity_id": entity_id, "account_id": accounts[0]["account_id"]}
    first = _decoded(client.post("/data/v1/transactions", json=body))["payload"]["transactions"]
    with start_aggregator() as other:
        other_client = httpx.Client(base_url=other.url, headers={"lean-app-token": other.app_token})
        other_entity = _entity(other_client)
        second = _decoded(other_client.post("/data/v1/transactions",
                                            json={**body, "entity_id": other_entity}))["payload"]["transactions"]
    assert first == second and len(first) == 12
    credits = [t for t in first if t["amount"] > 0]
    assert all(t["reference"].startswith("INV-") and t["reference"] in t["description"] for t in credits)
    assert all(isinstance(t["amount"], Decimal) and t["amount"] == t["amount"].quantize(Decimal("0.01"))
               for t in first)
    since = first[3]["timestamp"][:10]
    narrowed = client.post("/data/v1/transactions", json={**body, "start_date": since}).json()
    assert len(narrowed["payload"]["transactions"]) == 4


def test_pending_results_are_served_once_ready_and_announced(sim) -> None:
    handle, client, inbox = sim
    entity_id = _entity(client)
    client.post(f"/__admin/entities/{entity_id}/pending", json={"count": 1, "hold": True})
    answer = client.post("/data/v1/accounts", json={"entity_id": entity_id}).json()
    assert answer["status"] == "PENDING" and answer["results_id"]
    results_id = answer["results_id"]
    assert client.get(f"/v1/results/{results_id}").json()["status"] == "PENDING"
    # only `count` requests are slow
    assert client.post("/data/v1/accounts", json={"entity_id": entity_id}).json()["status"] == "OK"
    client.post(f"/__admin/results/{results_id}/release")
    ready = client.get(f"/v1/results/{results_id}").json()
    assert ready["status"] == "OK" and len(ready["payload"]["accounts"]) == 2
    handle.state.drain()
    assert inbox.events[-1]["type"] == "results.ready" and inbox.events[-1]["payload"] == {"id": results_id}


def test_invalidated_password_needs_a_reconnect_with_the_new_one(sim) -> None:
    handle, client, inbox = sim
    entity_id = _entity(client)
    reconnect_id = client.post(f"/__admin/entities/{entity_id}/invalidate-password",
                               json={"new_password": "acme-pass-2"}).json()["reconnect_id"]
    answers = [client.post("/data/v1/accounts", json={"entity_id": entity_id}).json() for _ in range(2)]
    assert {a["status"] for a in answers} == {"RECONNECT_REQUIRED"}
    assert {a["payload"]["reconnect_id"] for a in answers} == {reconnect_id}  # stable per incident
    old = client.post(f"/reconnect/v1/{reconnect_id}", json={"password": "acme-pass-1"}).json()
    assert old["status"] == "INVALID_CREDENTIALS"
    ok = client.post(f"/reconnect/v1/{reconnect_id}", json={"password": "acme-pass-2"}).json()
    assert ok["status"] == "OK"  # this bank skips the OTP step
    handle.state.drain()
    assert inbox.types()[1:] == ["entity.reconnected", "results.ready", "results.ready"]
    assert inbox.events[1]["payload"] == {"id": entity_id, "reconnect_id": reconnect_id}
    assert client.get(f"/v1/results/{answers[0]['results_id']}").json()["status"] == "OK"
    assert client.post("/data/v1/accounts", json={"entity_id": entity_id}).json()["status"] == "OK"
    again = client.post(f"/reconnect/v1/{reconnect_id}", json={"password": "acme-pass-2"}).json()
    assert again["status"] == "NOT_FOUND"


def test_a_corporate_bank_asks_for_an_otp_on_reconnect(sim) -> None:
    _, client, _ = sim
    entity_id = _entity(client, "initech", "initech-pass-1", "AGGC_DEU")
    reconnect_id = client.post(f"/__admin/entities/{entity_id}/invalidate-password", json={}).json()["reconnect_id"]
    step = client.post(f"/reconnect/v1/{reconnect_id}", json={"password": "initech-pass-1-renewed"}).json()
    assert step["status"] == "OTP_REQUIRED" and "SMS" in step["payload"]["challenge"]
    assert client.post(f"/reconnect/v1/{reconnect_id}",
                       json={"password": "initech-pass-1-renewed", "otp": "000000"}).json()["status"] == "INVALID_OTP"
    assert client.post(f"/reconnect/v1/{reconnect_id}",
                       json={"password": "initech-pass-1-renewed", "otp": SIM_OTP}).json()["status"] == "OK"


@pytest.mark.parametrize("flag", ["active", "enabled"])
def test_disabling_a_bank_shows_in_the_list_the_data_api_and_a_webhook(sim, flag: str) -> None:
    handle, client, inbox = sim
    entity_id = _entity(client)
    client.post("/__admin/banks/AGGM_DEU/availability", json={"product": "data", flag: False})
    bank = next(b for b in client.get("/banks/v1").json() if b["identifier"] == "AGGM_DEU")
    assert bank["availability"][flag]["data"] is False and bank["availability"][flag]["payments"] is True
    answer = client.post("/data/v1/accounts", json={"entity_id": entity_id})
    assert answer.json()["status"] == "BANK_UNAVAILABLE"
    handle.state.drain()
    hook = inbox.events[-1]
    assert hook["type"] == "banks.availability.updated" and hook["payload"]["identifier"] == "AGGM_DEU"
    assert hook["payload"]["availability"][flag]["data"] is False


def test_faults_answer_in_order_then_stop(sim) -> None:
    _, client, _ = sim
    client.post("/__admin/faults", json={"status": 503, "count": 2})
    codes = [client.get("/banks/v1").status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_webhook_delivery_is_retried_until_the_receiver_answers() -> None:
    inbox = Inbox()
    failing = {"left": 2}
    original = inbox.server.RequestHandlerClass.do_POST

    def flaky(self) -> None:
        if failing["left"]:
            failing["left"] -= 1
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(500)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        original(self)

    inbox.server.RequestHandlerClass.do_POST = flaky
    with start_aggregator(webhook_url=inbox.url) as handle:
        client = httpx.Client(base_url=handle.url, headers={"lean-app-token": handle.app_token})
        _entity(client)
        handle.state.drain()
        sent = wait_for(lambda: client.get("/__admin/webhooks").json(), what="delivery record")
    inbox.server.shutdown()
    assert inbox.types() == ["entity.created"] and sent[0]["attempts"] == 3


def test_sim_aggregator_command_prints_its_scenario(run_cli) -> None:
    done = run_cli("sim", "aggregator", "--print-scenario")
    assert done.returncode == 0, done.stderr
    scenario = json.loads(done.stdout)
    assert {b["identifier"] for b in scenario["banks"]} == {"AGGM_DEU", "AGGC_DEU"}
    assert {"bank": "AGGM_DEU", "username": "acme", "password": "acme-pass-1"}.items() <= scenario["logins"][0].items()
