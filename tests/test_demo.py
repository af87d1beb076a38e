"""`reconwb demo --no-serve --json` from a clean directory, as a newcomer would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconwb.sim import aggregator, bank_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    cwd = tmp_path_factory.mktemp("newcomer")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for var in ("RECONWB_DB", "RECONWB_KEY", "RECONWB_KEY_FILE"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-m", "reconwb", "demo", "--no-serve", "--json"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), cwd / "data" / "demo"


def test_every_scenario_login_ends_in_the_expected_health(demo_run) -> None:
    summary, _ = demo_run
    health = {c["name"]: c["health"] for c in summary["connections"]}
    assert health["nordic-alice"] == "ok"  # healthy
    assert health["nordic-bob"] == "reconnect_required"  # password expired
    assert health["nordic-carol"] == "awaiting_otp"  # OTP at every login
    assert health["nordic-dave"] in ("reconnect_required", "blocked")  # the locking login
    assert health["alpine-erin"] == "ok"  # several accounts
    assert health["agg-acme"] == "ok"  # an aggregator entity
    assert health["agg-initech"] == "bank_disabled"
    assert health["acme-statements"] == "ok"
    assert summary["bank_portal_failed_logins"]["dave"] < 3  # the bank never locked it


def test_it_matches_and_delivers_verified_webhooks(demo_run) -> None:
    summary, _ = demo_run
    assert summary["matched"] > 0
    assert summary["webhooks_delivered"] > 0
    assert summary["webhooks_received"] == summary["webhooks_delivered"]
    assert summary["webhooks_by_type"].get("payment.matched", 0) > 0
    assert summary["job"]["status"] == "succeeded"
    by_name = {c["name"]: c for c in summary["connections"]}
    assert by_name["nordic-alice"]["transactions"] > 0 and by_name["agg-acme"]["transactions"] > 0
    assert by_name["nordic-alice"]["matched"] > 0
    assert sum(c["matched"] for c in summary["connections"]) == summary["matched"]


def test_no_workspace_file_holds_a_scenario_password(demo_run) -> None:
    _, workspace = demo_run
    passwords = {login.password for login in bank_scenario.builtin().logins}
    passwords |= {login.password for login in aggregator.DEFAULT_LOGINS}
    files = [p for p in workspace.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and any(p.suffix == ".ipynb" for p in files)
    for path in files:
        raw = path.read_bytes()
        for password in passwords:
            assert password.encode() not in raw, f"{password!r} in {path}"


def test_plaid_and_gocardless_connections_fetch_and_the_expiring_consent_has_its_banner(demo_run) -> None:
    summary, _ = demo_run
    by_name = {c["name"]: c for c in summary["connections"]}
    assert {by_name[n]["connector"] for n in ("plaid-business", "gocardless-sandbox")} == {"plaid", "gocardless"}
    assert all(c["connector"] for c in summary["connections"])
    for name in ("plaid-business", "gocardless-sandbox", "gocardless-expiring"):
        assert by_name[name]["health"] == "ok" and by_name[name]["transactions"] > 0, by_name[name]
    (banner,) = [b for b in summary["banners"] if b["kind"] == "consent_expiring"]
    assert banner["connection"] == "gocardless-expiring" and "Bank access for gocardless-expiring" in banner["message"]
