"""What the job notebooks call: each step is one package function, so a notebook holds parameters and output only.

A step returns a JSON-ready summary. `record` puts it into the notebook as a *scrap*: a display output with
the MIME type `application/vnd.reconwb.scrap+json` (papermill 2 dropped `pm.record`, and scrapbook is
unmaintained). The runner reads the scraps of the executed notebook into the run's `summary`; anyone can read
them from a stored output notebook with `reconwb.jobs.runner.read_scraps`.

The workspace reaches the kernel through the environment (`RECONWB_DB`, `RECONWB_KEY_FILE`), the run id through
`RECONWB_JOB_RUN_ID`; no parameter ever carries a secret.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from reconwb import connections as connections_mod
from reconwb import jsonutil, last_attempt
from reconwb.errors import InvalidInput, ReconwbError
from reconwb.events import new_id
from reconwb.jobs import lease
from reconwb.openbanking import consent
from reconwb.openbanking.pending import poll_pending
from reconwb.sync import SyncResult, due_connections, run_blocking, sync_many_async
from reconwb.workspace import Workspace

SCRAP_MIMETYPE = "application/vnd.reconwb.scrap+json"
RUN_ID_ENV = "RECONWB_JOB_RUN_ID"


class JobFailed(ReconwbError):
    """A job step finished but its outcome is a failure the operator must see (the run is marked failed)."""


def workspace() -> Workspace:
    """The workspace the runner gave this kernel."""
    return Workspace.from_env()


def run_id() -> str:
    """This run's id (set by the runner), or a fresh one when a notebook is run by hand or by Airflow."""
    value = os.environ.get(RUN_ID_ENV)
    if not value:
        value = new_id("job")
        os.environ[RUN_ID_ENV] = value
    return value


def record(name: str, value: Any) -> None:
    """Record a scrap `name` in the notebook output (what the run history's `summary` is built from)."""
    from IPython.display import display

    data = json.loads(jsonutil.dumps(value))
    display({SCRAP_MIMETYPE: {"name": name, "data": data}}, raw=True)


def resolve_connections(ws: Workspace, which: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """`"due"` (or None): what may be fetched now; `"all"`: every bank connection; else names (list or "a,b")."""
    if which is None or which == "due":
        return due_connections(ws)
    with ws.connect() as con:
        known = [c for c in connections_mod.list_connections(con, include_removed=False) if c.needs_credentials]
    if which == "all":
        return [c.name for c in known]
    names = [n.strip() for n in which.split(",")] if isinstance(which, str) else [str(n) for n in which]
    names = [n for n in dict.fromkeys(names) if n]
    missing = sorted(set(names) - {c.name for c in known})
    if missing:
        raise InvalidInput(f"no bank connection {', '.join(map(repr, missing))}; `reconwb connections list` shows them")
    return names


def _since(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"since must be an ISO date (YYYY-MM-DD), not {value!r}") from None


def sync_step(
    ws: Workspace,
    connections: str | list[str] | None = "due",
    *,
    since: str | dt.date | None = None,
    now: bool = False,
    concurrency: int = 4,
) -> dict[str, Any]:
    """Fetch the chosen connections that no other run holds; the lease keeps two runs off one connection."""
    names = resolve_connections(ws, connections)
    start_date = _since(since)
    holder = run_id()
    wanted = [lease.connection_resource(n) for n in names]
    with ws.connect() as con:
        got = lease.acquire(con, wanted, holder)
        elsewhere = lease.holders(con, [r for r in wanted if r not in got])
    mine = [n for n in names if lease.connection_resource(n) in got]
    completed: list[dict[str, Any]] = []
    consent_warned = 0
    try:
        results: list[SyncResult] = (
            run_blocking(lambda: sync_many_async(ws, mine, now=now, since=start_date, concurrency=concurrency))
            if mine
            else []
        )
        _link_sync_runs(ws, holder, results)
        completed = poll_pending(ws)  # provider results no webhook came for
        consent_warned = len(consent.check(ws))  # bank access ending in 14 or 7 days: one notice each
    finally:
        with ws.connect() as con:
            lease.release(con, holder, got)
            # failed now, or left out (not due, skipped) because an earlier attempt failed
            failing = last_attempt.failing(con, None if connections in (None, "due", "all") else names)
    counts = Counter(r.status for r in results)
    return {
        "requested": names,
        "results": [r.as_dict() for r in results],
        "leased_elsewhere": {r.removeprefix("connection:"): h for r, h in elsewhere.items()},
        "ok": counts["ok"],
        "failed": counts["failed"],
        "skipped": counts["skipped"] + len(names) - len(mine),
        "pending": counts["pending"],
        "pending_completed": len(completed),
        "consent_warnings": consent_warned,
        "fetched": sum(r.fetched for r in results),
        "inserted": sum(r.inserted for r in results),
        "failing": failing,
    }


def _link_sync_runs(ws: Workspace, holder: str, results: list[SyncResult]) -> None:
    ids = [r.run_id for r in results if r.run_id is not None]
    if ids:
        with ws.connect() as con:
            con.execute("UPDATE sync_runs SET job_run_id = ? WHERE list_contains(?, run_id)", [holder, ids])


def _exclusive(ws: Workspace, job: str, work: Any) -> dict[str, Any]:
    """Run `work()` unless another run holds the job's lease; say who does when skipped."""
    holder = run_id()
    resource = lease.job_resource(job)
    with ws.connect() as con:
        if not lease.acquire(con, [resource], holder):
            other = lease.holders(con, [resource]).get(resource, "another run")
            return {"skipped": True, "reason": f"{job} is running in {other}"}
    try:
        return work()
    finally:
        with ws.connect() as con:
            lease.release(con, holder, [resource])


def reconcile_step(
    ws: Workspace, *, connection: str | None = None, rules: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Reconcile what is stored (reconwb.matching), one reconcile at a time per scope."""
    from reconwb.matching import reconcile_store

    scope = f"reconcile:{connection}" if connection else "reconcile"
    return _exclusive(
        ws,
        scope,
        lambda: reconcile_store(
            ws, connection=connection, rules=Path(rules) if rules else None, dry_run=dry_run
        ).as_dict(),
    )


def deliver_step(ws: Workspace, *, max_seconds: float | None = None) -> dict[str, Any]:
    """Send what is due: webhook deliveries (reconwb.webhooks) and user notifications, one deliverer at a time.

    Afterwards the delivery log is pruned to the workspace's retention (`webhook_retention_days`).
    """
    from reconwb import notify
    from reconwb.webhooks import deliver_due, outbox

    def work() -> dict[str, Any]:
        summary = deliver_due(ws, max_seconds=max_seconds).as_dict()
        summary["notifications_sent"] = notify.deliver(ws).sent
        summary["pruned"] = outbox.prune_in_chunks(ws)
        return summary

    return _exclusive(ws, "deliver_webhooks", work)


def describe_sync(summary: dict[str, Any]) -> str:
    """A few lines for the notebook output: totals, then one line per connection that did not just work."""
    lines = [
        f"sync: {len(summary['requested'])} requested, {summary['ok']} ok, {summary['failed']} failed,"
        f" {summary['skipped']} skipped; {summary['fetched']} fetched, {summary['inserted']} new"
    ]
    for r in summary["results"]:
        if r["status"] != "ok":
            lines.append(f"  {r['connection']}: {r['status']} ({r['health']}) {r['message']}".rstrip())
    for name, holder in summary["leased_elsewhere"].items():
        lines.append(f"  {name}: skipped, run {holder} holds it")
    return "\n".join(lines)


def describe(step: str, summary: dict[str, Any]) -> str:
    """One line for a reconcile or delivery summary."""
    if summary.get("skipped"):
        return f"{step}: skipped ({summary.get('reason')})"
    return f"{step}: " + ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int | float | str))


def partial_reason(scraps: dict[str, Any]) -> str | None:
    """Why a run that finished is only `partial`: the connections its sync step left failing, named with their
    reasons; None when there are none (or the run had no sync step)."""
    failing = (scraps.get("sync") or {}).get("failing") or {}
    if not failing:
        return None
    named = "; ".join(f"{name}: {reason}" for name, reason in sorted(failing.items()))
    return f"{len(failing)} connection(s) failing: {named}"


def raise_for_failures(summary: dict[str, Any]) -> None:
    """Fail the run when a connection failed, after the summary is recorded (messages are redacted already)."""
    failed = [r for r in summary.get("results", []) if r["status"] == "failed"]
    if failed:
        detail = "; ".join(f"{r['connection']}: {r['message']}" for r in failed)
        raise JobFailed(f"{len(failed)} of {len(summary['requested'])} connections failed: {detail}")
