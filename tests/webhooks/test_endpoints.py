"""Endpoints: secrets sealed in the vault, event filters, removal, rotation, enabling."""

from __future__ import annotations

import datetime as dt

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from reconwb import events
from reconwb.errors import InvalidInput, NotFound
from reconwb.webhooks import deliver_due, endpoints
from tests.webhooks.conftest import deliveries, emit_many
from tests.webhooks.receiver import Receiver


def test_token_and_secret_are_sealed_not_stored(ws, add_endpoint):
    endpoint, secret = add_endpoint("https://example.test/hook", token="tok-sealed-4242")
    with ws.connect() as con:
        owners = {r[0] for r in con.execute("SELECT owner FROM secrets").fetchall()}
        creds = endpoints.credentials(con, ws.vault(), endpoint.endpoint_id)
    assert {endpoints.token_owner(endpoint.endpoint_id), endpoints.secret_owner(endpoint.endpoint_id)} <= owners
    assert creds.token == "tok-sealed-4242" and creds.secret == secret
    raw = ws.db_path.read_bytes() + b"".join(p.read_bytes() for p in ws.db_path.parent.glob("*.wal"))
    assert b"tok-sealed-4242" not in raw and secret.encode() not in raw


def test_event_filter_decides_which_endpoints_get_an_event(ws, add_endpoint):
    every, _ = add_endpoint("https://a.test/")
    matched_only, _ = add_endpoint("https://b.test/", events_filter=["payment.matched"])
    with ws.connect() as con:
        events.emit(con, "transaction.created", {"n": 1})
        events.emit(con, "payment.matched", {"n": 2})
    per_endpoint = {}
    for row in deliveries(ws).values():
        per_endpoint.setdefault(row["endpoint_id"], []).append(row)
    assert len(per_endpoint[every.endpoint_id]) == 2
    assert len(per_endpoint[matched_only.endpoint_id]) == 1


def test_bad_input_is_refused_and_nothing_is_stored(ws, add_endpoint):
    for url, auth, token, types, message in [
        ("ftp://x.test/", "bearer", "t0k3n", None, "http"),
        ("https://user:pw@x.test/", "bearer", "t0k3n", None, "credentials"),
        ("https://x.test/", "basic", "t0k3n", None, "auth scheme"),
        ("https://x.test/", "bearer", "", None, "token is required"),
        ("https://x.test/", "api-key", "two\nlines", None, "one line"),
        ("https://x.test/", "bearer", "t0k3n", ["payment.exploded"], "unknown event type"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            add_endpoint(url, auth=auth, token=token, events_filter=types)
    with ws.connect() as con:
        assert endpoints.list_endpoints(con) == []
        assert con.execute("SELECT count(*) FROM secrets WHERE owner LIKE 'webhook%'").fetchall()[0][0] == 0
        with pytest.raises(NotFound):
            endpoints.remove(con, "ep_nope")


def test_remove_cancels_undelivered_messages_and_deletes_secrets(ws, add_endpoint):
    endpoint, _ = add_endpoint("https://gone.test/")
    emit_many(ws, 2)
    with ws.connect() as con:
        assert endpoints.remove(con, endpoint.endpoint_id) == 2
        assert con.execute("SELECT count(*) FROM secrets WHERE owner LIKE 'webhook%'").fetchall()[0][0] == 0
    assert {r["status"] for r in deliveries(ws).values()} == {"cancelled"}
    assert deliver_due(ws).attempts == 0


def _rotate_and_deliver(ws, add_endpoint, *rotations: dt.timedelta):
    """Add an endpoint, rotate its secret once per overlap given, deliver one event: (secrets oldest first, request)."""
    with Receiver() as receiver:
        endpoint, first = add_endpoint(receiver.url)
        secrets = [first]
        with ws.connect() as con:
            for overlap in rotations:
                secrets.append(endpoints.rotate_secret(con, ws.vault(), endpoint.endpoint_id, overlap=overlap))
        emit_many(ws, 1)
        deliver_due(ws)
    (request,) = receiver.requests
    return endpoint, secrets, request


def _verifies(secret: str, request) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


def test_rotation_signs_with_both_secrets_during_the_overlap(ws, add_endpoint):
    endpoint, (old, new), request = _rotate_and_deliver(ws, add_endpoint, endpoints.ROTATION_OVERLAP)
    assert new != old and new.startswith("whsec_")
    assert len(request.headers["webhook-signature"].split()) == 2
    assert _verifies(new, request) and _verifies(old, request)  # the receiver may switch over at any time
    with ws.connect() as con:
        until = endpoints.get(con, endpoint.endpoint_id).previous_secret_until
    left = until - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23, minutes=59) < left <= dt.timedelta(hours=24)
    raw = ws.db_path.read_bytes() + b"".join(p.read_bytes() for p in ws.db_path.parent.glob("*.wal"))
    assert old.encode() not in raw and new.encode() not in raw  # both sealed


def test_rotation_without_overlap_signs_with_the_new_secret_only(ws, add_endpoint):
    endpoint, (old, new), request = _rotate_and_deliver(ws, add_endpoint, dt.timedelta(0))
    assert _verifies(new, request) and not _verifies(old, request)
    with ws.connect() as con:
        owners = {r[0] for r in con.execute("SELECT owner FROM secrets").fetchall()}
    assert endpoints.previous_secret_owner(endpoint.endpoint_id) not in owners


def test_a_second_rotation_retires_the_oldest_secret_at_once(ws, add_endpoint):
    day = endpoints.ROTATION_OVERLAP
    _, (first, second, third), request = _rotate_and_deliver(ws, add_endpoint, day, day)
    assert _verifies(third, request) and _verifies(second, request) and not _verifies(first, request)


def test_the_previous_secret_stops_signing_and_leaves_the_vault_after_the_overlap(ws, add_endpoint):
    with Receiver() as receiver:
        endpoint, old = add_endpoint(receiver.url)
        with ws.connect() as con:
            new = endpoints.rotate_secret(con, ws.vault(), endpoint.endpoint_id, overlap=dt.timedelta(hours=1))
            con.execute("UPDATE webhook_endpoints SET previous_secret_until = now() - INTERVAL 1 MINUTE")
        emit_many(ws, 1)
        deliver_due(ws)
    (request,) = receiver.requests
    assert _verifies(new, request) and not _verifies(old, request)
    with ws.connect() as con:
        owners = {r[0] for r in con.execute("SELECT owner FROM secrets").fetchall()}
        assert endpoints.get(con, endpoint.endpoint_id).previous_secret_until is None
    assert endpoints.previous_secret_owner(endpoint.endpoint_id) not in owners


def test_a_negative_overlap_is_refused(ws, add_endpoint):
    endpoint, _ = add_endpoint("https://example.test/hook")
    with ws.connect() as con, pytest.raises(InvalidInput, match="negative"):
        endpoints.rotate_secret(con, ws.vault(), endpoint.endpoint_id, overlap=dt.timedelta(hours=-1))


