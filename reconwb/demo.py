"""`reconwb demo`: the whole product on a fresh workspace under `data/demo/`.

It starts the simulated bank portal, aggregator, Plaid and GoCardless (their state stays in their own memory,
never in the workspace), connects every scenario login the way a user would, imports the shipped sample statement and
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

from reconwb import banks, banners, connections, demo_cases, reports, resources, scaffold
from reconwb import serve as serving
from reconwb.cli.admin import init_workspace
from reconwb.errors import InvalidInput
from reconwb.openbanking import lean as aggregator
from reconwb.sim import aggregator as sim_aggregator
from reconwb.sim import gocardless as sim_gocardless
from reconwb.sim import invoices
from reconwb.sim import plaid as sim_plaid
from reconwb.sim.bank import BankHandle, start_bank
from reconwb.sim.httpjson import Handle
from reconwb.sim.receiver import ReceiverHandle, start_receiver
from reconwb.store.db import forget_migrated
from reconwb.workspace import KEY_FILE_NAME, STORE_NAME, Workspace

DEMO_DIR = Path("data") / "demo"
# the locking login is given a mistyped password: the demo shows that reconwb stops before the bank locks it
MISTYPED = "-typo"
DISABLED_BANK = "AGGC_DEU"  # the aggregator bank the demo switches off (the client's switch)
MARKER = ".reconwb-demo"  # in a folder the demo made (and so may start over with --fresh)


@dataclass
class Demo:
    """What the demo started; `close()` stops all of it (Ctrl-C does too)."""

    ws: Workspace
    bank: BankHandle
    aggregator: sim_aggregator.AggregatorHandle
    receiver: ReceiverHandle
    server: subprocess.Popen[bytes] | None = None
    urls: dict[str, str] = field(default_factory=dict)
    providers: list[Handle] = field(default_factory=list)  # the Plaid and GoCardless simulators

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
        for part in (self.receiver, self.aggregator, self.bank, *self.providers):
            try:
                part.stop()
            except Exception:  # noqa: S112 - best effort while shutting down
                continue


def fresh_workspace(root: Path = DEMO_DIR, *, fresh: bool = False) -> Workspace:
    """Create the demo workspace (store and key under `root`); never destroys work.

    A folder that holds anything is refused unless the demo made it (its marker file) and nobody serves it;
    even then only `fresh` deletes it, so a second `reconwb demo` does not wipe what the first one's viewer did.
    """
    root = root.absolute()
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise InvalidInput(f"{root} is not empty and was not made by `reconwb demo`; it is left as it is:"
                               " choose another folder with --dir")
        pid = serving.serving_pid(root)
        if pid is not None:
            raise InvalidInput(f"the demo workspace {root} is being served by another reconwb process"
                               f"{f' (pid {pid})' if pid else ''}; stop it (Ctrl-C there) first")
        if not fresh:
            raise InvalidInput(f"{root} holds an earlier demo; `reconwb demo --fresh` starts over (deleting it),"
                               " or `reconwb serve` in that folder shows it again")
        shutil.rmtree(root)
        forget_migrated(root / STORE_NAME)  # a new file at the same path: this process must migrate it again
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by `reconwb demo`: `reconwb demo --fresh` may delete this folder\n")
    scaffold.lay_out(root)  # the analyst notebooks, for `reconwb serve` in that folder
    ws = Workspace(db_path=root / STORE_NAME, key_file=root / KEY_FILE_NAME)
    init_workspace(ws, simulated_banks=True)
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


# (connection, provider, bank, behaviour): Plaid and GoCardless beside Lean; one consent ends in 5 days
PROVIDER_CONNECTIONS = (
    ("plaid-business", "plaid", sim_plaid.INSTITUTIONS[0][0], "healthy"),
    ("gocardless-sandbox", "gocardless", "SANDBOXFINANCE_SFIN0000", "healthy"),
    ("gocardless-expiring", "gocardless", "RECONWB_EXPIRING_RWBDEB02", "consent_expiring"),
)


def _provider_connections(ws: Workspace, plaid_sim: Handle, gocardless_sim: Handle,
                          plaid_webhooks: str | None) -> list[str]:
    """Configure Plaid and GoCardless at their simulators and link one connection per PROVIDER_CONNECTIONS."""
    from reconwb.openbanking import gocardless, linking, plaid

    with ws.connect() as con:
        plaid.configure(con, ws.vault(), url=plaid_sim.url, client_id=plaid_sim.state.client_id,
                        secret=plaid_sim.state.secret, webhook_url=plaid_webhooks, link_mode="simulator")
        gocardless.configure(con, ws.vault(), url=gocardless_sim.url, secret_id=gocardless_sim.state.secret_id,
                             secret_key=gocardless_sim.state.secret_key, link_mode="simulator")
    plaid.refresh_banks(ws)
    gocardless.refresh_banks(ws)
    for name, _provider, bank, behaviour in PROVIDER_CONNECTIONS:
        with ws.connect() as con:  # a Plaid sandbox username picks the simulated item's behaviour
            connections.add(con, name, bank, username=behaviour)
        linking.link(ws, name)
    return [c[0] for c in PROVIDER_CONNECTIONS]


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
    samples = resources.builtin_dir(resources.SAMPLES)
    with ws.connect() as con:
        for path in sorted(samples.glob("*.xml")) + sorted(samples.glob("*.sta")):
            done[path.name] = import_file(con, path, "acme-statements").imported
        done["payments.csv"] = payments.import_file(con, samples / "payments.csv")
        invoice_list = invoices.write_csv(ws.data_dir / "invoices.csv")
        done["invoices.csv"] = payments.import_file(con, invoice_list)
        done["review cases"] = demo_cases.load(con, ws.data_dir / "imports")  # for the explorer
    return done


def start(root: Path = DEMO_DIR, *, serve: bool = False, port: int = 8888, fresh: bool = False,
          say: Callable[[str], None] = lambda _m: None) -> Demo:
    """Set up the workspace and the simulators (and the server); nothing is fetched yet."""
    ws = fresh_workspace(root, fresh=fresh)
    say(f"workspace {ws.data_dir}")
    plan = serving.plan(port=port, root=ws.data_dir) if serve else None
    server = serving.start(ws, plan, quiet=True) if plan else None
    # the aggregator's signed webhooks go to the server's inbound route
    webhook_url = f"{plan.base}/reconwb/webhooks/{aggregator.WEBHOOK_SOURCE}" if plan else None
    bank = start_bank()
    agg = sim_aggregator.start_aggregator(webhook_url=webhook_url)
    plaid_sim = sim_plaid.start_plaid(webhook_url=f"{plan.base}/reconwb/webhooks/plaid" if plan else None)
    gocardless_sim = sim_gocardless.start_gocardless()
    say(f"simulated bank portal {bank.url}, simulated aggregator {agg.url}, simulated Plaid {plaid_sim.url},"
        f" simulated GoCardless {gocardless_sim.url}")
    receiver = _webhook_endpoint(ws)
    demo = Demo(ws, bank, agg, receiver, server, plan.urls() if plan else {}, [plaid_sim, gocardless_sim])
    try:
        if plan is not None:  # let the server listen before the aggregator starts sending
            serving.wait_until_up(plan.base, plan.token, process=server)
        names = (_portal_connections(ws, bank) + _aggregator_connections(ws, agg)
                 + _provider_connections(ws, plaid_sim, gocardless_sim, plaid_sim.state.webhook_url))
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
            {"name": c.name, "bank": c.bank_id, "connector": c.connector, "health": c.health,
             "reason": c.health_reason, "transactions": int(counts.get(c.connection_id, 0)),
             "matched": matched.get(c.name, 0), "consent_expires_at": c.consent_expires_at}
            for c in conns
        ],
        "matched": numbers["deposits_matched"],
        "suggested": numbers["deposits_suggested"],
        "unmatched": numbers["deposits_unmatched"],
        "pending": numbers["deposits_pending"],
        "payments": {k.removeprefix("payments_"): v for k, v in numbers.items() if k.startswith("payments_")},
        "banners": [{"connection": b.connection, "kind": b.kind, "title": b.title, "message": b.message}
                    for c in conns for b in banners.for_connection(c)],
        "webhooks_delivered": int(delivered),
        "webhooks_received": len(demo.receiver.inbox.received),
        "webhooks_by_type": demo.receiver.inbox.types(),
        "bank_portal_failed_logins": demo.bank.admin("attempts"),
        "job": job,
        "urls": demo.urls,
    }
