"""Leases in the store: a job never works on the same connection (or the same job) twice at once.

Two overlapping runs of a sync job each ask for the connections they want; each connection goes to one of them
and the other skips it. The lease lives in the store, so it holds across processes, kernels and Dask workers
that share the workspace. Leases expire, so a killed runner cannot hold a connection forever, and the runner
releases whatever a run still holds when the run ends, however it ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb

from reconwb.store.db import transaction

DEFAULT_TTL = dt.timedelta(hours=2)


def connection_resource(name: str) -> str:
    return f"connection:{name}"


def job_resource(job: str) -> str:
    return f"job:{job}"


def acquire(
    con: duckdb.DuckDBPyConnection, resources: Iterable[str], holder: str, *, ttl: dt.timedelta = DEFAULT_TTL
) -> list[str]:
    """Take every free resource of `resources` for `holder`; return the ones `holder` now holds, in order."""
    wanted = list(dict.fromkeys(resources))
    if not wanted:
        return []
    expires = dt.datetime.now(dt.UTC) + ttl
    with transaction(con):
        con.execute("DELETE FROM job_leases WHERE expires_at < now()")
        con.execute(
            "INSERT INTO job_leases (resource, holder, expires_at) SELECT unnest(?::VARCHAR[]), ?, ?"
            " ON CONFLICT (resource) DO NOTHING",
            [wanted, holder, expires],
        )
        rows = con.execute(
            "SELECT resource FROM job_leases WHERE holder = ? AND list_contains(?, resource)", [holder, wanted]
        ).fetchall()
    held = {r[0] for r in rows}
    return [r for r in wanted if r in held]


def holders(con: duckdb.DuckDBPyConnection, resources: Iterable[str]) -> dict[str, str]:
    """Who holds each of `resources` now (free ones are left out)."""
    wanted = list(resources)
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT resource, holder FROM job_leases WHERE expires_at >= now() AND list_contains(?, resource)", [wanted]
    ).fetchall()
    return dict(rows)


def release(con: duckdb.DuckDBPyConnection, holder: str, resources: Iterable[str] | None = None) -> int:
    """Give back `resources` (or everything `holder` holds); return how many were released."""
    if resources is None:
        rows = con.execute("DELETE FROM job_leases WHERE holder = ? RETURNING resource", [holder]).fetchall()
    else:
        rows = con.execute(
            "DELETE FROM job_leases WHERE holder = ? AND list_contains(?, resource) RETURNING resource",
            [holder, list(resources)],
        ).fetchall()
    return len(rows)
