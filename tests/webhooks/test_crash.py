"""At-least-once under a flaky receiver and a kill -9 of the delivery worker mid-run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from standardwebhooks.webhooks import Webhook

from tests.conftest import ROOT
from tests.webhooks.conftest import deliveries, emit_many
from tests.webhooks.receiver import Receiver, Reply

MESSAGES = 600


class Flaky:
    """Fails about 30% of requests (20% HTTP 500, 10% dropped connections), deterministically per request.

    Never more than 3 failures in a row for one message, so the 8-attempt schedule always suffices and a lost
    message cannot hide behind a dead one.
    """

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.seen: Counter[str] = Counter()
        self.streak: Counter[str] = Counter()
        self.bad_signatures = 0
        self.lock = threading.Lock()

    def __call__(self, req) -> Reply:
        try:
            self.webhook.verify(req.body, req.headers)
        except Exception:
            with self.lock:
                self.bad_signatures += 1
            return Reply(401)
        with self.lock:
            self.seen[req.webhook_id] += 1
            roll = hashlib.sha256(f"{req.webhook_id}/{self.seen[req.webhook_id]}".encode()).digest()[0] % 100
            fail = roll < 30 and self.streak[req.webhook_id] < 3
            self.streak[req.webhook_id] = self.streak[req.webhook_id] + 1 if fail else 0
        if not fail:
            return Reply(200, delay=0.05)
        return Reply(drop=True) if roll < 10 else Reply(500, b"flaky", delay=0.05)


def _worker(ws) -> subprocess.Popen:
    env = {**os.environ, "RECONWB_DB": str(ws.db_path), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "reconwb", "webhooks", "deliver", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _time_passes(ws) -> None:
    """A day goes by: every lease has run out and every retry is due."""
    with ws.connect() as con:
        con.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = next_attempt_at - INTERVAL 1 DAY,"
            " lease_until = lease_until - INTERVAL 1 DAY WHERE status = 'pending'"
        )


def test_every_message_arrives_at_least_once_despite_failures_and_a_killed_worker(ws, add_endpoint):
    with Receiver() as receiver:
        _, secret = add_endpoint(receiver.url)
        flaky = Flaky(secret)
        receiver.behaviour = flaky
        emit_many(ws, MESSAGES)
        message_ids = set(deliveries(ws))

        worker = _worker(ws)
        deadline = time.monotonic() + 120
        while len(receiver.snapshot()) < MESSAGES // 3 and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert worker.poll() is None, f"the worker finished before it could be killed: {worker.communicate()}"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)

        after_kill = deliveries(ws)
        leased = [r for r in after_kill.values() if r["status"] == "pending" and r["lease_until"] is not None]
        assert leased, "the kill should have left claimed, unrecorded messages behind"
        assert set(after_kill) == message_ids

        for _round in range(12):
            _time_passes(ws)
            done = _worker(ws)
            out, err = done.communicate(timeout=240)
            assert done.returncode == 0, err
            if all(r["status"] != "pending" for r in deliveries(ws).values()):
                break
        accepted = receiver.accepted_ids()

    final = deliveries(ws)
    assert flaky.bad_signatures == 0
    assert set(final) == message_ids
    assert all(r["status"] == "delivered" for r in final.values()), Counter(r["status"] for r in final.values())
    assert message_ids <= accepted, f"{len(message_ids - accepted)} messages never reached the receiver"
    failures = sum(1 for r in receiver.requests if r.status != 200)
    assert failures > MESSAGES * 0.2, "the receiver was supposed to fail about 30% of requests"
