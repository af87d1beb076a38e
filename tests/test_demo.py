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
    assert summary["suggested"] >= 2  # the review cases (reconwb.demo_cases): the explorer has work to show
    assert summary["webhooks_delivered"] > 0
    assert summary["webhooks_received"] == summary["webhooks_delivered"]
    assert summary["webhooks_by_type"].get("payment.matched", 0) > 0
    # the demo's failing logins (expired password, OTP, the typo) make the pipeline run partial, naming them
    assert summary["job"]["status"] == "partial"
    assert "nordic-bob" in summary["job"]["error"] and "nordic-alice" not in summary["job"]["error"]
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


# -- the demo never destroys work (these stop before any simulator starts) -------------------------------------


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    return subprocess.run([sys.executable, "-m", "reconwb", "demo", "--no-serve", "--json", *args], cwd=cwd,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)


def _refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error:") and words in done.stderr, done.stderr


def test_it_refuses_a_folder_it_did_not_make_even_with_fresh(tmp_path: Path) -> None:
    work = tmp_path / "data" / "demo"
    work.mkdir(parents=True)
    (work / "my-notes.txt").write_text("months of work")
    for args in ((), ("--fresh",)):
        _refused(_demo(tmp_path, *args), "not made by `reconwb demo`")
    assert (work / "my-notes.txt").read_text() == "months of work"
    assert sorted(p.name for p in work.iterdir()) == ["my-notes.txt"]


def test_an_earlier_demo_is_kept_unless_fresh_and_never_while_served(tmp_path: Path) -> None:
    from reconwb import demo, serve

    earlier = demo.fresh_workspace(tmp_path / "demo")  # what a first `reconwb demo` leaves
    (earlier.data_dir / "notebooks" / "mine.ipynb").write_text("{}")
    _refused(_demo(tmp_path, "--dir", str(earlier.data_dir)), "--fresh")
    holder = subprocess.Popen(  # another reconwb process serving it (the lock a server holds)
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from reconwb import serve;"
         " serve._claim(Path(sys.argv[1])); print('ready', flush=True); time.sleep(120)", str(earlier.data_dir)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert serve.serving_pid(earlier.data_dir) == 0  # held; `_claim` alone writes no pid
        _refused(_demo(tmp_path, "--dir", str(earlier.data_dir), "--fresh"), "being served")
    finally:
        holder.kill()
        holder.wait()
    assert (earlier.data_dir / "notebooks" / "mine.ipynb").exists()
    assert serve.serving_pid(earlier.data_dir) is None  # a crashed holder leaves a free lock
    fresh = demo.fresh_workspace(earlier.data_dir, fresh=True)
    assert not (fresh.data_dir / "notebooks" / "mine.ipynb").exists() and fresh.db_path.exists()


def test_pending_deposits_are_reported_as_pending_not_unmatched(demo_run) -> None:
    import duckdb

    summary, workspace = demo_run
    with duckdb.connect(str(workspace / "reconwb.duckdb"), read_only=True) as con:
        pending = con.execute("SELECT count(*) FROM transactions WHERE amount > 0 AND status = 'pending'"
                              " AND txn_id NOT IN (SELECT txn_id FROM matches)").fetchall()[0][0]
        deposits = con.execute("SELECT count(*) FROM transactions WHERE amount > 0").fetchall()[0][0]
    assert pending > 0 and summary["pending"] == pending
    # each deposit is in exactly one state: pending ones are not also counted unmatched
    assert summary["matched"] + summary["suggested"] + summary["unmatched"] + summary["pending"] == deposits


@pytest.mark.kernel
@pytest.mark.browser
@pytest.mark.slow
def test_getting_started_on_the_demo_store_adds_no_duplicate_transactions(
    demo_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb
    import nbformat
    from nbclient import NotebookClient

    _, workspace = demo_run
    store = workspace / "reconwb.duckdb"

    def counts() -> tuple[int, int]:
        with duckdb.connect(str(store), read_only=True) as con:
            return con.execute("SELECT count(*), count(DISTINCT account_id) FROM transactions").fetchall()[0]

    before = counts()
    monkeypatch.setenv("RECONWB_DB", str(store))
    monkeypatch.setenv("RECONWB_KEY_FILE", str(workspace / "reconwb.key"))
    monkeypatch.delenv("RECONWB_KEY", raising=False)
    from reconwb import resources

    book = nbformat.read(resources.builtin_dir(resources.NOTEBOOKS) / "getting_started.ipynb", as_version=4)
    NotebookClient(book, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(workspace)}}).execute()
    printed = "".join(o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert "alice: ok, 0 new transactions" in printed and "grace: ok, 0 new transactions" in printed
    assert counts() == before
