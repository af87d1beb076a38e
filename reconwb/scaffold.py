"""The files `reconwb init DIR` lays out around a store, so a workspace is a folder a person can work in.

A workspace is `DIR/reconwb.duckdb` plus: its vault key (`reconwb.key`, mode 0600, made by `vault`), a job
schedule (`schedule.toml`), editable copies of the analyst notebooks (`notebooks/`), and a README saying what is
where. Nothing is overwritten: running `reconwb init` again keeps the person's edits and only adds what is missing.
Job notebooks and dashboards are not copied (they would silently go stale on upgrade); a workspace overrides them
by putting its own in `jobs/` or `dashboards/` (see `reconwb.resources`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from reconwb import resources
from reconwb.workspace import STORE_NAME

SCHEDULE_EXAMPLE = "schedule.example.toml"

README = f"""# reconwb workspace

This folder is a reconwb workspace: every `reconwb` command run here (or in a folder below) uses it, the way git
finds a repository. `--db PATH` or `RECONWB_DB` names another store.

| what | where |
|---|---|
| the store (transactions, payments, matches, connections, run history) | `{STORE_NAME}` |
| the vault key that encrypts bank passwords and tokens: back it up, never share it | `reconwb.key` (mode 0600) |
| scheduled jobs (`reconwb jobs schedule`, `reconwb jobs scheduler --once` from cron) | `schedule.toml` |
| analyst notebooks, yours to edit | `notebooks/` |
| job run output notebooks (scrubbed of secrets) | `runs/` |
| your own job notebooks, or replacements of the built-in ones (`reconwb jobs run NAME`) | `jobs/NAME.ipynb` |
| your own dashboards, or replacements of the built-in ones | `dashboards/NAME.ipynb` |

Start with `reconwb serve`: JupyterLab on this folder and the Voila dashboards, on 127.0.0.1.
Add a bank connection with `reconwb connections add` (or the Add a connection form in a dashboard);
`reconwb --help` lists every command.
"""


def lay_out(root: Path) -> list[str]:
    """Add what a workspace folder lacks (never overwriting); return the paths created, relative to `root`."""
    root.mkdir(parents=True, exist_ok=True)
    created: list[str] = []

    def place(relative: str, write: Callable[[Path], object]) -> None:
        target = root / relative
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
        created.append(relative)

    for notebook in sorted(resources.builtin_dir(resources.NOTEBOOKS).glob("*.ipynb")):
        place(f"{resources.NOTEBOOKS}/{notebook.name}", lambda t, src=notebook: shutil.copyfile(src, t))
    example = resources.builtin_dir(resources.JOBS) / SCHEDULE_EXAMPLE
    place("schedule.toml", lambda t: shutil.copyfile(example, t))
    place("README.md", lambda t: t.write_text(README, encoding="utf-8"))
    return created
