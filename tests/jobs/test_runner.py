"""Real papermill runs of the job notebooks, in real kernels, against a bank on loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import nbformat
import pytest

from reconwb.jobs import JobRequest, Policy, history, run_job
from reconwb.jobs.executors import LocalExecutor
from reconwb.jobs.runner import read_scraps
from reconwb.workspace import Workspace
from tests.jobs.conftest import add_connection, run_json
from tests.jobs.loopback_bank import LoopbackBank

pytestmark = pytest.mark.kernel

WRONG = "Wr0ng-Secret-77x"


def test_sync_job_runs_and_history_shows_it(bank_ws: Workspace, bank: LoopbackBank, run_cli) -> None:
    add_connection(bank_ws, bank, "c1", "u1")
    code, run, err = run_json(run_cli, "jobs", "run", "sync", "-p", "connections", "all")
    assert code == 0, err
    assert run["status"] == "succeeded" and run["job"] == "sync" and run["parameters"] == {"connections": "all"}
    assert run["summary"]["sync"]["ok"] == 1 and run["summary"]["sync"]["inserted"] == 1
    output = Path(run["output_path"])
    assert output.is_file() and output.is_relative_to(bank_ws.runs_dir)
    # a run notebook shows what the job saw: the user's alone
    assert [oct(p.stat().st_mode & 0o777) for p in (bank_ws.runs_dir, output.parent, output)] == ["0o700", "0o700",
                                                                                                   "0o600"]
    assert read_scraps(nbformat.read(output, as_version=4))["sync"]["requested"] == ["c1"]
    assert run["metrics"]["kernel_start_seconds"] > 0 and run["metrics"]["overhead_seconds"] > 0
    assert bank.logins["u1"] == 1

    code, runs, _ = run_json(run_cli, "jobs", "history")
    assert code == 0
    assert [(r["id"], r["job"], r["status"], r["output_path"]) for r in runs] == [
        (run["id"], "sync", "succeeded", run["output_path"])
    ]
    assert runs[0]["started_at"] < runs[0]["finished_at"]
    with bank_ws.connect() as con:
        linked = con.execute("SELECT job_run_id FROM sync_runs").fetchall()
    assert linked == [(run["id"],)]
    # nothing unscrubbed is left behind
    assert [p.name for p in bank_ws.runs_dir.iterdir()] == [output.parent.name]


def test_failing_sync_keeps_its_notebook_emits_job_failed_and_leaks_no_password(
    bank_ws: Workspace, bank: LoopbackBank, run_cli
) -> None:
    add_connection(bank_ws, bank, "c2", "u2", password=WRONG)
    with bank_ws.connect() as con:  # an endpoint, so job.failed is queued as a webhook too
        con.execute("INSERT INTO webhook_endpoints (endpoint_id, url, auth_scheme) VALUES ('ep_1', 'http://x', 'none')")

    done = run_cli("jobs", "run", "sync", "-p", "connections", "c2", "--json")
    assert done.returncode != 0
    assert done.stderr.startswith("error: job sync failed") and done.stderr.count("\n") == 1
    run = json.loads(done.stdout)
    assert WRONG not in done.stdout + done.stderr
    assert run["status"] == "failed" and "JobFailed" in run["error"] and run["error_cell"] is not None
    assert bank.logins["u2"] == 1

    text = Path(run["output_path"]).read_text()
    assert WRONG not in text
    nb = nbformat.read(run["output_path"], as_version=4)
    streams = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream")
    # the connector really printed the bank's echo of the password; the stored notebook has it masked
    assert "debug: u2: login refused: password '***' is not valid for u2" in streams
    error_cell = nb.cells[run["error_cell"]]
    assert any(o.output_type == "error" and o.ename == "JobFailed" for o in error_cell.outputs)

    with bank_ws.connect() as con:
        failed = con.execute("SELECT event_id, payload FROM events WHERE type = 'job.failed'").fetchall()
        queued = con.execute("SELECT count(*) FROM webhook_deliveries WHERE event_id = ?", [failed[0][0]]).fetchall()
    assert len(failed) == 1 and json.loads(failed[0][1])["run_id"] == run["id"]
    assert json.loads(failed[0][1])["output_path"] == run["output_path"]
    assert queued == [(1,)]
    assert WRONG.encode() not in bank_ws.db_path.read_bytes()


def test_failed_attempt_is_retried_per_policy(bank_ws: Workspace, tmp_path: Path) -> None:
    notebook = tmp_path / "flaky.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('marker = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import pathlib\nm = pathlib.Path(marker)\nif not m.exists():\n"
            "    m.write_text('seen')\n    raise RuntimeError('first attempt fails')\nprint('second attempt')"
        ),
    ]
    nbformat.write(nb, notebook)

    record = run_job(bank_ws, str(notebook), {"marker": str(tmp_path / "m")}, policy=Policy(retries=1))
    assert (record.status, record.attempt) == ("succeeded", 2)
    runs = history(bank_ws)
    assert [(r.status, r.attempt) for r in runs] == [("succeeded", 2), ("failed", 1)]
    assert record.retry_of == runs[1].run_id and "first attempt fails" in runs[1].error
    assert Path(runs[1].output_path).is_file()
    with bank_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM events WHERE type = 'job.failed'").fetchall() == [(0,)]


def test_two_overlapping_runs_do_not_both_sync_a_connection(bank_ws: Workspace, bank: LoopbackBank) -> None:
    add_connection(bank_ws, bank, "c1", "u1")
    add_connection(bank_ws, bank, "c3", "u3")
    bank.gate = threading.Event()  # logins wait here, so the first run still holds its leases
    request = JobRequest("sync", {"connections": ["c1", "c3"]})
    box: dict[str, object] = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("runs", LocalExecutor(2).run(bank_ws, [request, request], progress=False))
    )
    worker.start()
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        finished = [r for r in history(bank_ws) if r.status != "running"]
        if finished and bank.waiting == 2:
            break
        time.sleep(0.5)
    bank.gate.set()
    worker.join(150)

    runs = sorted(box["runs"], key=lambda r: r.summary["sync"]["ok"])
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    skipped, synced = (r.summary["sync"] for r in runs)
    assert synced["ok"] == 2 and synced["leased_elsewhere"] == {}
    assert skipped["ok"] == 0 and skipped["skipped"] == 2
    assert skipped["leased_elsewhere"] == {"c1": runs[1].run_id, "c3": runs[1].run_id}
    assert bank.logins == {"u1": 1, "u3": 1}
    with bank_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM job_leases").fetchall() == [(0,)]


def test_a_failing_connection_makes_the_run_partial_and_the_next_skipped_run_too(
    bank_ws: Workspace, bank: LoopbackBank, run_cli
) -> None:
    from reconwb.widgets.jobs_panel import STATUS_COLOURS, JobsPanel

    add_connection(bank_ws, bank, "good", "u1")
    add_connection(bank_ws, bank, "bad", "u2", password=WRONG)
    code, run, err = run_json(run_cli, "jobs", "run", "sync", "-p", "connections", "all",
                              "-p", "fail_on_error", "false")
    assert code == 0, err  # the run finished; its status says not everything worked
    assert run["status"] == "partial" and "bad:" in run["error"] and "good" not in run["error"]
    assert run["summary"]["sync"]["failing"].keys() == {"bad"}
    assert WRONG not in run["error"]
    # the next scheduled run leaves "bad" out (its credentials were rejected) and says so again
    code, second, err = run_json(run_cli, "jobs", "run", "sync", "-p", "fail_on_error", "false")
    assert code == 0, err
    assert second["summary"]["sync"]["requested"] == ["good"]
    assert second["status"] == "partial" and "bad:" in second["error"]
    assert bank.logins["u2"] == 1

    text = run_cli("jobs", "history", check=True).stdout
    header, *lines = text.splitlines()
    assert header.split()[:5] == ["id", "job", "status", "started_at", "seconds"] and "error" in header
    assert all(" partial " in line and "bad:" in line for line in lines) and len(lines) == 2
    panel = JobsPanel(bank_ws)
    assert STATUS_COLOURS["partial"] in panel.verdict.value and "bad:" in panel.verdict.value
