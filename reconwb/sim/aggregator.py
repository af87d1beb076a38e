"""A simulated open-banking aggregator on 127.0.0.1, in the style of Lean Technologies' API.

What it does, as the aggregator docs describe it: `/banks/v1` lists banks with `availability.active` (the
platform's switch) and `availability.enabled` (the client's) per product; a customer links a bank login and
gets an *entity* (`entity.created` webhook); the data endpoints (`/data/v1/accounts`, `/balance`,
`/transactions`, `/identity`) answer `OK`, `RECONNECT_REQUIRED` with a `reconnect_id` (the bank invalidated
the password), or `PENDING` with a `results_id` that `/v1/results/{id}` serves once `results.ready` was sent.
The reconnect step takes the new password (and an OTP only at banks that ask for one: the step may be
skipped), then sends `entity.reconnected` and `results.ready`. Webhooks are signed with the Standard Webhooks
scheme. Admin endpoints under `/__admin/` let tests break things. All state is in memory: nothing touches a
reconwb workspace.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks import Webhook

from reconwb.sim.httpjson import dumps, read_json, send_json

log = logging.getLogger(__name__)

DEFAULT_APP_TOKEN = "sim-app-token-7f3a9c2e"  # noqa: S105 - a simulator's well-known token
DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"reconwb-aggregator-simulator-key").decode()
TOKEN_HEADER = "lean-app-token"  # noqa: S105 - a header name
SIM_OTP = "123456"
PRODUCTS = ("data", "payments")
_NS = uuid.UUID("6f1c1f0e-8f55-4c55-9a55-0d1b2c3d4e5f")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class SimBank:
    identifier: str
    name: str
    country_code: str = "DEU"
    otp_on_reconnect: bool = False  # corporate banks ask for a second factor when reconnecting
    active: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(PRODUCTS, True))
    enabled: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(PRODUCTS, True))

    def usable(self, product: str = "data") -> bool:
        return self.active[product] and self.enabled[product]

    def as_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "name": self.name,
            "country_code": self.country_code,
            "active": self.usable("data"),
            "availability": {"active": dict(self.active), "enabled": dict(self.enabled)},
            "traits": ["user-input-on-reconnect"] if self.otp_on_reconnect else [],
            "supported_account_types": ["CURRENT", "SAVINGS"],
        }


@dataclass
class SimLogin:
    bank: str
    username: str
    password: str
    accounts: int = 1
    transactions: int = 12


DEFAULT_BANKS = (
    SimBank("AGGM_DEU", "Aggregator Mock Bank"),
    SimBank("AGGC_DEU", "Aggregator Corporate Bank", otp_on_reconnect=True),
)
DEFAULT_LOGINS = (
    SimLogin("AGGM_DEU", "acme", "acme-pass-1", accounts=2),
    SimLogin("AGGM_DEU", "globex", "globex-pass-1"),
    SimLogin("AGGC_DEU", "initech", "initech-pass-1"),
)
PERMISSIONS = ("identity", "accounts", "balance", "transactions")


def account_rows(login: SimLogin) -> list[dict[str, Any]]:
    """The accounts of a login, the same on every run."""
    rows = []
    for n in range(login.accounts):
        number = str(int(_uid(login.bank, login.username, n).replace("-", ""), 16) % 10**10).zfill(10)
        rows.append(
            {
                "account_id": _uid("account", login.bank, login.username, n),
                "name": "Current account" if n == 0 else f"Savings account {n}",
                "currency_code": "EUR",
                "type": "CURRENT" if n == 0 else "SAVINGS",
                "iban": f"DE89370400440{number[:9]}",
                "account_number": number,
            }
        )
    return rows


def transaction_rows(login: SimLogin, account_id: str, today: dt.date) -> list[dict[str, Any]]:
    """Deterministic transactions: mostly incoming invoice payments, some fees; newest first."""
    rng = random.Random(account_id)  # noqa: S311 - reproducible test data
    payers = ["Acme Corp", "Globex GmbH", "Initech AG", "Umbrella KG", "Soylent SE", "Hooli BV"]
    rows = []
    for i in range(login.transactions):
        booked = today - dt.timedelta(days=3 * i + 1)
        if i % 5 == 4:
            amount = -Decimal(rng.randint(100, 2500)) / 100
            description, reference, payer = "Account fee", "", "Aggregator Mock Bank"
        else:
            amount = Decimal(rng.randint(5_000, 500_000)) / 100
            invoice = f"INV-{booked.year}-{rng.randint(1, 9999):04d}"
            payer = rng.choice(payers)
            reference = invoice
            description = f"SEPA credit {invoice} {payer}"
        rows.append(
            {
                "transaction_id": _uid("txn", account_id, i),
                "amount": amount,
                "currency_code": "EUR",
                "description": description,
                "reference": reference,
                "counterparty_name": payer,
                "timestamp": f"{booked.isoformat()}T09:{i % 60:02d}:00Z",
                "pending": i == 0 and login.transactions > 3,
            }
        )
    return rows


@dataclass
class Entity:
    id: str
    customer_id: str
    app_user_id: str
    bank_identifier: str
    username: str
    permissions: dict[str, bool]
    reconnect_id: str | None = None
    waiting_results: list[str] = field(default_factory=list)  # answered after the reconnect
    pending_left: int = 0
    pending_delay: float = 0.0
    pending_hold: bool = False
    pending_kinds: tuple[str, ...] = ()  # empty: every data request
    otp_requested: bool = False


@dataclass
class Result:
    id: str
    entity_id: str
    request: dict[str, Any]
    ready: bool = False
    response: dict[str, Any] | None = None


class AggregatorState:
    """Everything the simulator knows, behind one lock."""

    def __init__(
        self,
        *,
        app_token: str = DEFAULT_APP_TOKEN,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        banks: tuple[SimBank, ...] = DEFAULT_BANKS,
        logins: tuple[SimLogin, ...] = DEFAULT_LOGINS,
    ) -> None:
        self.lock = threading.RLock()
        self.app_token = app_token
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.banks = {b.identifier: dataclasses.replace(b, active=dict(b.active), enabled=dict(b.enabled))
                      for b in banks}
        self.logins = {(x.bank, x.username): dataclasses.replace(x) for x in logins}
        self.customers: dict[str, str] = {}  # app_user_id -> customer_id
        self.entities: dict[str, Entity] = {}
        self.results: dict[str, Result] = {}
        self.faults: list[tuple[int, float | None]] = []  # (status, retry_after) answered next, in order
        self.requests: list[str] = []  # "METHOD path" of every API call, for tests
        self.webhooks_sent: list[dict[str, Any]] = []
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._sender = threading.Thread(target=self._send_loop, name="aggregator-sim-webhooks", daemon=True)
        self._sender.start()

    # -- webhooks -----------------------------------------------------------------------------------------

    def send_webhook(self, type_: str, payload: dict[str, Any], message: str) -> None:
        event = {"type": type_, "payload": payload, "message": message, "timestamp": _now(),
                 "event_id": str(uuid.uuid4())}
        self._outbox.put(event)

    def _send_loop(self) -> None:
        while True:
            event = self._outbox.get()
            if event is None:
                return
            url = self.webhook_url
            record: dict[str, Any] = {"type": event["type"], "event_id": event["event_id"], "url": url}
            if not url:
                record["status"] = "no-url"
            else:
                record.update(self._deliver(url, event))
            with self.lock:
                self.webhooks_sent.append(record)
            self._outbox.task_done()

    def _deliver(self, url: str, event: dict[str, Any]) -> dict[str, Any]:
        body = dumps(event).decode()
        msg_id = f"msg_{uuid.uuid4().hex}"
        error = ""
        for attempt in range(4):
            stamp = dt.datetime.now(dt.UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(stamp.timestamp())),
                "webhook-signature": Webhook(self.webhook_secret).sign(msg_id, stamp, body),
            }
            try:
                response = httpx.post(url, content=body, headers=headers, timeout=10.0)
                if response.status_code < 300:
                    return {"status": response.status_code, "attempts": attempt + 1}
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as err:
                error = f"{type(err).__name__}: {err}"
            time.sleep(0.2 * 2**attempt)
        return {"status": "failed", "error": error, "attempts": 4}

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued webhook was sent (tests)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self._outbox.put(None)

    # -- domain -------------------------------------------------------------------------------------------

    def entity_login(self, entity: Entity) -> SimLogin:
        return self.logins[(entity.bank_identifier, entity.username)]

    def make_ready(self, result_id: str) -> None:
        """Compute a parked result's answer and announce it with results.ready."""
        with self.lock:
            result = self.results.get(result_id)
            if result is None or result.ready:
                return
            entity = self.entities[result.entity_id]
            result.response = self.answer(entity, result.request, result_id)
            result.ready = True
        self.send_webhook("results.ready", {"id": result_id}, "Your results are ready.")

    def answer(self, entity: Entity, request: dict[str, Any], results_id: str) -> dict[str, Any]:
        """The OK answer of a data request."""
        login = self.entity_login(entity)
        kind = request["kind"]
        accounts = account_rows(login)
        payload: dict[str, Any]
        if kind == "identity":
            payload = {"full_name": login.username.title(), "email_address": f"{login.username}@example.test"}
        elif kind == "accounts":
            payload = {"accounts": accounts}
        else:
            account = next((a for a in accounts if a["account_id"] == request.get("account_id")), None)
            if account is None:
                return {"status": "INVALID_PARAMETERS", "message": f"unknown account_id {request.get('account_id')}",
                        "results_id": results_id, "timestamp": _now()}
            txns = transaction_rows(login, account["account_id"], dt.date.today())
            if kind == "balance":
                booked = sum((t["amount"] for t in txns if not t["pending"]), Decimal("10000.00"))
                payload = {"balance": booked, "currency_code": "EUR", "account_id": account["account_id"],
                           "account_name": account["name"], "type": "ClosingAvailable"}
            else:
                start = dt.date.fromisoformat(request.get("start_date") or "1970-01-01")
                end = dt.date.fromisoformat(request.get("end_date") or "9999-12-31")
                payload = {"type": "transactions",
                           "transactions": [t for t in txns if start <= dt.date.fromisoformat(t["timestamp"][:10])
                                            <= end]}
        return {"status": "OK", "payload": payload, "results_id": results_id,
                "message": "Data successfully retrieved", "meta": None, "timestamp": _now()}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("aggregator sim: " + format, *args)

    # -- plumbing -----------------------------------------------------------------------------------------

    @property
    def state(self) -> AggregatorState:
        return self.server.state

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, body, headers)

    def _body(self) -> dict[str, Any] | None:
        return read_json(self)

    def _status(self, status: str, message: str, http: int = 200, **extra: Any) -> None:
        self._reply(http, {"status": status, "message": message, "timestamp": _now(), **extra})

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["__admin"]:
            body = self._body() if method == "POST" else {}
            if body is None:
                return self._status("INVALID_PARAMETERS", "the body is not a JSON object", 400)
            return self._admin(method, parts[1:], body)
        with self.state.lock:
            self.state.requests.append(f"{method} {path}")
            fault = self.state.faults.pop(0) if self.state.faults else None
        if self.headers.get(TOKEN_HEADER) != self.state.app_token:
            return self._status("UNAUTHORIZED", f"missing or wrong {TOKEN_HEADER}", 401)
        if fault is not None:
            status, retry_after = fault
            headers = {"retry-after": str(retry_after)} if retry_after is not None else None
            return self._reply(status, {"status": "ERROR", "message": f"simulated HTTP {status}"}, headers)
        body = self._body() if method == "POST" else {}
        if body is None:
            return self._status("INVALID_PARAMETERS", "the body is not a JSON object", 400)
        route = (method, *parts[:2])
        if route == ("GET", "banks", "v1"):
            with self.state.lock:
                return self._reply(200, [b.as_json() for b in self.state.banks.values()])
        if route == ("POST", "customers", "v1"):
            return self._customer(body)
        if route == ("POST", "link", "v1") and parts[2:] == ["connect"]:
            return self._connect(body)
        if route[:3] == ("POST", "data", "v1") and len(parts) == 3:
            return self._data(parts[2], body)
        if route == ("GET", "v1", "results") and len(parts) == 3:
            return self._results(parts[2])
        if route == ("POST", "reconnect", "v1") and len(parts) == 3:
            return self._reconnect(parts[2], body)
        return self._status("NOT_FOUND", f"no route {method} {path}", 404)

    # -- API ----------------------------------------------------------------------------------------------

    def _customer(self, body: dict[str, Any]) -> None:
        app_user_id = body.get("app_user_id")
        if not isinstance(app_user_id, str) or not app_user_id:
            return self._status("INVALID_PARAMETERS", "app_user_id is required", 400)
        with self.state.lock:
            customer_id = self.state.customers.setdefault(app_user_id, str(uuid.uuid4()))
        self._reply(200, {"customer_id": customer_id, "app_user_id": app_user_id})

    def _connect(self, body: dict[str, Any]) -> None:
        """What the LinkSDK's connect() does once the user has entered their bank login."""
        st = self.state
        with st.lock:
            app_user_id = next((a for a, c in st.customers.items() if c == body.get("customer_id")), None)
            if app_user_id is None:
                return self._status("INVALID_PARAMETERS", "unknown customer_id", 400)
            bank = st.banks.get(body.get("bank_identifier", ""))
            if bank is None:
                return self._status("INVALID_PARAMETERS", "unknown bank_identifier", 400)
            if not bank.usable("data"):
                return self._status("BANK_UNAVAILABLE", f"{bank.name} is not available for data", 200)
            login = st.logins.get((bank.identifier, body.get("username", "")))
            if login is None or login.password != body.get("password"):
                return self._status("INVALID_CREDENTIALS", "the bank rejected the username or password", 200)
            wanted = body.get("permissions") or list(PERMISSIONS)
            entity = Entity(
                id=str(uuid.uuid4()),
                customer_id=body["customer_id"],
                app_user_id=app_user_id,
                bank_identifier=bank.identifier,
                username=login.username,
                permissions={p: p in wanted for p in PERMISSIONS},
            )
            st.entities[entity.id] = entity
            payload = self._entity_json(entity, bank)
        st.send_webhook("entity.created", payload, "An entity object has been created.")
        self._reply(200, {"status": "OK", "entity_id": entity.id, "payload": payload, "timestamp": _now()})

    @staticmethod
    def _entity_json(entity: Entity, bank: SimBank) -> dict[str, Any]:
        return {
            "id": entity.id,
            "customer_id": entity.customer_id,
            "app_user_id": entity.app_user_id,
            "bank_identifier": entity.bank_identifier,
            "permissions": dict(entity.permissions),
            "bank_details": {"name": bank.name, "identifier": bank.identifier, "account_type": "BUSINESS"},
        }

    def _data(self, kind: str, body: dict[str, Any]) -> None:
        st = self.state
        if kind not in ("identity", "accounts", "balance", "transactions"):
            return self._status("NOT_FOUND", f"no data endpoint {kind}", 404)
        with st.lock:
            entity = st.entities.get(body.get("entity_id", ""))
            if entity is None:
                return self._status("ENTITY_NOT_FOUND", "unknown entity_id", 404)
            permission = "accounts" if kind == "accounts" else kind
            if not entity.permissions.get(permission):
                return self._status("PERMISSION_DENIED", f"the entity has no {permission} permission", 403)
            if not st.banks[entity.bank_identifier].usable("data"):
                return self._status("BANK_UNAVAILABLE", "the bank is not available for data right now", 503)
            request = {"kind": kind, **{k: body.get(k) for k in ("account_id", "start_date", "end_date")}}
            results_id = str(uuid.uuid4())
            if entity.reconnect_id is not None:
                st.results[results_id] = Result(results_id, entity.id, request)
                entity.waiting_results.append(results_id)
                return self._reply(200, {
                    "status": "RECONNECT_REQUIRED",
                    "payload": {"reconnect_id": entity.reconnect_id, "type": "reconnect"},
                    "results_id": results_id,
                    "message": "User input is required to reconnect with the bank",
                    "timestamp": _now(),
                })
            slow = entity.pending_left > 0 and (not entity.pending_kinds or kind in entity.pending_kinds)
            if slow or body.get("async"):
                entity.pending_left -= 1 if slow else 0
                st.results[results_id] = Result(results_id, entity.id, request)
                if not entity.pending_hold:
                    timer = threading.Timer(entity.pending_delay, st.make_ready, [results_id])
                    timer.daemon = True
                    timer.start()
                return self._reply(200, {
                    "status": "PENDING", "results_id": results_id, "payload": None, "meta": None,
                    "message": "Please wait for a webhook or try again later.", "timestamp": _now(),
                })
            self._reply(200, st.answer(entity, request, results_id))

    def _results(self, results_id: str) -> None:
        with self.state.lock:
            result = self.state.results.get(results_id)
            if result is None:
                return self._status("NOT_FOUND", "unknown results_id", 404)
            if not result.ready:
                return self._status("PENDING", "Please wait for a webhook or try again later.",
                                    results_id=results_id)
            self._reply(200, result.response)

    def _reconnect(self, reconnect_id: str, body: dict[str, Any]) -> None:
        """The reconnect step: the new password, and an OTP only where the bank asks for one."""
        st = self.state
        with st.lock:
            entity = next((e for e in st.entities.values() if e.reconnect_id == reconnect_id), None)
            if entity is None:
                return self._status("NOT_FOUND", "unknown or used reconnect_id", 404)
            login = st.entity_login(entity)
            if body.get("password") != login.password:
                return self._status("INVALID_CREDENTIALS", "the bank rejected the password", 200)
            bank = st.banks[entity.bank_identifier]
            if bank.otp_on_reconnect:
                if not body.get("otp"):
                    entity.otp_requested = True
                    return self._status("OTP_REQUIRED", "enter the code the bank sent by SMS", 200,
                                        payload={"challenge": "SMS code sent to +49 *** **12", "expires_in": 300})
                if body["otp"] != SIM_OTP:
                    return self._status("INVALID_OTP", "the code is wrong", 200)
            entity.reconnect_id = None
            entity.otp_requested = False
            waiting, entity.waiting_results = entity.waiting_results, []
        st.send_webhook("entity.reconnected", {"id": entity.id, "reconnect_id": reconnect_id},
                        "The entity was successfully reconnected.")
        for results_id in waiting:
            st.make_ready(results_id)
        self._reply(200, {"status": "OK", "entity_id": entity.id, "message": "reconnected", "timestamp": _now()})

    # -- admin --------------------------------------------------------------------------------------------

    def _admin(self, method: str, parts: list[str], body: dict[str, Any]) -> None:
        st = self.state
        with st.lock:
            if method == "GET" and parts == ["state"]:
                return self._reply(200, {
                    "entities": {e.id: {**dataclasses.asdict(e)} for e in st.entities.values()},
                    "results": {r.id: {"ready": r.ready, "entity_id": r.entity_id, "request": r.request}
                                for r in st.results.values()},
                    "customers": dict(st.customers),
                    "requests": list(st.requests),
                })
            if method == "GET" and parts == ["webhooks"]:
                return self._reply(200, list(st.webhooks_sent))
            if method == "POST" and parts == ["faults"]:
                count = int(body.get("count", 1))
                st.faults.extend([(int(body.get("status", 503)), body.get("retry_after"))] * count)
                return self._reply(200, {"queued": len(st.faults)})
            if method == "POST" and parts == ["webhook-url"]:
                st.webhook_url = body.get("url")
                return self._reply(200, {"url": st.webhook_url})
            if method == "POST" and len(parts) == 3 and parts[0] == "banks" and parts[2] == "availability":
                return self._admin_availability(parts[1], body)
            if method == "POST" and len(parts) == 3 and parts[0] == "entities":
                entity = st.entities.get(parts[1])
                if entity is None:
                    return self._status("NOT_FOUND", "unknown entity", 404)
                return self._admin_entity(entity, parts[2], body)
            if method == "POST" and len(parts) == 3 and parts[0] == "results" and parts[2] == "release":
                if parts[1] not in st.results:
                    return self._status("NOT_FOUND", "unknown results_id", 404)
                st.make_ready(parts[1])
                return self._reply(200, {"released": parts[1]})
        return self._status("NOT_FOUND", f"no admin route {method} /{'/'.join(parts)}", 404)

    def _admin_entity(self, entity: Entity, action: str, body: dict[str, Any]) -> None:
        st = self.state
        if action == "invalidate-password":
            # the bank forced a password change: the old one no longer works, the user chose `new_password`
            login = st.entity_login(entity)
            login.password = body.get("new_password") or login.password + "-renewed"
            entity.reconnect_id = entity.reconnect_id or str(uuid.uuid4())
            return self._reply(200, {"reconnect_id": entity.reconnect_id})
        if action == "pending":
            entity.pending_left = int(body.get("count", 1))
            entity.pending_delay = float(body.get("delay", 0.2))
            entity.pending_hold = bool(body.get("hold", False))
            entity.pending_kinds = tuple(body.get("kinds") or ())
            return self._reply(200, {"pending_left": entity.pending_left})
        return self._status("NOT_FOUND", f"no entity action {action}", 404)

    def _admin_availability(self, identifier: str, body: dict[str, Any]) -> None:
        st = self.state
        bank = st.banks.get(identifier)
        if bank is None:
            return self._status("NOT_FOUND", "unknown bank", 404)
        product = body.get("product", "data")
        if product not in PRODUCTS:
            return self._status("INVALID_PARAMETERS", f"unknown product {product}", 400)
        for flag in ("active", "enabled"):
            if flag in body:
                getattr(bank, flag)[product] = bool(body[flag])
        payload = {"identifier": bank.identifier, "name": bank.name, "availability": bank.as_json()["availability"]}
        st.send_webhook("banks.availability.updated", payload, "The availability of a bank changed.")
        self._reply(200, bank.as_json())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: AggregatorState) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state


@dataclass
class AggregatorHandle:
    """A running simulator: its base URL, its credentials for clients, and `stop()`."""

    url: str
    app_token: str
    webhook_secret: str
    state: AggregatorState
    _server: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.state.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> AggregatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_aggregator(
    port: int = 0,
    webhook_url: str | None = None,
    *,
    app_token: str = DEFAULT_APP_TOKEN,
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    banks: tuple[SimBank, ...] = DEFAULT_BANKS,
    logins: tuple[SimLogin, ...] = DEFAULT_LOGINS,
) -> AggregatorHandle:
    """Start the simulator in a background thread on 127.0.0.1 (`port=0`: a free port)."""
    state = AggregatorState(app_token=app_token, webhook_url=webhook_url, webhook_secret=webhook_secret,
                            banks=banks, logins=logins)
    server = _Server(port, state)
    thread = threading.Thread(target=server.serve_forever, name="aggregator-sim", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return AggregatorHandle(url, app_token, webhook_secret, state, server, thread)


def scenario() -> dict[str, Any]:
    """The built-in banks and logins, as the CLI prints them."""
    return {
        "banks": [b.as_json() for b in DEFAULT_BANKS],
        "logins": [{"bank": x.bank, "username": x.username, "password": x.password, "accounts": x.accounts,
                    "transactions": x.transactions} for x in DEFAULT_LOGINS],
        "app_token": DEFAULT_APP_TOKEN,
        "webhook_secret": DEFAULT_WEBHOOK_SECRET,
        "otp": SIM_OTP,
    }
