"""Shared fixtures: a fresh workspace per test, and a way to run the real `reconwb` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconwb.cli.admin import init_workspace
from reconwb.redaction import forget_secrets
from reconwb.workspace import Workspace
from tests.books import books  # noqa: F401 - shared fixtures
from tests.ledger import ledger  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An initialised workspace (store and key file) in a temporary directory."""
    monkeypatch.delenv("RECONWB_KEY", raising=False)
    monkeypatch.delenv("RECONWB_KEY_FILE", raising=False)
    monkeypatch.setenv("RECONWB_DB", str(tmp_path / "data" / "reconwb.duckdb"))
    workspace = Workspace.from_env()
    init_workspace(workspace, simulated_banks=True)
    yield workspace
    forget_secrets()


@pytest.fixture
def run_cli(ws: Workspace):
    """Run `python -m reconwb ARGS` against the test workspace, as a user would."""

    def run(*args: str, input: str | None = None, check: bool = False, env: dict[str, str] | None = None):
        full_env = {**os.environ, "RECONWB_DB": str(ws.db_path), **(env or {})}
        full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        done = subprocess.run(
            [sys.executable, "-m", "reconwb", *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"reconwb {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    return run
