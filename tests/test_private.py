from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconwb import diagnostics
from reconwb.cli.admin import init_workspace
from reconwb.private import private_dir, private_file, write_private
from reconwb.workspace import Workspace


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: whatever reconwb creates must still come out private."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_workspace_store_key_and_folder_are_private_under_any_umask(tmp_path: Path, open_umask,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONWB_KEY", raising=False)
    monkeypatch.delenv("RECONWB_KEY_FILE", raising=False)
    ws = Workspace(db_path=tmp_path / "new" / "data" / "reconwb.duckdb")
    init_workspace(ws)
    with ws.connect() as con:
        con.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")
    assert _mode(ws.db_path) == 0o600
    assert _mode(ws.default_key_file) == 0o600
    assert _mode(ws.data_dir) == 0o700
    assert _mode(ws.data_dir.parent) == 0o700  # made by reconwb for this store
    leftovers = [p for p in ws.data_dir.iterdir() if _mode(p) & 0o077]
    assert leftovers == []


def test_existing_parent_folder_is_not_tightened(tmp_path: Path, open_umask) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o755)
    private_dir(shared / "mine", owned=False)
    assert _mode(shared) == 0o755
    assert _mode(shared / "mine") == 0o700


def test_a_file_made_world_readable_is_tightened_and_rewrites_stay_private(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    os.chmod(path, 0o666)
    private_file(path)
    assert _mode(path) == 0o600
    os.chmod(path, 0o644)
    write_private(path, b"again")  # O_CREAT keeps an existing file's mode: the helper must not
    assert _mode(path) == 0o600 and path.read_bytes() == b"again"
    private_file(tmp_path / "gone.txt")  # nothing to do, no error


def test_diagnostics_are_private(ws: Workspace, open_umask) -> None:
    err = RuntimeError("site changed")
    err.diagnostics = {"page.html": b"<html>balance 12.00</html>", "../escape.png": b"png"}
    target = diagnostics.save(ws, 7, err)
    assert _mode(ws.diagnostics_dir) == 0o700 and _mode(target) == 0o700
    files = sorted(p.name for p in target.iterdir())
    assert files == ["error.txt", "escape.png", "page.html"]
    assert all(_mode(p) == 0o600 for p in target.iterdir())
