"""`reconwb init [DIR]`: a workspace of one's own, with real banks only; `reconwb sim register` on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from reconwb import resources
from tests.conftest import ROOT


def reconwb(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    return subprocess.run([sys.executable, "-m", "reconwb", *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=180)


def test_init_dir_lays_out_a_workspace_and_keeps_edits_on_a_second_run(tmp_path: Path) -> None:
    done = reconwb(tmp_path, "init", "books", "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    root = tmp_path / "books"
    assert made["workspace"] == str(root) and made["key_created"]
    assert (root / "reconwb.key").stat().st_mode & 0o777 == 0o600
    shipped = sorted(p.name for p in resources.builtin_dir(resources.NOTEBOOKS).glob("*.ipynb"))
    assert sorted(p.name for p in (root / "notebooks").glob("*.ipynb")) == shipped
    assert "[jobs." in (root / "schedule.toml").read_text() and "reconwb serve" in (root / "README.md").read_text()
    assert reconwb(root, "jobs", "schedule", "--json").returncode == 0  # the schedule it wrote is valid
    edited = root / "notebooks" / "explore.ipynb"
    edited.write_text(edited.read_text().replace("Reconciliation explorer", "Our explorer"))
    key = (root / "reconwb.key").read_bytes()
    again = json.loads(reconwb(root / "notebooks", "init", "--json").stdout)  # found from a subfolder
    assert again["workspace"] == str(root) and again["created"] == [] and not again["key_created"]
    assert "Our explorer" in edited.read_text() and (root / "reconwb.key").read_bytes() == key


def test_a_fresh_workspace_lists_no_simulated_bank_until_registered_on_purpose(tmp_path: Path) -> None:
    assert reconwb(tmp_path, "init").returncode == 0
    listed = json.loads(reconwb(tmp_path, "banks", "list", "--json").stdout)
    assert [b["bank_id"] for b in listed] == ["files"]  # the statement-file source; no sim-*
    refused = reconwb(tmp_path, "connections", "add", "alice", "--bank", "sim-nordic")
    assert refused.returncode != 0 and refused.stderr.startswith("error:") and "sim-nordic" in refused.stderr
    added = json.loads(reconwb(tmp_path, "sim", "register", "--json").stdout)["added"]
    assert added == ["sim-alpine", "sim-atlantic", "sim-nordic"]
    listed = json.loads(reconwb(tmp_path, "banks", "list", "--json").stdout)
    assert {b["bank_id"]: b["source"] for b in listed}["sim-nordic"] == "simulator"
    assert reconwb(tmp_path, "connections", "add", "alice", "--bank", "sim-nordic").returncode == 0


def test_the_aggregator_url_has_no_default_and_the_error_says_how_to_set_it(tmp_path: Path) -> None:
    assert reconwb(tmp_path, "init").returncode == 0
    assert json.loads(reconwb(tmp_path, "settings", "get", "aggregator_url", "--json").stdout) == {
        "aggregator_url": ""}
    configured = subprocess.run([sys.executable, "-m", "reconwb", "aggregator", "configure", "--app-token-stdin"],
                                input="app-token-123\n", cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                env={**{k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")},
                                     "PYTHONPATH": str(ROOT)})
    assert configured.returncode == 0, configured.stderr
    banks = reconwb(tmp_path, "banks", "refresh")
    assert banks.returncode != 0
    assert banks.stderr.startswith("error: no aggregator URL") and "--url" in banks.stderr
    assert banks.stderr.count("\n") == 1
