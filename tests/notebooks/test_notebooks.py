"""Every analyst notebook runs top to bottom in a real kernel on a fresh store, and shows no secret.

`getting_started` starts from an empty workspace (that is its job); the others open books built the way a user
builds them: simulated bank connections fetched through Chromium, expected payments imported, reconciled.
Job notebooks (`reconwb/resources/jobs/`) are papermill jobs with their own tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from reconwb import matching, payments, resources
from reconwb.cli.admin import init_workspace
from reconwb.sim.sample import connect_login, write_sample_payments
from reconwb.workspace import Workspace
from tests.portal_support import run_sync, sim_bank

pytestmark = [pytest.mark.kernel, pytest.mark.browser, pytest.mark.slow]

ANALYST = resources.builtin_dir(resources.NOTEBOOKS)
NOTEBOOKS = sorted(ANALYST.glob("*.ipynb"))
BOOKS_LOGINS = ["alice", "erin", "grace"]


def test_the_analyst_notebooks_are_committed_without_outputs() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"getting_started.ipynb", "explore.ipynb", "manage_connections.ipynb"}
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert book.metadata.kernelspec.name == "python3", path.name
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


def _workspace(root: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh initialised store under `root`, and the environment a kernel started now inherits."""
    ws = Workspace(db_path=root / "reconwb.duckdb", key_file=root / "reconwb.key")
    root.mkdir(parents=True)
    _point_at(ws, monkeypatch)
    init_workspace(ws, simulated_banks=True)
    return ws


def _point_at(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONWB_DB", str(ws.db_path))
    monkeypatch.setenv("RECONWB_KEY_FILE", str(ws.key_file))
    monkeypatch.delenv("RECONWB_KEY", raising=False)


@pytest.fixture(scope="module")
def books_store(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A store as an analyst finds it: three banks' logins fetched, invoices imported, one reconcile run.

    Built once for the module (fetching through Chromium is the slow part); each notebook reads it.
    """
    root = tmp_path_factory.mktemp("books")
    with pytest.MonkeyPatch.context() as monkeypatch:
        ws = _workspace(root / "store", monkeypatch)
        bank = sim_bank()
        for name in BOOKS_LOGINS:
            connect_login(ws, bank, name)
            result = run_sync(ws, name, now=True)
            assert result.status == "ok", result.message
        with ws.connect() as con:
            payments.import_file(con, write_sample_payments(root / "payments.csv", bank, BOOKS_LOGINS))
        report = matching.reconcile_store(ws)
    assert report.matched and report.suggested  # something to explore and something to review
    return ws


@pytest.fixture
def books(books_store: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    _point_at(books_store, monkeypatch)
    return books_store


def _secrets(ws: Workspace) -> list[str]:
    logins = sim_bank().admin("scenario")["logins"]
    keys = [line.strip() for line in ws.key_file.read_text().splitlines() if line.strip()]
    return [x["password"] for x in logins] + keys


def _run(path: Path, cwd: Path) -> nbformat.NotebookNode:
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return book


def _check(book: nbformat.NotebookNode, secrets: list[str], name: str) -> str:
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors}"
    text = json.dumps(book)  # outputs, widget state, metadata: all of it
    for secret in secrets:
        assert secret not in text, f"{name} shows a secret"
    return text


@pytest.mark.parametrize("name", ["explore.ipynb", "manage_connections.ipynb"])
def test_notebook_runs_on_the_books_without_secrets(name: str, books: Workspace, tmp_path: Path) -> None:
    book = _run(ANALYST / name, tmp_path)
    text = _check(book, _secrets(books), name)
    assert "application/vnd.jupyter.widget-view+json" in text  # the widgets were displayed
    if name == "explore.ipynb":  # the read-only SQL cell printed its frame
        assert "payment_id" in text and "shape: (" in text


def test_getting_started_connects_fetches_and_reconciles_a_fresh_store(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _workspace(tmp_path / "fresh", monkeypatch)
    book = _run(ANALYST / "getting_started.ipynb", tmp_path)
    _check(book, _secrets(ws), "getting_started.ipynb")
    printed = "".join(o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert "alice: ok" in printed and "grace: ok" in printed
    with ws.connect() as con:
        deposits = con.execute("SELECT count(*) FROM transactions WHERE amount > 0").fetchall()[0][0]
        matched = con.execute("SELECT count(*) FROM match_groups WHERE status = 'matched'").fetchall()[0][0]
        imported = con.execute("SELECT count(*) FROM payments").fetchall()[0][0]
    assert deposits and imported and matched
    assert "payments matched in full" in printed
