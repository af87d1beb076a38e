"""Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`.

The HMAC itself is the reference `standardwebhooks` library's, so what we send is what every Standard Webhooks
receiver checks. Verification is ours only for the parts the library decides for us: the time (a caller's clock,
for tests and for replay protection), the tolerance, and telling a stale timestamp from a bad signature, which
the receiver answers differently.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook

from reconwb.errors import InvalidInput

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32
TOLERANCE_SECONDS = 300  # the Standard Webhooks default: five minutes either way


class VerificationFailed(Exception):
    """An inbound webhook is refused; `status` is the HTTP answer (400 malformed, 401 not authentic)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def generate_secret() -> str:
    """A new signing secret in the Standard Webhooks format (`whsec_` + base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode("ascii")


def check_secret(secret: str, what: str) -> str:
    """`secret` if it is a usable `whsec_...` secret, else InvalidInput naming `what`."""
    secret = secret.strip()
    body = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else ""
    try:
        raw = base64.b64decode(body + "==", validate=False) if body else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < 16:
        raise InvalidInput(f"{what}: expected a Standard Webhooks secret `whsec_` + base64 of at least 16 bytes")
    return secret


class Signer:
    """Signs messages for one endpoint (the decoded keys are kept, not re-derived per message).

    More than one secret during a rotation overlap: the header then lists one `v1,` signature per secret,
    space-separated, and a receiver accepts the message when any of them checks out with its secret.
    """

    def __init__(self, secret: str, *previous: str) -> None:
        self._webhooks = [Webhook(s) for s in (secret, *previous)]

    def sign(self, message_id: str, timestamp: int, body: str) -> str:
        when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        return " ".join(w.sign(message_id, when, body) for w in self._webhooks)

    def headers(self, message_id: str, timestamp: int, body: str) -> dict[str, str]:
        """The three Standard Webhooks headers for one attempt."""
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(message_id, timestamp, body),
        }


MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970 fit in 11 digits until the year 5138


@dataclass(frozen=True)
class Unverified:
    """An inbound webhook whose headers and body are well-formed and recent, signature not yet checked."""

    message_id: str
    timestamp: int
    signatures: tuple[str, ...]
    text: str


def check_headers(headers: Mapping[str, str], body: bytes, *, now: float,
                  tolerance: float = TOLERANCE_SECONDS) -> Unverified:
    """Everything about an inbound webhook that needs no secret, or VerificationFailed.

    Missing or unreadable headers and a body that is not UTF-8 are malformed (400); a timestamp outside the
    tolerance is a replay or a wrong clock (401). A receiver runs this before it looks up any secret, so a flood
    of junk costs no store access.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    message_id = lower.get("webhook-id", "").strip()
    stamp = lower.get("webhook-timestamp", "").strip()
    signatures = lower.get("webhook-signature", "").strip()
    if not (message_id and stamp and signatures):
        raise VerificationFailed(400, "missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(message_id) > 256:
        raise VerificationFailed(400, "webhook-id is longer than 256 characters")
    # ASCII digits only: str.isdigit() also accepts "²" or "١٢", which int() then refuses or misreads
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        raise VerificationFailed(400, "webhook-timestamp is not a whole number of seconds")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise VerificationFailed(401, f"webhook-timestamp is {int(now - timestamp)} s away from now (replay?)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationFailed(400, "body is not UTF-8") from None
    return Unverified(message_id, timestamp, tuple(signatures.split()), text)


def check_signature(secret: str, message: Unverified) -> None:
    """VerificationFailed(401) unless one of the listed `v1,` signatures is the secret's.

    Compared in constant time against every signature the sender listed (several during a secret rotation).
    """
    expected = base64.b64decode(Signer(secret).sign(message.message_id, message.timestamp, message.text)
                                .split(",", 1)[1])
    matched = False
    for item in message.signatures:
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        # no early exit: every listed signature is compared, so timing says nothing about which one matched
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise VerificationFailed(401, "no matching signature")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> tuple[str, int]:
    """Check an inbound webhook; return its `(webhook-id, timestamp)` or raise VerificationFailed.

    Order matters: malformed (400) and stale (401) first (`check_headers`), then the signature (`check_signature`).
    """
    message = check_headers(headers, body, now=now, tolerance=tolerance)
    check_signature(secret, message)
    return message.message_id, message.timestamp
