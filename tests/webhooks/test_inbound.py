"""Inbound webhooks: verified, stored raw and idempotently, then processed by the registered handler."""

from __future__ import annotations

import json
import logging
import time

import pytest

from reconwb.errors import InvalidInput
from reconwb.webhooks import inbound
from reconwb.webhooks.signing import Signer, generate_secret

SOURCE = "testsource"


@pytest.fixture
def secret(ws):
    value = generate_secret()
    with ws.connect() as con:
        inbound.set_secret(con, ws.vault(), SOURCE, value)
    return value


@pytest.fixture
def handled():
    seen = []
    inbound.register_handler(SOURCE, lambda ws, event: seen.append(event))
    yield seen
    inbound.unregister_handler(SOURCE)


def signed(secret: str, body: dict | str, *, message_id: str = "msg_in_1", at: float | None = None):
    text = body if isinstance(body, str) else json.dumps(body)
    return Signer(secret).headers(message_id, int(at or time.time()), text), text.encode()


def stored(ws):
    with ws.connect() as con:
        return inbound.list_inbound(con)


def test_a_signed_webhook_is_stored_once_and_processed_once(ws, secret, handled):
    headers, body = signed(secret, {"type": "entity.created", "data": {"entity_id": "e1"}})
    first = inbound.receive(ws, SOURCE, headers, body)
    again = inbound.receive(ws, SOURCE, headers, body)  # the sender retried: same webhook-id
    assert (first.status, first.stored) == (200, True)
    assert (again.status, again.stored) == (200, False)
    (row,) = stored(ws)
    assert row["webhook_id"] == "msg_in_1" and row["event_type"] == "entity.created" and row["status"] == "received"

    report = inbound.process_inbound(ws)
    assert report.as_dict() == {"processed": 1, "failed": 0, "waiting": 0}
    assert handled == [{"type": "entity.created", "data": {"entity_id": "e1"}}]
    assert inbound.process_inbound(ws).processed == 0
    assert stored(ws)[0]["status"] == "processed"


def test_forged_stale_and_malformed_webhooks_are_refused_and_logged_without_secrets(ws, secret, caplog):
    caplog.set_level(logging.WARNING)
    body = {"type": "results.ready"}
    forged, raw = signed(generate_secret(), body)
    stale, raw_stale = signed(secret, body, at=time.time() - 3600)
    not_json_headers, not_json = signed(secret, "{not json")
    array_headers, array = signed(secret, "[1, 2]")
    cases = [
        (SOURCE, forged, raw, 401),
        (SOURCE, stale, raw_stale, 401),
        (SOURCE, {"webhook-id": "x"}, raw, 400),
        (SOURCE, not_json_headers, not_json, 400),
        (SOURCE, array_headers, array, 400),
        ("unknown-source", signed(secret, body)[0], raw, 404),
        ("../etc", signed(secret, body)[0], raw, 404),
    ]
    for source, headers, payload, status in cases:
        assert inbound.receive(ws, source, headers, payload).status == status, (source, status)
    assert stored(ws) == []
    assert caplog.text.count("rejected inbound webhook") == len(cases)
    assert secret not in caplog.text and secret[6:] not in caplog.text


def test_a_failing_handler_is_retried_then_given_up_and_events_without_a_handler_wait(ws, secret):
    calls = []

    def broken(ws, event):
        calls.append(event)
        raise RuntimeError(f"cannot handle; secret was {secret}")

    inbound.register_handler(SOURCE, broken)
    try:
        headers, body = signed(secret, {"type": "entity.reconnected"})
        assert inbound.receive(ws, SOURCE, headers, body).stored
        for _ in range(inbound.MAX_PROCESS_ATTEMPTS):
            assert inbound.process_inbound(ws).failed == 1
        assert inbound.process_inbound(ws).failed == 0  # given up: kept, marked failed
        (row,) = stored(ws)
        assert row["status"] == "failed" and row["attempts"] == inbound.MAX_PROCESS_ATTEMPTS
        assert "RuntimeError" in row["error"] and secret not in row["error"]
    finally:
        inbound.unregister_handler(SOURCE)

    headers, body = signed(secret, {"type": "x"}, message_id="msg_in_2")
    assert inbound.receive(ws, SOURCE, headers, body).stored
    assert inbound.process_inbound(ws).waiting == 1
    assert len(calls) == inbound.MAX_PROCESS_ATTEMPTS


def test_inbound_secret_must_be_a_standard_webhooks_secret(ws):
    with ws.connect() as con, pytest.raises(InvalidInput, match="whsec_"):
        inbound.set_secret(con, ws.vault(), SOURCE, "hunter2")
    with ws.connect() as con, pytest.raises(InvalidInput, match="inbound source"):
        inbound.set_secret(con, ws.vault(), "Bad Source", generate_secret())
