"""A scheduled pipeline run: sync, reconcile, deliver webhooks, in one kernel; history shows it.

NEEDS THE MERGE: `reconwb.matching.reconcile_store`, `reconwb.webhooks.deliver_due` and `reconwb webhooks add`
come from the matching and webhooks branches; until they are merged this test fails at the reconcile step.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconwb.workspace import Workspace
from tests.jobs.conftest import add_connection, run_json
from tests.jobs.loopback_bank import LoopbackBank

pytestmark = pytest.mark.kernel
TOKEN = "endpoint-token-5150"


class Receiver:
    """The customer's webhook endpoint on loopback: keeps every request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


def test_scheduled_pipeline_fetches_reconciles_and_delivers(bank_ws: Workspace, bank: LoopbackBank, run_cli) -> None:
    add_connection(bank_ws, bank, "c1", "u1")  # the bank books 12.50 EUR with reference INV-u1 today
    with bank_ws.connect() as con:
        con.execute(
            "INSERT INTO payments (payment_id, amount, currency, reference, payer) VALUES"
            " ('INV-u1', 12.50, 'EUR', 'INV-u1', 'Customer One')"
        )
    receiver = Receiver()
    try:
        run_cli("webhooks", "add", receiver.url, "--auth", "bearer", "--token-stdin", "--json",
                input=TOKEN + "\n", check=True)  # fmt: skip
        (bank_ws.data_dir / "schedule.toml").write_text(
            '[jobs.pipeline]\njob = "pipeline"\ncron = "* * * * *"\nparameters = { connections = "all" }\n'
        )
        code, runs, err = run_json(run_cli, "jobs", "scheduler", "--once")
    finally:
        receiver.server.shutdown()
    assert code == 0, err
    [run] = runs
    assert run["status"] == "succeeded", run["error"]
    summary = run["summary"]
    assert summary["sync"]["inserted"] == 1
    # the sync step reconciled what it brought (reconcile mode); the reconcile step finds nothing left to match
    assert summary["reconcile"]["matched"] == 0 and summary["reconcile"]["open_payments"] == 0
    with bank_ws.connect() as con:
        assert con.execute("SELECT status FROM payments WHERE payment_id = 'INV-u1'").fetchall() == [("paid",)]
    assert summary["deliver"]["delivered"] >= 1 and summary["deliver"]["failed"] == 0

    matched = [json.loads(body) for headers, body in receiver.requests if b"payment.matched" in body]
    assert matched and "INV-u1" in json.dumps(matched[0])
    headers = receiver.requests[0][0]
    assert headers["authorization"] == f"Bearer {TOKEN}" and headers["webhook-signature"].startswith("v1,")
    assert TOKEN not in Path(run["output_path"]).read_text()

    code, history, _ = run_json(run_cli, "jobs", "history")
    assert [(h["id"], h["job"], h["status"], h["trigger"]) for h in history] == [
        (run["id"], "pipeline", "succeeded", "schedule:pipeline")
    ]
