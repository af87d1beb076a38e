"""A simulated Plaid API on 127.0.0.1 that answers as Plaid's OpenAPI document (2020-09-14) says.

The official `plaid-python` SDK, pointed at it with the scenario's `client_id` and `secret`, reads accounts and
a `/transactions/sync`. Items come from the scenario (known access tokens, one per behaviour) or from linking:
`/link/token/create`, then the offline equivalent of the Link drop-in (`/sandbox/public_token/create`, or
`POST /__admin/link/complete` for a link token, which also finishes update mode with account selection), then
`/item/public_token/exchange`. Behaviours: `healthy`, `login_required` (ITEM_LOGIN_REQUIRED until update-mode
Link), `consent_expiring` (consent ends in 5 days; PENDING_EXPIRATION), `new_accounts` (an account not shared
yet; NEW_ACCOUNTS_AVAILABLE), `rate_limited` (the first `/transactions/sync` answers 429), `pending_posts` (a
pending deposit that `POST /__admin/items/<token>/post_pending` posts under a new id). Webhooks carry a
`Plaid-Verification` JWT (ES256, key from `/webhook_verification_key/get`, body SHA-256). State is in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from reconwb.sim.httpjson import Handle, JsonHandler, WebhookSender, serve

CLIENT_ID = "sim-plaid-client-5c1e"
SECRET = "sim-plaid-secret-93ab7d"  # noqa: S105 - a simulator's well-known key
BEHAVIOURS = ("healthy", "login_required", "consent_expiring", "new_accounts", "rate_limited", "pending_posts")
INSTITUTIONS = (("ins_reconwb_eu1", "Plaid Sim Bank Europe", "GB"), ("ins_reconwb_eu2", "Plaid Sim Savings", "DE"))
CONSENT_DAYS = 180  # an EU item's consent; `consent_expiring` items have 5 days left
EXPIRING_DAYS = 5
_NS = uuid.UUID("2b8d8d54-5b1a-4f0e-9a7e-3c3b1f0e9d21")


def _uid(*parts: object) -> str:
    return uuid.uuid5(_NS, "/".join(map(str, parts))).hex


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _request_id() -> str:
    return uuid.uuid4().hex[:15]


@dataclass
class Item:
    access_token: str
    item_id: str
    behaviour: str
    institution_id: str
    webhook: str | None
    accounts: list[dict[str, Any]]
    shared: list[str]  # account ids the user shared with the app (account selection)
    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (added|modified|removed, transaction)
    error: dict[str, Any] | None = None
    consent_expiration_time: dt.datetime | None = None
    removed: bool = False
    limited_calls: int = 0  # the next this many /transactions/sync calls answer 429
    announced: bool = False  # the webhooks of the behaviour were sent (Plaid finds out at the first refresh)

    def current(self) -> dict[str, dict[str, Any]]:
        """Transactions as they are now (the log replayed)."""
        state: dict[str, dict[str, Any]] = {}
        for kind, txn in self.log:
            if kind == "removed":
                state.pop(txn["transaction_id"], None)
            else:
                state[txn["transaction_id"]] = txn
        return state


def account_rows(seed: str, count: int) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        account_id = _uid("account", seed, n)[:24]
        balance = Decimal(random.Random(account_id).randrange(100_000, 5_000_000)) / 100  # noqa: S311
        rows.append({
            "account_id": account_id,
            "balances": {"available": balance, "current": balance, "limit": None, "iso_currency_code": "EUR",
                         "unofficial_currency_code": None},
            "mask": f"{int(account_id[:6], 16) % 10000:04d}",
            "name": "Business Current" if n == 0 else f"Business Savings {n}",
            "official_name": "Plaid Sim Business Current Account" if n == 0 else None,
            "type": "depository",
            "subtype": "checking" if n == 0 else "savings",
        })
    return rows


def transaction(account_id: str, transaction_id: str, day: dt.date, amount_in: Decimal, payer: str, reference: str,
                *, pending: bool = False, pending_transaction_id: str | None = None) -> dict[str, Any]:
    """One transaction as Plaid shows it: `amount` positive for money out, so a deposit is negative."""
    return {
        "account_id": account_id, "transaction_id": transaction_id, "pending": pending,
        "pending_transaction_id": pending_transaction_id, "amount": -amount_in, "iso_currency_code": "EUR",
        "unofficial_currency_code": None, "date": day.isoformat(), "authorized_date": day.isoformat(),
        "authorized_datetime": None, "datetime": None, "name": f"{payer} {reference}".strip(),
        "merchant_name": None, "account_owner": None, "payment_channel": "other", "transaction_code": None,
        "location": {k: None for k in ("address", "city", "region", "postal_code", "country", "lat", "lon",
                                       "store_number")},
        "payment_meta": {"reference_number": reference or None, "ppd_id": None, "payee": None, "by_order_of": None,
                         "payer": payer or None, "payment_method": None, "payment_processor": None,
                         "reason": None},
        "category": None, "category_id": None, "check_number": None,
    }


def history(account_id: str, today: dt.date, count: int = 10) -> list[dict[str, Any]]:
    """Deterministic booked deposits (invoice payments) and a fee, newest first."""
    rng = random.Random(account_id)  # noqa: S311 - reproducible test data
    payers = ["Acme Corp", "Globex GmbH", "Initech AG", "Umbrella KG", "Soylent SE"]
    rows = []
    for i in range(count):
        day = today - dt.timedelta(days=2 + 3 * i)
        if i % 5 == 4:
            rows.append(transaction(account_id, _uid("txn", account_id, i)[:24], day, Decimal("-4.90"),
                                    "", "Account fee"))
            continue
        amount = Decimal(rng.randrange(5_000, 900_000)) / 100
        rows.append(transaction(account_id, _uid("txn", account_id, i)[:24], day, amount, rng.choice(payers),
                                f"INV-{day:%Y}-{rng.randrange(1000, 9999)}"))
    return rows


class PlaidState:
    def __init__(self, client_id: str, secret: str, webhook_url: str | None) -> None:
        self.client_id, self.secret, self.webhook_url = client_id, secret, webhook_url
        self.lock = threading.RLock()
        self.items: dict[str, Item] = {}  # by access token
        self.public_tokens: dict[str, str] = {}  # public token -> access token
        self.link_tokens: dict[str, dict[str, Any]] = {}
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = _uid("key", time.time())
        self.key_created = int(time.time())
        self.requests: list[str] = []
        self.webhooks = WebhookSender(self._sign)

    def _sign(self, body: bytes) -> dict[str, str]:
        claims = {"iat": int(time.time()), "request_body_sha256": hashlib.sha256(body).hexdigest()}
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})
        return {"Plaid-Verification": token}

    def jwk(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        encode = jwt.utils.base64url_encode
        return {"alg": "ES256", "crv": "P-256", "kid": self.kid, "kty": "EC", "use": "sig",
                "x": encode(numbers.x.to_bytes(32, "big")).decode(),
                "y": encode(numbers.y.to_bytes(32, "big")).decode(),
                "created_at": self.key_created, "expired_at": None}

    def close(self) -> None:
        self.webhooks.close()

    def drain(self) -> None:
        self.webhooks.drain()

    # -- items -------------------------------------------------------------------------------------------

    def new_item(self, behaviour: str, institution_id: str = INSTITUTIONS[0][0], *, access_token: str | None = None,
                 webhook: str | None = None, seed: str | None = None) -> Item:
        if behaviour not in BEHAVIOURS:
            behaviour = "healthy"
        seed = seed or uuid.uuid4().hex
        token = access_token or f"access-sandbox-{uuid.uuid4()}"
        accounts = account_rows(seed, 3 if behaviour == "new_accounts" else 2)
        shared = [a["account_id"] for a in accounts][: 2]
        now = dt.datetime.now(dt.UTC)
        item = Item(token, _uid("item", seed)[:24], behaviour, institution_id, webhook or self.webhook_url,
                    accounts, shared,
                    consent_expiration_time=now + dt.timedelta(days=EXPIRING_DAYS if behaviour == "consent_expiring"
                                                               else CONSENT_DAYS))
        today = now.date()
        for account in accounts:
            for txn in reversed(history(account["account_id"], today)):
                item.log.append(("added", txn))
        if behaviour == "pending_posts":
            first = accounts[0]["account_id"]
            item.log.append(("added", transaction(first, _uid("pending", seed)[:24], today, Decimal("1250.00"),
                                                  "Hooli BV", "INV-PENDING-1", pending=True)))
        if behaviour == "login_required":
            item.error = error_body("ITEM_ERROR", "ITEM_LOGIN_REQUIRED",
                                    "the login details of this item have changed (credentials, MFA, or required"
                                    " user action) and a user login is required to update this information")
        if behaviour == "rate_limited":
            item.limited_calls = 1
        with self.lock:
            self.items[token] = item
        return item

    def linked(self, item: Item) -> None:
        """The webhooks Plaid sends about a new item's state (they may come before the app recorded it)."""
        if item.behaviour == "login_required":
            self.fire(item, "ITEM", "ERROR", error=item.error)
        elif item.behaviour == "consent_expiring":
            self.fire(item, "ITEM", "PENDING_EXPIRATION", consent_expiration_time=_iso(item.consent_expiration_time))

    def announce(self, item: Item) -> None:
        """What Plaid finds at the item's first refresh, once: accounts the user has not shared yet."""
        with self.lock:
            if item.announced:
                return
            item.announced = True
        if item.behaviour == "new_accounts":
            self.fire(item, "ITEM", "NEW_ACCOUNTS_AVAILABLE", error=None)

    def fire(self, item: Item, webhook_type: str, code: str, **extra: Any) -> None:
        self.webhooks.send(item.webhook, {"webhook_type": webhook_type, "webhook_code": code,
                                          "item_id": item.item_id, "environment": "sandbox", **extra})

    def post_pending(self, item: Item) -> int:
        """Every pending transaction posts under a new id that names it in `pending_transaction_id`."""
        posted = 0
        for txn in list(item.current().values()):
            if txn["pending"]:
                booked = {**txn, "transaction_id": _uid("posted", txn["transaction_id"])[:24], "pending": False,
                          "pending_transaction_id": txn["transaction_id"],
                          "date": (dt.date.fromisoformat(txn["date"]) + dt.timedelta(days=1)).isoformat()}
                item.log += [("removed", {"transaction_id": txn["transaction_id"], "account_id": txn["account_id"]}),
                             ("added", booked)]
                posted += 1
        if posted:
            self.fire(item, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE", initial_update_complete=True,
                      historical_update_complete=True)
        return posted


def error_body(error_type: str, code: str, message: str, status: int = 400) -> dict[str, Any]:
    return {"error_type": error_type, "error_code": code, "error_message": message, "display_message": None,
            "request_id": _request_id(), "causes": [], "status": status, "documentation_url": "",
            "suggested_action": None}


class _Handler(JsonHandler):
    state: PlaidState

    def fail(self, status: int, error_type: str, code: str, message: str) -> None:
        self.reply(status, error_body(error_type, code, message, status))

    def route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any] | None) -> None:
        st = self.state
        if path.startswith("/__admin/"):
            return self._admin(method, [p for p in path.split("/") if p][1:], body or {})
        if method != "POST":
            return self.fail(404, "INVALID_REQUEST", "NOT_FOUND", f"no route {method} {path}")
        if body is None:
            return self.fail(400, "INVALID_REQUEST", "INVALID_BODY", "the body is not a JSON object")
        with st.lock:
            st.requests.append(path)
        client_id = body.get("client_id") or self.headers.get("PLAID-CLIENT-ID")
        secret = body.get("secret") or self.headers.get("PLAID-SECRET")
        if client_id != st.client_id or secret != st.secret:
            return self.fail(400, "INVALID_INPUT", "INVALID_API_KEYS",
                             "invalid client_id or secret provided")
        handler = _ROUTES.get(path)
        if handler is None:
            return self.fail(404, "INVALID_REQUEST", "NOT_FOUND", f"no route {path}")
        return handler(self, body)

    def _item(self, body: dict[str, Any], *, data: bool = False) -> Item | None:
        with self.state.lock:
            item = self.state.items.get(str(body.get("access_token")))
        if item is None or item.removed:
            self.fail(400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "provided access token is in an invalid format"
                      if item is None else "the Item you requested cannot be found (it was removed)")
            return None
        if data:
            self.state.announce(item)
        if data and item.error is not None:
            self.reply(400, {**item.error, "request_id": _request_id()})
            return None
        return item

    def _item_json(self, item: Item) -> dict[str, Any]:
        expires = item.consent_expiration_time
        return {"item_id": item.item_id, "institution_id": item.institution_id, "webhook": item.webhook,
                "error": item.error and {k: item.error[k] for k in ("error_type", "error_code", "error_message",
                                                                     "display_message")},
                "available_products": ["balance"], "billed_products": ["transactions"], "products": ["transactions"],
                "consented_products": ["transactions"], "consent_expiration_time": expires and _iso(expires),
                "update_type": "background", "auth_method": None}

    def _shared(self, item: Item) -> list[dict[str, Any]]:
        return [a for a in item.accounts if a["account_id"] in item.shared]

    # -- API ---------------------------------------------------------------------------------------------

    def link_token_create(self, body: dict[str, Any]) -> None:
        for key in ("client_name", "language", "country_codes"):
            if not body.get(key):
                return self.fail(400, "INVALID_REQUEST", "MISSING_FIELDS", f"the following required fields are"
                                 f" missing: {key}")
        update = None
        if body.get("access_token"):
            item = self._item(body)
            if item is None:
                return None
            update = item.access_token
        token = f"link-sandbox-{uuid.uuid4()}"
        expiration = dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)
        with self.state.lock:
            self.state.link_tokens[token] = {
                "access_token": update, "webhook": body.get("webhook"),
                "account_selection": bool((body.get("update") or {}).get("account_selection_enabled")),
                "institution_id": body.get("institution_id")}
        self.reply(200, {"link_token": token, "expiration": _iso(expiration), "request_id": _request_id()})

    def sandbox_public_token_create(self, body: dict[str, Any]) -> None:
        institution = body.get("institution_id")
        if institution not in {i[0] for i in INSTITUTIONS}:
            return self.fail(400, "INVALID_INPUT", "INVALID_INSTITUTION", f"invalid institution_id {institution}")
        options = body.get("options") or {}
        item = self.state.new_item(str(options.get("override_username") or "healthy"), institution,
                                   webhook=options.get("webhook"))
        self.reply(200, {"public_token": self._public(item), "request_id": _request_id()})

    def _public(self, item: Item) -> str:
        token = f"public-sandbox-{uuid.uuid4()}"
        with self.state.lock:
            self.state.public_tokens[token] = item.access_token
        return token

    def exchange(self, body: dict[str, Any]) -> None:
        with self.state.lock:
            access = self.state.public_tokens.pop(str(body.get("public_token")), None)
            item = self.state.items.get(access or "")
        if item is None:
            return self.fail(400, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN", "provided public token is expired or"
                             " invalid")
        self.state.linked(item)
        self.reply(200, {"access_token": item.access_token, "item_id": item.item_id, "request_id": _request_id()})

    def accounts_get(self, body: dict[str, Any]) -> None:
        item = self._item(body, data=True)
        if item is not None:
            self.reply(200, {"accounts": self._shared(item), "item": self._item_json(item),
                             "request_id": _request_id()})

    def transactions_sync(self, body: dict[str, Any]) -> None:
        item = self._item(body, data=True)
        if item is None:
            return None
        with self.state.lock:
            if item.limited_calls > 0:
                item.limited_calls -= 1
                return self.fail(429, "RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT",
                                 "rate limit exceeded for attempts to access this item; try again later")
        cursor = str(body.get("cursor") or "")
        count = int(body.get("count") or 100)
        if cursor and not (cursor.startswith("c") and cursor[1:].isdigit()):
            return self.fail(400, "INVALID_INPUT", "INVALID_CURSOR", "the cursor is not valid")
        start = int(cursor[1:]) if cursor else 0
        page = [(kind, txn) for kind, txn in item.log[start:] if txn["account_id"] in item.shared][:count]
        taken, seen = start, 0
        for _kind, txn in item.log[start:]:
            taken += 1
            if txn["account_id"] in item.shared:
                seen += 1
                if seen == count:
                    break
        has_more = any(t["account_id"] in item.shared for _k, t in item.log[taken:])
        self.reply(200, {
            "accounts": self._shared(item),
            "added": [t for k, t in page if k == "added"],
            "modified": [t for k, t in page if k == "modified"],
            "removed": [{"transaction_id": t["transaction_id"], "account_id": t["account_id"]}
                        for k, t in page if k == "removed"],
            "next_cursor": f"c{taken}", "has_more": has_more, "request_id": _request_id(),
            "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE"})

    def item_get(self, body: dict[str, Any]) -> None:
        item = self._item(body)
        if item is not None:
            self.reply(200, {"item": self._item_json(item), "request_id": _request_id(),
                             "status": {"transactions": {"last_successful_update": _iso(dt.datetime.now(dt.UTC)),
                                                         "last_failed_update": None}, "last_webhook": None}})

    def item_remove(self, body: dict[str, Any]) -> None:
        item = self._item(body)
        if item is not None:
            item.removed = True
            self.reply(200, {"request_id": _request_id()})

    def verification_key(self, body: dict[str, Any]) -> None:
        if body.get("key_id") != self.state.kid:
            return self.fail(400, "INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "invalid key_id provided")
        self.reply(200, {"key": self.state.jwk(), "request_id": _request_id()})

    def institutions_get(self, body: dict[str, Any]) -> None:
        wanted = set(body.get("country_codes") or [])
        found = [{"institution_id": i, "name": n, "products": ["transactions", "balance"], "country_codes": [c],
                  "routing_numbers": [], "dtc_numbers": [], "oauth": True, "url": None, "primary_color": None,
                  "logo": None, "status": None, "connection_availability": "SUPPORTED"}
                 for i, n, c in INSTITUTIONS if not wanted or c in wanted]
        offset, count = int(body.get("offset") or 0), int(body.get("count") or 100)
        self.reply(200, {"institutions": found[offset:offset + count], "total": len(found),
                         "request_id": _request_id()})

    def reset_login(self, body: dict[str, Any]) -> None:
        item = self._item(body)
        if item is not None:
            item.error = error_body("ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "a user login is required")
            self.state.fire(item, "ITEM", "ERROR", error=item.error)
            self.reply(200, {"reset_login": True, "request_id": _request_id()})

    def fire_webhook(self, body: dict[str, Any]) -> None:
        item = self._item(body)
        if item is None:
            return None
        code = body.get("webhook_code")
        if code == "NEW_ACCOUNTS_AVAILABLE":
            self.state.fire(item, "ITEM", code, error=None)
        elif code == "PENDING_EXPIRATION":
            self.state.fire(item, "ITEM", code, consent_expiration_time=_iso(item.consent_expiration_time))
        elif code == "PENDING_DISCONNECT":
            self.state.fire(item, "ITEM", code, reason="INSTITUTION_TOKEN_EXPIRATION",
                            disconnect_time=_iso(item.consent_expiration_time))
        elif code == "USER_PERMISSION_REVOKED":
            item.error = error_body("ITEM_ERROR", "USER_PERMISSION_REVOKED", "the user revoked access")
            self.state.fire(item, "ITEM", code, error=item.error)
        elif code == "SYNC_UPDATES_AVAILABLE":
            self.state.fire(item, "TRANSACTIONS", code, initial_update_complete=True,
                            historical_update_complete=True)
        else:
            return self.fail(400, "INVALID_INPUT", "SANDBOX_WEBHOOK_INVALID", f"unsupported webhook_code {code}")
        self.reply(200, {"webhook_fired": True, "request_id": _request_id()})

    # -- the Link drop-in's part and test controls --------------------------------------------------------

    def _admin(self, method: str, parts: list[str], body: dict[str, Any]) -> None:
        st = self.state
        if parts == ["state"]:
            with st.lock:
                return self.reply(200, {"items": {t: {"item_id": i.item_id, "behaviour": i.behaviour,
                                                      "shared": i.shared, "removed": i.removed,
                                                      "error": (i.error or {}).get("error_code")}
                                                  for t, i in st.items.items()},
                                        "requests": list(st.requests), "webhooks": list(st.webhooks.delivered)})
        if parts == ["link", "complete"]:
            return self._complete_link(body)
        if len(parts) == 3 and parts[0] == "items":
            with st.lock:
                item = st.items.get(parts[1])
            if item is None:
                return self.reply(404, {"error": "no such item"})
            if parts[2] == "post_pending":
                return self.reply(200, {"posted": st.post_pending(item)})
            if parts[2] == "rate_limit":
                item.limited_calls = int(body.get("calls", 1))
                return self.reply(200, {"limited_calls": item.limited_calls})
            if parts[2] == "down":
                item.error = error_body("INSTITUTION_ERROR", "INSTITUTION_DOWN", "this institution is not"
                                        " currently responding to this request")
                return self.reply(200, {"error": "INSTITUTION_DOWN"})
            if parts[2] == "consent":
                item.consent_expiration_time = dt.datetime.fromisoformat(body["consent_expiration_time"])
                return self.reply(200, {"consent_expiration_time": _iso(item.consent_expiration_time)})
        return self.reply(404, {"error": f"no admin route {method} /{'/'.join(parts)}"})

    def _complete_link(self, body: dict[str, Any]) -> None:
        """What the user does in Plaid Link: new item (create mode) or repaired/reselected item (update mode)."""
        with self.state.lock:
            link = self.state.link_tokens.pop(str(body.get("link_token")), None)
        if link is None:
            return self.reply(400, error_body("INVALID_INPUT", "INVALID_LINK_TOKEN", "the link token is invalid"))
        if link["access_token"] is None:
            item = self.state.new_item(str(body.get("username") or "healthy"),
                                       link["institution_id"] or INSTITUTIONS[0][0], webhook=link["webhook"])
            return self.reply(200, {"public_token": self._public(item), "item_id": item.item_id})
        with self.state.lock:
            item = self.state.items[link["access_token"]]
        repaired = item.error is not None and item.error["error_code"] == "ITEM_LOGIN_REQUIRED"
        item.error = None
        item.consent_expiration_time = dt.datetime.now(dt.UTC) + dt.timedelta(days=CONSENT_DAYS)
        if link["account_selection"]:
            known = {a["account_id"] for a in item.accounts}
            chosen = [a for a in body.get("account_ids") or known if a in known]
            item.shared = chosen or item.shared
        if repaired:
            self.state.fire(item, "ITEM", "LOGIN_REPAIRED")
        self.reply(200, {"public_token": self._public(item), "item_id": item.item_id,
                         "accounts": [{"id": a, "name": n["name"]} for a in item.shared
                                      for n in item.accounts if n["account_id"] == a]})


_ROUTES = {
    "/link/token/create": _Handler.link_token_create,
    "/sandbox/public_token/create": _Handler.sandbox_public_token_create,
    "/item/public_token/exchange": _Handler.exchange,
    "/accounts/get": _Handler.accounts_get,
    "/transactions/sync": _Handler.transactions_sync,
    "/item/get": _Handler.item_get,
    "/item/remove": _Handler.item_remove,
    "/webhook_verification_key/get": _Handler.verification_key,
    "/institutions/get": _Handler.institutions_get,
    "/sandbox/item/reset_login": _Handler.reset_login,
    "/sandbox/item/fire_webhook": _Handler.fire_webhook,
}


def scenario_items() -> list[tuple[str, str]]:
    """(access token, behaviour) of the items every simulator starts with: one per behaviour."""
    return [(f"access-sandbox-reconwb-{b.replace('_', '-')}", b) for b in BEHAVIOURS]


def start_plaid(port: int = 0, webhook_url: str | None = None, *, client_id: str = CLIENT_ID,
                secret: str = SECRET) -> Handle:
    """Start the simulator in a background thread on 127.0.0.1 with the scenario's items."""
    state = PlaidState(client_id, secret, webhook_url)
    for token, behaviour in scenario_items():
        state.new_item(behaviour, access_token=token, seed=token)
    return serve(port, _Handler, state, "plaid-sim")


def scenario() -> dict[str, Any]:
    """What `reconwb sim plaid --print-scenario` prints."""
    return {"client_id": CLIENT_ID, "secret": SECRET,
            "items": [{"access_token": t, "behaviour": b, "institution_id": INSTITUTIONS[0][0]}
                      for t, b in scenario_items()],
            "institutions": [{"institution_id": i, "name": n, "country_code": c} for i, n, c in INSTITUTIONS],
            "behaviours": list(BEHAVIOURS)}
