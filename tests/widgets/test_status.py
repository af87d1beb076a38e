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


def test_run_now_clears_a_block_and_fetches(ledger: Workspace) -> None:
    set_password(ledger, "wrong-1")
    table = ConnectionStatusTable(ledger)
    table.buttons[("c1", "run")].click()
    table.buttons[("c1", "run")].click()  # a second failed login: blocked
    assert _health(ledger) == "blocked"
    LedgerBank.password = "wrong-1"  # the bank now accepts what is stored (the user fixed it at the bank)
    try:
        table.buttons[("c1", "run")].click()
    finally:
        LedgerBank.password = "right-pw-1"
    assert _health(ledger) == "ok"
    assert "1 new transactions" in table.message.value


def test_update_credentials_button_opens_a_form_that_saves_and_forgets(ledger: Workspace) -> None:
    table = ConnectionStatusTable(ledger)
    table.buttons[("c1", "update")].click()
    (form,) = table.detail.children
    form.password.value = "brand-new-pw-42"
    form.save.click()
    assert form.password.value == ""
    assert "brand-new-pw-42" not in str(form.password.get_state())
    assert "brand-new-pw-42" not in form.message.value
    assert _health(ledger) == "refreshing"
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
