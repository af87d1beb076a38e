"""The OTP prompt: a real assisted login pauses at the simulated bank's code page; the prompt answers it."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from reconwb import connections, otp, sync
from reconwb.plots import png
from reconwb.widgets.otp import OtpPrompt
from reconwb.workspace import Workspace
from tests.portal_support import add_connection, browser_host, expected, health, sim_bank, stored, wait_for_challenge


@pytest.mark.browser
def test_prompt_shows_the_bank_page_and_its_code_resumes_the_login(ws: Workspace) -> None:
    bank = sim_bank()
    add_connection(ws, bank, "carol", login_mode="assisted")
    host = browser_host()
    running = host.submit(sync.sync_async(ws, "carol", resources=host.resources))
    challenge = wait_for_challenge(ws, "carol")
    prompt = OtpPrompt(ws, "carol", tick=False)
    assert bytes(prompt.screenshot.value) == challenge.screenshot and challenge.screenshot.startswith(b"\x89PNG")
    assert "code" in prompt.prompt.value
    assert prompt.countdown.value.endswith("left") and not prompt.submit.disabled
    code = bank.admin("otp/carol")["code"]
    prompt.code.value = code
    prompt.submit.click()
    assert prompt.code.value == "" and code not in str(prompt.code.get_state())
    assert "Code sent" in prompt.message.value and prompt.submit.disabled
    result = running.result(timeout=60)
    assert (result.status, result.health) == ("ok", "ok"), result.message
    assert stored(ws, "carol") == expected(bank, "carol")


def _challenge(ws: Workspace, name: str = "carol") -> int:
    """A challenge recorded the way a fetch records it (its fetch is not waiting: what a dead job leaves)."""
    with ws.connect() as con:
        conn = connections.add(con, name, "sim-nordic", username=name, login_mode="assisted")
    from matplotlib.figure import Figure

    shot = png(Figure(figsize=(2, 1)))
    return otp.open_challenge(ws, conn.connection_id, None, shot, "Enter the code we sent to your phone")


def test_countdown_runs_out_and_the_prompt_says_the_page_expired(ws: Workspace,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONWB_OTP_WAIT", "120")
    _challenge(ws)
    prompt = OtpPrompt(ws, "carol", tick=False)
    expires = prompt.challenge.expires_at
    assert prompt.update_countdown(now=expires - dt.timedelta(seconds=75))
    assert prompt.countdown.value == "1:15 left"
    assert not prompt.update_countdown(now=expires + dt.timedelta(seconds=1))
    assert prompt.countdown.value == "expired"
    assert prompt.submit.disabled and "expired" in prompt.message.value


def test_the_timer_thread_updates_the_label_and_a_late_code_is_refused(ws: Workspace,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONWB_OTP_WAIT", "1.5")
    _challenge(ws)
    prompt = OtpPrompt(ws, "carol")  # ticking, as in a notebook
    try:
        deadline = time.monotonic() + 10
        while prompt.countdown.value != "expired" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert prompt.countdown.value == "expired"
        prompt.code.value = "123456"
        assert prompt.submit_code() is None
        assert prompt.code.value == "" and "expired" in prompt.message.value
    finally:
        prompt.stop_timer()
    with ws.connect() as con:
        assert con.execute("SELECT count(*) FROM secrets WHERE owner LIKE 'otp/%'").fetchall() == [(0,)]


def test_a_malformed_code_is_refused_and_cleared(ws: Workspace) -> None:
    _challenge(ws)
    prompt = OtpPrompt(ws, "carol", tick=False)
    prompt.code.value = "12; DROP"
    prompt.submit.click()
    assert "4 to 12 letters or digits" in prompt.message.value and prompt.code.value == ""
    assert otp.pending_challenge(ws, "carol") is not None  # still waiting for a proper code
    prompt.code.value = "654321"
    prompt.submit.click()
    with ws.connect() as con:
        assert con.execute("SELECT status FROM otp_challenges").fetchall() == [("answered",)]


def test_no_challenge_means_nothing_to_type(ws: Workspace) -> None:
    with ws.connect() as con:
        connections.add(con, "alice", "sim-nordic", username="alice")
    prompt = OtpPrompt(ws, "alice", tick=False)
    assert "No one-time code is awaited" in prompt.prompt.value
    assert prompt.submit.disabled and prompt.code.disabled
    assert health(ws, "alice")[0] != "awaiting_otp"


def test_inbox_lists_only_connections_waiting_for_a_code(ws: Workspace) -> None:
    from reconwb.widgets.otp import OtpInbox

    inbox = OtpInbox(ws, tick=False)
    assert "No connection is waiting" in inbox.items.children[0].value
    _challenge(ws, "carol")
    with ws.connect() as con:
        connections.add(con, "alice", "sim-nordic", username="alice")
    inbox.check.click()
    assert list(inbox.prompts) == ["carol"] and inbox.items.children[0] is inbox.prompts["carol"]
