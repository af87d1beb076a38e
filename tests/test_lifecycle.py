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


# -- the seeds' password flow end to end, against the simulated aggregator ------------------------------------

import datetime as dt  # noqa: E402

from reconwb import notify, sync  # noqa: E402
from reconwb.openbanking import lean as aggregator  # noqa: E402
from tests import aggregator_env  # noqa: E402
from tests.aggregator_env import Agg, add_users  # noqa: E402

agg = aggregator_env.agg  # fixtures
smtp = aggregator_env.smtp


def _events(ws: Workspace, kind: str) -> list[str]:
    with ws.connect() as con:
        return [r[0] for r in con.execute("SELECT payload->>'to' FROM events WHERE type = ? ORDER BY occurred_at",
                                          [kind]).fetchall()]


def test_password_flow_from_invalidation_back_to_ok(agg: Agg, smtp) -> None:
    add_users(agg.ws)
    conn = agg.add()
    assert sync.sync(agg.ws, "acme").health == "ok"
    agg.admin(f"entities/{conn.external_id}/invalidate-password", new_password="acme-pass-2")

    # the bank invalidated the password: reconnect_required, and the reconciliation people hear of it once
    assert sync.sync(agg.ws, "acme").health == "reconnect_required"
    assert sync.sync(agg.ws, "acme", now=True).health == "reconnect_required"  # a retry is no new incident
    assert sync.sync(agg.ws, "acme").status == "skipped"
    assert notify.deliver(agg.ws).sent == 2
    assert notify.deliver(agg.ws).sent == 0
    assert [len(smtp.to(a)) for a in ("ana@example.test", "ben@example.test", "carl@example.test")] == [1, 1, 0]
    assert "update the bank credentials" in smtp.messages[0]["content"]

    # the user enters a wrong new password: the reconnect fails with its reason, and that is told too
    with agg.ws.connect() as con:
        connections.set_credentials(con, agg.ws.vault(), "acme", {"password": "acme-typo-2"})
    failed = aggregator.apply_credentials(agg.ws, "acme")
    assert failed["status"] == "failed" and failed["health"] == "reconnect_required"
    health, reason = _health_of(agg.ws, "acme")
    assert health == "reconnect_required" and "rejected the password" in reason and "acme-typo-2" not in reason
    assert notify.deliver(agg.ws).sent == 2

    # the right one: the reconnect runs without an OTP step, refreshing shows an expected time, the fetch lands
    with agg.ws.connect() as con:
        connections.set_credentials(con, agg.ws.vault(), "acme", {"password": "acme-pass-2"})
    health, reason = _health_of(agg.ws, "acme")
    assert health == "refreshing" and "up to 15 minutes (expected by " in reason
    outcome = aggregator.apply_credentials(agg.ws, "acme", fetch=False)
    assert outcome["status"] == "reconnected" and outcome["health"] == "refreshing"
    agg.settle()  # entity.reconnected, then results.ready for the data asked before: the fetch runs
    assert [h["handled"] for h in agg.receiver.of_type("entity.reconnected")] == [True]
    assert any(h.get("sync", {}).get("status") == "ok" for h in agg.receiver.of_type("results.ready"))
    assert _health_of(agg.ws, "acme") == ("ok", None)
    assert _events(agg.ws, "connection.reconnected")[-1] == "ok"
    with agg.ws.connect() as con:
        assert lifecycle.reconnect_request(con, conn.connection_id) is None
    assert notify.deliver(agg.ws).sent == 0  # back to ok: nobody is bothered


def _health_of(ws: Workspace, name: str) -> tuple[str, str | None]:
    with ws.connect() as con:
        c = connections.get(con, name)
    return c.health, c.health_reason


def test_reconnect_at_a_bank_that_asks_for_an_otp(agg: Agg) -> None:
    conn = agg.add("corp", "initech", "initech-pass-1", bank="AGGC_DEU")
    assert sync.sync(agg.ws, "corp").health == "ok"
    agg.admin(f"entities/{conn.external_id}/invalidate-password", new_password="initech-pass-2")
    sync.sync(agg.ws, "corp")
    with agg.ws.connect() as con:
        connections.set_credentials(con, agg.ws.vault(), "corp", {"password": "initech-pass-2"})
    step = aggregator.apply_credentials(agg.ws, "corp")
    assert step["status"] == "otp-required" and _health_of(agg.ws, "corp")[0] == "awaiting_otp"
    assert sync.sync(agg.ws, "corp").status == "skipped"  # no automatic fetch while a code is awaited
    done = aggregator.apply_credentials(agg.ws, "corp", otp="123456", fetch=False)
    assert done["status"] == "reconnected" and done["health"] == "refreshing"
    agg.settle()  # results.ready after the reconnect fetches the connection
    assert _health_of(agg.ws, "corp") == ("ok", None)


def test_refresh_window_passing_after_a_reconnect_is_a_new_incident(agg: Agg, smtp) -> None:
    add_users(agg.ws)
    conn = agg.add()
    sync.sync(agg.ws, "acme")
    agg.admin(f"entities/{conn.external_id}/invalidate-password", new_password="acme-pass-2")
    sync.sync(agg.ws, "acme")
    agg.admin("webhook-url", url=None)  # no results.ready: nothing lands
    with agg.ws.connect() as con:
        connections.set_credentials(con, agg.ws.vault(), "acme", {"password": "acme-pass-2"})
    assert aggregator.apply_credentials(agg.ws, "acme", fetch=False)["health"] == "refreshing"
    with agg.ws.connect() as con:
        con.execute("UPDATE connections SET refreshing_until = now() - INTERVAL 1 MINUTE")
    assert sync.due_connections(agg.ws) == []  # expired on the way
    assert _health_of(agg.ws, "acme") == ("reconnect_required", "no deposits arrived within the refresh window")
    assert notify.deliver(agg.ws).sent == 4  # two incidents (invalidated, window passed), two people
    assert {m["content"].count("refresh window") for m in smtp.messages} == {0, 1}


def test_credential_age_warnings(ws: Workspace, conn_id: int) -> None:
    with ws.connect() as con:
        assert lifecycle.credential_warnings(con) == []
        con.execute("UPDATE connections SET credentials_set_at = now() - INTERVAL 61 DAY")
        (warning,) = lifecycle.credential_warnings(con)
        assert warning.connection == "c1" and warning.age_days == 61 and "61 days old" in warning.message
        settings.set_value(con, "credential_max_age_days", "90")
        assert lifecycle.credential_warnings(con) == []
        assert lifecycle.credential_warnings(con, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
        connections.remove(con, "c1")
        assert lifecycle.credential_warnings(con, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == []


def test_blocked_notifies_once_and_a_retry_adds_nothing(ws: Workspace, conn_id: int) -> None:
    add_users(ws)
    with ws.connect() as con:
        lifecycle.record_failure(con, conn_id, errors.AccountLocked("locked by the bank"))
        lifecycle.record_failure(con, conn_id, errors.AccountLocked("locked by the bank, again"))
        rows = notify.list_notifications(con)
    assert sorted(n["user"] for n in rows) == ["ana", "ben"]
    assert {n["subject"] for n in rows} == {"c1 needs attention"}
