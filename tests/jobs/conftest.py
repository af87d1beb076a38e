"""Job tests: a loopback bank, its connector as an entry-point plugin for the job kernels, and connections to it.

Job notebooks run in their own kernel processes, so the connector reaches them the way a third-party bank
package would: an entry point in the `reconwb.connectors` group, from a `.dist-info` directory put on the
kernels' PYTHONPATH through the environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconwb import banks, connections
from reconwb.workspace import Workspace
from tests.conftest import ROOT
from tests.jobs.loopback_bank import BANK_ID, LoopbackBank, plugin_site

PASSWORDS = {"u1": "pw-one-1111", "u2": "pw-two-2222", "u3": "pw-three-3333"}


@pytest.fixture
def plugin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = plugin_site(tmp_path / "plugins")
    paths = (str(ROOT), str(site), os.environ.get("PYTHONPATH"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    return site


@pytest.fixture
def bank() -> LoopbackBank:
    with LoopbackBank(PASSWORDS) as running:
        yield running


@pytest.fixture
def bank_ws(ws: Workspace, bank: LoopbackBank, plugin_env: Path) -> Workspace:
    """The workspace with the loopback bank registered (connections are added per test)."""
    with ws.connect() as con:
        banks.register(con, BANK_ID, "Loopback Bank", "loopback")
    return ws


def add_connection(ws: Workspace, bank: LoopbackBank, name: str, user: str, password: str | None = None) -> None:
    with ws.connect() as con:
        connections.add(con, name, BANK_ID, username=user, portal_url=bank.url)
        connections.set_credentials(con, ws.vault(), name, {"password": password or PASSWORDS[user]})


def run_json(run_cli, *args: str) -> tuple[int, object, str]:
    done = run_cli(*args, "--json")
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr
