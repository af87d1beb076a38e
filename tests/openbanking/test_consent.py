"""Consent expiry for every provider: stored, shown (banner), and one warning at 14 and one at 7 days before."""

from __future__ import annotations

import datetime as dt
import json

from reconwb import banks, banners, connections, notify
from reconwb.openbanking import consent
from reconwb.workspace import Workspace

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _connection(ws: Workspace, name: str, ends: dt.datetime | None) -> connections.Connection:
    with ws.connect() as con:
        banks.register(con, "ANYBANK", "Any Bank", "gocardless", country="DE")
        conn = connections.add(con, name, "ANYBANK")
        consent.record(con, conn.connection_id, ends)
        return connections.get_by_id(con, conn.connection_id)


def _notices(ws: Workspace) -> list[dict]:
    with ws.connect() as con:
        return [json.loads(p) for (p,) in con.execute(
            "SELECT payload FROM events WHERE type = 'connection.consent_expiring' ORDER BY occurred_at").fetchall()]


def test_warnings_at_14_and_at_7_days_each_given_once(ws: Workspace) -> None:
    with ws.connect() as con:
        notify.add_user(con, "ana", email="ana@example.test", permissions=["reconciliation"])
    ends = NOW + dt.timedelta(days=20)
    conn = _connection(ws, "bank-a", ends)
    assert conn.consent_expires_at == ends
    for days_later, expected in ((0, []), (6, [14]), (7, [14]), (13, [14, 7]), (14, [14, 7])):
        with ws.connect() as con:
            consent.notify_expiring(con, now=NOW + dt.timedelta(days=days_later))
        assert [n["days_before"] for n in _notices(ws)] == expected, days_later
    with ws.connect() as con:
        mails = notify.list_notifications(con)
    assert len(mails) == 2 and all("Bank access for bank-a ends on 2026-03-21: reconnect" in m["subject"]
                                   for m in mails)


def test_a_first_look_inside_7_days_gives_one_warning_not_two(ws: Workspace) -> None:
    _connection(ws, "bank-b", NOW + dt.timedelta(days=5))
    with ws.connect() as con:
        given = consent.notify_expiring(con, now=NOW)
        assert consent.notify_expiring(con, now=NOW) == []
    assert [w.days_left for w in given] == [5]
    assert [n["days_before"] for n in _notices(ws)] == [7]


def test_a_new_expiry_date_warns_again(ws: Workspace) -> None:
    conn = _connection(ws, "bank-c", NOW + dt.timedelta(days=6))
    with ws.connect() as con:
        consent.notify_expiring(con, now=NOW)
        consent.record(con, conn.connection_id, NOW + dt.timedelta(days=96))  # reconnected early
        assert consent.notify_expiring(con, now=NOW) == []
        assert consent.notify_expiring(con, now=NOW + dt.timedelta(days=85)) != []
    assert len(_notices(ws)) == 2


def test_the_banner_shows_inside_the_window_only(ws: Workspace) -> None:
    conn = _connection(ws, "bank-d", NOW + dt.timedelta(days=10))
    far = _connection(ws, "bank-e", NOW + dt.timedelta(days=40))
    none = _connection(ws, "bank-f", None)
    (shown,) = [b for b in banners.for_connection(conn, now=NOW) if b.kind == "consent_expiring"]
    assert shown.action == "Reconnect" and "Bank access for bank-d ends on 2026-03-11" in shown.message
    assert not [b for b in banners.for_connection(far, now=NOW) if b.kind == "consent_expiring"]
    assert not [b for b in banners.for_connection(none, now=NOW) if b.kind == "consent_expiring"]
    with ws.connect() as con:
        listed = {c.name: c.as_dict() for c in connections.list_connections(con)}
        # a consent date is not a removal: the connection is still found among the live ones
        assert connections.get(con, "bank-d", include_removed=False).consent_expires_at == conn.consent_expires_at
    assert listed["bank-d"]["consent_expires_at"] == NOW + dt.timedelta(days=10)
