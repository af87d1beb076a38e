from __future__ import annotations

import pytest

from reconwb import banks
from reconwb.widgets.banner_panel import BannerPanel, current_banners
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, set_password


def _kinds(ws: Workspace) -> list[tuple[str, str]]:
    return [(b.connection, b.kind) for b in current_banners(ws)]


def test_password_flow_update_then_reconnect_then_no_banner(ledger: Workspace) -> None:
    set_password(ledger, "old-wrong-pw")
    panel = BannerPanel(ledger)
    panel.act("Reconnect", "c1")  # the bank rejects the stored password
    assert _kinds(ledger) == [("c1", "reconnect_required")]
    panel.buttons[("c1", "Update credentials")].click()
    (form,) = panel.detail.children
    form.password.value = LedgerBank.password
    form.save.click()
    assert _kinds(ledger) == [("c1", "refreshing")]
    assert "do not close" in panel.message.value
    panel.buttons[("c1", "Reconnect")].click()
    assert _kinds(ledger) == []
    assert "15 minutes" in panel.message.value
    assert "All bank connections are healthy" in panel.items.children[0].value


def test_blocked_connection_shows_run_now_which_clears_it(ledger: Workspace) -> None:
    set_password(ledger, "wrong-1")
    panel = BannerPanel(ledger)
    panel.act("Reconnect", "c1")
    panel.act("Reconnect", "c1")
    assert _kinds(ledger) == [("c1", "blocked")]
    LedgerBank.password = "wrong-1"
    try:
        panel.buttons[("c1", "Run now")].click()
    finally:
        LedgerBank.password = "right-pw-1"
    assert _kinds(ledger) == []


def test_disabled_bank_banner_follows_the_flag(ledger: Workspace) -> None:
    with ledger.connect() as con:
        banks.set_availability(con, "ledger", enabled=False)
    assert ("c1", "bank_disabled") in _kinds(ledger)
    with ledger.connect() as con:
        banks.set_availability(con, "ledger", enabled=True)
    assert ("c1", "bank_disabled") not in _kinds(ledger)


def test_enter_code_opens_the_otp_prompt_for_that_connection(ws: Workspace) -> None:
    from matplotlib.figure import Figure

    from reconwb import connections, lifecycle, otp
    from reconwb.plots import png
    from reconwb.widgets.otp import OtpPrompt

    with ws.connect() as con:
        conn = connections.add(con, "carol", "sim-nordic", username="carol", login_mode="assisted")
    otp.open_challenge(ws, conn.connection_id, None, png(Figure(figsize=(2, 1))), "Enter the code we sent")
    with ws.connect() as con:
        lifecycle.set_health(con, conn.connection_id, "awaiting_otp", "the bank asks for a code")
    panel = BannerPanel(ws)
    panel.buttons[("carol", "Enter code")].click()
    (prompt,) = panel.detail.children
    assert isinstance(prompt, OtpPrompt) and prompt.connection == "carol"
    prompt.close()


@pytest.mark.browser
def test_a_code_asked_of_an_unattended_login_is_answered_on_the_same_page(ws: Workspace) -> None:
    """Switch to assisted login from the banner; the fetch runs in the background and asks for the code here."""
    from reconwb.widgets.otp import OtpPrompt
    from tests.portal_support import add_connection, expected, health, run_sync, sim_bank, stored
    from tests.widgets.test_auto_refresh import eventually

    bank = sim_bank()
    add_connection(ws, bank, "carol")  # simple login, and the bank asks for a code at every login
    assert run_sync(ws, "carol").health == "awaiting_otp"
    panel = BannerPanel(ws)
    panel.buttons[("carol", "Switch to assisted login")].click()
    assert panel.fetch is not None  # the page stays live while the login waits
    eventually(lambda: bool(panel.detail.children) and isinstance(panel.detail.children[0], OtpPrompt), 60)
    prompt = panel.detail.children[0]
    prompt.code.value = bank.admin("otp/carol")["code"]
    prompt.submit.click()
    assert panel.fetch.finished.wait(60)
    assert "carol reconnected" in panel.message.value
    assert panel.detail.children == ()
    assert health(ws, "carol")[0] == "ok" and stored(ws, "carol") == expected(bank, "carol")
    assert [b.connection for b in current_banners(ws)] == []
