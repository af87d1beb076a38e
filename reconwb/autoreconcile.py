"""Reconcile mode's promise: what an ingest lands is reconciled right after it lands.

`transactions.ingest` is the one door every source goes through (portal fetch, aggregator results, statement
file); in reconcile mode it queues the deposits it inserted or saw booked (`reconcile_queue`), in its own
transaction. Whoever committed an ingest then calls `after_ingest(ws)`, which runs the matching engine on the
queued deposits only (and the open payments they can reach), records matches and their events and webhooks
like any run, and takes them off the queue in the same write. A crash in between leaves the queue for the
next call, of any process.

It never raises: the ingest that came before it has committed, and a fetch must not be reported failed
because matching had trouble. The trouble is logged (redacted) and the deposits stay queued.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from reconwb import settings
from reconwb.redaction import redact_exception
from reconwb.workspace import Workspace

if TYPE_CHECKING:  # the engine (polars, scipy) loads on the first reconcile, not with every module that fetches
    from reconwb.matching.engine import ReconcileReport

log = logging.getLogger(__name__)

# deposits per engine run: bounds the store hold of one write; a big statement file takes several runs
BATCH = 20_000
# one drain at a time per process: concurrent fetches of `sync --all` finish together
_draining = threading.Lock()


def queued(ws: Workspace) -> int:
    """How many deposits wait for the automatic reconcile."""
    with ws.connect() as con:
        return int(con.execute("SELECT count(*) FROM reconcile_queue").fetchall()[0][0])


def after_ingest(ws: Workspace) -> ReconcileReport | None:
    """Reconcile the deposits ingests queued; None when nothing was queued or reconcile mode is off.

    Returns the combined report of the runs (matched payments, suggestions, deposits considered).
    """
    try:
        with _draining:
            return _drain(ws)
    except Exception as err:  # the ingest stands; the queue waits for the next call
        log.warning("automatic reconcile failed, deposits stay queued: %s", redact_exception(err))
        return None


def reconcile_now(ws: Workspace) -> ReconcileReport:
    """The "Reconcile now" button: every open deposit against every open payment (a full store-mode run)."""
    with _draining:
        with ws.connect() as con:
            started = con.execute("SELECT now()").fetchall()[0][0]
        from reconwb.matching.engine import reconcile_store

        report = reconcile_store(ws)
        if report.mode == "reconcile":
            with ws.connect() as con:  # what was queued before the run was part of it
                con.execute("DELETE FROM reconcile_queue WHERE queued_at <= ?", [started])
        return report


def _drain(ws: Workspace) -> ReconcileReport | None:
    from reconwb.matching.engine import reconcile_store

    total: ReconcileReport | None = None
    while True:
        with ws.connect() as con:
            if not settings.auto_reconciles(con):
                return total
            ids = [int(r[0]) for r in con.execute(
                "SELECT txn_id FROM reconcile_queue ORDER BY txn_id LIMIT ?", [BATCH]).fetchall()]
        if not ids:
            return total
        report = reconcile_store(ws, txn_ids=ids)  # its write takes them off the queue
        total = report if total is None else _combine(total, report)
        if len(ids) < BATCH:
            return total


def _combine(a: ReconcileReport, b: ReconcileReport) -> ReconcileReport:
    a.matched += b.matched
    a.partially_matched += b.partially_matched
    a.suggested += b.suggested
    a.unmatched_transactions += b.unmatched_transactions
    a.open_payments = b.open_payments
    a.links += b.links
    a.groups += b.groups
    a.transactions += b.transactions
    a.seconds = round(a.seconds + b.seconds, 3)
    for rule, n in b.by_rule.items():
        a.by_rule[rule] = a.by_rule.get(rule, 0) + n
    return a
