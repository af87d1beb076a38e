from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from reconwb import banners, connections
from reconwb.workspace import Workspace

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def conn(ws: Workspace) -> connections.Connection:
    with ws.connect() as con:
        return connections.add(con, "acme", "files")


@pytest.mark.parametrize(
    "health, title, action",
    [
        ("reconnect_required", "Bank password no longer valid", "Update credentials"),
        ("refreshing", "Deposits are refreshing, do not close", "Check now"),
        ("awaiting_otp", "One-time code needed", "Enter code"),
        ("blocked", "Needs attention", "Update credentials"),
        ("broken", "Connector needs an update", None),
        ("bank_disabled", "Bank unavailable", None),
    ],
)
def test_each_state_that_needs_a_person_has_one_banner(conn, health: str, title: str, action: str | None) -> None:
    conn = dataclasses.replace(conn, health=health, health_reason="why", credentials_set_at=NOW,
                               login_mode="assisted")
    found = banners.for_connection(conn, now=NOW)
    assert [(b.title, b.action) for b in found] == [(title, action)]


def test_healthy_and_obsolete_connections_need_no_banner(conn) -> None:
    assert banners.for_connection(dataclasses.replace(conn, health="ok"), now=NOW) == []
    assert banners.for_connection(dataclasses.replace(conn, health="obsolete"), now=NOW) == []


def test_refreshing_banner_says_when_deposits_are_expected(conn) -> None:
    c = dataclasses.replace(conn, health="refreshing", refreshing_until=NOW + dt.timedelta(minutes=15))
    (banner,) = banners.for_connection(c, now=NOW)
    assert "15 minutes" in banner.message and "12:15 UTC" in banner.message


def test_old_password_asks_for_rotation_after_60_days(conn) -> None:
    young = dataclasses.replace(conn, health="ok", credentials_set_at=NOW - dt.timedelta(days=59))
    old = dataclasses.replace(conn, health="ok", credentials_set_at=NOW - dt.timedelta(days=61))
    assert banners.for_connection(young, now=NOW) == []
    (banner,) = banners.for_connection(old, now=NOW)
    assert banner.kind == "credential_age" and "61 days" in banner.message


def test_a_connection_that_never_had_credentials_asks_for_them(conn) -> None:
    (banner,) = banners.for_connection(dataclasses.replace(conn, health="reconnect_required"), now=NOW)
    assert (banner.title, banner.action) == ("Credentials needed", "Update credentials")


def test_a_code_asked_of_an_unattended_login_offers_assisted_login(conn) -> None:
    simple = dataclasses.replace(conn, health="awaiting_otp", login_mode="simple", credentials_set_at=NOW)
    (banner,) = banners.for_connection(simple, now=NOW)
    assert (banner.title, banner.action) == ("One-time code needed at every login", "Switch to assisted login")
    assert "unattended" in banner.message


def test_no_banner_offers_the_same_login_after_the_bank_rejected_it(conn) -> None:
    """Locked, rejected, budget spent: the only way on is new credentials, never Run now."""
    cases = [
        dict(health="blocked", credentials_rejected="AccountLocked"),
        dict(health="blocked", credentials_rejected=None, health_reason="needs attention: 2 failed logins"),
        dict(health="reconnect_required", credentials_rejected="InvalidCredentials"),
        dict(health="reconnect_required", credentials_rejected="PasswordExpired"),
        dict(health="reconnect_required", credentials_rejected="OtpRejected"),
    ]
    for case in cases:
        c = dataclasses.replace(conn, credentials_set_at=NOW, **case)
        (banner,) = banners.for_connection(c, now=NOW)
        assert banner.action == "Update credentials", case
    locked = dataclasses.replace(conn, health="blocked", credentials_rejected="AccountLocked", credentials_set_at=NOW)
    (banner,) = banners.for_connection(locked, now=NOW)
    assert "unlock it with the bank, then update the credentials" in banner.message


def test_an_expired_code_says_so_and_offers_to_start_again(conn) -> None:
    from reconwb import otp

    c = dataclasses.replace(conn, health="reconnect_required", health_reason=otp.EXPIRED_REASON,
                            credentials_set_at=NOW, login_mode="assisted")
    (banner,) = banners.for_connection(c, now=NOW)
    assert (banner.title, banner.action) == ("One-time code expired", "Start again")
    assert "password" not in banner.title.lower()


def test_a_check_under_way_says_so_and_claims_nothing(conn) -> None:
    c = dataclasses.replace(conn, health="refreshing", running_run_id=7, credentials_set_at=NOW)
    (banner,) = banners.for_connection(c, now=NOW)
    assert banner.title == "Checking with the bank…" and banner.action is None
    assert "accepted" not in banner.message
    idle = dataclasses.replace(c, running_run_id=None)
    (banner,) = banners.for_connection(idle, now=NOW)
    assert "accepted" not in banner.message
