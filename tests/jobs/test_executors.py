"""The same job notebooks on a Dask distributed cluster (a LocalCluster on loopback), one task per connection."""

from __future__ import annotations

import pytest

from reconwb.errors import InvalidInput
from reconwb.jobs import history
from reconwb.jobs.executors import DaskExecutor, LocalExecutor, executor_for
from reconwb.workspace import Workspace
from tests.jobs.conftest import add_connection, run_json
from tests.jobs.loopback_bank import LoopbackBank


@pytest.mark.kernel
def test_dask_executor_runs_the_sync_job_one_task_per_connection(
    bank_ws: Workspace, bank: LoopbackBank, run_cli
) -> None:
    from distributed import LocalCluster

    add_connection(bank_ws, bank, "c1", "u1")
    add_connection(bank_ws, bank, "c3", "u3")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        code, runs, err = run_json(
            run_cli, "jobs", "run", "sync", "-p", "connections", "all", "--executor", f"dask://{address}",
            "--fan-out", "connection",
        )  # fmt: skip
    assert code == 0, err
    assert sorted(r["parameters"]["connections"][0] for r in runs) == ["c1", "c3"]
    assert {r["status"] for r in runs} == {"succeeded"}
    assert {r["executor"] for r in runs} == {f"dask:tcp://{address}"}
    assert sum(r["summary"]["sync"]["inserted"] for r in runs) == 2
    assert bank.logins == {"u1": 1, "u3": 1}
    assert {r.run_id for r in history(bank_ws)} == {r["id"] for r in runs}


def test_executor_specs() -> None:
    assert isinstance(executor_for(None), LocalExecutor)
    assert executor_for("local:3").concurrency == 3
    assert executor_for("dask://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    assert isinstance(executor_for("inproc://x/1/2"), DaskExecutor)
    for bad in ("dask://nohost", "local:x", "ray://h:1", "local:0"):
        with pytest.raises(InvalidInput):
            executor_for(bad)
