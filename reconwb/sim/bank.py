"""A simulated bank web portal on 127.0.0.1, for the demo and the tests.

It behaves like the bank sites a portal connector meets: a login form (per bank a different layout), cookies for
the session, a second-factor page, a "password expired" page, an account lock after repeated wrong passwords,
paginated histories, pages that are sometimes slow or fail with a 500, and a maintenance page. Users can change
their password through the portal. State lives in memory only; `/__admin/...` endpoints let tests look inside
(failed attempts, the OTP the bank "sent") and change the world (maintenance, a redesign, an invalidated password).

`start_bank()` runs it in a background thread on a free port; `reconwb sim bank --port N` in the foreground.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from reconwb.sim.bank_layouts import LAYOUTS, Atlantic, Layout
from reconwb.sim.bank_scenario import BANK_BY_ID, BANK_BY_PATH, Scenario, SimBank, SimLogin, builtin

LOCK_AFTER = 3
OTP_TRIES = 3
SESSION_TTL = dt.timedelta(minutes=30)
ADMIN = "/__admin/"


@dataclass
class _Session:
    sid: str
    bank: str  # path
    username: str | None = None
    stage: str = "anonymous"  # anonymous | passcode | otp | expired | ok
    csrf: str = field(default_factory=lambda: secrets.token_hex(8))
    otp: str = ""
    otp_failures: int = 0
    touched: float = field(default_factory=time.monotonic)


@dataclass
class _Stats:
    login_posts: int = 0
    failed: int = 0  # failed password attempts since the last success (what locks the login)
    logins: int = 0  # successful password checks
    otp_sent: int = 0
    page_hits: int = 0
    errors_served: int = 0
    slow_served: int = 0


@dataclass
class _Reply:
    status: int = 200
    body: str = ""
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None
    cookies: dict[str, str | None] = field(default_factory=dict)  # None deletes


class BankPortal:
    """The portal's state and request handling, independent of the HTTP plumbing."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        self._initial = scenario or builtin()
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            scenario = copy.deepcopy(self._initial)
            self.logins: dict[str, SimLogin] = {x.username: x for x in scenario.logins}
            self.expired = {x.username for x in scenario.logins if x.behaviour == "password_expired"}
            self.locked: set[str] = set()
            self.stats: dict[str, _Stats] = {x.username: _Stats() for x in scenario.logins}
            self.sessions: dict[str, _Session] = {}
            self.maintenance: set[str] = set()
            self.layout_version: dict[str, int] = {b.path: 1 for b in scenario.banks}
            self.slow_seconds = 2.0
            self._otp_rng = random.Random(4711)

    def scenario(self) -> dict[str, Any]:
        with self._lock:
            return Scenario(self._initial.banks, list(self.logins.values())).as_dict()

    def layout(self, bank: SimBank) -> Layout:
        return LAYOUTS[bank.path](bank, self.layout_version.get(bank.path, 1))

    # -- dispatch ---------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str],
               cookies: dict[str, str]) -> _Reply:
        if path.startswith(ADMIN):
            return self._admin(method, path[len(ADMIN):], form)
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if not parts:
            links = "".join(f"<li><a href='/{b.path}/login'>{b.name}</a></li>" for b in self._initial.banks)
            return _Reply(body=f"<!doctype html><h1>Simulated banks</h1><ul>{links}</ul>")
        bank = BANK_BY_PATH.get(parts[0])
        if bank is None:
            return _Reply(404, "<h1>Not found</h1>")
        layout = self.layout(bank)
        if bank.path in self.maintenance:
            return _Reply(503, layout.maintenance())
        cookie_name = f"sid_{bank.path}"
        with self._lock:
            session = self._session(cookies.get(cookie_name), bank)
            reply = self._route(method, parts[1:], query, form, bank, layout, session)
        if session.stage == "gone":
            reply.cookies[cookie_name] = None
        elif cookies.get(cookie_name) != session.sid:
            reply.cookies[cookie_name] = session.sid
        return reply

    def _session(self, sid: str | None, bank: SimBank) -> _Session:
        now = time.monotonic()
        ttl = SESSION_TTL.total_seconds()
        session = self.sessions.get(sid or "")
        if session is None or session.bank != bank.path or now - session.touched > ttl:
            if len(self.sessions) > 5_000:  # a long-running simulator forgets idle sessions
                self.sessions = {k: v for k, v in self.sessions.items() if now - v.touched <= ttl}
            session = _Session(secrets.token_urlsafe(16), bank.path)
            self.sessions[session.sid] = session
        session.touched = now
        return session

    def _end(self, session: _Session) -> None:
        self.sessions.pop(session.sid, None)
        session.stage = "gone"

    def _route(self, method: str, rest: list[str], query: dict[str, str], form: dict[str, str], bank: SimBank,
               layout: Layout, session: _Session) -> _Reply:
        route = "/".join(rest[:1]) or "login"
        if route == "login" and method == "POST":
            if rest[1:] == ["passcode"]:
                return self._passcode(form, bank, layout, session)
            return self._login(form, bank, layout, session)
        if route == "login":
            return _Reply(body=layout.login(csrf=session.csrf))
        if route == "otp":
            return self._otp(method, form, layout, session)
        if route == "password":
            return self._password(method, form, layout, session)
        if route == "logout":
            self._end(session)
            return _Reply(302, location=f"/{bank.path}/login")
        if session.stage != "ok" or session.username is None:
            return _Reply(302, location=f"/{bank.path}/login")
        login = self.logins[session.username]
        if route == "accounts":
            return _Reply(body=layout.accounts(login.accounts))
        if route == "account" and len(rest) == 2:
            return self._flaky(login) or self._history(login, rest[1], query, layout)
        return _Reply(404, layout.server_error())

    # -- login, second factor, password ----------------------------------------------------------------------
    def _login(self, form: dict[str, str], bank: SimBank, layout: Layout, session: _Session) -> _Reply:
        fields = layout.fields()
        if not isinstance(layout, Atlantic) and form.get("csrf", session.csrf) != session.csrf:
            return _Reply(body=layout.login("Your session timed out. Please try again.", "session", session.csrf))
        username = form.get(fields.username, "")
        if isinstance(layout, Atlantic):  # step one: the customer id only
            if not username:
                return _Reply(body=layout.login("Enter your customer ID."))
            session.username, session.stage = username, "passcode"
            return _Reply(body=layout.passcode(username))
        return self._check_password(username, form.get(fields.password, ""), bank, layout, session)

    def _passcode(self, form: dict[str, str], bank: SimBank, layout: Layout, session: _Session) -> _Reply:
        if session.stage != "passcode" or not session.username:
            return _Reply(302, location=f"/{bank.path}/login")
        return self._check_password(session.username, form.get(layout.fields().password, ""), bank, layout, session)

    def _check_password(self, username: str, password: str, bank: SimBank, layout: Layout,
                        session: _Session) -> _Reply:
        login = self.logins.get(username)
        if login is not None:
            self.stats[username].login_posts += 1
        if login is None or login.bank != bank.bank_id:
            return _Reply(body=layout.login("The username or password is not correct."))
        stats = self.stats[username]
        if username in self.locked:
            return _Reply(body=layout.locked())
        if password != login.password:
            stats.failed += 1
            if login.behaviour == "locks_after_3" and stats.failed >= LOCK_AFTER:
                self.locked.add(username)
                return _Reply(body=layout.locked())
            left = f" {LOCK_AFTER - stats.failed} attempts left." if login.behaviour == "locks_after_3" else ""
            return _Reply(body=layout.login(f"The username or password is not correct.{left}", csrf=session.csrf))
        stats.failed = 0
        stats.logins += 1
        session.username = username
        if username in self.expired:
            session.stage = "expired"
            return _Reply(302, location=f"/{bank.path}/password")
        if login.behaviour == "otp_every_login":
            session.stage = "otp"
            session.otp = f"{self._otp_rng.randint(0, 999_999):06d}"
            session.otp_failures = 0
            stats.otp_sent += 1
            return _Reply(302, location=f"/{bank.path}/otp")
        session.stage = "ok"
        return _Reply(302, location=f"/{bank.path}/accounts")

    def _otp(self, method: str, form: dict[str, str], layout: Layout, session: _Session) -> _Reply:
        bank = layout.bank
        if session.stage != "otp":
            return _Reply(302, location=f"/{bank.path}/login")
        if method == "GET":
            return _Reply(body=layout.otp())
        if form.get("otp", "").strip() == session.otp:
            session.stage, session.otp = "ok", ""
            return _Reply(302, location=f"/{bank.path}/accounts")
        session.otp_failures += 1
        if session.otp_failures >= OTP_TRIES:
            self._end(session)
            return _Reply(body=layout.login("Too many wrong codes. Please log in again."))
        return _Reply(body=layout.otp("The code is not valid. Check the latest SMS and try again."))

    def _password(self, method: str, form: dict[str, str], layout: Layout, session: _Session) -> _Reply:
        bank = layout.bank
        if session.stage not in ("expired", "ok") or session.username is None:
            return _Reply(302, location=f"/{bank.path}/login")
        expired = session.stage == "expired"
        if method == "GET":
            return _Reply(body=layout.password_form(expired))
        login = self.logins[session.username]
        current, new, confirm = form.get("current", ""), form.get("new", ""), form.get("confirm", "")
        error = None
        if current != login.password:
            error = "The current password is not correct."
        elif len(new) < 8:
            error = "The new password needs at least 8 characters."
        elif new != confirm:
            error = "The new passwords do not match."
        elif new == current:
            error = "The new password must differ from the old one."
        if error:
            return _Reply(body=layout.password_form(expired, error))
        login.password = new
        self.expired.discard(session.username)
        self._end(session)
        return _Reply(body=layout.password_changed())

    # -- data pages ------------------------------------------------------------------------------------------
    def _flaky(self, login: SimLogin) -> _Reply | None:
        """Of a flaky login's history pages, every third fails with a 500 and the next one is slow."""
        stats = self.stats[login.username]
        stats.page_hits += 1
        if login.behaviour != "flaky":
            return None
        turn = stats.page_hits % 3
        if turn == 1:
            stats.errors_served += 1
            return _Reply(500, self.layout(BANK_BY_ID[login.bank]).server_error())
        if turn == 2:
            stats.slow_served += 1
            self._lock.release()  # let other requests through while this one dawdles
            try:
                time.sleep(self.slow_seconds)
            finally:
                self._lock.acquire()
        return None

    def _history(self, login: SimLogin, ref: str, query: dict[str, str], layout: Layout) -> _Reply:
        account = next((a for a in login.accounts if a.ref == ref), None)
        if account is None:
            return _Reply(404, layout.server_error())
        since = layout.parse_since(query.get(layout.since_param(), "")) or dt.date.min
        txns = sorted((t for t in login.transactions if t.account == ref and t.booked_on >= since),
                      key=lambda t: (t.status != "pending", t.booked_on), reverse=False)
        pending = [t for t in txns if t.status == "pending"]
        booked = sorted((t for t in txns if t.status == "booked"), key=lambda t: t.booked_on, reverse=True)
        txns = pending + booked
        size = layout.bank.page_size
        pages = max(1, -(-len(txns) // size))
        try:
            page_no = min(max(int(query.get("page", "1")), 1), pages)
        except ValueError:
            page_no = 1
        since_text = query.get(layout.since_param(), "")
        return _Reply(body=layout.transactions(account, txns[(page_no - 1) * size: page_no * size], page_no, pages,
                                               since_text))

    # -- admin (tests and demo only) -------------------------------------------------------------------------
    def _admin(self, method: str, what: str, body: dict[str, Any]) -> _Reply:
        with self._lock:
            data = self._admin_locked(method, what, body)
        if data is None:
            return _Reply(404, json.dumps({"error": f"unknown admin endpoint {what}"}), "application/json")
        return _Reply(200, json.dumps(data), "application/json")

    def _admin_locked(self, method: str, what: str, body: dict[str, Any]) -> Any:
        if what == "attempts":
            return {u: s.failed for u, s in self.stats.items()}
        if what == "stats":
            return {u: vars(s) | {"locked": u in self.locked} for u, s in self.stats.items()}
        if what == "scenario":
            return self.scenario()
        if what.startswith("otp/"):
            username = what[4:]
            codes = [s.otp for s in self.sessions.values() if s.username == username and s.stage == "otp"]
            return {"username": username, "code": codes[-1] if codes else None}
        if method != "POST":
            return None
        if what == "reset":
            self.reset()
            return {"reset": True}
        if what == "maintenance":
            banks = [body["bank"]] if body.get("bank") else list(self.layout_version)
            for b in banks:
                (self.maintenance.add if body.get("on", True) else self.maintenance.discard)(b)
            return {"maintenance": sorted(self.maintenance)}
        if what == "layout":
            self.layout_version[body["bank"]] = int(body.get("version", 2))
            return {"layouts": self.layout_version}
        if what == "invalidate":
            self.expired.add(body["username"])
            return {"expired": sorted(self.expired)}
        if what == "lock":  # the bank locks (or, after a phone call, unlocks) a login, whoever mistyped
            (self.locked.add if body.get("on", True) else self.locked.discard)(body["username"])
            self.stats[body["username"]].failed = 0
            return {"locked": sorted(self.locked)}
        if what == "expire_sessions":
            self.sessions.clear()
            return {"sessions": 0}
        if what == "slow":
            self.slow_seconds = float(body["seconds"])
            return {"slow_seconds": self.slow_seconds}
        if what == "post_pending":
            login = self.logins[body["username"]]
            today = dt.date.today()
            posted = 0
            for i, t in enumerate(login.transactions):
                if t.status == "pending":
                    t.status = "booked"
                    t.booked_on = min(t.booked_on + dt.timedelta(days=1), today)
                    t.bank_txn_id = f"{t.account[-6:]}-{t.booked_on:%y%m%d}-P{i:03d}"
                    posted += 1
            return {"posted": posted}
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        form: dict[str, Any] = {}
        if method == "POST":
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            if self.headers.get("Content-Type", "").startswith("application/json"):
                form = json.loads(raw or "{}")
            else:
                form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        jar = SimpleCookie(self.headers.get("Cookie", ""))
        cookies = {k: m.value for k, m in jar.items()}
        reply = self.server.portal.handle(method, url.path, query, form, cookies)
        payload = reply.body.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if reply.location:
            self.send_header("Location", reply.location)
        for name, value in reply.cookies.items():
            path = "/" + name.removeprefix("sid_") + "/"
            if value is None:
                self.send_header("Set-Cookie", f"{name}=; Path={path}; Max-Age=0; HttpOnly")
            else:
                self.send_header("Set-Cookie", f"{name}={value}; Path={path}; HttpOnly; SameSite=Lax")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and benchmarks run thousands
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    portal: BankPortal

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on a slow page (as a scraper with a timeout does) is not an error."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class BankHandle:
    """A running simulator: its base URL, its admin endpoints, and `stop()`."""

    def __init__(self, server: _Server, thread: threading.Thread | None) -> None:
        self._server = server
        self._thread = thread
        self.portal = server.portal
        host, port = server.server_address[:2]
        self.port = int(port)
        self.url = f"http://{host}:{port}"

    def bank_url(self, bank: str) -> str:
        """The portal URL of a bank (id like `sim-nordic` or path like `nordic`) to give a connection."""
        path = BANK_BY_ID[bank].path if bank in BANK_BY_ID else bank
        return f"{self.url}/{path}"

    def admin(self, what: str, body: dict[str, Any] | None = None) -> Any:
        """Call `/__admin/<what>`: GET without a body, POST with one."""
        url = f"{self.url}{ADMIN}{what}"
        response = httpx.get(url, timeout=10) if body is None else httpx.post(url, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> BankHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(port: int = 0, scenario: Scenario | None = None) -> BankHandle:
    server = _Server(("127.0.0.1", port), _Handler)
    server.portal = BankPortal(scenario)
    return BankHandle(server, None)


def start_bank(port: int = 0, scenario: Scenario | None = None) -> BankHandle:
    """Serve the simulator from a background thread; port 0 picks a free one."""
    handle = make_server(port, scenario)
    thread = threading.Thread(target=handle._server.serve_forever, name="sim-bank", daemon=True)
    thread.start()
    handle._thread = thread
    return handle
