"""The delivery worker against real HTTP receivers on loopback."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging

import pytest
from standardwebhooks.webhooks import Webhook

from reconwb.webhooks import deliver_due, endpoints, outbox
from reconwb.webhooks.delivery import RETRY_SCHEDULE, Worker, run_sync
from tests.webhooks.conftest import attempts, deliveries, emit_many
from tests.webhooks.receiver import Receiver, Reply


def test_deliveries_are_signed_for_the_reference_library_and_carry_the_endpoint_auth(ws, add_endpoint):
    with Receiver() as receiver:
        bearer, bearer_secret = add_endpoint(receiver.url + "/b", auth="bearer", token="tok-bearer-1")
        apikey, apikey_secret = add_endpoint(receiver.url + "/k", auth="api-key", token="key-apikey-2")
        event_ids = emit_many(ws, 3)
        report = deliver_due(ws)

    assert report.as_dict()["delivered"] == 6
    assert report.as_dict()["failed"] == report.as_dict()["dead"] == report.as_dict()["pending"] == 0
    stored = deliveries(ws)
    assert {r.webhook_id for r in receiver.requests} == set(stored)
    for request in receiver.requests:
        secret = bearer_secret if request.path.endswith("/b") else apikey_secret
        payload = Webhook(secret).verify(request.body, request.headers)  # raises if the signature is wrong
        row = stored[request.webhook_id]
        assert payload["id"] == row["event_id"] and payload["id"] in event_ids
        assert payload["type"] == "transaction.created" and "amount" in payload["data"]
        if request.path.endswith("/b"):
            assert request.headers["authorization"] == "Bearer tok-bearer-1"
            assert row["endpoint_id"] == bearer.endpoint_id
        else:
            assert request.headers["api-key"] == "key-apikey-2" and "authorization" not in request.headers
            assert row["endpoint_id"] == apikey.endpoint_id
        with pytest.raises(Exception):  # noqa: B017 - another endpoint's secret must not verify
            Webhook(apikey_secret if secret == bearer_secret else bearer_secret).verify(request.body, request.headers)
    assert all(r["status"] == "delivered" and r["delivered_at"] for r in stored.values())
    log = attempts(ws)
    assert len(log) == 6 and all(a["outcome"] == "delivered" and a["http_status"] == 200 for a in log)
    assert all(a["latency_ms"] > 0 and a["response"] == "ok" for a in log)


def test_failures_follow_the_retry_schedule_until_dead_and_dead_messages_replay(ws, add_endpoint, clock):
    answer = {"status": 500}
    with Receiver(lambda req: Reply(answer["status"], b"nope")) as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 1)
        for attempt in range(1, len(RETRY_SCHEDULE) + 1):
            report = run_sync(Worker(ws, clock=clock))
            assert report.attempts == 1, f"attempt {attempt} was not made when due"
            (row,) = deliveries(ws).values()
            assert row["attempts"] == attempt
            if attempt < len(RETRY_SCHEDULE):
                assert row["status"] == "pending" and report.failed == 1
                last = attempts(ws)[-1]
                delay = (row["next_attempt_at"] - last["attempted_at"]).total_seconds()
                assert delay == pytest.approx(RETRY_SCHEDULE[attempt], abs=0.01)
                clock.advance(delay - 1)
                assert run_sync(Worker(ws, clock=clock)).attempts == 0, "retried before it was due"
                clock.advance(1)
            else:
                assert row["status"] == "dead" and report.dead == 1
        assert len(receiver.requests) == len(RETRY_SCHEDULE)
        assert len({r.webhook_id for r in receiver.requests}) == 1, "webhook-id must be stable across retries"
        assert len({r.body for r in receiver.requests}) == 1, "every retry sends the same body"

        clock.advance(10 * 24 * 3600)
        assert run_sync(Worker(ws, clock=clock)).attempts == 0, "a dead message is not retried on its own"
        with ws.connect() as con:
            dead = outbox.messages(con, status="dead")
            assert [m["message_id"] for m in dead] == [row["message_id"]]
            assert outbox.replay(con, now=dt.datetime.fromtimestamp(clock(), dt.UTC), dead=True) == 1
        answer["status"] = 204
        report = run_sync(Worker(ws, clock=clock))
    assert report.delivered == 1
    (row,) = deliveries(ws).values()
    assert row["status"] == "delivered"
    assert [a["outcome"] for a in attempts(ws)] == ["failed"] * len(RETRY_SCHEDULE) + ["delivered"]


def test_retry_after_is_honoured_on_429_and_503_only(ws, add_endpoint, clock):
    later = email.utils.format_datetime(dt.datetime.fromtimestamp(clock() + 3600, dt.UTC), usegmt=True)
    replies = {
        "/hook/429": Reply(429, headers={"Retry-After": "120"}),
        "/hook/503": Reply(503, headers={"Retry-After": later}),
        "/hook/500": Reply(500, headers={"Retry-After": "120"}),
        "/hook/429-short": Reply(429, headers={"Retry-After": "1"}),
    }
    with Receiver(lambda req: replies[req.path]) as receiver:
        ids = {path: add_endpoint(receiver.url.removesuffix("/hook") + path)[0].endpoint_id for path in replies}
        emit_many(ws, 1)
        run_sync(Worker(ws, clock=clock))
    rows = {r["endpoint_id"]: r for r in deliveries(ws).values()}
    waited = {
        path: (rows[eid]["next_attempt_at"].timestamp() - clock()) for path, eid in ids.items()
    }
    assert waited["/hook/429"] == pytest.approx(120, abs=1)
    assert waited["/hook/503"] == pytest.approx(3600, abs=2)
    assert waited["/hook/500"] == pytest.approx(RETRY_SCHEDULE[1], abs=1)  # Retry-After means nothing on a 500
    assert waited["/hook/429-short"] == pytest.approx(RETRY_SCHEDULE[1], abs=1)  # never sooner than the schedule


def test_410_disables_the_endpoint_and_holds_its_messages_until_it_is_enabled(ws, add_endpoint, clock):
    gone = {"yes": True}
    with Receiver(lambda req: Reply(410 if req.path.endswith("/gone") and gone["yes"] else 200)) as receiver:
        dead_ep, _ = add_endpoint(receiver.url + "/gone")
        live_ep, _ = add_endpoint(receiver.url + "/live")
        emit_many(ws, 3)
        report = run_sync(Worker(ws, clock=clock))
        assert report.disabled_endpoints == [dead_ep.endpoint_id]
        with ws.connect() as con:
            endpoint = endpoints.get(con, dead_ep.endpoint_id)
        assert not endpoint.enabled and "410" in endpoint.disabled_reason
        assert sum(r.path.endswith("/live") and r.status == 200 for r in receiver.requests) == 3

        emit_many(ws, 2)  # a disabled endpoint gets no new messages
        held = [r for r in deliveries(ws).values() if r["endpoint_id"] == dead_ep.endpoint_id]
        assert len(held) == 3 and all(r["status"] == "pending" for r in held)
        before = len(receiver.requests)
        clock.advance(3600)
        run_sync(Worker(ws, clock=clock))
        assert not any(r.path.endswith("/gone") for r in receiver.requests[before:]), "sent to a disabled endpoint"

        gone["yes"] = False
        with ws.connect() as con:
            endpoints.set_enabled(con, dead_ep.endpoint_id, True)
        report = run_sync(Worker(ws, clock=clock))
    assert report.delivered == 3
    assert all(r["status"] == "delivered" for r in deliveries(ws).values())
    with ws.connect() as con:
        assert endpoints.get(con, live_ep.endpoint_id).enabled


def test_a_slow_endpoint_times_out_and_is_retried(ws, add_endpoint, clock):
    with Receiver(lambda req: Reply(200, delay=1.5)) as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 1)
        report = run_sync(Worker(ws, clock=clock, timeout=0.3))
    assert report.failed == 1
    (log,) = attempts(ws)
    assert log["outcome"] == "timeout" and log["http_status"] is None and "0.3 s" in log["error"]
    assert 250 < log["latency_ms"] < 1400
    (row,) = deliveries(ws).values()
    assert row["status"] == "pending" and row["lease_until"] is None


def test_connection_errors_are_failures_with_a_reason(ws, add_endpoint, clock):
    with Receiver(lambda req: Reply(drop=True)) as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 2)
        report = run_sync(Worker(ws, clock=clock))
    assert report.failed == 2 and report.delivered == 0
    assert all(a["outcome"] == "error" and a["error"] for a in attempts(ws))


def test_no_secret_reaches_the_log_the_attempt_log_or_the_store_file(ws, add_endpoint, clock, caplog):
    token = "tok-Very-Secret-9911"

    def echo(req):  # a careless endpoint that echoes what it got, auth header and signature included
        return Reply(401, json.dumps(req.headers).encode())

    caplog.set_level(logging.DEBUG)
    with Receiver(echo) as receiver:
        endpoint, secret = add_endpoint(receiver.url, token=token)
        emit_many(ws, 2)
        run_sync(Worker(ws, clock=clock))
    log = attempts(ws)
    assert len(log) == 2 and all(a["response"] and "webhook-id" in a["response"] for a in log)
    everything = caplog.text + json.dumps(log, default=str)
    assert token not in everything and secret not in everything
    raw = ws.db_path.read_bytes() + b"".join(p.read_bytes() for p in ws.db_path.parent.glob("*.wal"))
    assert token.encode() not in raw and secret.encode() not in raw


def test_a_lease_keeps_a_claimed_message_from_a_second_worker_until_it_runs_out(ws, add_endpoint, clock):
    add_endpoint("http://127.0.0.1:9/")
    emit_many(ws, 3)
    now = dt.datetime.fromtimestamp(clock(), dt.UTC)
    lease = dt.timedelta(seconds=300)
    with ws.connect() as con:
        first = outbox.claim(con, now=now, lease_until=now + lease, limit=10)
        assert len(first) == 3
        assert outbox.claim(con, now=now + lease / 2, lease_until=now + lease, limit=10) == []
        # the first worker died without recording: after the lease, the messages are due again
        again = outbox.claim(con, now=now + lease, lease_until=now + 2 * lease, limit=10)
    assert {m.message_id for m in again} == {m.message_id for m in first}


def test_a_late_duplicate_result_cannot_undo_a_delivery(ws, add_endpoint, clock):
    with Receiver() as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 1)
        now = dt.datetime.fromtimestamp(clock(), dt.UTC)
        with ws.connect() as con:
            (msg,) = outbox.claim(con, now=now, lease_until=now, limit=1)  # a lease that ran out at once
        run_sync(Worker(ws, clock=clock))  # a second worker delivers it
    failed = outbox.Attempt(msg.message_id, msg.endpoint_id, 1, now, "failed", 500, 1.0, None, "HTTP 500",
                            "pending", now + dt.timedelta(seconds=5))
    with ws.connect() as con:
        outbox.record(con, [failed], {})  # the first worker's late report
    (row,) = deliveries(ws).values()
    assert row["status"] == "delivered"


def test_max_seconds_stops_claiming_and_leaves_no_message_leased(ws, add_endpoint):
    with Receiver(lambda req: Reply(200, delay=0.05)) as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 600)
        report = run_sync(Worker(ws, max_seconds=0.3, concurrency=4, batch_size=16))
    assert 0 < report.delivered < 600 and report.pending == 600 - report.delivered
    assert all(r["lease_until"] is None for r in deliveries(ws).values())
    assert len(receiver.accepted_ids()) == report.delivered


def test_deliver_due_works_where_an_event_loop_is_already_running(ws, add_endpoint):
    """Job notebooks call it from a kernel, whose event loop is running."""
    import asyncio

    async def from_a_kernel():
        return deliver_due(ws, max_seconds=30)

    with Receiver() as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 2)
        report = asyncio.run(from_a_kernel())
    assert report.as_dict()["delivered"] == 2 and len(receiver.accepted_ids()) == 2


def test_a_slow_endpoint_does_not_hold_up_the_others(ws, add_endpoint):
    with Receiver(lambda req: Reply(200, delay=0.4 if req.path.endswith("/slow") else 0)) as receiver:
        slow, _ = add_endpoint(receiver.url + "/slow")
        fast, _ = add_endpoint(receiver.url + "/fast")
        emit_many(ws, 12)
        report = run_sync(Worker(ws, concurrency=4, per_endpoint=2))
    assert report.delivered == 24
    order = [r.path.rsplit("/", 1)[1] for r in receiver.requests]  # in the order the answers were given
    # the slow endpoint needs 12 * 0.4 / 2 = 2.4 s; the fast one must not queue behind it
    last_fast = max(i for i, p in enumerate(order) if p == "fast")
    assert order[last_fast + 1 :].count("slow") >= 10, order
