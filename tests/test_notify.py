"""Notifications: users with permissions, e-mail through a real SMTP server, webhooks to a real endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconwb import notify, settings
from reconwb.errors import AlreadyExists, InvalidInput
from reconwb.serve import free_port
from reconwb.workspace import Workspace
from tests import aggregator_env
from tests.aggregator_env import add_users, json_of

smtp = aggregator_env.smtp  # the fixture


class Endpoint:
    def __init__(self, status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = status
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                endpoint.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(endpoint.status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.server.shutdown()


def test_one_notice_per_incident_and_user_over_email_and_webhook(ws: Workspace, smtp, endpoint: Endpoint) -> None:
    add_users(ws)
    with ws.connect() as con:
        notify.add_user(con, "dora", webhook_url=endpoint.url, permissions=["reconciliation"])
        assert notify.queue(con, "incident-1", "acme: update the bank credentials", "body one") == 3
        assert notify.queue(con, "incident-1", "acme: update the bank credentials", "body again") == 0
        assert notify.queue(con, "incident-2", "globex needs attention", "body two") == 3
    report = notify.deliver(ws)
    assert (report.sent, report.failed) == (6, 0)
    assert notify.deliver(ws).sent == 0
    assert sorted(len(smtp.to(a)) for a in ("ana@example.test", "ben@example.test", "carl@example.test")) == [0, 2, 2]
    first = smtp.to("ana@example.test")[0]["content"]
    assert "Subject: acme: update the bank credentials" in first and "body one" in first
    assert [r["incident"] for r in endpoint.received] == ["incident-1", "incident-2"]
    with ws.connect() as con:
        assert {n["status"] for n in notify.list_notifications(con)} == {"sent"}


def test_secrets_never_reach_a_notice(ws: Workspace, smtp) -> None:
    add_users(ws)
    with ws.connect() as con:
        notify.queue(con, "leak", "login failed", "the bank said password=hunter22 is wrong", detail={"token": "x"})
    notify.deliver(ws)
    assert all("hunter22" not in m["content"] for m in smtp.messages) and smtp.messages


def test_unreachable_channels_are_retried_then_given_up(ws: Workspace, endpoint: Endpoint) -> None:
    endpoint.status = 500
    with ws.connect() as con:
        settings.set_value(con, "smtp_host", "127.0.0.1")
        settings.set_value(con, "smtp_port", str(free_port()))  # nobody listens
        notify.add_user(con, "ana", email="ana@example.test", permissions=["reconciliation"])
        notify.add_user(con, "dora", webhook_url=endpoint.url, permissions=["reconciliation"])
        notify.queue(con, "incident-1", "subject", "body")
    first = notify.deliver(ws)
    assert (first.sent, first.failed) == (0, 2) and any("500" in e for e in first.errors)
    with ws.connect() as con:
        rows = notify.list_notifications(con)
    assert {r["status"] for r in rows} == {"pending"} and all(r["last_error"] for r in rows)
    endpoint.status = 204
    assert notify.deliver(ws).sent == 1  # the webhook recovered; the mail server is still down
    for _ in range(notify.MAX_ATTEMPTS):
        notify.deliver(ws)
    with ws.connect() as con:
        statuses = {r["user"]: (r["status"], r["attempts"]) for r in notify.list_notifications(con)}
    assert statuses == {"dora": ("sent", 2), "ana": ("failed", notify.MAX_ATTEMPTS)}
    assert len(endpoint.received) == 2


def test_users_are_validated(ws: Workspace) -> None:
    with ws.connect() as con:
        with pytest.raises(InvalidInput, match="unknown permission 'root'"):
            notify.add_user(con, "x", email="x@example.test", permissions=["root"])
        with pytest.raises(InvalidInput, match="needs --email or --webhook-url"):
            notify.add_user(con, "x", permissions=["reconciliation"])
        with pytest.raises(InvalidInput, match="not an e-mail address"):
            notify.add_user(con, "x", email="nobody")
        notify.add_user(con, "x", email="x@example.test")
        with pytest.raises(AlreadyExists):
            notify.add_user(con, "x", email="x@example.test")
        assert notify.queue(con, "i", "s", "b") == 0  # x holds no reconciliation permission


def test_cli_users_and_delivery(ws: Workspace, smtp, run_cli) -> None:
    json_of(run_cli("users", "add", "ana", "--email", "ana@example.test", "--permission", "reconciliation", "--json"))
    listed = json_of(run_cli("users", "list", "--json"))
    assert [u["name"] for u in listed] == ["ana"]
    with ws.connect() as con:
        notify.queue(con, "incident-9", "subject nine", "body nine")
    assert json_of(run_cli("notifications", "deliver", "--json")) == {"sent": 1, "failed": 0, "errors": []}
    assert len(smtp.messages) == 1
    missing = run_cli("users", "add", "bo", "--permission", "reconciliation")
    assert missing.returncode == 2 and missing.stderr.startswith("error: user 'bo' needs")
