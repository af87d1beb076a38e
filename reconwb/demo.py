"""`reconwb demo`: the whole product on a fresh workspace under `data/demo/`.

It starts the simulated bank portal and aggregator (their state stays in their own memory, never in the
workspace), connects every scenario login the way a user would, imports the shipped sample statement and
payments plus the simulated business's invoice list, runs the pipeline job notebook (sync, reconcile, deliver
to a local webhook receiver that verifies what it gets), and summarises. Each step calls the same package
functions a user, a notebook or a job would.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconwb import banks, connections, reports
from reconwb import serve as serving
from reconwb.cli.admin import init_workspace
from reconwb.connectors import aggregator
from reconwb.sim import aggregator as sim_aggregator
from reconwb.sim import invoices
from reconwb.sim.bank import BankHandle, start_bank
from reconwb.sim.receiver import ReceiverHandle, start_receiver
from reconwb.workspace import Workspace

DEMO_DIR = Path("data") / "demo"
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
# the locking login is given a mistyped password: the demo shows that reconwb stops before the bank locks it
MISTYPED = "-typo"
DISABLED_BANK = "AGGC_DEU"  # the aggregator bank the demo switches off (the client's switch)


@dataclass
class Demo:
    """What the demo started; `close()` stops all of it (Ctrl-C does too)."""

    ws: Workspace
    bank: BankHandle
    aggregator: sim_aggregator.AggregatorHandle
    receiver: ReceiverHandle
    server: subprocess.Popen[bytes] | None = None
    urls: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
        for part in (self.receiver, self.aggregator, self.bank):
            try:
                part.stop()
            except Exception:  # noqa: S112 - best effort while shutting down
                continue


def fresh_workspace(root: Path = DEMO_DIR) -> Workspace:
    """Wipe and recreate the demo workspace (store and key under `root`)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ws = Workspace(db_path=(root / "reconwb.duckdb").absolute(), key_file=(root / "reconwb.key").absolute())
    init_workspace(ws)
    return ws


def _portal_connections(ws: Workspace, bank: BankHandle) -> list[str]:
    """One connection per scenario login of the simulated portal, named `<bank>-<user>`."""
    names = []
    vault = ws.vault()
    for login in bank.admin("scenario")["logins"]:
        name = f"{login['bank'].removeprefix('sim-')}-{login['username']}"
        password = login["password"] + (MISTYPED if login["behaviour"] == "locks_after_3" else "")
        with ws.connect() as con:
            connections.add(con, name, login["bank"], username=login["username"],
                            portal_url=bank.bank_url(login["bank"]))
            connections.set_credentials(con, vault, name, {"password": password})
        names.append(name)
    return names


def _aggregator_connections(ws: Workspace, agg: sim_aggregator.AggregatorHandle) -> list[str]:
    """Configure the aggregator, link one entity per scenario login, and switch one bank off."""
    vault = ws.vault()
    with ws.connect() as con:
        aggregator.configure(con, vault, url=agg.url, app_token=agg.app_token, webhook_secret=agg.webhook_secret)
    aggregator.refresh_banks(ws)
    names = []
    for login in sim_aggregator.DEFAULT_LOGINS:
        name = f"agg-{login.username}"
        with ws.connect() as con:
            connections.add(con, name, login.bank, username=login.username)
            connections.set_credentials(con, vault, name, {"password": login.password})
        aggregator.link(ws, name)
        names.append(name)
    with ws.connect() as con:
        banks.set_availability(con, DISABLED_BANK, "data", enabled=False)
    return names


def _webhook_endpoint(ws: Workspace) -> ReceiverHandle:
    from reconwb.webhooks import endpoints

    token = secrets.token_urlsafe(24)
    receiver = start_receiver(token)
    with ws.connect() as con:
        _endpoint, secret = endpoints.add(con, ws.vault(), receiver.url, auth="bearer", token=token)
    receiver.inbox.secret = secret
    return receiver


def _imports(ws: Workspace) -> dict[str, Any]:
    from reconwb import payments
    from reconwb.statements.importer import import_file

    done: dict[str, Any] = {}
    with ws.connect() as con:
        for path in sorted(SAMPLES.glob("*.xml")) + sorted(SAMPLES.glob("*.sta")):
            done[path.name] = import_file(con, path, "acme-statements").imported
        done["payments.csv"] = payments.import_file(con, SAMPLES / "payments.csv")
        invoice_list = invoices.write_csv(ws.data_dir / "invoices.csv")
        done["invoices.csv"] = payments.import_file(con, invoice_list)
    return done


def start(root: Path = DEMO_DIR, *, serve: bool = False, port: int = 8888,
          say: Callable[[str], None] = lambda _m: None) -> Demo:
    """Set up the workspace and the simulators (and the server); nothing is fetched yet."""
    ws = fresh_workspace(root)
    say(f"workspace {ws.data_dir}")
    plan = serving.plan(port=port) if serve else None
    server = serving.start(ws, plan, quiet=True) if plan else None
    # the aggregator's signed webhooks go to the server's inbound route
    webhook_url = f"{plan.base}/reconwb/webhooks/{aggregator.WEBHOOK_SOURCE}" if plan else None
    bank = start_bank()
    agg = sim_aggregator.start_aggregator(webhook_url=webhook_url)
    say(f"simulated bank portal {bank.url}, simulated aggregator {agg.url}")
    receiver = _webhook_endpoint(ws)
    demo = Demo(ws, bank, agg, receiver, server, plan.urls() if plan else {})
    try:
        if plan is not None:  # let the server listen before the aggregator starts sending
            serving.wait_until_up(plan.base, plan.token, process=server)
        names = _portal_connections(ws, bank) + _aggregator_connections(ws, agg)
        say(f"{len(names)} connections: {', '.join(names)}")
        say(f"imported: {_imports(ws)}")
    except BaseException:
        demo.close()
        raise
    return demo


def run_pipeline(demo: Demo) -> dict[str, Any]:
    """The pipeline job notebook over every connection, as the scheduler would run it."""
    from reconwb.jobs.runner import run_job

    record = run_job(demo.ws, "pipeline", {"connections": "all", "fail_on_error": False}, trigger="demo")
    demo.aggregator.state.drain()
    return {"id": record.run_id, "status": record.status, "output_path": record.output_path, "error": record.error}


def summary(demo: Demo, job: dict[str, Any] | None = None) -> dict[str, Any]:
    ws = demo.ws
    with ws.connect() as con:
        conns = connections.list_connections(con)
        counts = dict(con.execute(
            "SELECT a.connection_id, count(t.txn_id) FROM accounts a"
            " LEFT JOIN transactions t USING (account_id) GROUP BY 1"
        ).fetchall())
        delivered = con.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").fetchall()[0][0]
    numbers = reports.headline(ws)
    matched: dict[str, int] = {}
    for row in reports.deposit_totals(ws).iter_rows(named=True):
        matched[row["connection"]] = matched.get(row["connection"], 0) + int(row["matched"])
    return {
        "workspace": str(ws.data_dir),
        "connections": [
            {"name": c.name, "bank": c.bank_id, "health": c.health, "reason": c.health_reason,
             "transactions": int(counts.get(c.connection_id, 0)), "matched": matched.get(c.name, 0)}
            for c in conns
        ],
        "matched": numbers["deposits_matched"],
        "suggested": numbers["deposits_suggested"],
        "unmatched": numbers["deposits_unmatched"],
        "pending": numbers["deposits_pending"],
        "payments": {k.removeprefix("payments_"): v for k, v in numbers.items() if k.startswith("payments_")},
        "webhooks_delivered": int(delivered),
        "webhooks_received": len(demo.receiver.inbox.received),
        "webhooks_by_type": demo.receiver.inbox.types(),
        "bank_portal_failed_logins": demo.bank.admin("attempts"),
        "job": job,
        "urls": demo.urls,
    }
