from __future__ import annotations

from reconwb import connections
from reconwb.widgets import ConnectionStatusTable
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, set_password


def _health(ws: Workspace, name: str = "c1") -> str:
    with ws.connect() as con:
        return connections.get(con, name).health


def test_table_lists_every_connection_with_its_health(ledger: Workspace) -> None:
    table = ConnectionStatusTable(ledger)
    text = " ".join(child.value for row in table.rows.children for child in row.children if hasattr(child, "value"))
    assert "c1" in text and "reconnect_required" in text


def test_run_now_after_a_rejected_password_opens_the_form_instead_of_logging_in(ledger: Workspace) -> None:
    set_password(ledger, "wrong-1")
    table = ConnectionStatusTable(ledger)
    table.buttons[("c1", "run")].click()  # the bank rejects the password: one failed login
    assert _health(ledger) == "reconnect_required" and LedgerBank.logins == 1
    for _ in range(3):  # impatient clicks: the same password is never sent again
        table.buttons[("c1", "run")].click()
    assert LedgerBank.logins == 1
    assert table.detail.children and hasattr(table.detail.children[0], "password")
    assert "update them" in table.message.value


def test_another_click_keeps_what_the_person_typed_in_the_open_form(ledger: Workspace) -> None:
    """Run now or Update credentials pressed again while the form is open must not wipe the new password."""
    set_password(ledger, "wrong-1")
    table = ConnectionStatusTable(ledger)
    table.buttons[("c1", "run")].click()  # the bank rejects the password
    table.buttons[("c1", "run")].click()  # reconwb opens the form instead of logging in again
    (form,) = table.detail.children
    form.password.value = "half-typed-new-pw"
    table.buttons[("c1", "run")].click()
    table.buttons[("c1", "update")].click()
    assert table.detail.children == (form,) and form.password.value == "half-typed-new-pw"
    assert LedgerBank.logins == 1


def test_update_credentials_button_opens_a_form_that_saves_and_forgets(ledger: Workspace) -> None:
    table = ConnectionStatusTable(ledger)
    table.buttons[("c1", "update")].click()
    (form,) = table.detail.children
    form.password.value = "brand-new-pw-42"
    form.save.click()
    assert form.password.value == ""
    assert "brand-new-pw-42" not in str(form.password.get_state())
    assert form.check is not None and form.check.finished.wait(30)
    assert "brand-new-pw-42" not in form.message.value
    assert "rejected" in form.message.value  # the ledger bank takes another password
    assert _health(ledger) == "reconnect_required"
    with ledger.connect() as con:
        conn = connections.get(con, "c1")
        assert connections.get_credentials(con, ledger.vault(), conn) == {"password": "brand-new-pw-42"}


def test_cancel_changes_nothing(ledger: Workspace) -> None:
    table = ConnectionStatusTable(ledger)
    form = table.open_credentials("c1")
    form.password.value = "typed-but-cancelled"
    form.cancel.click()
    assert form.password.value == ""
    assert _health(ledger) == "reconnect_required"
