"""The inbound webhook route in a real `jupyter server` started with the repository's `jupyter_config.py`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from reconwb import resources
from reconwb.cli.admin import init_workspace
from reconwb.serve import free_port, wait_until_up
from reconwb.webhooks import inbound
from reconwb.webhooks.signing import Signer, generate_secret
from reconwb.workspace import Workspace
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

TOKEN = "jupyter-test-token-123"
HANDLER_DELAY = 3.0


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """One workspace for the module: starting a Jupyter server takes a while, so the tests share one."""
    tmp_path = tmp_path_factory.mktemp("inbound-server")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RECONWB_KEY", raising=False)
        mp.delenv("RECONWB_KEY_FILE", raising=False)
        workspace = Workspace(db_path=tmp_path / "data" / "reconwb.duckdb")
        init_workspace(workspace, simulated_banks=True)
        yield workspace


@pytest.fixture(scope="module")
def server(ws):
    tmp_path = ws.data_dir.parent
    secret = generate_secret()
    with ws.connect() as con:
        inbound.set_secret(con, ws.vault(), "testsource", secret)
    # the repository's config, run as is, plus the test's handler for the "testsource" source
    config = tmp_path / "jupyter_test_config.py"
    config.write_text(
        f"exec(compile(open({str(resources.jupyter_config())!r}).read(), 'jupyter_config.py', 'exec'))\n"
        'c.ReconwbServer.inbound_handlers = {"testsource": "tests.server.probe:record"}\n'
    )
    probe = tmp_path / "probe.jsonl"
    port = free_port()
    env = {
        **os.environ,
        "RECONWB_DB": str(ws.db_path),
        "PYTHONPATH": str(ROOT),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "RECONWB_PROBE_FILE": str(probe),
        "RECONWB_PROBE_DELAY": str(HANDLER_DELAY),
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config}", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, TOKEN, process=proc)
    except RuntimeError as err:
        pytest.fail(f"jupyter server did not start: {err}\n{(tmp_path / 'server.log').read_text()}")
    try:
        yield {"base": base, "secret": secret, "probe": probe, "log": tmp_path / "server.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _post(server, body: str, *, secret: str | None = None, message_id: str = "msg_srv_1", at: float | None = None,
          source: str = "testsource") -> httpx.Response:
    headers = Signer(secret or server["secret"]).headers(message_id, int(at or time.time()), body)
    return httpx.post(f"{server['base']}/reconwb/webhooks/{source}", content=body, headers=headers, timeout=30)


def test_the_receiver_verifies_stores_answers_fast_and_processes_after(ws, server):
    body = json.dumps({"type": "entity.created", "data": {"entity_id": "ent_1"}})
    started = time.monotonic()
    first = _post(server, body)
    answered_in = time.monotonic() - started
    assert first.status_code == 200, first.text
    assert first.json()["ok"] is True
    assert answered_in < HANDLER_DELAY, "the answer waited for the handler"

    again = _post(server, body)  # the sender's retry: same webhook-id
    assert again.status_code == 200 and "duplicate" in again.json()["detail"]

    deadline = time.monotonic() + 60
    while not server["probe"].exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server["probe"].exists(), "the stored event was never processed"
    lines = server["probe"].read_text().splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(body)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with ws.connect() as con:
            rows = inbound.list_inbound(con)
        if rows and rows[0]["status"] == "processed":
            break
        time.sleep(0.2)
    assert [(r["webhook_id"], r["status"]) for r in rows] == [("msg_srv_1", "processed")]


def test_the_receiver_needs_no_token_but_refuses_bad_signatures_stale_and_malformed(ws, server):
    body = json.dumps({"type": "results.ready"})
    with ws.connect() as con:
        before = inbound.list_inbound(con)
    assert _post(server, body, secret=generate_secret(), message_id="msg_forged").status_code == 401
    assert _post(server, body, at=time.time() - 3600, message_id="msg_stale").status_code == 401
    assert _post(server, "{not json", message_id="msg_bad_json").status_code == 400
    unsigned = httpx.post(f"{server['base']}/reconwb/webhooks/testsource", content=body, timeout=30)
    assert unsigned.status_code == 400
    assert _post(server, body, source="nobody", message_id="msg_nobody").status_code == 404
    # the rest of the server still wants its token
    assert httpx.get(f"{server['base']}/api/contents", timeout=30).status_code == 403
    with ws.connect() as con:
        assert inbound.list_inbound(con) == before, "a refused webhook was stored"
    text = server["log"].read_text()
    assert "rejected inbound webhook for testsource" in text and "rejected inbound webhook for nobody" in text
    assert server["secret"] not in text and server["secret"][6:] not in text


def test_a_flood_of_junk_gets_400s_without_touching_the_store_and_a_few_log_lines(ws, server):
    body = json.dumps({"type": "results.ready"})
    good = Signer(server["secret"]).headers("msg_flood", int(time.time()), body)
    url = f"{server['base']}/reconwb/webhooks/testsource"
    log_before = len(server["log"].read_text())
    with httpx.Client(timeout=30) as client:
        for stamp in ("\u00b2", "\u0661\u0662", "soon", "9" * 5000):  # not a number: malformed, never a 503
            headers = {**good, "webhook-timestamp": stamp.encode("utf-8")}
            assert client.post(url, content=body.encode(), headers=headers).status_code == 400, stamp
        started = time.monotonic()
        statuses = {client.post(url, content=body).status_code for _ in range(300)}
        flood_seconds = time.monotonic() - started
    assert statuses == {400}
    with ws.connect() as con:  # the store was never held by the flood: a read gets in at once
        assert con.execute("SELECT count(*) FROM inbound_events WHERE webhook_id = 'msg_flood'").fetchone() == (0,)
    time.sleep(inbound.REJECTION_LOG_SECONDS + 0.5)  # the last window's count is reported when it closes
    counts = [int(n) for n in re.findall(
        r"rejected inbound webhook for testsource: (\d+) since", server["log"].read_text()[log_before:])]
    assert 1 <= len(counts) <= flood_seconds / inbound.REJECTION_LOG_SECONDS + 3  # at most one a second
    assert 304 <= sum(counts) <= 310  # every rejection counted (a few may be the previous test's, held back)
