"""Test support for the aggregator and the lifecycle: the simulator, a real webhook receiver, a real SMTP server.

Import the fixtures into a test module (`from tests.aggregator_env import agg, smtp  # noqa: F401`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from reconwb import connections, notify
from reconwb.openbanking import lean as aggregator
from reconwb.openbanking import webhooks
from reconwb.serve import free_port
from reconwb.sim.aggregator import AggregatorHandle, start_aggregator
from reconwb.workspace import Workspace

ACME_PASSWORD = "acme-pass-1"  # noqa: S105 - the simulator's scenario


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """What the Jupyter server extension does with a provider's webhook: verify the signature, hand it on."""

    def __init__(self, ws: Workspace, source: str = aggregator.WEBHOOK_SOURCE) -> None:
        self.ws = ws
        self.handled: list[dict[str, Any]] = []
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    receiver.handled.append(webhooks.verify_and_handle(receiver.ws, source, body, dict(self.headers)))
                except webhooks.InvalidSignature:
                    receiver.rejected += 1
                    self.send_response(401)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/{source}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [h for h in self.handled if h.get("type") == kind]


@dataclass
class Agg:
    """A workspace wired to a running simulator, with its webhooks arriving at a real receiver."""

    ws: Workspace
    sim: AggregatorHandle
    receiver: Receiver
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.sim.url, headers={"lean-app-token": self.sim.app_token}, timeout=10)

    def admin(self, path: str, **body: Any) -> Any:
        response = self.http.post(f"/__admin/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.http.get("/__admin/state").json()

    def settle(self) -> None:
        """Every webhook the simulator queued has been delivered and handled."""
        self.sim.state.drain()

    def add(self, name: str = "acme", username: str = "acme", password: str | None = ACME_PASSWORD,
            bank: str = "AGGM_DEU", *, link: bool = True) -> connections.Connection:
        with self.ws.connect() as con:
            connections.add(con, name, bank, username=username)
            if password is not None:
                connections.set_credentials(con, self.ws.vault(), name, {"password": password})
        if link:
            aggregator.link(self.ws, name)
            self.settle()
        return self.conn(name)

    def conn(self, name: str = "acme") -> connections.Connection:
        with self.ws.connect() as con:
            found = connections.get(con, name)
        assert found is not None
        return found

    def close(self) -> None:
        self.http.close()
        self.sim.stop()
        self.receiver.stop()


@pytest.fixture
def agg(ws: Workspace) -> Iterator[Agg]:
    receiver = Receiver(ws)
    sim = start_aggregator(webhook_url=receiver.url)
    with ws.connect() as con:
        aggregator.configure(con, ws.vault(), url=sim.url, app_token=sim.app_token,
                             webhook_secret=sim.webhook_secret)
    aggregator.refresh_banks(ws)
    env = Agg(ws, sim, receiver)
    try:
        yield env
    finally:
        env.close()


@dataclass
class Smtp:
    host: str
    port: int
    messages: list[dict[str, Any]]

    def to(self, address: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if address in m["rcpt"]]


class _Sink:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from,
                              "content": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


@pytest.fixture
def smtp(ws: Workspace) -> Iterator[Smtp]:
    """A real SMTP server (aiosmtpd) on loopback, and the workspace pointed at it."""
    from reconwb import settings

    messages: list[dict[str, Any]] = []
    port = free_port()
    controller = Controller(_Sink(messages), hostname="127.0.0.1", port=port)
    controller.start()
    with ws.connect() as con:
        settings.set_value(con, "smtp_host", "127.0.0.1")
        settings.set_value(con, "smtp_port", str(port))
    try:
        yield Smtp("127.0.0.1", port, messages)
    finally:
        controller.stop()


def add_users(ws: Workspace) -> None:
    """Two people who hold the reconciliation permission and one who does not."""
    with ws.connect() as con:
        notify.add_user(con, "ana", email="ana@example.test", permissions=["reconciliation"])
        notify.add_user(con, "ben", email="ben@example.test", permissions=["reconciliation", "admin"])
        notify.add_user(con, "carl", email="carl@example.test", permissions=["admin"])


def json_of(done: Any) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
