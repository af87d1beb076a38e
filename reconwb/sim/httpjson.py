"""What the provider simulators share: a JSON HTTP server on 127.0.0.1 in a thread, and a webhook sender.

Each simulator (`plaid`, `gocardless`) is a subclass of `JsonHandler` with its own routes and an in-memory
state object; `serve` starts it and returns a handle whose `stop()` ends it. Webhooks leave through one
background thread per simulator, in order, so a test can `drain()` them before it looks.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

log = logging.getLogger(__name__)


class _Json(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            # a 2-place decimal below 2**53 prints as exactly itself (shortest round-trip repr)
            return float(o)
        return super().default(o)


def dumps(value: Any) -> bytes:
    return json.dumps(value, cls=_Json).encode()


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None) -> bytes:
    """Answer with `body` as JSON; return the bytes sent."""
    data = dumps(body)
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(data)
    return data


def read_json(handler: BaseHTTPRequestHandler) -> dict[str, Any] | None:
    """The JSON object sent, {} for none, None when it is not a JSON object."""
    length = int(handler.headers.get("content-length") or 0)
    raw = handler.rfile.read(length) if length else b""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class JsonHandler(BaseHTTPRequestHandler):
    """Routes JSON requests to `route(method, path, query, body)`; the server carries `state`."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("simulator: " + format, *args)

    @property
    def state(self) -> Any:
        return self.server.state

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = send_json(self, status, body, headers)
        if not self.path.startswith("/__admin"):  # every answer of the provider's API, for spec checks
            self.server.transcript.append((self.command, self.path, status, data))

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("location", location)
        self.send_header("content-length", "0")
        self.end_headers()

    def read_body(self) -> dict[str, Any] | None:
        return read_json(self)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = self.read_body() if method in ("POST", "PUT") else {}
        self.route(method, parts.path, query, body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("DELETE")

    def route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any] | None) -> None:
        raise NotImplementedError


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, handler: type[JsonHandler], state: Any) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.state = state
        self.transcript: list[tuple[str, str, int, bytes]] = []  # (method, path with query, status, body)


@dataclass
class Handle:
    """A running simulator: its base URL, its state (for tests) and `stop()`."""

    url: str
    state: Any
    _server: Server
    _thread: threading.Thread

    @property
    def transcript(self) -> list[tuple[str, str, int, bytes]]:
        """Every API answer so far: (method, path with query, status, body)."""
        return self._server.transcript

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        close = getattr(self.state, "close", None)
        if close is not None:
            close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(port: int, handler: type[JsonHandler], state: Any, name: str) -> Handle:
    """Start `handler` over `state` in a background thread on 127.0.0.1 (`port=0`: a free port)."""
    server = Server(port, handler, state)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return Handle(f"http://127.0.0.1:{server.server_address[1]}", state, server, thread)


class WebhookSender:
    """POSTs webhooks in order from one thread; `sign(body) -> headers` adds the provider's signature."""

    def __init__(self, sign: Callable[[bytes], dict[str, str]]) -> None:
        self.sign = sign
        self.delivered: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sim-webhooks", daemon=True)
        self._thread.start()

    def send(self, url: str | None, event: dict[str, Any]) -> None:
        if url:
            self._queue.put((url, dumps(event)))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                url, body = item
                try:
                    response = httpx.post(url, content=body, timeout=10,
                                          headers={"content-type": "application/json", **self.sign(body)})
                    self.delivered.append({"url": url, "status": response.status_code, "body": json.loads(body)})
                except httpx.HTTPError as err:
                    log.warning("simulator webhook to %s failed: %s", url, type(err).__name__)
            finally:
                self._queue.task_done()

    def drain(self) -> None:
        """Wait until every queued webhook was delivered (or failed)."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
