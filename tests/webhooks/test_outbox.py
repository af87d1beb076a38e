"""The delivery log's retention: old delivered messages go, what still needs someone stays."""

from __future__ import annotations

import json

from reconwb import settings
from reconwb.jobs.steps import deliver_step
from reconwb.webhooks import deliver_due, outbox
from tests.webhooks.conftest import attempts, deliveries, emit_many
from tests.webhooks.receiver import Receiver


def _age(ws, message_id: str, days: int, status: str | None = None) -> None:
    """Move a message's history `days` into the past (and set its status), as if that much time had gone by."""
    with ws.connect() as con:
        con.execute(
            "UPDATE webhook_deliveries SET created_at = now() - to_days(?),"
            " delivered_at = CASE WHEN delivered_at IS NULL THEN NULL ELSE now() - to_days(?) END,"
            " status = coalesce(?, status) WHERE message_id = ?",
            [days, days, status, message_id],
        )
        con.execute("UPDATE webhook_attempts SET attempted_at = now() - to_days(?) WHERE message_id = ?",
                    [days, message_id])


def _four_delivered(ws, add_endpoint) -> list[str]:
    with Receiver() as receiver:
        add_endpoint(receiver.url)
        emit_many(ws, 4)
        assert deliver_due(ws).delivered == 4
    return sorted(deliveries(ws))


def test_prune_forgets_old_delivered_messages_and_keeps_dead_pending_and_recent_ones(ws, add_endpoint):
    old, recent, dead, retried = _four_delivered(ws, add_endpoint)
    _age(ws, old, 100)
    _age(ws, recent, 10)
    _age(ws, dead, 100, "dead")
    _age(ws, retried, 100, "pending")  # e.g. replayed, waiting for its endpoint
    with ws.connect() as con:
        pruned = outbox.prune_by_retention(con)  # default retention: 90 days
    assert pruned == {"messages": 1, "attempts": 1}
    assert set(deliveries(ws)) == {recent, dead, retried}
    assert old not in {a["message_id"] for a in attempts(ws)}
    assert {recent, dead, retried} <= {a["message_id"] for a in attempts(ws)}
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == 4  # the audit trail stays


def test_the_retention_setting_moves_the_cutoff(ws, add_endpoint):
    old, recent, *_ = _four_delivered(ws, add_endpoint)
    _age(ws, old, 100)
    _age(ws, recent, 10)
    with ws.connect() as con:
        settings.set_value(con, "webhook_retention_days", "7")
        assert outbox.prune_by_retention(con)["messages"] == 2
    assert old not in deliveries(ws) and recent not in deliveries(ws)


def test_the_delivery_job_prunes_after_it_delivers(ws, add_endpoint):
    old, *_ = _four_delivered(ws, add_endpoint)
    _age(ws, old, 100)
    summary = deliver_step(ws)
    assert summary["pruned"] == {"messages": 1, "attempts": 1}
    assert old not in deliveries(ws)


def test_prune_from_the_cli(ws, add_endpoint, run_cli):
    old, recent, *_ = _four_delivered(ws, add_endpoint)
    _age(ws, old, 100)
    _age(ws, recent, 10)
    done = run_cli("webhooks", "prune", "--older-than-days", "30", "--json", check=True)
    assert json.loads(done.stdout) == {"messages": 1, "attempts": 1}
    assert "pruned 1 message(s)" in run_cli("webhooks", "prune", "--older-than-days", "5", check=True).stdout



def test_a_big_log_is_pruned_in_short_chunks_and_a_sweep_cut_short_goes_on_at_the_next(
        ws, add_endpoint, monkeypatch) -> None:
    import pytest

    from reconwb.store import chunks, db

    add_endpoint("http://127.0.0.1:9/hook")
    emit_many(ws, 300)
    with ws.connect() as con:  # 300 messages delivered 100 days ago, two attempts each
        con.execute("UPDATE webhook_deliveries SET status = 'delivered', created_at = now() - to_days(100),"
                    " delivered_at = now() - to_days(100)")
        for attempt in (1, 2):
            con.execute("INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, attempted_at, outcome,"
                        " latency_ms) SELECT message_id, endpoint_id, ?, now() - to_days(100), 'delivered', 1.0"
                        " FROM webhook_deliveries", [attempt])
    for name in ("FIRST_CHUNK_ROWS", "MIN_CHUNK_ROWS", "MAX_CHUNK_ROWS"):
        monkeypatch.setattr(chunks, name, 50)
    made_way = []

    def cut_short(path, **kw) -> float:
        made_way.append(1)
        if len(made_way) == 2:
            raise KeyboardInterrupt  # the sweep stops between two chunks
        return 0.0

    monkeypatch.setattr(chunks, "make_way", cut_short)
    with pytest.raises(KeyboardInterrupt):
        outbox.prune_in_chunks(ws)
    assert len(deliveries(ws)) == 200  # two whole chunks went, messages with their attempts
    assert {a["message_id"] for a in attempts(ws)} == set(deliveries(ws)) and len(attempts(ws)) == 400
    monkeypatch.setattr(chunks, "make_way", lambda path, **kw: 0.0)
    db.reset_hold_stats()
    assert outbox.prune_in_chunks(ws) == {"messages": 200, "attempts": 400}
    assert db.hold_stats().opens >= 4 and deliveries(ws) == {} and attempts(ws) == []
