from __future__ import annotations

from reconwb import banks, connections
from reconwb.widgets.add_connection import AddConnectionForm
from reconwb.workspace import Workspace


def _bank_ids(form: AddConnectionForm) -> list[str]:
    return [value for _label, value in form.bank.options]


def test_only_available_banks_are_offered(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank One", "sim-classic")
        banks.register(con, "b2", "Bank Two", "sim-classic")
        banks.set_availability(con, "b2", active=False)
    form = AddConnectionForm(ws)
    assert "b1" in _bank_ids(form) and "b2" not in _bank_ids(form)
    assert "files" not in _bank_ids(form)  # statement files are imported, not connected
    with ws.connect() as con:
        banks.set_availability(con, "b2", active=True)
    form.refresh()
    assert {"b1", "b2"} <= set(_bank_ids(form))


def test_adding_creates_the_connection_and_reports_errors(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank One", "sim-classic")
    added = []
    form = AddConnectionForm(ws, on_added=added.append)
    form.bank.value = "b1"
    form.name.value = "acme"
    form.username.value = "alice"
    form.add.click()
    assert [c.name for c in added] == ["acme"]
    with ws.connect() as con:
        assert connections.get(con, "acme").username == "alice"
    form.name.value = "acme"
    form.add.click()
    assert "exists already" in form.message.value


def test_a_bank_is_preselected_and_a_vanished_choice_moves_on(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank One", "sim-classic")
        banks.register(con, "b2", "Bank Two", "sim-classic")
    form = AddConnectionForm(ws)
    assert form.bank.value in _bank_ids(form)
    form.bank.value = "b2"
    with ws.connect() as con:
        banks.set_availability(con, "b2", enabled=False)
    form.refresh()
    assert form.bank.value in _bank_ids(form) and "b2" not in _bank_ids(form)
