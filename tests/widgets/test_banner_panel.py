from __future__ import annotations

import pytest

from reconwb import banks
from reconwb.widgets.banner_panel import BannerPanel, current_banners
from reconwb.widgets.credentials import CredentialForm
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, set_password


def _kinds(ws: Workspace) -> list[tuple[str, str]]:
    return [(b.connection, b.kind) for b in current_banners(ws)]


def _checked(form) -> str:
    assert form.check is not None and form.check.finished.wait(30), "the bank's check did not finish"
    return form.message.value


def test_password_flow_update_then_the_bank_answers_then_no_banner(ledger: Workspace) -> None:
    from reconwb import sync

    set_password(ledger, "old-wrong-pw")
    assert sync.sync(ledger, "c1").status == "failed"  # the bank rejects the stored password
    panel = BannerPanel(ledger)
    assert _kinds(ledger) == [("c1", "reconnect_required")]
    panel.buttons[("c1", "Update credentials")].click()
    (form,) = panel.detail.children
    form.password.value = LedgerBank.password
    form.save.click()
    assert form.password.value == ""
    message = _checked(form)
    assert "accepted" in message and LedgerBank.password not in message
    assert _kinds(ledger) == []  # one click: no second Reconnect button to press
    assert LedgerBank.logins == 2
    assert "All bank connections are healthy" in panel.items.children[0].value


def test_saving_a_wrong_password_says_the_bank_rejected_it_never_accepted(ledger: Workspace) -> None:
    panel = BannerPanel(ledger)
    panel.act("Update credentials", "c1")
    (form,) = panel.detail.children
    form.password.value = "typo-pw-1"
    form.save.click()
    message = _checked(form)
    assert "rejected" in message and "accepted" not in message and "typo-pw-1" not in message
    assert _kinds(ledger) == [("c1", "reconnect_required")]


def test_run_now_after_a_rejection_opens_the_form_and_never_logs_in(ledger: Workspace) -> None:
    from reconwb import sync

    set_password(ledger, "wrong-1")
    sync.sync(ledger, "c1")
    panel = BannerPanel(ledger)
    before = LedgerBank.logins
    for _ in range(3):
        panel._fetch("c1")  # what a "Run now" does, whichever screen offers it
    assert LedgerBank.logins == before
    assert isinstance(panel.detail.children[0], CredentialForm)
    assert "connections credentials c1" in panel.message.value


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
