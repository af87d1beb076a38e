"""Job parameters checked against the notebook's parameters cell, before any kernel starts."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from reconwb import resources
from reconwb.errors import InvalidInput
from reconwb.jobs import parameters


def _notebook(tmp_path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(1)")]
    path = tmp_path / "job.ipynb"
    nbformat.write(nb, path)
    return path


def test_types_come_from_annotations_or_defaults(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "from datetime import date\n\nsince: date | None\nsince = None  # a date\n"
                               "names: list[str] = []\nlimit = 4\nratio = 0.5\ndry = False\nlabel = 'x'\n"
                               "anything = None")
    declared = parameters.declared(path)
    assert {n: p.type_text for n, p in declared.items()} == {
        "since": "date | None", "names": "list[str]", "limit": "int", "ratio": "float", "dry": "bool", "label": "str",
        "anything": "Any"}
    good = {"since": "2026-11-30", "names": ["a", "b"], "limit": 7, "ratio": 2, "dry": True, "label": "y",
            "anything": {"k": 1}}
    assert parameters.check("job", path, good).keys() == declared.keys()
    parameters.check("job", path, {"since": None})
    for name, bad in [("since", "yesterday"), ("since", "2026-13-01"), ("since", 20261130), ("names", ["a", 1]),
                      ("names", "a"), ("limit", "abc"), ("limit", True), ("limit", 1.5), ("ratio", "fast"),
                      ("dry", "yes"), ("label", 3)]:
        with pytest.raises(InvalidInput, match=f"parameter {name} must be"):
            parameters.check("job", path, {name: bad})
    with pytest.raises(InvalidInput, match="has no parameter 'sincee'; it takes: since, names"):
        parameters.check("job", path, {"sincee": "2026-01-01"})


def test_a_type_it_does_not_know_is_said_not_guessed(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "when: Decimal = None")
    with pytest.raises(InvalidInput, match="does not understand: 'Decimal'"):
        parameters.declared(path)


def test_every_shipped_job_declares_types_that_accept_its_own_defaults() -> None:
    for path in resources.builtin_dir(resources.JOBS).glob("*.ipynb"):
        declared = parameters.declared(path)
        assert declared, path.name
        defaults = {name: eval(p.default) for name, p in declared.items()}  # noqa: S307 - literals from our cell
        parameters.check(path.stem, path, defaults)
    sync = parameters.declared(resources.builtin_dir(resources.JOBS) / "sync.ipynb")
    assert sync["since"].type_text == "date | None" and sync["connections"].type_text == "str | list[str]"


def test_jobs_run_with_a_bad_value_fails_in_one_line_and_records_nothing(run_cli) -> None:
    done = run_cli("jobs", "run", "sync", "-p", "since", "yesterday")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: job 'sync': parameter since must be date | None")
    assert "Traceback" not in done.stderr
    assert json.loads(run_cli("jobs", "history", "--json", check=True).stdout) == []
    assert run_cli("jobs", "run", "sync", "-p", "concurrency", "many").stderr.startswith(
        "error: job 'sync': parameter concurrency must be int")
