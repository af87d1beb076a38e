"""Papermill job runs: the job notebooks in `notebooks/jobs/`, run with history, schedules and executors.

- `runner`: one run of one job notebook (one kernel), its scrubbed output notebook and the `job_runs` history
- `steps`: what the notebooks call (sync, reconcile, deliver) and how they record scraps
- `lease`: a connection (or a job) is worked on by one run at a time
- `schedule`: cron entries from a TOML file, and the scheduler
- `executors`: the local pool and Dask distributed
- `scrub`: no credential in parameters or output notebooks
"""

from reconwb.jobs.runner import JobRequest, Policy, RunRecord, get_run, history, run_job

__all__ = ["JobRequest", "Policy", "RunRecord", "get_run", "history", "run_job"]
