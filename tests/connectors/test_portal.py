"""Portal connectors driving the real Chromium against the simulated bank: fetching, failures, safety."""

from __future__ import annotations

import pytest

from reconwb import sync
from reconwb.connectors.portal_alpine import AlpineConnector
from reconwb.sim.bank import BankHandle
from reconwb.workspace import Workspace
from tests.portal_support import add_connection, expected, health, run_sync, sim_bank, stored

pytestmark = pytest.mark.browser


@pytest.fixture
def bank() -> BankHandle:
    return sim_bank()


@pytest.mark.parametrize("username", ["alice", "gus", "grace", "erin"])
def test_fetch_gets_exactly_the_scenarios_transactions_and_a_second_adds_none(
    ws: Workspace, bank: BankHandle, username: str
) -> None:
    # alice: nordic table; gus: alpine cards and script login; grace: atlantic JS ledger; erin: 3 paginated accounts
    add_connection(ws, bank, username)
    first = run_sync(ws, username)
    assert (first.status, first.health) == ("ok", "ok"), first.message
    want = expected(bank, username)
    assert stored(ws, username) == want
    assert first.inserted == len(want)
    second = run_sync(ws, username)
    assert (second.status, second.inserted, second.updated) == ("ok", 0, 0)
    assert stored(ws, username) == want


def test_pending_transactions_are_updated_when_they_post(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "alice")
    run_sync(ws, "alice")
    pending_before = [r for r in stored(ws, "alice") if r[-1] == "pending"]
    assert len(pending_before) == 2
    assert bank.admin("post_pending", {"username": "alice"})["posted"] == 2
    result = run_sync(ws, "alice")
    assert (result.inserted, result.updated) == (0, 2)
    assert stored(ws, "alice") == expected(bank, "alice")  # now all booked, with the bank's ids


def test_expired_password_is_reconnect_required_and_never_tried_again(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "bob")
    result = run_sync(ws, "bob")
    assert (result.status, result.health) == ("failed", "reconnect_required")
    assert "expired" in result.message
    for _ in range(3):  # the scheduler keeps coming back
        assert run_sync(ws, "bob").status == "skipped"
    assert sync.due_connections(ws) == []
    assert bank.admin("stats")["bob"]["login_posts"] == 1


def test_a_locking_login_never_reaches_the_portals_lock(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "dave", password="Wrong-pw-1")
    first = run_sync(ws, "dave")
    assert (first.health, health(ws, "dave")[2]) == ("reconnect_required", 1)
    assert "Wrong-pw-1" not in first.message
    for _ in range(3):
        assert run_sync(ws, "dave").status == "skipped"
    # Run now does not resend the rejected password either
    assert run_sync(ws, "dave", now=True).status == "skipped"
    # a person types another wrong password: new credentials get one try, then nothing retries them
    from reconwb import connections

    with ws.connect() as con:
        connections.set_credentials(con, ws.vault(), "dave", {"password": "Wrong-pw-2"})
    assert run_sync(ws, "dave").health == "reconnect_required"
    for _ in range(3):
        assert run_sync(ws, "dave").status == "skipped"
        assert run_sync(ws, "dave", now=True).status == "skipped"
    assert bank.admin("attempts")["dave"] == 2
    assert bank.admin("stats")["dave"]["locked"] is False


def test_layout_change_is_broken_not_a_password_error_with_diagnostics(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "alice")
    assert run_sync(ws, "alice").status == "ok"
    bank.admin("layout", {"bank": "nordic", "version": 2})
    result = run_sync(ws, "alice")
    state, reason, fatal = health(ws, "alice")
    assert (result.status, state, fatal) == ("failed", "broken", 0)
    assert "not found" in reason
    assert bank.admin("stats")["alice"]["login_posts"] == 1  # the redesigned form was never submitted
    with ws.connect() as con:
        outcome, path = con.execute(
            "SELECT outcome, diagnostics_path FROM sync_runs ORDER BY run_id DESC LIMIT 1").fetchall()[0]
    assert outcome == "SiteChanged"
    from pathlib import Path

    files = {p.name for p in Path(path).iterdir()}
    assert {"page.png", "page.html", "error.txt"} <= files
    assert Path(path).is_relative_to(ws.diagnostics_dir)
    assert "signin" in (Path(path) / "page.html").read_text()  # the page the connector did not recognise


def test_slow_pages_and_500s_are_retried_with_backoff(
    ws: Workspace, bank: BankHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AlpineConnector, "page_timeout_ms", 2000)
    monkeypatch.setattr(AlpineConnector, "backoff_seconds", 0.05)
    bank.admin("slow", {"seconds": 4})  # longer than the connector waits for a page
    add_connection(ws, bank, "frank")
    result = run_sync(ws, "frank")
    assert result.status == "ok", result.message
    assert stored(ws, "frank") == expected(bank, "frank")
    stats = bank.admin("stats")["frank"]
    assert stats["errors_served"] >= 1 and stats["slow_served"] >= 1
    assert stats["login_posts"] == 1  # retried page by page, not by logging in again


def test_maintenance_is_not_a_credential_problem(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "alice")
    bank.admin("maintenance", {"bank": "nordic", "on": True})
    result = run_sync(ws, "alice")
    assert result.status == "failed"
    assert health(ws, "alice")[0] == "refreshing" and health(ws, "alice")[2] == 0
    with ws.connect() as con:
        assert con.execute("SELECT outcome FROM sync_runs").fetchall() == [("BankUnavailable",)]
    bank.admin("maintenance", {"bank": "nordic", "on": False})
    assert run_sync(ws, "alice", now=True).health == "ok"


def test_password_changed_in_the_portal_brings_the_connection_back_through_refreshing(
    ws: Workspace, bank: BankHandle
) -> None:
    from reconwb import connections
    from tests.portal_support import browser_host

    add_connection(ws, bank, "bob")
    assert run_sync(ws, "bob").health == "reconnect_required"

    async def change_password_as_the_user() -> str:
        from reconwb.connectors.portal import shared_browser

        browser = await shared_browser(browser_host().resources)
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(bank.bank_url("nordic") + "/login")
        await page.fill("#username", "bob")
        await page.fill("#password", "Bob-pw-2026")
        await page.click("#login-btn")
        await page.wait_for_selector("#pw-expired")
        await page.fill("#pw-current", "Bob-pw-2026")
        await page.fill("#pw-new", "Bob-new-pw-77")
        await page.fill("#pw-confirm", "Bob-new-pw-77")
        await page.click("#pw-submit")
        text = await page.inner_text("#pw-done")
        await context.close()
        return text

    assert "changed" in browser_host().run(change_password_as_the_user())
    with ws.connect() as con:
        connections.set_credentials(con, ws.vault(), "bob", {"password": "Bob-new-pw-77"})
    assert health(ws, "bob")[0] == "refreshing"
    result = run_sync(ws, "bob")
    assert (result.status, result.health) == ("ok", "ok")
    assert stored(ws, "bob") == expected(bank, "bob")
    with ws.connect() as con:
        moves = con.execute(
            "SELECT payload->>'to' FROM events WHERE type = 'connection.health_changed' ORDER BY occurred_at"
        ).fetchall()
    assert [m[0] for m in moves][-3:] == ["reconnect_required", "refreshing", "ok"]


def test_persistent_session_is_reused_sealed_and_expires(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "grace", session_mode="persistent")
    assert run_sync(ws, "grace").status == "ok"
    assert run_sync(ws, "grace").status == "ok"
    assert bank.admin("stats")["grace"]["login_posts"] == 1  # the second run reused the stored session
    with ws.connect() as con:
        (expires,) = con.execute("SELECT expires_at FROM sessions").fetchall()[0]
        assert con.execute("SELECT count(*) FROM secrets WHERE owner LIKE 'session/%'").fetchall() == [(1,)]
    assert expires is not None
    assert b"sid_atlantic" not in ws.db_path.read_bytes()  # the cookie is sealed, not stored in clear
    bank.admin("expire_sessions", {})  # the bank forgot the session: log in again, quietly
    assert run_sync(ws, "grace").status == "ok"
    assert bank.admin("stats")["grace"]["login_posts"] == 2
    with ws.connect() as con:  # our own expiry passed: the stored state is not even tried
        con.execute("UPDATE sessions SET expires_at = now() - INTERVAL 1 MINUTE")
    assert run_sync(ws, "grace").status == "ok"
    assert bank.admin("stats")["grace"]["login_posts"] == 3


def test_one_shot_session_logs_out_and_keeps_nothing(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "alice")
    assert run_sync(ws, "alice").status == "ok"
    assert run_sync(ws, "alice").status == "ok"
    assert bank.admin("stats")["alice"]["login_posts"] == 2
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM sessions").fetchall() == [(0,)]
