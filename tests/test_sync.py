"""The sync engine with an in-process connector; the simulator-backed tests live with the portal connectors."""

from __future__ import annotations

from reconwb import sync
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
