"""A real HTTP webhook receiver on 127.0.0.1 for the tests: records every request, answers as told."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # what we answered; None: the connection was dropped

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


Behaviour = Callable[[Request], Reply]


class Receiver:
    """`with Receiver(behaviour) as r: ... r.url ... r.requests`."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or (lambda _req: Reply())
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                if len(req.body) < length:  # the client died mid-request (the kill -9 test): nothing to answer
                    self.close_connection = True
                    return
                reply = outer.behaviour(req)
                if reply.delay:
                    threading.Event().wait(reply.delay)
                with outer.lock:
                    outer.requests.append(req)
                if reply.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                req.status = reply.status
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    req.status = None  # the client gave up (timeout) before the answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # the worker opens dozens of connections at once

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up or was killed mid-request is part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def accepted_ids(self) -> set[str]:
        """Webhook ids that got a 2xx answer at least once."""
        return {r.webhook_id for r in self.snapshot() if r.status is not None and 200 <= r.status < 300}
