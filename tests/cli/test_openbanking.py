"""`reconwb sim plaid|gocardless` as processes, the official SDK against them, and `reconwb plaid|gocardless`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from reconwb.serve import free_port
from tests.conftest import ROOT


@pytest.fixture
def start_sim():
    started: list[subprocess.Popen] = []

    def start(kind: str) -> str:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started.append(subprocess.Popen([sys.executable, "-m", "reconwb", "sim", kind, "--port", str(port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.post(url + "/__admin/state", timeout=1)
                return url
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"reconwb sim {kind} did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.slow
def test_plaid_python_reads_accounts_and_a_sync_from_reconwb_sim_plaid(run_cli, start_sim) -> None:
    import plaid
    from plaid.api import plaid_api
    from plaid.model.accounts_get_request import AccountsGetRequest
    from plaid.model.transactions_sync_request import TransactionsSyncRequest

    scenario = json.loads(run_cli("sim", "plaid", "--print-scenario", check=True).stdout)
    assert set(scenario) >= {"client_id", "secret", "items"}
    assert {i["behaviour"] for i in scenario["items"]} == {"healthy", "login_required", "consent_expiring",
                                                           "new_accounts", "rate_limited", "pending_posts"}
    assert all(set(i) >= {"access_token", "behaviour"} for i in scenario["items"])
    url = start_sim("plaid")
    api = plaid_api.PlaidApi(plaid.ApiClient(plaid.Configuration(
        host=url, api_key={"clientId": scenario["client_id"], "secret": scenario["secret"]})))
    token = next(i["access_token"] for i in scenario["items"] if i["behaviour"] == "pending_posts")
    accounts = api.accounts_get(AccountsGetRequest(access_token=token)).accounts
    page = api.transactions_sync(TransactionsSyncRequest(access_token=token))
    assert len(accounts) == 2 and len(page.added) == 21 and not page.has_more
    assert [t.pending for t in page.added].count(True) == 1

    # the same simulator through the commands, Link completed as the drop-in would: the public token on stdin
    run_cli("plaid", "configure", "--url", url, "--client-id", scenario["client_id"], "--secret-stdin",
            input=scenario["secret"] + "\n", check=True)
    institution = scenario["items"][0]["institution_id"]
    assert institution in json.loads(run_cli("plaid", "banks", "--json", check=True).stdout)["usable_for_data"]
    run_cli("connections", "add", "cafe", "--bank", institution, check=True)
    started = json.loads(run_cli("plaid", "link", "cafe", "--json", check=True).stdout)
    assert started["status"] == "link-required"
    public = httpx.post(url + "/__admin/link/complete", json={"link_token": started["link_token"]}).json()
    done = run_cli("plaid", "complete-link", "cafe", "--public-token-stdin", "--json",
                   input=public["public_token"] + "\n", check=True)
    assert json.loads(done.stdout)["status"] == "linked" and public["public_token"] not in done.stderr


@pytest.mark.slow
def test_gocardless_sim_and_commands_link_and_fetch(run_cli, start_sim) -> None:
    scenario = json.loads(run_cli("sim", "gocardless", "--print-scenario", check=True).stdout)
    assert {i["behaviour"] for i in scenario["institutions"]} >= {"healthy", "consent_expiring"}
    url = start_sim("gocardless")
    run_cli("gocardless", "configure", "--url", url, "--secret-id", scenario["secret_id"], "--secret-key-stdin",
            "--link-mode", "simulator", input=scenario["secret_key"] + "\n", check=True)
    banks = json.loads(run_cli("gocardless", "banks", "--json", check=True).stdout)
    assert "SANDBOXFINANCE_SFIN0000" in banks["usable_for_data"]
    run_cli("connections", "add", "shop", "--bank", "SANDBOXFINANCE_SFIN0000", check=True)
    linked = json.loads(run_cli("gocardless", "link", "shop", "--json", check=True).stdout)
    assert linked["status"] == "linked" and linked["sync"]["inserted"] == 16 and linked["health"] == "ok"
    listed = json.loads(run_cli("connections", "list", "--json", check=True).stdout)
    (shop,) = [c for c in listed if c["name"] == "shop"]
    assert shop["connector"] == "gocardless" and shop["consent_expires_at"]
    done = run_cli("gocardless", "configure", "--url", "ftp://nope", "--secret-id", "x", "--secret-key-stdin",
                   input="y\n")
    assert done.returncode != 0 and done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    assert scenario["secret_key"] not in done.stderr + linked.__repr__()
