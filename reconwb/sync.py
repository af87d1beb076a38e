"""One fetch of one connection, and many fetches at once.

The store is open only at the start (decide, decrypt, write the attempt down) and at the end (ingest, record
the outcome), never during the bank round trip, so other processes can use it meanwhile. Credentials are
decrypted into the fetch context, used, and dropped. Every login reconwb makes passes here, and whether it may
happen is `reconwb.attempts`' call (one at a time, written down first, never with credentials the bank
rejected); what a failure means is `lifecycle`'s. The outcome of an attempt is never dropped: when the store
stays busy, the fetch keeps trying to record it, holding nothing else.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import duckdb

from reconwb import accounts, attempts, autoreconcile, connections, diagnostics, jsonutil, lifecycle, otp, sessions
from reconwb.connectors import errors as taxonomy
from reconwb.connectors import registry
from reconwb.connectors.base import AccountInfo, Connector, FetchContext
from reconwb.connectors.resources import release
from reconwb.otp import pending_challenge, submit_otp  # noqa: F401 - part of this module's public API
from reconwb.redaction import redact_exception
from reconwb.store.db import in_transaction
from reconwb.transactions import IngestResult, Txn, ingest
from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

OVERLAP_DAYS = 3  # re-read this many days before the last booked date, to catch late postings
TRANSIENT_TRIES = 3
T = TypeVar("T")
# the concurrency slot the current fetch holds in `sync_many_async`; a fetch waiting for a person lends it out
_SLOT: contextvars.ContextVar[asyncio.Semaphore | None] = contextvars.ContextVar("reconwb_sync_slot", default=None)


@dataclass
class SyncResult:
    connection: str
    status: str  # ok | failed | skipped | pending
    health: str
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    message: str = ""
    run_id: int | None = None
    skip_kind: str = ""  # why a skipped fetch did not run (`reconwb.attempts`: running, credentials, budget, health)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Plan:
    """What the opening phase hands to the fetch."""

    connector_cls: type[Connector]
    ctx: FetchContext
    run_id: int
    since: dict[str, dt.date] = field(default_factory=dict)  # per account external_ref
    default_since: dt.date = dt.date.min
    deselected: set[str] = field(default_factory=set)


def _open(
    ws: Workspace, name: str, now: bool, since: dt.date | None, resources: dict[str, Any],
    retry_same_credentials: bool = False,
) -> _Plan | SyncResult:
    vault = ws.vault()

    def work(con: duckdb.DuckDBPyConnection) -> tuple | SyncResult:
        conn = connections.get(con, name)
        assert conn is not None
        if not conn.needs_credentials:
            return SyncResult(name, "skipped", conn.health, message="statement connection: import files instead",
                              skip_kind=attempts.HEALTH)
        connector_cls = registry.get(conn.connector)
        admission = attempts.admit(con, conn.connection_id, bank_threshold=connector_cls.lockout_after, now=now,
                                   retry_same_credentials=retry_same_credentials)
        if not admission.allowed:
            health = connections.get_by_id(con, conn.connection_id).health
            return SyncResult(name, "skipped", health, message=admission.reason, skip_kind=admission.kind,
                              run_id=admission.run_id)
        credentials = connections.get_credentials(con, vault, conn)
        if credentials is None:
            return SyncResult(name, "skipped", conn.health, message="no credentials stored",
                              skip_kind=attempts.REJECTED)
        if now or retry_same_credentials:
            lifecycle.run_now(con, conn.connection_id)
        config = connector_cls.prepare(con, vault)
        run_id = attempts.begin(con, conn.connection_id)
        known = con.execute(
            "SELECT a.external_ref, a.selected AND a.active, max(t.booked_on) FROM accounts a"
            " LEFT JOIN transactions t ON t.account_id = a.account_id AND t.status = 'booked'"
            " WHERE a.connection_id = ? GROUP BY ALL",
            [conn.connection_id],
        ).fetchall()
        return conn, connector_cls, credentials, config, run_id, known, _load_session(con, vault, conn)

    opened = in_transaction(ws.connect, work)
    if isinstance(opened, SyncResult):
        return opened
    conn, connector_cls, credentials, config, run_id, known, state = opened
    today = dt.date.today()
    plan = _Plan(
        connector_cls=connector_cls,
        ctx=FetchContext(
            connection_name=conn.name,
            connection_id=conn.connection_id,
            username=conn.username,
            credentials=credentials,
            base_url=conn.portal_url,
            login_mode=conn.login_mode,
            session_mode=conn.session_mode,
            external_id=conn.external_id,
            state=state or {},
            resources=resources,
            config=config,
        ),
        run_id=run_id,
        default_since=since or today - dt.timedelta(days=connector_cls.history_days),
    )
    for ref, wanted, last in known:
        if not wanted:
            plan.deselected.add(ref)
        elif last is not None and since is None:
            plan.since[ref] = last - dt.timedelta(days=OVERLAP_DAYS)
    return plan


async def _fetch(plan: _Plan) -> list[tuple[AccountInfo, list[Txn]]]:
    connector = plan.connector_cls(plan.ctx)
    try:
        await connector.login()
        fetched = []
        for account in await connector.accounts():
            if account.external_ref in plan.deselected:
                continue
            since = plan.since.get(account.external_ref, plan.default_since)
            txns = await connector.transactions(account, since)
            fetched.append((await _with_balance(connector, account), txns))
        return fetched
    finally:
        try:
            await connector.close()
        except Exception as err:  # closing must not hide the real outcome
            log.warning("closing %s failed: %s", plan.ctx.connection_name, redact_exception(err))


async def _with_balance(connector: Any, account: AccountInfo) -> AccountInfo:
    """`account` with the balance its source states, when it states one; a source that cannot say now costs
    the fetch nothing (the balance proof waits for the next fetch)."""
    try:
        stated = await connector.balance(account)
    except Exception as err:
        log.info("no balance for %s: %s", account.external_ref, redact_exception(err))
        return account
    return dataclasses.replace(account, balance=stated) if stated is not None else account


def _land(
    con: duckdb.DuckDBPyConnection, conn_id: int, run_id: int, fetched: list[tuple[AccountInfo, list[Txn]]], source: str
) -> tuple[int, IngestResult]:
    """Ingest what a fetch brought, close its run as ok and record the success (the caller's transaction)."""
    total = IngestResult(0, 0, 0)
    for account, txns in fetched:
        account_id = accounts.ensure(
            con, conn_id, account.external_ref, iban=account.iban, name=account.name, currency=account.currency
        )
        total = total + ingest(con, account_id, txns, source=source, source_ref=f"sync_run:{run_id}")
        if account.balance is not None:  # after its lines: the balance proof on the dashboard
            from reconwb import balances

            balances.record_stated(con, account_id, account.balance, source=f"{source} balance")
    count = sum(len(t) for _, t in fetched)
    con.execute(
        "UPDATE sync_runs SET status = 'ok', finished_at = now(), fetched = ?, inserted = ?, updated = ?"
        " WHERE run_id = ?",
        [count, total.inserted, total.updated, run_id],
    )
    lifecycle.record_success(con, conn_id)
    return count, total


def _finish_ok(ws: Workspace, plan: _Plan, fetched: list[tuple[AccountInfo, list[Txn]]]) -> SyncResult:
    vault = ws.vault()
    conn_id = plan.ctx.connection_id

    def work(con: duckdb.DuckDBPyConnection) -> tuple[int, IngestResult]:
        attempts.settle(con, conn_id, plan.run_id)
        landed = _land(con, conn_id, plan.run_id, fetched, plan.connector_cls.source)
        _save_session(con, vault, plan)
        return landed

    count, total = attempts.record(ws, f"run {plan.run_id} of {plan.ctx.connection_name}", work)
    autoreconcile.after_ingest(ws)
    return SyncResult(
        plan.ctx.connection_name, "ok", "ok", count, total.inserted, total.updated, run_id=plan.run_id
    )


def _park_pending(ws: Workspace, plan: _Plan, err: taxonomy.ResultsPending) -> SyncResult:
    """The provider will answer later: the run waits as `pending` with its results id; nothing blocks."""
    message = redact_exception(err)

    def work(con: duckdb.DuckDBPyConnection) -> str:
        attempts.settle(con, plan.ctx.connection_id, plan.run_id)
        con.execute(
            "UPDATE sync_runs SET status = 'pending', outcome = 'ResultsPending', message = ? WHERE run_id = ?",
            [message, plan.run_id],
        )
        con.execute(
            "INSERT INTO pending_results (results_id, connection_id, run_id, request) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [err.results_id, plan.ctx.connection_id, plan.run_id, jsonutil.dumps(err.request)],
        )
        return connections.get_by_id(con, plan.ctx.connection_id).health

    health = attempts.record(ws, f"run {plan.run_id} of {plan.ctx.connection_name}", work)
    return SyncResult(plan.ctx.connection_name, "pending", health, message=message, run_id=plan.run_id)


def complete_pending(
    ws: Workspace, results_id: str, fetched: list[tuple[AccountInfo, list[Txn]]], *, source: str
) -> SyncResult | None:
    """Land the results a parked run waited for; None when `results_id` is unknown or completed already.

    No login happens here (the provider already has the data), so no lease is taken."""

    def work(con: duckdb.DuckDBPyConnection) -> tuple | None:
        row = con.execute(
            "SELECT p.connection_id, p.run_id, c.name FROM pending_results p JOIN connections c USING (connection_id)"
            " WHERE p.results_id = ? AND p.status = 'pending'",
            [results_id],
        ).fetchone()
        if row is None:
            return None
        conn_id, run_id, name = row
        count, total = _land(con, conn_id, run_id, fetched, source)
        con.execute(
            "UPDATE pending_results SET status = 'done', completed_at = now() WHERE results_id = ?", [results_id]
        )
        return name, run_id, count, total

    landed = in_transaction(ws.connect, work)
    if landed is None:
        return None
    name, run_id, count, total = landed
    autoreconcile.after_ingest(ws)
    return SyncResult(name, "ok", "ok", count, total.inserted, total.updated, run_id=run_id)


def _finish_failed(ws: Workspace, plan: _Plan, err: BaseException) -> SyncResult:
    message = redact_exception(err)
    saved = _save_diagnostics(ws, plan, err)

    def work(con: duckdb.DuckDBPyConnection) -> lifecycle.Health:
        attempts.settle(con, plan.ctx.connection_id, plan.run_id)
        con.execute(
            "UPDATE sync_runs SET status = 'failed', finished_at = now(), outcome = ?, message = ?,"
            " diagnostics_path = ? WHERE run_id = ?",
            [type(err).__name__, message, saved, plan.run_id],
        )
        return lifecycle.record_failure(con, plan.ctx.connection_id, err)

    health = attempts.record(ws, f"run {plan.run_id} of {plan.ctx.connection_name}", work)
    return SyncResult(plan.ctx.connection_name, "failed", str(health), message=message, run_id=plan.run_id)


async def sync_async(
    ws: Workspace,
    name: str,
    *,
    now: bool = False,
    since: dt.date | None = None,
    resources: dict[str, Any] | None = None,
    retry_same_credentials: bool = False,
) -> SyncResult:
    """Fetch one connection if the guard allows it (`now`: a person's "Run now"; `retry_same_credentials`: a
    person's deliberate retry of credentials the bank rejected, refused when it could lock the login)."""
    if resources is None:  # nobody shares ours: close the browser (or client) when this fetch is done
        return await _with_own_resources(lambda shared: sync_async(
            ws, name, now=now, since=since, resources=shared, retry_same_credentials=retry_same_credentials))
    plan = await asyncio.to_thread(_open, ws, name, now, since, resources, retry_same_credentials)
    if isinstance(plan, SyncResult):
        return plan
    _attach_otp(ws, plan)
    try:
        for attempt in range(1, TRANSIENT_TRIES + 1):
            try:
                fetched = await _fetch(plan)
                break
            except taxonomy.Transient:
                if attempt == TRANSIENT_TRIES:
                    raise
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
    except taxonomy.ResultsPending as err:
        return await asyncio.to_thread(_park_pending, ws, plan, err)
    except BaseException as err:  # a cancelled fetch is a failure too: its attempt must be closed
        result = await asyncio.shield(asyncio.to_thread(_finish_failed, ws, plan, err))
        if not isinstance(err, Exception):
            raise
        return result
    finally:
        plan.ctx.credentials = {}
    return await asyncio.to_thread(_finish_ok, ws, plan, fetched)


async def sync_many_async(
    ws: Workspace,
    names: Iterable[str],
    *,
    now: bool = False,
    since: dt.date | None = None,
    concurrency: int = 4,
    resources: dict[str, Any] | None = None,
    on_done: Callable[[SyncResult], None] | None = None,
) -> list[SyncResult]:
    """Fetch several connections, at most `concurrency` at a time, sharing `resources` (one browser)."""
    if resources is None:
        return await _with_own_resources(lambda shared: sync_many_async(
            ws, names, now=now, since=since, concurrency=concurrency, resources=shared, on_done=on_done))
    gate = asyncio.Semaphore(concurrency)
    shared = resources

    async def one(name: str) -> SyncResult:
        async with gate:
            _SLOT.set(gate)  # each gathered task has its own context: this is this fetch's slot
            try:
                result = await sync_async(ws, name, now=now, since=since, resources=shared)
            except Exception as err:  # a store or vault failure for one connection must not stop the others
                result = SyncResult(name, "failed", "unknown", message=redact_exception(err))
            if on_done:
                on_done(result)
            return result

    return list(await asyncio.gather(*(one(n) for n in names)))


def due_connections(ws: Workspace) -> list[str]:
    """Connections a scheduled sync should try now (the guard's verdict without a person's Run now)."""

    def work(con: duckdb.DuckDBPyConnection) -> list[str]:
        lifecycle.expire_refresh_windows(con)
        otp.expire_stale(con)
        attempts.recover_abandoned(con)
        return [
            c.name
            for c in connections.list_connections(con, include_removed=False)
            if c.needs_credentials and attempts.admit(con, c.connection_id).allowed
        ]

    return in_transaction(ws.connect, work)


def outcome_of(ws: Workspace, run_id: int, *, timeout: float = 900.0, poll: float = 0.5) -> SyncResult:
    """Wait for fetch `run_id` (of any process) to record its outcome, and return it as a result.

    A person who asks the bank while another fetch of the connection is under way (a webhook's, a schedule's)
    gets that fetch's answer instead of a second login.
    """
    deadline = time.monotonic() + timeout
    while True:
        with ws.connect() as con:
            row = con.execute(
                "SELECT c.name, r.status, c.health, r.fetched, r.inserted, r.updated, coalesce(r.message, '')"
                " FROM sync_runs r JOIN connections c USING (connection_id) WHERE r.run_id = ?",
                [run_id],
            ).fetchone()
        if row is None:
            raise LookupError(f"no sync run {run_id}")
        name, status, health, fetched, inserted, updated, message = row
        if status != "running" or time.monotonic() >= deadline:
            status = "skipped" if status == "running" else status
            return SyncResult(name, status, health, fetched, inserted, updated, message, run_id)
        time.sleep(poll)


def run_blocking(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop (a Jupyter kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=worker, name="reconwb-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def sync(
    ws: Workspace, name: str, *, now: bool = False, since: dt.date | None = None,
    retry_same_credentials: bool = False,
) -> SyncResult:
    """Fetch one connection (blocking): what the CLI, notebooks and dashboards call."""
    return run_blocking(lambda: sync_async(ws, name, now=now, since=since,
                                           retry_same_credentials=retry_same_credentials))


def sync_many(
    ws: Workspace,
    names: Iterable[str] | None = None,
    *,
    now: bool = False,
    concurrency: int = 4,
    progress: bool | None = None,
) -> list[SyncResult]:
    """Fetch the given connections, or every due one, through one browser, with a progress bar in a terminal.

    `progress=None` shows the bar only when stderr is a terminal.
    """
    from tqdm import tqdm

    selected = list(names) if names is not None else due_connections(ws)
    with tqdm(total=len(selected), desc="sync", unit="conn", disable=None if progress is None else not progress,
              leave=False) as bar:

        def done(result: SyncResult) -> None:
            bar.set_postfix_str(f"{result.connection}: {result.status}", refresh=False)
            bar.update(1)

        return run_blocking(lambda: sync_many_async(ws, selected, now=now, concurrency=concurrency, on_done=done))


# -- portal sessions, assisted login, diagnostics, shared resources ------------------------------------------


def _load_session(con: Any, vault: Any, conn: connections.Connection) -> dict[str, Any] | None:
    """A persistent connection's stored login state, while it has not expired."""
    if conn.session_mode != "persistent":
        return None
    return sessions.load(con, vault, conn.connection_id)


def _save_session(con: Any, vault: Any, plan: _Plan) -> None:
    if plan.ctx.session_mode == "persistent" and plan.ctx.state:
        sessions.save(con, vault, plan.ctx.connection_id, plan.ctx.state)


def _attach_otp(ws: Workspace, plan: _Plan) -> None:
    """Assisted logins wait for a person's code through the store (see `reconwb.otp`).

    While it waits, the fetch gives its concurrency slot back, so a `sync --all` goes on with the other
    connections instead of idling for minutes; it takes a slot again once the code is in.
    """
    if plan.ctx.login_mode != "assisted":
        return

    async def ask(screenshot: bytes, prompt: str) -> str:
        slot = _SLOT.get()
        if slot is not None:
            slot.release()
        try:
            return await otp.wait_for_code(ws, plan.ctx.connection_id, plan.run_id, screenshot, prompt)
        finally:
            if slot is not None:
                await slot.acquire()

    plan.ctx.ask_otp = ask


def _save_diagnostics(ws: Workspace, plan: _Plan, err: BaseException) -> str | None:
    try:
        saved = diagnostics.save(ws, plan.run_id, err)
    except OSError as problem:  # diagnostics must never hide the failure itself
        log.warning("could not save diagnostics of run %s: %s", plan.run_id, problem)
        return None
    return str(saved) if saved else None


async def _with_own_resources(body: Callable[[dict[str, Any]], Awaitable[T]]) -> T:
    resources: dict[str, Any] = {}
    try:
        return await body(resources)
    finally:
        await release(resources)
