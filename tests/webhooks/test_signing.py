"""Standard Webhooks signatures: interoperable with the reference library both ways; strict verification."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from standardwebhooks.webhooks import Webhook

from reconwb.errors import InvalidInput
from reconwb.webhooks.signing import Signer, VerificationFailed, check_secret, generate_secret, verify

BODY = '{"type":"payment.matched","data":{"amount":"12.50"}}'


def test_what_we_sign_the_reference_library_verifies_and_the_reverse():
    secret = generate_secret()
    now = int(time.time())
    headers = Signer(secret).headers("msg_1", now, BODY)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers)["data"]["amount"] == "12.50"

    reference = Webhook(secret).sign("msg_2", dt.datetime.fromtimestamp(now, dt.UTC), BODY)
    ref_headers = {"webhook-id": "msg_2", "webhook-timestamp": str(now), "webhook-signature": reference}
    assert verify(secret, ref_headers, BODY.encode(), now=now) == ("msg_2", now)


def test_secrets_are_standard_and_distinct():
    a, b = generate_secret(), generate_secret()
    assert a.startswith("whsec_") and a != b
    assert check_secret(a, "x") == a
    for bad in ("", "whsec_", "secret", "whsec_c2hvcnQ="):
        with pytest.raises(InvalidInput):
            check_secret(bad, "the secret")


def _headers(secret: str, timestamp: int, body: str = BODY, message_id: str = "msg_1") -> dict[str, str]:
    return Signer(secret).headers(message_id, timestamp, body)


def test_verification_refuses_what_it_must_with_the_right_status():
    secret = generate_secret()
    now = int(time.time())
    good = _headers(secret, now)

    def status(headers, body=BODY, at=now):
        with pytest.raises(VerificationFailed) as failed:
            verify(secret, headers, body.encode(), now=at)
        return failed.value.status

    assert status(_headers(generate_secret(), now)) == 401  # another secret
    assert status(good, body=BODY.replace("12.50", "99.50")) == 401  # tampered body
    assert status({**good, "webhook-id": "msg_other"}) == 401  # id is signed too
    assert status(good, at=now + 301) == 401  # replayed later than the tolerance
    assert status(good, at=now - 301) == 401  # from the future
    assert status({k: v for k, v in good.items() if k != "webhook-signature"}) == 400
    assert status({**good, "webhook-timestamp": "yesterday"}) == 400
    assert status({**good, "webhook-signature": "v1,not-base64!!"}) == 401
    assert status({**good, "webhook-signature": "v2," + good["webhook-signature"][3:]}) == 401
    assert verify(secret, good, BODY.encode(), now=now + 299)[0] == "msg_1"


def test_any_of_several_signatures_may_match_during_a_rotation():
    old, new = generate_secret(), generate_secret()
    now = int(time.time())
    both = _headers(old, now)
    both["webhook-signature"] = _headers(new, now)["webhook-signature"] + " " + both["webhook-signature"]
    assert verify(old, both, BODY.encode(), now=now)[0] == "msg_1"
    assert verify(new, both, BODY.encode(), now=now)[0] == "msg_1"
