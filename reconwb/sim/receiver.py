"""A customer's webhook endpoint: checks the auth header and the Standard Webhooks signature, counts messages.

The demo points reconwb's outbound webhooks here so that "webhooks delivered" means received and verified by
an independent implementation (the reference `standardwebhooks` library), not just sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Inbox:
    token: str
    secret: str | None = None  # set once the endpoint is created and its secret known
    received: dict[str, dict[str, Any]] = field(default_factory=dict)  # by webhook-id: at-least-once, deduplicated
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def types(self) -> dict[str, int]:
        with self.lock:
            counts: dict[str, int] = {}
            for body in self.received.values():
                counts[body.get("type", "?")] = counts.get(body.get("type", "?"), 0) + 1
            return counts


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        inbox = self.server.inbox
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.headers.get("authorization") != f"Bearer {inbox.token}" or inbox.secret is None:
            return self._answer(401, inbox)
        try:
            event = Webhook(inbox.secret).verify(body, {k.lower(): v for k, v in self.headers.items()})
        except WebhookVerificationError:
            return self._answer(401, inbox)
        with inbox.lock:
            inbox.received[self.headers["webhook-id"]] = event if isinstance(event, dict) else json.loads(body)
        self._answer(204)

    def _answer(self, status: int, inbox: Inbox | None = None) -> None:
        if inbox is not None:
            with inbox.lock:
                inbox.rejected += 1
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, inbox: Inbox) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.inbox = inbox


@dataclass
class ReceiverHandle:
    url: str
    inbox: Inbox
    _server: _Server

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_receiver(token: str) -> ReceiverHandle:
    """Listen on a free loopback port; set `handle.inbox.secret` to the endpoint's `whsec_` secret."""
    inbox = Inbox(token=token)
    server = _Server(inbox)
    threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True).start()
    return ReceiverHandle(f"http://127.0.0.1:{server.server_address[1]}/hooks/reconwb", inbox, server)
