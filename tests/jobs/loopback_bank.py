"""A small bank on loopback HTTP, and the connector that reads it (loaded in job kernels as an entry-point plugin).

The bank is deliberately careless in one way real ones are too: when it refuses a login, its error body echoes
the password it was given. The connector is careless as well: it prints that body. That is how a password
reaches a job notebook's output, and what the runner's scrubbing must catch.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx

from reconwb.connectors import errors
from reconwb.connectors.base import AccountInfo, BankInfo, Connector
from reconwb.transactions import Txn

BANK_ID = "loopback"


class LoopbackBank:
    """Users with passwords, a login counter per user, and an optional gate that holds every login."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = dict(users)
        self.logins: Counter[str] = Counter()
        self.gate: threading.Event | None = None
        self.waiting = 0
        self.delay = 0.0  # seconds each login takes, like a real bank's
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackBank:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        bank = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: object) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user, password = body.get("username"), body.get("password")
                with bank._lock:
                    bank.logins[user] += 1
                    bank.waiting += 1
                if bank.gate is not None:
                    bank.gate.wait(60)
                time.sleep(bank.delay)
                with bank._lock:
                    bank.waiting -= 1
                if bank.users.get(user) != password:
                    self._send(401, f"login refused: password '{password}' is not valid for {user}")
                else:
                    self._send(200, {"token": f"tok-{user}"})

            def do_GET(self) -> None:
                user = self.headers.get("Authorization", "").removeprefix("Bearer tok-")
                if user not in bank.users:
                    self._send(401, "no session")
                    return
                url = urlparse(self.path)
                if url.path == "/accounts":
                    self._send(200, [{"ref": f"DE-{user}", "currency": "EUR"}])
                    return
                since = dt.date.fromisoformat(parse_qs(url.query)["since"][0])
                today = dt.date.today()
                txns = [
                    {"id": f"{user}-1", "date": today.isoformat(), "amount": "12.50", "reference": f"INV-{user}"},
                ]
                self._send(200, [t for t in txns if dt.date.fromisoformat(t["date"]) >= since])

        return Handler


class LoopbackConnector(Connector):
    id = "loopback"
    banks = (BankInfo(BANK_ID, "Loopback Bank"),)

    async def login(self) -> None:
        self.client = httpx.AsyncClient(base_url=self.ctx.base_url or "", timeout=90)
        resp = await self.client.post(
            "/login", json={"username": self.ctx.username, "password": self.ctx.credentials["password"]}
        )
        if resp.status_code == 401:
            print(f"debug: {self.ctx.username}: {resp.text}")  # careless, on purpose: the runner must scrub it
            raise errors.InvalidCredentials(f"bank refused the login: {resp.text}")
        self.client.headers["Authorization"] = f"Bearer {resp.json()['token']}"

    async def accounts(self) -> list[AccountInfo]:
        resp = await self.client.get("/accounts")
        return [AccountInfo(a["ref"], currency=a["currency"]) for a in resp.json()]

    async def transactions(self, account: AccountInfo, since: dt.date) -> list[Txn]:
        resp = await self.client.get("/transactions", params={"account": account.external_ref, "since": str(since)})
        return [
            Txn(
                dt.date.fromisoformat(t["date"]),
                Decimal(t["amount"]),
                "EUR",
                t["reference"],
                reference=t["reference"],
                bank_txn_id=t["id"],
            )
            for t in resp.json()
        ]

    async def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            await client.aclose()


def plugin_site(folder: Path) -> Path:
    """A site directory whose entry point makes `LoopbackConnector` a reconwb connector plugin; put it on PYTHONPATH."""
    dist = folder / "reconwb_loopback_test-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reconwb-loopback-test\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[reconwb.connectors]\nloopback = tests.jobs.loopback_bank:LoopbackConnector\n"
    )
    return folder
