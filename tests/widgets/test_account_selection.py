from __future__ import annotations

from reconwb import accounts, connections
from reconwb.sync import sync
from reconwb.widgets.account_selection import AccountSelection, UpdatePicker
from reconwb.workspace import Workspace
from tests.ledger import LedgerBank, set_password


def _fetched(ws: Workspace) -> None:
    """c1 fetched once (finds DE001) and the bank later showed a second account DE002."""
    set_password(ws, LedgerBank.password)
    assert sync(ws, "c1", now=True).status == "ok"
    with ws.connect() as con:
        accounts.ensure(con, connections.get(con, "c1").connection_id, "DE002", name="Savings", currency="EUR")


def _state(ws: Workspace) -> tuple[str, dict[str, tuple[bool, bool]]]:
    with ws.connect() as con:
        conn = connections.get(con, "c1")
        found = accounts.list_accounts(con, conn.connection_id)
    return conn.health, {a.external_ref: (a.selected, a.active) for a in found}


def test_deselecting_and_new_password_commit_together(ledger: Workspace) -> None:
    _fetched(ledger)
    plans = []
    form = AccountSelection(ledger, "c1", on_updated=plans.append)
    assert set(form.checkboxes) == {"DE001", "DE002"} and form.selected == ["DE001", "DE002"]
    form.checkboxes["DE002"].value = False
    form.password.value = "brand-new-pw-9"
    form.apply.click()
    assert form.password.value == ""
    assert form.check is not None and form.check.finished.wait(30)  # then the bank is asked
    health, accts = _state(ledger)
    assert health == "reconnect_required" and "rejected" in form.verdict.value  # the ledger bank wants another
    assert accts == {"DE001": (True, True), "DE002": (False, False)}
    assert "No longer fetching DE002" in form.message.value
    assert "brand-new-pw-9" not in form.message.value + form.verdict.value
    assert plans[0].credentials_changed and plans[0].deselected == ["DE002"]
    with ledger.connect() as con:
        conn = connections.get(con, "c1")
        assert connections.get_credentials(con, ledger.vault(), conn) == {"password": "brand-new-pw-9"}


def test_selecting_nothing_is_refused_and_changes_nothing(ledger: Workspace) -> None:
    _fetched(ledger)
    form = AccountSelection(ledger, "c1")
    for box in form.checkboxes.values():
        box.value = False
    form.password.value = "another-pw-77"
    form.apply.click()
    assert "select at least one account" in form.message.value
    health, accts = _state(ledger)
    assert health == "ok" and accts == {"DE001": (True, True), "DE002": (True, True)}
    with ledger.connect() as con:
        conn = connections.get(con, "c1")
        assert connections.get_credentials(con, ledger.vault(), conn) == {"password": LedgerBank.password}


def test_picker_offers_live_connections_and_opens_the_form(ledger: Workspace) -> None:
    with ledger.connect() as con:
        connections.add(con, "gone", "ledger", username="g")
        connections.remove(con, "gone")
    picker = UpdatePicker(ledger)
    assert list(picker.choice.options) == ["c1"]
    form = picker.open_form()
    assert isinstance(form, AccountSelection) and "No accounts known yet" in form.accounts_box.children[0].value


from tests import aggregator_env  # noqa: E402
from tests.aggregator_env import Agg  # noqa: E402

agg = aggregator_env.agg  # fixture


def test_a_new_password_on_an_aggregator_connection_runs_its_reconnect_step(agg: Agg) -> None:
    """The dashboard's update form, not only the CLI, takes the provider's reconnect step, then asks the bank."""
    from reconwb import sync

    conn = agg.add()
    assert sync.sync(agg.ws, "acme").health == "ok"
    agg.admin(f"entities/{conn.external_id}/invalidate-password", new_password="acme-pass-2")
    assert sync.sync(agg.ws, "acme").health == "reconnect_required"

    wrong = AccountSelection(agg.ws, "acme")
    wrong.password.value = "acme-typo-2"
    wrong.apply.click()
    assert wrong.check is not None and wrong.check.finished.wait(60)
    assert "rejected" in wrong.verdict.value and "accepted" not in wrong.verdict.value
    assert "acme-typo-2" not in wrong.verdict.value + wrong.message.value

    form = AccountSelection(agg.ws, "acme")
    form.password.value = "acme-pass-2"
    form.apply.click()
    assert "Checking with the bank" in form.verdict.value or form.check.finished.is_set()
    assert form.check is not None and form.check.finished.wait(60)
    assert "accepted" in form.verdict.value, form.verdict.value
    with agg.ws.connect() as con:
        reconnected = con.execute("SELECT reconnected_at FROM aggregator_entities WHERE entity_id = ?",
                                  [conn.external_id]).fetchone()[0]
    assert reconnected is not None  # the reconnect step ran at the provider
    assert agg.conn().health == "ok"
