"""The sync engine with an in-process connector; the simulator-backed tests live with the portal connectors."""

from __future__ import annotations

import pytest

from reconwb import connections, sync
from reconwb.connectors import errors
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, LedgerConnector, set_password


def test_fetch_then_refetch_adds_nothing(ledger: Workspace) -> None:
    set_password(ledger, LedgerBank.password)
    first = sync.sync(ledger, "c1")
    second = sync.sync(ledger, "c1")
    assert (first.status, first.health, first.inserted) == ("ok", "ok", 1)
    assert (second.inserted, second.fetched) == (0, 1)


def test_bad_password_is_tried_once_then_never_automatically(ledger: Workspace) -> None:
    set_password(ledger, "wrong-pw-9")
    result = sync.sync(ledger, "c1")
    assert (result.status, result.health) == ("failed", "reconnect_required")
    assert "wrong-pw-9" not in result.message
    for _ in range(3):
        assert sync.sync(ledger, "c1").status == "skipped"
    assert sync.due_connections(ledger) == []
    assert LedgerBank.logins == 1
    # new credentials bring it back through refreshing
    set_password(ledger, LedgerBank.password)
    assert sync.sync(ledger, "c1").health == "ok"


def test_unexpected_error_is_broken_and_run_recorded(ledger: Workspace) -> None:
    set_password(ledger, LedgerBank.password)
    LedgerBank.fail_with = AttributeError("no element #balance")
    result = sync.sync(ledger, "c1")
    assert result.health == "broken"
    with ledger.connect() as con:
        outcome = con.execute("SELECT status, outcome FROM sync_runs").fetchall()
    assert outcome == [("failed", "AttributeError")]


def test_transient_errors_are_retried_within_the_run(ledger: Workspace) -> None:
    set_password(ledger, LedgerBank.password)
    calls = {"n": 0}
    original = LedgerConnector.login

    async def flaky(self) -> None:
        calls["n"] += 1
        if calls["n"] < 3:
            raise errors.Transient("500 from the portal")
        await original(self)

    LedgerConnector.login = flaky
    try:
        assert sync.sync(ledger, "c1").status == "ok"
    finally:
        LedgerConnector.login = original
    assert calls["n"] == 3


def test_sync_many_runs_inside_a_running_loop(ledger: Workspace) -> None:
    import asyncio

    set_password(ledger, LedgerBank.password)

    async def from_a_kernel() -> list[sync.SyncResult]:
        return sync.sync_many(ledger, ["c1"])

    assert [r.status for r in asyncio.run(from_a_kernel())] == ["ok"]


# -- against the simulated bank portal, with the real Chromium -------------------------------------------------


@pytest.mark.browser
def test_sync_many_fetches_through_one_browser_with_a_progress_bar(ws: Workspace, capsys) -> None:
    from tests.portal_support import add_connection, expected, sim_bank, stored

    bank = sim_bank()
    names = [add_connection(ws, bank, u) for u in ("alice", "gus", "grace", "bob")]
    results = {r.connection: r for r in sync.sync_many(ws, names, concurrency=2, progress=True)}
    assert {n: r.status for n, r in results.items()} == {"alice": "ok", "gus": "ok", "grace": "ok", "bob": "failed"}
    for name in ("alice", "gus", "grace"):
        assert stored(ws, name) == expected(bank, name)
    err = capsys.readouterr().err
    assert "sync" in err and "/4" in err
    # the next scheduled run only picks what may run: bob waits for a person
    assert sorted(sync.due_connections(ws)) == ["alice", "grace", "gus"]


@pytest.mark.browser
def test_cli_sync_runs_the_portal_fetch(ws: Workspace, run_cli) -> None:
    import json

    from tests.portal_support import add_connection, expected, sim_bank

    bank = sim_bank()
    add_connection(ws, bank, "alice")
    add_connection(ws, bank, "bob")
    done = run_cli("sync", "alice", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["health"], result["inserted"]) == ("ok", "ok", len(expected(bank, "alice")))
    failed = run_cli("sync", "--all", "--json")
    assert failed.returncode == 1
    assert failed.stderr.startswith("error:") and "bob (reconnect_required)" in failed.stderr
    assert {r["connection"]: r["status"] for r in json.loads(failed.stdout)} == {"alice": "ok", "bob": "failed"}
    assert run_cli("sync").returncode == 2
    missing = run_cli("sync", "nobody")
    assert missing.returncode == 2 and "no connection 'nobody'" in missing.stderr


def test_a_challenge_left_by_a_dead_fetch_expires(ledger: Workspace) -> None:
    import datetime as dt

    from reconwb import lifecycle, otp

    with ledger.connect() as con:
        conn = connections.get(con, "c1")
        con.execute(
            "INSERT INTO otp_challenges (connection_id, expires_at) VALUES (?, ?)",
            [conn.connection_id, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)],
        )
        lifecycle.set_health(con, conn.connection_id, "awaiting_otp", "enter the code")
    assert sync.due_connections(ledger) == []
    with ledger.connect() as con:
        assert con.execute("SELECT status FROM otp_challenges").fetchall() == [("expired",)]
        health, reason = con.execute("SELECT health, health_reason FROM connections").fetchall()[0]
    assert health == "reconnect_required" and "not entered in time" in reason
    assert otp.pending_challenge(ledger, "c1") is None
