"""`reconwb webhooks ...` as a user runs it."""

from __future__ import annotations

import json

from standardwebhooks.webhooks import Webhook

from reconwb.webhooks import inbound
from tests.webhooks.conftest import emit_many
from tests.webhooks.receiver import Receiver, Reply

TOKEN = "tok-cli-Zq81-secret"


def _error_line(done) -> str:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_add_test_deliver_log_replay_remove(ws, run_cli):
    answer = {"status": 200}
    with Receiver(lambda req: Reply(answer["status"])) as receiver:
        added = run_cli("webhooks", "add", receiver.url, "--auth", "bearer", "--token-stdin", "--json",
                        "--events", "transaction.created,payment.matched", input=TOKEN + "\n", check=True)
        created = json.loads(added.stdout)
        endpoint_id, secret = created["id"], created["secret"]
        assert secret.startswith("whsec_") and endpoint_id.startswith("ep_")

        listed = run_cli("webhooks", "list", "--json", check=True)
        (row,) = json.loads(listed.stdout)
        assert row["endpoint_id"] == endpoint_id and row["enabled"] is True
        assert row["event_types"] == "transaction.created,payment.matched"
        assert secret not in listed.stdout and TOKEN not in listed.stdout

        tested = run_cli("webhooks", "test", endpoint_id, "--json", check=True)
        (request,) = receiver.requests
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert json.loads(tested.stdout)["http_status"] == 200

        answer["status"] = 500
        failed_test = run_cli("webhooks", "test", endpoint_id)
        assert "HTTP 500" in _error_line(failed_test)

        emit_many(ws, 2)
        delivered = json.loads(run_cli("webhooks", "deliver", "--json", check=True).stdout)
        assert delivered["failed"] == 2 and delivered["delivered"] == 0 and delivered["pending"] == 2

        with ws.connect() as con:  # the messages ran out of attempts
            con.execute("UPDATE webhook_deliveries SET status = 'dead' WHERE status = 'pending'")
        dead = json.loads(run_cli("webhooks", "messages", "--status", "dead", "--json", check=True).stdout)
        assert len(dead) == 3  # two events and the failed test

        answer["status"] = 200
        replayed = json.loads(run_cli("webhooks", "replay", "--dead", "--json", check=True).stdout)
        assert replayed == {"replayed": 3}
        delivered = json.loads(run_cli("webhooks", "deliver", "--json", check=True).stdout)
        assert delivered["delivered"] == 3 and delivered["pending"] == 0

        log = json.loads(run_cli("webhooks", "log", "--json", "--limit", "100", check=True).stdout)
        assert [a["outcome"] for a in log].count("delivered") == 4 and len(log) == 7
        assert all(TOKEN not in json.dumps(a) for a in log)

        removed = run_cli("webhooks", "remove", endpoint_id, check=True)
        assert endpoint_id in removed.stdout
        assert json.loads(run_cli("webhooks", "list", "--json", check=True).stdout) == []


def test_bad_input_gives_one_error_line(ws, run_cli):
    assert "http" in _error_line(run_cli("webhooks", "add", "not-a-url", "--auth", "bearer", "--token-stdin",
                                         input="t0k3n\n"))
    assert "token is required" in _error_line(run_cli("webhooks", "add", "https://x.test/", "--auth", "api-key",
                                                  "--token-stdin", input="\n"))
    assert "unknown event type" in _error_line(run_cli("webhooks", "add", "https://x.test/", "--auth", "bearer",
                                                       "--token-stdin", "--events", "nope", input="t0k3n\n"))
    assert "ep_missing" in _error_line(run_cli("webhooks", "remove", "ep_missing"))
    assert "replay" in _error_line(run_cli("webhooks", "replay"))
    assert "msg_missing" in _error_line(run_cli("webhooks", "replay", "msg_missing"))
    assert "whsec_" in _error_line(run_cli("webhooks", "inbound-secret", "aggregator", "--secret-stdin",
                                           input="hunter2\n"))


def test_inbound_secret_is_sealed_for_the_source(ws, run_cli):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    run_cli("webhooks", "inbound-secret", "aggregator", "--secret-stdin", input=secret + "\n", check=True)
    with ws.connect() as con:
        assert ws.vault().get(con, inbound.secret_owner("aggregator")) == secret
    listed = run_cli("webhooks", "inbound-list", "--json", check=True)
    assert json.loads(listed.stdout) == []


def test_rotate_secret_says_how_long_the_previous_secret_keeps_signing(ws, run_cli):
    added = run_cli("webhooks", "add", "https://x.test/", "--auth", "none", "--json", check=True)
    endpoint_id = json.loads(added.stdout)["id"]
    overlapped = run_cli("webhooks", "rotate-secret", endpoint_id, check=True)
    assert "(shown once): whsec_" in overlapped.stdout and "previous secret also signs until" in overlapped.stdout
    at_once = json.loads(run_cli("webhooks", "rotate-secret", endpoint_id, "--overlap", "0", "--json",
                                 check=True).stdout)
    assert at_once["secret"].startswith("whsec_") and at_once["previous_secret_until"] is None
    assert "--overlap" in _error_line(run_cli("webhooks", "rotate-secret", endpoint_id, "--overlap", "-1"))
