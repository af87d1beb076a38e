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


@pytest.fixture(autouse=True)
def fresh_receiver(monkeypatch: pytest.MonkeyPatch):
    """Every test starts with no cached secret and no rejection counted yet."""
    monkeypatch.setattr(inbound, "_secrets", inbound._SecretCache())
    monkeypatch.setattr(inbound, "_rejections", inbound._RejectionLog())


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
    # within a second: one line per source (the first rejection of each), the rest counted for the next line
    assert caplog.text.count("rejected inbound webhook") == 3
    assert "for testsource: 1 since the last report" in caplog.text
    assert "for unknown-source:" in caplog.text and "for (invalid source):" in caplog.text
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


@pytest.mark.parametrize("stamp", ["\u00b2", "\u0661\u0662\u0663", "\uff11\uff12", "1e9", "-5", "12.5", "9" * 5000,
                                   " "])
def test_a_timestamp_that_is_not_plain_digits_is_malformed_not_a_server_error(ws, secret, stamp: str) -> None:
    headers, body = signed(secret, {"type": "x"})
    result = inbound.receive(ws, SOURCE, {**headers, "webhook-timestamp": stamp}, body)
    assert result.status == 400, result


def test_junk_never_opens_the_store_and_a_known_secret_is_read_once(ws, secret) -> None:
    from reconwb.store import db

    headers, body = signed(secret, {"type": "x"})
    db.reset_hold_stats()
    for i in range(200):  # unsigned, malformed, stale: all refused before any secret is looked up
        assert inbound.receive(ws, SOURCE, {"webhook-id": f"m{i}"}, body).status == 400
        assert inbound.receive(ws, SOURCE, {**headers, "webhook-timestamp": "soon"}, body).status == 400
        assert inbound.receive(ws, SOURCE, signed(secret, "{}", at=time.time() - 900)[0], b"{}").status == 401
    assert db.hold_stats().opens == 0
    forged_headers, _ = signed(generate_secret(), {"type": "x"})
    for _ in range(300):  # well-formed but forged: the secret comes from the cache
        assert inbound.receive(ws, SOURCE, forged_headers, body).status == 401
    assert inbound._secrets.reads <= 3  # the first read, and a re-read at most once a second
    assert db.hold_stats().opens == inbound._secrets.reads
    assert inbound.receive(ws, SOURCE, headers, body).stored  # a genuine one: one write
    assert db.hold_stats().opens == inbound._secrets.reads + 1


def test_a_rotated_secret_is_used_at_once_here_and_within_a_second_when_rotated_elsewhere(ws, secret) -> None:
    assert inbound.receive(ws, SOURCE, *signed(secret, {"n": 1}, message_id="m1")).stored  # cached now
    newer = generate_secret()
    with ws.connect() as con:
        inbound.set_secret(con, ws.vault(), SOURCE, newer)  # this process: the cache forgets at once
    assert inbound.receive(ws, SOURCE, *signed(secret, {"n": 2}, message_id="m2")).status == 401
    assert inbound.receive(ws, SOURCE, *signed(newer, {"n": 3}, message_id="m3")).stored
    elsewhere = generate_secret()
    with ws.connect() as con:  # as another process would: straight into the vault, this cache not told
        ws.vault().put(con, inbound.secret_owner(SOURCE), elsewhere)
    time.sleep(inbound.SECRET_REREAD_SECONDS + 0.1)
    assert inbound.receive(ws, SOURCE, *signed(elsewhere, {"n": 4}, message_id="m4")).stored
    assert inbound.receive(ws, SOURCE, *signed(newer, {"n": 5}, message_id="m5")).status == 401


def test_a_source_configured_elsewhere_is_accepted_within_a_second(ws) -> None:
    value = generate_secret()
    assert inbound.receive(ws, "latecomer", *signed(value, {"n": 1})).status == 404
    with ws.connect() as con:
        ws.vault().put(con, inbound.secret_owner("latecomer"), value)
    time.sleep(inbound.SECRET_REREAD_SECONDS + 0.1)
    assert inbound.receive(ws, "latecomer", *signed(value, {"n": 1})).stored


def test_rejections_are_logged_once_a_second_per_source_with_the_count(ws, secret, caplog) -> None:
    caplog.set_level(logging.WARNING)
    headers, body = signed(generate_secret(), {"type": "x"})
    for _ in range(50):
        inbound.receive(ws, SOURCE, headers, body)
    assert caplog.text.count("rejected inbound webhook") == 1
    assert "for testsource: 1 since the last report" in caplog.text
    time.sleep(inbound.REJECTION_LOG_SECONDS + 0.3)  # nothing more came: the held-back 49 are still reported
    assert caplog.text.count("rejected inbound webhook") == 2
    assert "for testsource: 49 since the last report" in caplog.text
    inbound.receive(ws, "other", headers, body)  # another source has its own window
    assert caplog.text.count("rejected inbound webhook") == 3
