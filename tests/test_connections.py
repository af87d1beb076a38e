"""Changing how a connection logs in and keeps its session."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from reconwb import connections, sessions
from reconwb.errors import Conflict, InvalidInput
from reconwb.workspace import Workspace


def test_switching_to_one_shot_forgets_the_stored_session(ws: Workspace) -> None:
    with ws.connect() as con:
        conn = connections.add(con, "acme", "files", session_mode="persistent")
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
        sessions.save(con, ws.vault(), conn.connection_id, {"cookies": ["sid=abc"], "expires_at": later})
        assert sessions.load(con, ws.vault(), conn.connection_id) is not None
        changed = connections.set_modes(con, "acme", login_mode="assisted", session_mode="one-shot")
        assert (changed.login_mode, changed.session_mode) == ("assisted", "one-shot")
        assert sessions.load(con, ws.vault(), conn.connection_id) is None
        assert con.execute("SELECT count(*) FROM secrets WHERE owner LIKE 'session/%'").fetchall() == [(0,)]
        kept = connections.set_modes(con, "acme", session_mode="persistent")
        assert (kept.login_mode, kept.session_mode) == ("assisted", "persistent")  # None leaves a mode as it is


def test_bad_modes_and_removed_connections_are_refused(ws: Workspace) -> None:
    with ws.connect() as con:
        connections.add(con, "acme", "files")
        with pytest.raises(InvalidInput, match="login mode"):
            connections.set_modes(con, "acme", login_mode="sideways")
        connections.remove(con, "acme")
        with pytest.raises(Conflict, match="removed"):
            connections.set_modes(con, "acme", login_mode="assisted")


def test_connections_set_from_the_cli(ws: Workspace, run_cli) -> None:
    run_cli("connections", "add", "acme", "--bank", "files", check=True)
    done = run_cli("connections", "set", "acme", "--login-mode", "assisted", "--json", check=True)
    assert json.loads(done.stdout)["login_mode"] == "assisted"
    nothing = run_cli("connections", "set", "acme")
    assert nothing.returncode != 0 and "nothing to change" in nothing.stderr
