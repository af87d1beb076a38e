"""What `reconwb serve` shows: the workspace folder, and the built-in dashboards under dashboards/ unless replaced.

The real jupyter_server contents manager class, on a real folder; the server itself is exercised in
tests/dashboards and tests/test_wheel.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nbformat
import pytest
from tornado.web import HTTPError

from reconwb import resources
from reconwb.server.contents import WorkspaceContentsManager


def _run(coro):
    return asyncio.run(coro)


@pytest.fixture
def manager(tmp_path: Path) -> WorkspaceContentsManager:
    (tmp_path / "notebooks").mkdir()
    return WorkspaceContentsManager(root_dir=str(tmp_path))


def _notebook(title: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}")]
    return nb


def test_built_in_dashboards_appear_under_dashboards(manager: WorkspaceContentsManager) -> None:
    model = _run(manager.get("dashboards/reconciliation.ipynb"))
    shipped = nbformat.read(resources.builtin_dir(resources.DASHBOARDS) / "reconciliation.ipynb", as_version=4)
    assert model["type"] == "notebook" and model["content"]["cells"][0]["source"] == shipped.cells[0].source
    assert model["writable"] is False
    listing = _run(manager.get("dashboards"))
    assert {c["name"] for c in listing["content"]} >= {"reconciliation.ipynb", "connections.ipynb"}
    assert _run(manager.file_exists("dashboards/connections.ipynb")) and _run(manager.dir_exists("dashboards"))
    assert not _run(manager.is_hidden("dashboards/connections.ipynb"))
    with pytest.raises(HTTPError):  # nothing else of the package is reachable
        _run(manager.get("jobs/sync.ipynb"))
    with pytest.raises(HTTPError):
        _run(manager.get("dashboards/../jobs/sync.ipynb"))


def test_a_workspace_dashboard_replaces_or_adds_and_saving_never_touches_the_package(
        manager: WorkspaceContentsManager, tmp_path: Path) -> None:
    shipped = resources.builtin_dir(resources.DASHBOARDS) / "connections.ipynb"
    before = shipped.read_bytes()
    saved = _run(manager.save({"type": "notebook", "content": _notebook("Our connections")},
                              "dashboards/connections.ipynb"))
    assert saved["path"] == "dashboards/connections.ipynb"
    assert shipped.read_bytes() == before
    assert "Our connections" in (tmp_path / "dashboards" / "connections.ipynb").read_text()
    assert _run(manager.get("dashboards/connections.ipynb"))["content"]["cells"][0]["source"] == "# Our connections"
    assert _run(manager.get("dashboards/connections.ipynb"))["writable"] is True
    _run(manager.save({"type": "notebook", "content": _notebook("Month end")}, "dashboards/month_end.ipynb"))
    assert _run(manager.get("dashboards/month_end.ipynb"))["content"]["cells"][0]["source"] == "# Month end"
    # the built-in one the workspace did not replace is still served
    assert _run(manager.get("dashboards/reconciliation.ipynb"))["type"] == "notebook"
    _run(manager.delete_file("dashboards/connections.ipynb"))
    assert shipped.read_bytes() == before  # deleting the copy brings the built-in back, never removes it
    assert _run(manager.get("dashboards/connections.ipynb"))["writable"] is False
