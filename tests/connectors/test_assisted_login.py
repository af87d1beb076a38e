"""Assisted login: the fetch pauses at the bank's OTP page and resumes the same browser page with a person's code."""

from __future__ import annotations

import json
import time

import pytest

from reconwb import otp, sync
from reconwb.errors import Conflict, InvalidInput
from reconwb.sim.bank import BankHandle
from reconwb.workspace import Workspace
from tests.portal_support import add_connection, browser_host, expected, health, sim_bank, stored, wait_for_challenge

pytestmark = pytest.mark.browser


@pytest.fixture
def bank() -> BankHandle:
    return sim_bank()


def _start(ws: Workspace, name: str):
    host = browser_host()
    return host.submit(sync.sync_async(ws, name, resources=host.resources))


def test_fetch_pauses_for_the_code_and_resumes_when_the_cli_hands_it_in(
    ws: Workspace, bank: BankHandle, run_cli
) -> None:
    add_connection(ws, bank, "carol", login_mode="assisted")
    running = _start(ws, "carol")
    challenge = wait_for_challenge(ws, "carol")
    assert challenge.screenshot.startswith(b"\x89PNG")
    assert "code" in challenge.prompt
    assert health(ws, "carol")[0] == "awaiting_otp"
    assert not running.done()
    shown = run_cli("otp", "carol", "--json", "--screenshot", str(ws.data_dir / "otp.png"))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["challenge_id"] == challenge.challenge_id
    assert (ws.data_dir / "otp.png").read_bytes().startswith(b"\x89PNG")
    code = bank.admin("otp/carol")["code"]
    done = run_cli("otp", "carol", code, "--json")  # another process, as from a terminal
    assert done.returncode == 0, done.stderr
    result = running.result(timeout=60)
    assert (result.status, result.health) == ("ok", "ok"), result.message
    assert stored(ws, "carol") == expected(bank, "carol")
    with ws.connect() as con:
        assert con.execute("SELECT status FROM otp_challenges").fetchall() == [("used",)]
        assert con.execute("SELECT count(*) FROM secrets WHERE owner LIKE 'otp/%'").fetchall() == [(0,)]
    assert bank.admin("stats")["carol"]["login_posts"] == 1  # the same login continued


def test_the_cli_reads_the_code_from_stdin_so_it_stays_out_of_the_process_list(
    ws: Workspace, bank: BankHandle, run_cli
) -> None:
    add_connection(ws, bank, "carol", login_mode="assisted")
    running = _start(ws, "carol")
    wait_for_challenge(ws, "carol")
    code = bank.admin("otp/carol")["code"]
    both = run_cli("otp", "carol", code, "--code-stdin", input=code + "\n")
    assert both.returncode != 0 and "not both" in both.stderr
    done = run_cli("otp", "carol", "--code-stdin", input=code + "\n")
    assert done.returncode == 0, done.stderr
    assert code not in done.stdout + done.stderr
    assert running.result(timeout=60).health == "ok"


def test_a_fetch_waiting_for_a_code_lends_its_slot_to_the_others(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "carol", login_mode="assisted")
    add_connection(ws, bank, "alice")
    finished: list[str] = []
    host = browser_host()
    running = host.submit(sync.sync_many_async(ws, ["carol", "alice"], concurrency=1, resources=host.resources,
                                               on_done=lambda r: finished.append(r.connection)))
    wait_for_challenge(ws, "carol")
    deadline = time.monotonic() + 60
    while "alice" not in finished and time.monotonic() < deadline:  # one slot, and carol is waiting
        time.sleep(0.05)
    assert finished == ["alice"]
    otp.submit_otp(ws, "carol", bank.admin("otp/carol")["code"])
    results = {r.connection: r for r in running.result(timeout=60)}
    assert finished == ["alice", "carol"]
    assert {n: r.health for n, r in results.items()} == {"carol": "ok", "alice": "ok"}


def test_atlantic_otp_with_the_function_notebooks_call(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "heidi", login_mode="assisted")
    running = _start(ws, "heidi")
    wait_for_challenge(ws, "heidi")
    sync.submit_otp(ws, "heidi", bank.admin("otp/heidi")["code"])
    assert running.result(timeout=60).health == "ok"
    assert stored(ws, "heidi") == expected(bank, "heidi")


def test_a_wrong_code_fails_clearly(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "carol", login_mode="assisted")
    running = _start(ws, "carol")
    wait_for_challenge(ws, "carol")
    right = bank.admin("otp/carol")["code"]
    wrong = "000000" if right != "000000" else "111111"
    otp.submit_otp(ws, "carol", wrong)
    result = running.result(timeout=60)
    assert result.status == "failed"
    assert "rejected the one-time code" in result.message
    assert result.health == "reconnect_required"
    assert wrong not in result.message
    with pytest.raises(Conflict):  # nothing waits any more
        otp.submit_otp(ws, "carol", right)


def test_an_unanswered_challenge_expires_and_leaves_awaiting_otp(
    ws: Workspace, bank: BankHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONWB_OTP_WAIT", "1.5")
    add_connection(ws, bank, "carol", login_mode="assisted")
    result = _start(ws, "carol").result(timeout=60)
    assert result.status == "failed"
    state, reason, fatal = health(ws, "carol")
    assert (state, fatal) == ("reconnect_required", 0)
    assert "not entered in time" in reason
    with ws.connect() as con:
        assert con.execute("SELECT status FROM otp_challenges").fetchall() == [("expired",)]
    with pytest.raises(Conflict):
        otp.submit_otp(ws, "carol", "123456")
    assert sync.due_connections(ws) == []  # no automatic login that would send another SMS


def test_simple_login_mode_stops_at_the_otp_page(ws: Workspace, bank: BankHandle) -> None:
    from tests.portal_support import run_sync

    add_connection(ws, bank, "carol")
    result = run_sync(ws, "carol")
    assert (result.status, result.health) == ("failed", "awaiting_otp")
    assert "assisted" in result.message


def test_bad_codes_are_refused_before_reaching_anything(ws: Workspace, bank: BankHandle) -> None:
    add_connection(ws, bank, "carol", login_mode="assisted")
    with pytest.raises(InvalidInput):
        otp.submit_otp(ws, "carol", "12; DROP")
    with pytest.raises(Conflict):
        otp.submit_otp(ws, "carol", "123456")
