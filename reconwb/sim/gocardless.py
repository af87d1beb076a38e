"""A simulated GoCardless Bank Account Data API (v2) on 127.0.0.1, answering as its OpenAPI document says.

Flow as GoCardless documents it: `POST /api/v2/token/new/` with the secret id and key gives access and refresh
tokens; `/institutions/?country=` lists banks; an end-user agreement (`max_historical_days`,
`access_valid_for_days`, `access_scope`) and a requisition (`redirect`, `link`) ask for consent; the user's
visit to the requisition's `link` (here: a GET that consents at once and redirects, the offline stand-in for
the bank's pages) makes it `LN` with its accounts; `/accounts/{id}/details|balances|transactions/` read data.
Each institution has one behaviour: `healthy`, `login_required` (the first requisition's agreement has expired:
401 until a new agreement and requisition), `consent_expiring` (5 days of access left), `new_accounts` (a
new requisition sees one more account), `rate_limited` (the first transactions call answers 429 with the
reset headers), `pending_posts` (a pending payment without transactionId, booked after `POST
/__admin/post_pending`). Account ids change with every requisition; IBANs and bank transaction ids do not.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reconwb.sim.httpjson import Handle, JsonHandler, serve

SECRET_ID = "sim-gocardless-secret-id-41f0"  # noqa: S105 - a simulator's well-known id
SECRET_KEY = "sim-gocardless-secret-key-8d2c9e"  # noqa: S105 - a simulator's well-known key
BEHAVIOURS = ("healthy", "login_required", "consent_expiring", "new_accounts", "rate_limited", "pending_posts")
INSTITUTIONS = {
    "SANDBOXFINANCE_SFIN0000": ("Sandbox Finance", "healthy"),
    "RECONWB_LOGINREQ_RWBDEB01": ("Reconwb Relogin Bank", "login_required"),
    "RECONWB_EXPIRING_RWBDEB02": ("Reconwb Expiring Bank", "consent_expiring"),
    "RECONWB_NEWACCTS_RWBDEB03": ("Reconwb Growing Bank", "new_accounts"),
    "RECONWB_LIMITED_RWBDEB04": ("Reconwb Busy Bank", "rate_limited"),
    "RECONWB_PENDING_RWBDEB05": ("Reconwb Pending Bank", "pending_posts"),
}
ACCESS_SECONDS = 24 * 3600
REFRESH_SECONDS = 30 * 24 * 3600
RATE_RESET_SECONDS = 3 * 3600  # the per-account daily limit's reset in the `rate_limited` behaviour
_NS = uuid.UUID("8e0b8d61-0c6f-4a1d-9b7e-2f4a6c1d3e5b")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def ibans(institution_id: str, count: int) -> list[str]:
    rng = random.Random(institution_id)  # noqa: S311 - reproducible test data
    return [f"DE{rng.randrange(10, 99)}5001051{rng.randrange(10**9, 10**10)}{n}"[:22] for n in range(count)]


def booked_rows(iban: str, today: dt.date, count: int = 8) -> list[dict[str, Any]]:
    rng = random.Random(iban)  # noqa: S311 - reproducible test data
    payers = ["Acme Corp", "Globex GmbH", "Initech AG", "Umbrella KG"]
    rows = []
    for i in range(count):
        day = today - dt.timedelta(days=1 + 4 * i)
        amount = Decimal(rng.randrange(2_000, 500_000)) / 100
        reference = f"INV-{day:%Y}-{rng.randrange(1000, 9999)}"
        rows.append({"transactionId": f"{iban[-6:]}-{i:04d}", "bookingDate": day.isoformat(),
                     "valueDate": day.isoformat(), "transactionAmount": {"amount": f"{amount:.2f}", "currency": "EUR"},
                     "debtorName": rng.choice(payers), "debtorAccount": {"iban": "DE02100100109307118603"},
                     "remittanceInformationUnstructured": f"Payment {reference}",
                     "remittanceInformationStructured": reference, "bankTransactionCode": "PMNT"})
    return rows


@dataclass
class Requisition:
    id: str
    institution_id: str
    agreement: str
    redirect: str
    reference: str
    status: str = "CR"
    accounts: list[str] = field(default_factory=list)
    created: dt.datetime = field(default_factory=_now)


@dataclass
class Agreement:
    id: str
    institution_id: str
    max_historical_days: int
    access_valid_for_days: int
    access_scope: list[str]
    created: dt.datetime = field(default_factory=_now)
    accepted: dt.datetime | None = None
    expired: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "created": _iso(self.created), "institution_id": self.institution_id,
                "max_historical_days": self.max_historical_days, "access_valid_for_days": self.access_valid_for_days,
                "access_scope": self.access_scope, "accepted": _iso(self.accepted) if self.accepted else None,
                "reconfirmation": False}


class GoCardlessState:
    def __init__(self, secret_id: str, secret_key: str) -> None:
        self.secret_id, self.secret_key = secret_id, secret_key
        self.lock = threading.RLock()
        self.tokens: dict[str, tuple[str, dt.datetime]] = {}  # token -> (kind, expires)
        self.agreements: dict[str, Agreement] = {}
        self.requisitions: dict[str, Requisition] = {}
        self.accounts: dict[str, dict[str, Any]] = {}  # account id -> {iban, institution_id, requisition, status}
        self.pending: dict[str, list[dict[str, Any]]] = {}  # iban -> pending rows
        self.posted: dict[str, list[dict[str, Any]]] = {}  # iban -> rows booked since
        self.limited: dict[str, int] = {}  # account id -> transactions calls still refused with 429
        self.linked_once: set[str] = set()  # institutions that had a requisition linked already

    def issue(self, kind: str, seconds: int) -> str:
        token = f"sim-{kind}-{uuid.uuid4().hex}"
        self.tokens[token] = (kind, _now() + dt.timedelta(seconds=seconds))
        return token

    def authorised(self, header: str | None, kind: str = "access") -> bool:
        token = (header or "").removeprefix("Bearer ").strip()
        with self.lock:
            found = self.tokens.get(token)
        return found is not None and found[0] == kind and found[1] > _now()

    def consent(self, requisition: Requisition) -> None:
        """The user consented at the bank: the agreement is accepted and the accounts exist."""
        institution = requisition.institution_id
        behaviour = INSTITUTIONS[institution][1]
        agreement = self.agreements[requisition.agreement]
        agreement.accepted = _now()
        if behaviour == "consent_expiring" and institution not in self.linked_once:
            agreement.accepted = _now() - dt.timedelta(days=agreement.access_valid_for_days - 5)
        if behaviour == "login_required" and institution not in self.linked_once:
            agreement.expired = True  # the access of the first link has already run out at the bank
        count = 3 if behaviour == "new_accounts" and institution in self.linked_once else 2
        requisition.accounts = []
        for iban in ibans(institution, count):
            account_id = _uid("account", requisition.id, iban)
            self.accounts[account_id] = {"iban": iban, "institution_id": institution, "requisition": requisition.id,
                                         "status": "READY", "created": _iso(_now())}
            requisition.accounts.append(account_id)
            if behaviour == "rate_limited" and institution not in self.linked_once:
                self.limited[account_id] = 1
            if behaviour == "pending_posts" and iban not in self.pending and iban not in self.posted:
                self.pending[iban] = [{"internalTransactionId": _uid("pending", iban),
                                       "valueDate": _now().date().isoformat(),
                                       "transactionAmount": {"amount": "1250.00", "currency": "EUR"},
                                       "debtorName": "Hooli BV", "remittanceInformationUnstructured":
                                           "Payment INV-PENDING-1", "remittanceInformationStructured": "INV-PENDING-1"}]
        requisition.status = "LN"
        self.linked_once.add(institution)

    def post_pending(self) -> int:
        posted = 0
        for iban, rows in self.pending.items():
            for row in rows:
                day = _now().date().isoformat()
                self.posted.setdefault(iban, []).append(
                    {**row, "transactionId": f"{iban[-6:]}-posted-{posted}", "bookingDate": day,
                     "internalTransactionId": _uid("booked", row["internalTransactionId"])})
                posted += 1
        self.pending.clear()
        return posted


def _error(summary: str, detail: str, status: int, kind: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"summary": summary, "detail": detail, "status_code": status}
    if kind:
        body["type"] = kind
    return body


class _Handler(JsonHandler):
    state: GoCardlessState

    def fail(self, status: int, summary: str, detail: str, kind: str | None = None,
             headers: dict[str, str] | None = None) -> None:
        self.reply(status, _error(summary, detail, status, kind), headers)

    def route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any] | None) -> None:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["__admin"]:
            return self._admin(parts[1:], body or {})
        if parts[:1] == ["psd2"] and len(parts) == 3 and parts[1] == "start":
            return self._bank_consent(parts[2])
        if parts[:2] != ["api", "v2"]:
            return self.fail(404, "Not found", f"no route {path}")
        if body is None:
            return self.fail(400, "Invalid request", "the body is not a JSON object")
        rest = parts[2:]
        if rest == ["token", "new"] and method == "POST":
            return self._token_new(body)
        if rest == ["token", "refresh"] and method == "POST":
            return self._token_refresh(body)
        if not self.state.authorised(self.headers.get("authorization")):
            return self.fail(401, "Invalid token", "Token is invalid or expired")
        if rest == ["institutions"] and method == "GET":
            return self._institutions(query)
        if rest[:1] == ["institutions"] and len(rest) == 2 and method == "GET":
            found = [{**i, "supported_features": ["account_selection", "pending_transactions"],
                      "identification_codes": []} for i in self._listing("") if i["id"] == rest[1]]
            return self.reply(200, found[0]) if found else self.fail(404, "Not found.", "Not found.")
        if rest[:2] == ["agreements", "enduser"]:
            return self._agreements(method, rest[2:], body)
        if rest[:1] == ["requisitions"]:
            return self._requisitions(method, rest[1:], body)
        if rest[:1] == ["accounts"] and len(rest) in (2, 3) and method == "GET":
            return self._account(rest[1], rest[2] if len(rest) == 3 else None, query)
        return self.fail(404, "Not found", f"no route {method} {path}")

    # -- tokens --------------------------------------------------------------------------------------------

    def _token_new(self, body: dict[str, Any]) -> None:
        if (body.get("secret_id"), body.get("secret_key")) != (self.state.secret_id, self.state.secret_key):
            return self.fail(401, "Authentication failed", "No active account found with the given credentials")
        with self.state.lock:
            access = self.state.issue("access", ACCESS_SECONDS)
            refresh = self.state.issue("refresh", REFRESH_SECONDS)
        self.reply(200, {"access": access, "access_expires": ACCESS_SECONDS, "refresh": refresh,
                         "refresh_expires": REFRESH_SECONDS})

    def _token_refresh(self, body: dict[str, Any]) -> None:
        if not self.state.authorised(str(body.get("refresh") or ""), "refresh"):
            return self.fail(401, "Invalid token", "Token is invalid or expired")
        with self.state.lock:
            access = self.state.issue("access", ACCESS_SECONDS)
        self.reply(200, {"access": access, "access_expires": ACCESS_SECONDS})

    # -- institutions, agreements, requisitions --------------------------------------------------------------

    def _institutions(self, query: dict[str, str]) -> None:
        self.reply(200, self._listing(query.get("country", "").upper()))

    @staticmethod
    def _listing(country: str) -> list[dict[str, Any]]:
        return [{"id": i, "name": name, "bic": i.rsplit("_", 1)[-1], "transaction_total_days": "730",
                 "max_access_valid_for_days": "180", "countries": ["DE", "GB"],
                 "logo": f"https://cdn.example.test/{i}.png"}
                for i, (name, _b) in INSTITUTIONS.items() if not country or country in ("DE", "GB")]

    def _agreements(self, method: str, rest: list[str], body: dict[str, Any]) -> None:
        st = self.state
        if not rest and method == "POST":
            institution = body.get("institution_id")
            if institution not in INSTITUTIONS:
                return self.fail(400, "Unknown Institution ID", "Get Institution IDs from /institutions/?country="
                                 "{$COUNTRY_CODE}", None)
            days, valid = int(body.get("max_historical_days", 90)), int(body.get("access_valid_for_days", 90))
            if not (1 <= days <= 730 and 1 <= valid <= 180):
                return self.fail(400, "Invalid agreement", "max_historical_days must be 1..730 and"
                                 " access_valid_for_days 1..180")
            agreement = Agreement(str(uuid.uuid4()), institution, days, valid,
                                  list(body.get("access_scope") or ["balances", "details", "transactions"]))
            with st.lock:
                st.agreements[agreement.id] = agreement
            return self.reply(201, agreement.as_json())
        if len(rest) == 1 and method == "GET":
            agreement = st.agreements.get(rest[0])
            if agreement is None:
                return self.fail(404, "Not found.", "Not found.")
            return self.reply(200, agreement.as_json())
        return self.fail(404, "Not found", "no such agreement route")

    def _requisition_json(self, r: Requisition) -> dict[str, Any]:
        return {"id": r.id, "created": _iso(r.created), "redirect": r.redirect, "status": r.status,
                "institution_id": r.institution_id, "agreement": r.agreement, "reference": r.reference,
                "accounts": list(r.accounts), "user_language": "EN",
                "link": f"http://{self.headers.get('host')}/psd2/start/{r.id}", "ssn": "", "account_selection": False,
                "redirect_immediate": False}

    def _requisitions(self, method: str, rest: list[str], body: dict[str, Any]) -> None:
        st = self.state
        if not rest and method == "POST":
            institution = body.get("institution_id")
            if institution not in INSTITUTIONS or not body.get("redirect"):
                return self.fail(400, "Invalid request", "institution_id and redirect are required")
            agreement = st.agreements.get(str(body.get("agreement") or ""))
            if agreement is None or agreement.institution_id != institution:
                return self.fail(400, "Invalid agreement", "the agreement does not exist for this institution")
            requisition = Requisition(str(uuid.uuid4()), institution, agreement.id, str(body["redirect"]),
                                      str(body.get("reference") or uuid.uuid4()))
            with st.lock:
                st.requisitions[requisition.id] = requisition
            return self.reply(201, self._requisition_json(requisition))
        if len(rest) == 1 and method in ("GET", "DELETE"):
            requisition = st.requisitions.get(rest[0])
            if requisition is None:
                return self.fail(404, "Not found.", "Not found.")
            if method == "DELETE":
                with st.lock:
                    del st.requisitions[rest[0]]
                return self.reply(200, {"summary": "Requisition deleted", "detail": "deleted with its agreement"})
            return self.reply(200, self._requisition_json(requisition))
        return self.fail(404, "Not found", "no such requisition route")

    def _bank_consent(self, requisition_id: str) -> None:
        """The user at the bank: consent given, back to the redirect with the reference."""
        with self.state.lock:
            requisition = self.state.requisitions.get(requisition_id)
            if requisition is None:
                return self.fail(404, "Not found.", "Not found.")
            self.state.consent(requisition)
        self.redirect(f"{requisition.redirect}?ref={requisition.reference}")

    # -- accounts ------------------------------------------------------------------------------------------

    def _account(self, account_id: str, part: str | None, query: dict[str, str]) -> None:
        st = self.state
        with st.lock:
            account = st.accounts.get(account_id)
            requisition = st.requisitions.get(account["requisition"]) if account else None
        if account is None:
            return self.fail(404, "Account ID not found", f"Account {account_id} not found")
        if part is None:
            return self.reply(200, {"id": account_id, "created": account["created"], "last_accessed": _iso(_now()),
                                    "iban": account["iban"], "status": account["status"],
                                    "institution_id": account["institution_id"], "owner_name": "Reconwb GmbH",
                                    "name": "Business account"})
        agreement = st.agreements[requisition.agreement] if requisition else None
        if requisition is None or requisition.status == "EX" or (agreement and agreement.expired):
            return self.fail(401, f"End User Agreement (EUA) {agreement.id if agreement else '-'} has expired",
                             f"EUA was valid for {agreement.access_valid_for_days if agreement else 90} days and it"
                             " expired. The end user must connect the account once more with new EUA and"
                             " Requisition", "AccessExpiredError")
        if account["status"] == "SUSPENDED":
            return self.fail(409, "Account suspended", "The account has been suspended by the institution",
                             "AccountSuspendedError")
        iban = account["iban"]
        if part == "details":
            return self.reply(200, {"account": {"resourceId": account_id, "iban": iban, "currency": "EUR",
                                                "ownerName": "Reconwb GmbH", "name": "Business account",
                                                "product": "Business Current", "cashAccountType": "CACC"}})
        if part == "balances":
            return self.reply(200, {"balances": [{"balanceAmount": {"amount": "10450.00", "currency": "EUR"},
                                                  "balanceType": "interimAvailable",
                                                  "referenceDate": _now().date().isoformat()}]})
        if part == "transactions":
            with st.lock:
                if st.limited.get(account_id, 0) > 0:
                    st.limited[account_id] -= 1
                    reset = str(RATE_RESET_SECONDS)
                    return self.fail(429, "Rate limit exceeded", "The rate limit for this resource is 4/day. Please"
                                     f" try again in {reset} seconds", "RateLimitError",
                                     {"HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT": "4",
                                      "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING": "0",
                                      "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET": reset})
            start = dt.date.fromisoformat(query.get("date_from") or "1970-01-01")
            end = dt.date.fromisoformat(query.get("date_to") or "9999-12-31")
            booked = [r for r in booked_rows(iban, _now().date()) + st.posted.get(iban, [])
                      if start <= dt.date.fromisoformat(r["bookingDate"]) <= end]
            for row in booked:  # GoCardless's own id is per requisition; the bank's transactionId is not
                row.setdefault("internalTransactionId", _uid("internal", requisition.id, row["transactionId"]))
            return self.reply(200, {"transactions": {"booked": booked, "pending": list(st.pending.get(iban, []))},
                                    "last_updated": _iso(_now())})
        return self.fail(404, "Not found", f"no account route {part}")

    def _admin(self, parts: list[str], body: dict[str, Any]) -> None:
        st = self.state
        with st.lock:
            if parts == ["state"]:
                return self.reply(200, {"requisitions": {r.id: {"status": r.status, "institution": r.institution_id,
                                                                "accounts": r.accounts}
                                                         for r in st.requisitions.values()},
                                        "accounts": st.accounts})
            if parts == ["post_pending"]:
                return self.reply(200, {"posted": st.post_pending()})
            if len(parts) == 3 and parts[0] == "requisitions" and parts[2] == "expire":
                requisition = st.requisitions[parts[1]]
                requisition.status = "EX"
                st.agreements[requisition.agreement].expired = True
                return self.reply(200, {"status": "EX"})
            if len(parts) == 3 and parts[0] == "accounts" and parts[2] == "suspend":
                st.accounts[parts[1]]["status"] = "SUSPENDED"
                return self.reply(200, {"status": "SUSPENDED"})
        return self.reply(404, {"error": f"no admin route /{'/'.join(parts)}"})


def start_gocardless(port: int = 0, *, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY) -> Handle:
    """Start the simulator in a background thread on 127.0.0.1 (`port=0`: a free port)."""
    return serve(port, _Handler, GoCardlessState(secret_id, secret_key), "gocardless-sim")


def scenario() -> dict[str, Any]:
    """What `reconwb sim gocardless --print-scenario` prints."""
    return {"secret_id": SECRET_ID, "secret_key": SECRET_KEY,
            "institutions": [{"id": i, "name": n, "behaviour": b} for i, (n, b) in INSTITUTIONS.items()],
            "behaviours": list(BEHAVIOURS)}
