from __future__ import annotations

import pytest

from reconwb import banks, connections, lifecycle, settings
from reconwb.connectors import errors
from reconwb.workspace import Workspace


@pytest.fixture
def conn_id(ws: Workspace) -> int:
    with ws.connect() as con:
        banks.register(con, "b1", "Bank", "sim-classic")
        conn = connections.add(con, "c1", "b1")
        connections.set_credentials(con, ws.vault(), "c1", {"password": "pw-123456"})
    return conn.connection_id


def _health(ws: Workspace) -> tuple[str, str | None]:
    with ws.connect() as con:
        c = connections.get(con, "c1")
    return c.health, c.health_reason


def test_new_credentials_mean_refreshing_then_ok(ws: Workspace, conn_id: int) -> None:
    assert _health(ws)[0] == "refreshing"
    with ws.connect() as con:
        assert lifecycle.may_attempt(con, conn_id).allowed
        lifecycle.record_success(con, conn_id)
        types = [r[0] for r in con.execute("SELECT type FROM events").fetchall()]
    assert _health(ws) == ("ok", None)
    assert "connection.reconnected" in types


def test_bad_password_stops_automatic_attempts_and_second_one_blocks(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        state = lifecycle.record_failure(con, conn_id, errors.InvalidCredentials("wrong password pw-123456"))
        assert state == "reconnect_required"
        assert not lifecycle.may_attempt(con, conn_id).allowed
        assert lifecycle.may_attempt(con, conn_id, now=True).allowed
        state = lifecycle.record_failure(con, conn_id, errors.InvalidCredentials("wrong again"))
    health, reason = _health(ws)
    assert (state, health) == ("blocked", "blocked")
    assert "needs attention" in reason and "pw-123456" not in reason


def test_lockout_budget_is_a_setting(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        settings.set_value(con, "lockout_budget", "1")
        assert lifecycle.record_failure(con, conn_id, errors.PasswordExpired("expired")) == "blocked"


def test_run_now_clears_a_block(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        lifecycle.record_failure(con, conn_id, errors.AccountLocked("locked"))
        assert not lifecycle.may_attempt(con, conn_id).allowed
        lifecycle.run_now(con, conn_id)
        assert lifecycle.may_attempt(con, conn_id).allowed
    assert _health(ws)[0] == "refreshing"


def test_unknown_exception_is_broken_never_a_password_problem(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        assert lifecycle.record_failure(con, conn_id, KeyError("selector #amount")) == "broken"
        assert lifecycle.record_failure(con, conn_id, errors.SiteChanged("layout")) == "broken"


def test_transient_failures_keep_state_and_back_off(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        lifecycle.record_success(con, conn_id)
        assert lifecycle.record_failure(con, conn_id, errors.Transient("timeout")) == "ok"
        decision = lifecycle.may_attempt(con, conn_id)
    assert not decision.allowed and "next attempt" in decision.reason


def test_refresh_window_expiry_returns_to_reconnect_required(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        con.execute("UPDATE connections SET refreshing_until = now() - INTERVAL 1 MINUTE")
        assert lifecycle.expire_refresh_windows(con) == [conn_id]
    assert _health(ws)[0] == "reconnect_required"
