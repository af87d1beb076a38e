"""Leases: one holder per resource, released or expired, shared by every process that opens the store."""

from __future__ import annotations

import datetime as dt

from reconwb.jobs import lease
from reconwb.workspace import Workspace


def test_a_resource_goes_to_one_holder_until_released(ws: Workspace) -> None:
    with ws.connect() as con:
        assert lease.acquire(con, ["connection:a", "connection:b"], "run1") == ["connection:a", "connection:b"]
        assert lease.acquire(con, ["connection:b", "connection:c"], "run2") == ["connection:c"]
        assert lease.holders(con, ["connection:a", "connection:b", "connection:x"]) == {
            "connection:a": "run1",
            "connection:b": "run1",
        }
        assert lease.release(con, "run1", ["connection:a"]) == 1
        assert lease.acquire(con, ["connection:a", "connection:b"], "run2") == ["connection:a"]
        assert lease.release(con, "run2") == 2
        assert lease.acquire(con, ["connection:c"], "run3") == ["connection:c"]


def test_an_expired_lease_is_taken_over(ws: Workspace) -> None:
    with ws.connect() as con:
        assert lease.acquire(con, ["job:reconcile"], "crashed", ttl=dt.timedelta(seconds=-1)) == ["job:reconcile"]
        assert lease.acquire(con, ["job:reconcile"], "next") == ["job:reconcile"]
        assert lease.holders(con, ["job:reconcile"]) == {"job:reconcile": "next"}


def test_reacquiring_what_one_holds_keeps_it(ws: Workspace) -> None:
    with ws.connect() as con:
        assert lease.acquire(con, ["connection:a"], "run1") == ["connection:a"]
        assert lease.acquire(con, ["connection:a", "connection:a"], "run1") == ["connection:a"]


def test_a_job_step_is_skipped_while_another_run_holds_the_job(ws: Workspace, monkeypatch) -> None:
    from reconwb.jobs import steps

    monkeypatch.setenv(steps.RUN_ID_ENV, "job_second")
    with ws.connect() as con:
        lease.acquire(con, ["job:reconcile"], "job_first")
    assert steps._exclusive(ws, "reconcile", lambda: {"matched": 1}) == {
        "skipped": True,
        "reason": "reconcile is running in job_first",
    }
    with ws.connect() as con:
        lease.release(con, "job_first")
    assert steps._exclusive(ws, "reconcile", lambda: {"matched": 1}) == {"matched": 1}
    with ws.connect() as con:
        assert lease.holders(con, ["job:reconcile"]) == {}
