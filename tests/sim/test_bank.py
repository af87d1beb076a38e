"""The simulated bank as a plain HTTP client sees it: scenario, lock-out, password change, OTP, maintenance."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import httpx
import pytest

from reconwb.sim.bank import BankHandle
from reconwb.sim.bank_scenario import BEHAVIOURS, builtin, rf_reference
from tests.portal_support import login, sim_bank


@pytest.fixture
def bank() -> BankHandle:
    return sim_bank()


@pytest.fixture
def client(bank: BankHandle):
    with httpx.Client(base_url=bank.url, follow_redirects=True, timeout=10) as c:
        yield c


def _post_login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/nordic/login", data={"username": username, "password": password})


def test_print_scenario_is_the_contracted_json_and_deterministic(run_cli) -> None:
    first = run_cli("sim", "bank", "--print-scenario", check=True)
    data = json.loads(first.stdout)
    assert {b["bank_id"] for b in data["banks"]} == {"sim-nordic", "sim-alpine", "sim-atlantic"}
    assert set(BEHAVIOURS) <= {x["behaviour"] for x in data["logins"]}
    for entry in data["logins"]:
        assert {"bank", "username", "password", "behaviour", "transactions"} <= set(entry)
    assert json.loads(run_cli("sim", "bank", "--print-scenario", check=True).stdout) == data
    txns = [t for x in data["logins"] for t in x["transactions"]]
    refs = [t["reference"] for t in txns]
    invoices = [r for r in refs if r.startswith("INV-")]
    assert invoices and all(re.fullmatch(r"INV-\d{4}-\d{4}", r) for r in invoices)
    assert len(set(invoices)) == len(invoices)  # each invoice is paid once across the whole scenario
    creditor = [r for r in refs if r.startswith("RF")]
    assert creditor and all(rf_reference(r[4:]) == r for r in creditor)
    amounts = [Decimal(t["amount"]) for t in txns]
    assert any(a > 0 for a in amounts) and any(a < 0 for a in amounts)
    assert all(a == a.quantize(Decimal("0.01")) for a in amounts)
    assert {t["status"] for t in txns} == {"booked", "pending"}


def test_same_seed_same_transactions() -> None:
    assert builtin().as_dict() == builtin().as_dict()


def test_three_wrong_passwords_lock_and_the_admin_endpoint_counts_them(
    bank: BankHandle, client: httpx.Client
) -> None:
    page = _post_login(client, "dave", "nope-1")
    assert "2 attempts left" in page.text
    _post_login(client, "dave", "nope-2")
    assert bank.admin("attempts")["dave"] == 2
    locked = _post_login(client, "dave", "nope-3")
    assert "Access locked" in locked.text
    right = _post_login(client, "dave", login(bank, "dave")["password"])
    assert "Access locked" in right.text  # even the right password cannot get in now
    assert bank.admin("attempts")["dave"] == 3


def test_password_expires_and_is_changed_through_the_portal(bank: BankHandle, client: httpx.Client) -> None:
    old = login(bank, "bob")["password"]
    page = _post_login(client, "bob", old)
    assert "Your password has expired" in page.text
    weak = client.post("/nordic/password", data={"current": old, "new": "short", "confirm": "short"})
    assert "at least 8" in weak.text
    done = client.post("/nordic/password", data={"current": old, "new": "Fresh-pw-1", "confirm": "Fresh-pw-1"})
    assert "was changed" in done.text
    assert "Your accounts" in _post_login(client, "bob", "Fresh-pw-1").text
    assert "not correct" in _post_login(httpx.Client(base_url=bank.url, follow_redirects=True), "bob", old).text


def test_otp_every_login_and_wrong_codes(bank: BankHandle, client: httpx.Client) -> None:
    page = _post_login(client, "carol", login(bank, "carol")["password"])
    assert page.url.path == "/nordic/otp"
    code = bank.admin("otp/carol")["code"]
    assert re.fullmatch(r"\d{6}", code)
    wrong = client.post("/nordic/otp", data={"otp": "x"})
    assert "not valid" in wrong.text
    assert "Your accounts" in client.post("/nordic/otp", data={"otp": code}).text


def test_maintenance_layout_change_and_flaky_pages(bank: BankHandle, client: httpx.Client) -> None:
    bank.admin("maintenance", {"bank": "alpine", "on": True})
    down = client.get("/alpine/login")
    assert down.status_code == 503 and "maintenance" in down.text
    assert client.get("/nordic/login").status_code == 200
    bank.admin("layout", {"bank": "nordic", "version": 2})
    assert "id='username'" not in client.get("/nordic/login").text
    bank.admin("maintenance", {"bank": "alpine", "on": False})
    bank.admin("slow", {"seconds": 0.2})
    form = client.get("/alpine/login").text
    csrf = re.search(r'token:"([0-9a-f]+)"', form).group(1)
    frank = login(bank, "frank")
    client.post("/alpine/login", data={"user_id": "frank", "pin": frank["password"], "csrf": csrf})
    ref = frank["accounts"][0]["ref"]
    statuses = [client.get(f"/alpine/account/{ref}").status_code for _ in range(3)]
    assert statuses == [500, 200, 200]
    assert bank.admin("stats")["frank"]["slow_served"] == 1


def test_alpine_login_needs_the_pages_javascript(bank: BankHandle, client: httpx.Client) -> None:
    client.get("/alpine/login")
    page = client.post("/alpine/login", data={"user_id": "gus", "pin": login(bank, "gus")["password"], "csrf": ""})
    assert "timed out" in page.text
    assert bank.admin("attempts")["gus"] == 0  # a session problem is not a failed password


def test_the_bank_locks_and_unlocks_a_login_through_the_admin_endpoint(
    bank: BankHandle, client: httpx.Client
) -> None:
    password = login(bank, "alice")["password"]
    assert bank.admin("lock", {"username": "alice"}) == {"locked": ["alice"]}
    assert "Access locked" in _post_login(client, "alice", password).text
    bank.admin("lock", {"username": "alice", "on": False})  # the customer phoned the bank
    assert "Your accounts" in _post_login(client, "alice", password).text


def test_invalidate_and_reset_live_in_memory(bank: BankHandle, client: httpx.Client, tmp_path,
                                             monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    password = login(bank, "alice")["password"]
    bank.admin("invalidate", {"username": "alice"})
    assert "Your password has expired" in _post_login(client, "alice", password).text
    bank.admin("reset", {})
    assert "Your accounts" in _post_login(client, "alice", password).text
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


def test_sim_bank_serves_in_the_foreground_until_stopped(tmp_path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "reconwb", "sim", "bank", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/__admin/attempts", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, proc.stderr.read1().decode() if proc.poll() is not None else ""
                time.sleep(0.2)
        assert answer.json()["dave"] == 0
        assert httpx.get(f"http://127.0.0.1:{port}/atlantic/login").status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
