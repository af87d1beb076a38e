"""Which workspace a command uses: --db, RECONWB_DB, or the folder (and its parents) it runs in, like git."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconwb.workspace import Workspace, discover
from tests.conftest import ROOT


def _reconwb(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "reconwb", *args], cwd=cwd, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_discovery_walks_up_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONWB_DB", raising=False)
    deep = tmp_path / "books" / "notebooks" / "2026"
    deep.mkdir(parents=True)
    assert discover(deep) is None
    (tmp_path / "books" / "reconwb.duckdb").touch()
    assert discover(deep) == tmp_path / "books" / "reconwb.duckdb"
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    (checkout / "data" / "reconwb.duckdb").touch()
    (checkout / "reconwb").mkdir()
    assert discover(checkout / "reconwb") == checkout / "data" / "reconwb.duckdb"  # a source checkout's own
    monkeypatch.chdir(deep)
    assert Workspace.from_env().db_path == tmp_path / "books" / "reconwb.duckdb"
    monkeypatch.setenv("RECONWB_DB", str(tmp_path / "elsewhere.duckdb"))
    assert Workspace.from_env().db_path == tmp_path / "elsewhere.duckdb"
    assert Workspace.from_env(tmp_path / "explicit.duckdb").db_path == tmp_path / "explicit.duckdb"


def test_commands_find_the_workspace_or_say_how_to_make_one(tmp_path: Path) -> None:
    lost = _reconwb(tmp_path, "connections", "list", "--json")
    assert lost.returncode != 0 and lost.stdout == ""
    assert lost.stderr.count("\n") == 1 and lost.stderr.startswith("error: no reconwb workspace")
    assert "reconwb init" in lost.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was created on the way
    assert _reconwb(tmp_path, "init", "books").returncode == 0
    inside = tmp_path / "books" / "notebooks"
    assert _reconwb(inside, "connections", "add", "till", "--bank", "files").returncode == 0
    store = str(inside.parent / "reconwb.duckdb")
    assert '"till"' in _reconwb(tmp_path, "connections", "list", "--json", env={"RECONWB_DB": store}).stdout
    assert '"till"' in _reconwb(tmp_path, "--db", store, "connections", "list", "--json").stdout


def test_a_reading_workspace_opens_its_store_read_only(ws) -> None:
    import duckdb

    reading = ws.reading()
    assert reading.db_path == ws.db_path and reading.reading() is reading
    with reading.connect() as con:
        assert con.execute("SELECT count(*) FROM connections").fetchone() == (0,)
        with pytest.raises(duckdb.Error):
            con.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")


def test_a_held_workspace_reads_through_one_open(ws) -> None:
    """A panel's several reads share one open of the file (each open costs tens of milliseconds), read-only
    by default, and the hold counter sees one hold."""
    import duckdb

    from reconwb import formatting, reports
    from reconwb.store import db

    db.reset_hold_stats()
    with ws.held() as held:
        reports.job_runs(held, limit=5)
        reports.job_summary(held, hours=24)
        formatting.for_workspace(held)
        with held.connect() as con, held.reading().connect() as again:
            assert con is again
            with pytest.raises(duckdb.Error):  # read-only whatever the caller asks
                con.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")
    assert db.hold_stats().opens == 1


def test_a_read_only_first_open_leaves_the_migration_to_the_next_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process whose first open of a store is read-only (a dashboard kernel's prefetch) still migrates the
    store when it first writes."""
    from reconwb.store import db, migrate

    path = tmp_path / "old.duckdb"
    shipped = migrate.available()
    monkeypatch.setattr(migrate, "available", lambda: shipped[:1])
    db.forget_migrated()
    with db.open_store(path) as con:
        behind = migrate.current_version(con)
    monkeypatch.undo()
    db.forget_migrated()
    with db.open_store(path, read_only=True) as con:
        assert migrate.current_version(con) == behind
    with db.open_store(path) as con:
        assert migrate.current_version(con) == shipped[-1].version > behind
    db.forget_migrated()
