"""The files that ship inside the package: job notebooks, dashboards, analyst notebooks, samples, Jupyter config.

They live in the package (not beside it in a checkout) so that a wheel installed with `pip`/`pipx` runs anywhere;
they are found with `importlib.resources`, never relative to the source tree. A workspace may hold its own job
notebooks (`<workspace>/jobs/`) and dashboards (`<workspace>/dashboards/`): a file there of the same name wins
over the built-in one, and a new name adds to them. This module is the one place that resolution happens.

pip and pipx install packages unzipped, so a built-in file is a real path that papermill and Jupyter can open.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

JOBS = "jobs"
DASHBOARDS = "dashboards"
NOTEBOOKS = "notebooks"
SAMPLES = "samples"
KINDS = (JOBS, DASHBOARDS, NOTEBOOKS, SAMPLES)
# the kinds a workspace may override or extend with a folder of the same name
OVERRIDABLE = (JOBS, DASHBOARDS)
JUPYTER_CONFIG = "jupyter_config.py"


def builtin_dir(kind: str) -> Path:
    """The package's own folder of `kind` (one of `KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; known: {', '.join(KINDS)}")
    return Path(str(files(__name__).joinpath(kind)))


def jupyter_config() -> Path:
    """The one Jupyter configuration `reconwb serve` uses."""
    return Path(str(files(__name__).joinpath(JUPYTER_CONFIG)))


def search_path(kind: str, workspace_dir: Path | None = None) -> list[Path]:
    """Folders to look in for `kind`, the first match winning: the workspace's own folder, then the package's."""
    folders = [builtin_dir(kind)]
    if workspace_dir is not None and kind in OVERRIDABLE:
        folders.insert(0, Path(workspace_dir) / kind)
    return folders


def find(kind: str, filename: str, workspace_dir: Path | None = None) -> Path | None:
    """The file `filename` of `kind` (the workspace's copy first), or None."""
    for folder in search_path(kind, workspace_dir):
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    return None


def names(kind: str, workspace_dir: Path | None = None, suffix: str = ".ipynb") -> list[str]:
    """The stems of every `kind` file with `suffix`, built-in and the workspace's own."""
    folders = [folder for folder in search_path(kind, workspace_dir) if folder.is_dir()]
    return sorted({p.stem for folder in folders for p in folder.glob(f"*{suffix}")})
