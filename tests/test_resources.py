"""The files shipped in the package, found with importlib.resources, and a workspace's own overriding them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from reconwb import resources
from reconwb.errors import NotFound
from reconwb.jobs import runner
from reconwb.workspace import Workspace


def test_every_kind_ships_inside_the_package() -> None:
    package = Path(resources.__file__).parent
    for kind, expected in [(resources.JOBS, {"sync", "reconcile", "deliver_webhooks", "pipeline"}),
                           (resources.DASHBOARDS, {"reconciliation", "connections", "explorer"}),
                           (resources.NOTEBOOKS, {"getting_started", "explore", "manage_connections"})]:
        folder = resources.builtin_dir(kind)
        assert folder.is_relative_to(package) and set(resources.names(kind)) >= expected
    assert (resources.builtin_dir(resources.SAMPLES) / "payments.csv").is_file()
    assert resources.jupyter_config().is_file()
    with pytest.raises(ValueError):
        resources.builtin_dir("secrets")


def test_shipped_notebooks_carry_no_outputs() -> None:
    for kind in (resources.JOBS, resources.DASHBOARDS, resources.NOTEBOOKS):
        for path in resources.builtin_dir(kind).glob("*.ipynb"):
            for cell in nbformat.read(path, as_version=4).cells:
                assert cell.cell_type != "code" or (cell.outputs == [] and cell.execution_count is None), path


def test_analyst_notebooks_point_only_at_files_that_exist() -> None:
    """getting_started once sent people to a contracts file that is not in the repository (nor in the wheel)."""
    shipped = {p.name for kind in resources.KINDS for p in resources.builtin_dir(kind).iterdir()}
    for path in resources.builtin_dir(resources.NOTEBOOKS).glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        for name in re.findall(r"[\w./-]+\.(?:md|ipynb|csv|toml|py|xml)\b", text):
            assert Path(name).name in shipped, f"{path.name} points at {name}, which reconwb does not ship"


def _job(folder: Path, name: str, marker: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"{marker} = 1", metadata={"tags": ["parameters"]})]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_workspace_job_overrides_the_builtin_and_adds_new_ones(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONWB_JOBS_DIR", raising=False)
    ws = Workspace(db_path=tmp_path / "reconwb.duckdb")
    assert runner.notebook_path("reconcile", ws) == resources.builtin_dir(resources.JOBS) / "reconcile.ipynb"
    own = _job(tmp_path / "jobs", "reconcile", "own_reconcile")
    extra = _job(tmp_path / "jobs", "month_end", "closing_day")
    assert runner.notebook_path("reconcile", ws) == own
    assert runner.notebook_path("month_end", ws) == extra
    assert "month_end" in runner.available_jobs(ws) and "sync" in runner.available_jobs(ws)
    assert runner.notebook_parameters(runner.notebook_path("reconcile", ws)) == {"own_reconcile": "1"}
    with pytest.raises(NotFound, match="month_end"):  # another workspace does not see it
        runner.notebook_path("month_end", Workspace(db_path=tmp_path / "other" / "reconwb.duckdb"))


def test_voila_waits_for_a_slow_cells_output_instead_of_dropping_it() -> None:
    """nbclient drops what a cell still sends 4 s after its reply (no error): on a loaded host the explorer's
    display came after 1.5 MB of widget state and the page stayed blank. The shipped configuration waits."""
    from traitlets.config.loader import PyFileConfigLoader
    from voila.execute import VoilaExecutor

    path = resources.jupyter_config()
    config = PyFileConfigLoader(path.name, str(path.parent)).load_config()
    executor = VoilaExecutor(nbformat.v4.new_notebook(), config=config)
    assert executor.iopub_timeout >= 60 and not executor.raise_on_iopub_timeout
