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
