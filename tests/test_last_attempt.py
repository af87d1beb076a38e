"""Failures stay visible until something succeeds: the last attempt, `retrying`, banners and the status table."""

from __future__ import annotations

import json

from reconwb import banners, connections, last_attempt, sync
from reconwb.connectors import errors
from reconwb.widgets.banner_panel import BannerPanel, current_banners
from reconwb.widgets.status import ConnectionStatusTable
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, set_password


def _shown(ws: Workspace, name: str = "c1") -> last_attempt.Display:
    with ws.connect() as con:
        return last_attempt.displays(con, connections.list_connections(con))[name]


def test_a_passing_failure_shows_retrying_until_a_fetch_succeeds(ledger: Workspace, run_cli) -> None:
    set_password(ledger, LedgerBank.password)
    assert sync.sync(ledger, "c1").status == "ok"
    assert _shown(ledger).state == "ok"
    LedgerBank.fail_with = errors.BankUnavailable("the bank is in maintenance until 06:00")
    failed = sync.sync(ledger, "c1")
    assert (failed.status, failed.health) == ("failed", "ok")  # health alone would look fine
    shown = _shown(ledger)
    assert (shown.state, shown.reason) == ("retrying", "the bank is in maintenance until 06:00")
    assert shown.next_attempt_at is not None and not shown.healthy
    # the next scheduled run skips it (backoff): it still shows retrying, with the same reason
    assert sync.sync(ledger, "c1").status == "skipped"
    assert _shown(ledger).state == "retrying"

    listed = {c["name"]: c for c in json.loads(run_cli("connections", "list", "--json", check=True).stdout)}
    row = listed["c1"]
    assert (row["health"], row["state"], row["state_reason"]) == ("ok", "retrying", shown.reason)
    assert row["last_attempt"]["outcome"] == "failed" and row["last_attempt"]["reason"] == shown.reason
    assert row["last_attempt_outcome"] == "failed" and row["next_attempt_at"]
    text = run_cli("connections", "list", check=True).stdout
    assert "retrying" in text and "maintenance" in text

    (banner,) = [b for b in current_banners(ledger) if b.connection == "c1"]
    assert (banner.kind, banner.level, banner.action) == ("retrying", "warning", "Run now")
    assert "maintenance" in banner.message and "Next attempt at" in banner.message
    assert "retrying" in BannerPanel(ledger).items.children[0].children[0].value
    table = ConnectionStatusTable(ledger)
    cells = [c.value for c in table.rows.children[1].children[:4]]
    assert "retrying" in cells[2] and "failed: the bank is in maintenance" in cells[3]

    LedgerBank.fail_with = None
    assert sync.sync(ledger, "c1", now=True).status == "ok"  # Run now: tried and worked
    assert _shown(ledger).state == "ok"
    assert not [b for b in current_banners(ledger) if b.connection == "c1"]


def test_a_health_that_already_says_what_is_wrong_is_kept(ledger: Workspace) -> None:
    set_password(ledger, "wrong-pw-3")
    sync.sync(ledger, "c1")
    shown = _shown(ledger)
    assert shown.state == "reconnect_required" and shown.last_attempt.outcome == "failed"
    with ledger.connect() as con:
        assert last_attempt.failing(con) == {"c1": shown.last_attempt.reason}
        conn = connections.get(con, "c1")
    assert [b.kind for b in banners.for_connection(conn, last_attempt=shown.last_attempt)] == ["reconnect_required"]


def test_never_attempted_is_not_failing(ledger: Workspace) -> None:
    assert _shown(ledger).last_attempt is None
    with ledger.connect() as con:
        assert last_attempt.failing(con) == {}
