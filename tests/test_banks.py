from __future__ import annotations

import pytest

from reconwb import banks, connections
from reconwb.errors import Conflict, NotFound
from reconwb.workspace import Workspace


@pytest.mark.parametrize(
    "active, enabled, usable", [(True, True, True), (False, True, False), (True, False, False), (False, False, False)]
)
def test_usable_only_when_both_switches_are_on(ws: Workspace, active: bool, enabled: bool, usable: bool) -> None:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank", "sim-classic")
        banks.set_availability(con, "b1", "data", active=active, enabled=enabled)
        bank = banks.get(con, "b1")
        offered = [b.bank_id for b in banks.list_banks(con, usable_for="data")]
    assert bank.usable_for("data") is usable
    assert bank.usable_for("payments") is True  # products are independent
    assert ("b1" in offered) is usable


def test_disabled_bank_refuses_new_connections(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank", "sim-classic")
        banks.set_availability(con, "b1", enabled=False)
        with pytest.raises(Conflict, match="not available"):
            connections.add(con, "c1", "b1")
        with pytest.raises(NotFound):
            connections.add(con, "c1", "no-such-bank")


def test_existing_connections_follow_the_switch_and_come_back(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank", "sim-classic")
        connections.add(con, "c1", "b1")  # reconnect_required: no credentials yet
        connections.add(con, "c2", "b1")
        con.execute("UPDATE connections SET health = 'ok', health_reason = NULL WHERE name = 'c2'")
        assert banks.set_availability(con, "b1", active=False) is True
        assert {c.name: c.health for c in connections.list_connections(con)} == {
            "c1": "bank_disabled", "c2": "bank_disabled"}
        # the client switch too: still disabled, nothing changes
        assert banks.set_availability(con, "b1", enabled=False) is False
        banks.set_availability(con, "b1", active=True)
        assert connections.get(con, "c1").health == "bank_disabled"
        banks.set_availability(con, "b1", enabled=True)
        assert {c.name: c.health for c in connections.list_connections(con)} == {
            "c1": "reconnect_required", "c2": "ok"}
        types = [r[0] for r in con.execute("SELECT type FROM events ORDER BY occurred_at").fetchall()]
    assert types.count("bank.availability_changed") == 4
    assert "connection.health_changed" in types
