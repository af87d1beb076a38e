"""Papermill job runs: the job notebooks (`reconwb/resources/jobs/`, or a workspace's own `jobs/`), run with
history, schedules and executors.

- `runner`: one run of one job notebook (one kernel), its scrubbed output notebook and the `job_runs` history
- `steps`: what the notebooks call (sync, reconcile, deliver) and how they record scraps
- `lease`: a connection (or a job) is worked on by one run at a time
- `schedule`: cron entries from a TOML file, and the scheduler
- `executors`: the local pool and Dask distributed
- `scrub`: no credential in parameters or output notebooks

The runner's names are loaded on first use: a job kernel imports `reconwb.jobs.steps` only, and must not pay
for papermill and nbformat (seconds of import time) on every run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JobRequest", "Policy", "RunRecord", "get_run", "history", "run_job"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from reconwb.jobs import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'reconwb.jobs' has no attribute {name!r}")
