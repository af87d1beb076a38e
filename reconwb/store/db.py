"""Connection policy: open briefly, retry with jitter while another process holds the file.

DuckDB lets one process write a file at a time. Notebook kernels, Voila kernels, job kernels and the Jupyter
server all share one store, so nobody keeps it open longer than one unit of work, and whoever finds it locked
waits a random, growing while and tries again instead of failing.

Every open goes through `open_store`, which measures how long it held the file (`hold_stats()`: the count, the
longest and the total, per process; a debug line per open, an info line past `LONG_HOLD_SECONDS`). Long work
is written in bounded chunks so that no single hold is long; tests and benchmarks assert on these figures.
The store file, its WAL and the folders reconwb makes for it are private to the user (`reconwb.private`).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

from reconwb.errors import InvalidInput, ReconwbError
from reconwb.private import private_dir, private_file
from reconwb.store.migrate import migrate

if TYPE_CHECKING:
    import polars as pl  # only `frame` returns one: the CLI's light commands start without polars

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 60.0
MAX_RETRY_DELAY = 0.1  # seconds between two tries at most: a waiter notices a free store quickly (a try is ~1 ms)
MAKE_WAY_SECONDS = 0.5  # how long long work lets waiters go first between two chunks, at most
LONG_HOLD_SECONDS = 2.0  # the design's "a couple of seconds": a hold longer than this is logged at info level
T = TypeVar("T")
_migrated: set[Path] = set()
_migrate_lock = threading.Lock()
# Opening and closing are serialised within a process: DuckDB shares one database instance between a process's
# connections to a file, and an open racing the close of the last connection fails ("Unique file handle
# conflict"). Holding this only around connect() and close() costs nothing measurable.
_open_close_lock = threading.Lock()
_writing = threading.local()  # .opens: store -> this thread's read-write opens of it now


class StoreError(ReconwbError):
    """The store cannot be used."""


class StoreLocked(StoreError):
    """Another process kept the store locked for longer than the lock timeout."""


class StoreMissing(StoreError):
    """A read-only open of a store that does not exist yet."""

    exit_code = 2


def _configured_lock_timeout() -> float:
    raw = os.environ.get("RECONWB_LOCK_TIMEOUT")
    if raw is None or not raw.strip():
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):  # also refuses nan
        raise InvalidInput(f"RECONWB_LOCK_TIMEOUT must be a number of seconds (0 or more), not {raw!r}")
    return value


@dataclass
class HoldStats:
    """How long this process's opens kept the store, and how long opening waited for another process."""

    opens: int = 0
    longest: float = 0.0  # seconds, the longest single hold
    total: float = 0.0
    longest_wait: float = 0.0  # seconds an open waited for another process's lock
    # where the longest hold went: "open" (connect, migration check), "work" (the caller's block), "close"
    # (DuckDB checkpoints the WAL into the file there), and whatever the work noted (`note_part`: a chunk's
    # "step" and "commit"; a commit crossing `checkpoint_threshold` checkpoints too)
    longest_parts: dict[str, float] = field(default_factory=dict)
    # CPU seconds this process used during the longest hold: far less than the hold on a host whose cores are
    # all busy (the hold then waited for a core, not for its own work)
    longest_cpu: float = 0.0
    most_cpu: float = 0.0  # the most CPU seconds any single hold used: what a hold costs on an idle host

    def as_dict(self) -> dict[str, object]:
        return {"opens": self.opens, "longest": round(self.longest, 4), "total": round(self.total, 4),
                "longest_wait": round(self.longest_wait, 4), "longest_cpu": round(self.longest_cpu, 4),
                "most_cpu": round(self.most_cpu, 4),
                "longest_parts": {k: round(v, 4) for k, v in self.longest_parts.items()}}


_stats = HoldStats()
_stats_lock = threading.Lock()
_wait_override = threading.local()
_parts = threading.local()  # the breakdown of this thread's current hold


def hold_stats() -> HoldStats:
    """A copy of this process's hold figures since start (or since `reset_hold_stats`)."""
    with _stats_lock:
        return HoldStats(**{**vars(_stats), "longest_parts": dict(_stats.longest_parts)})


def reset_hold_stats() -> None:
    global _stats
    with _stats_lock:
        _stats = HoldStats()


def note_part(name: str, seconds: float) -> None:
    """Add `seconds` under `name` to the breakdown of this thread's current hold (see `HoldStats`)."""
    parts = getattr(_parts, "current", None)
    if parts is not None:
        parts[name] = parts.get(name, 0.0) + seconds


def _record(held: float, waited: float, path: Path, parts: dict[str, float], cpu: float) -> None:
    with _stats_lock:
        _stats.opens += 1
        _stats.total += held
        if held >= _stats.longest:
            _stats.longest, _stats.longest_parts, _stats.longest_cpu = held, parts, cpu
        _stats.longest_wait = max(_stats.longest_wait, waited)
        _stats.most_cpu = max(_stats.most_cpu, cpu)
    log.log(logging.INFO if held > LONG_HOLD_SECONDS else logging.DEBUG,
            "store %s held %.3f s, %.3f CPU-s (waited %.3f s to open; %s)", path.name, held, cpu, waited,
            ", ".join(f"{k} {v:.3f} s" for k, v in parts.items()))


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Within the block (this thread only), opening gives up with StoreLocked after `seconds` at most.

    A widget uses this to show "the store is busy" after a short wait instead of keeping a page blank for the
    full RECONWB_LOCK_TIMEOUT; the retry then continues in the background.
    """
    previous = getattr(_wait_override, "seconds", None)
    _wait_override.seconds = seconds if previous is None else min(previous, seconds)
    try:
        yield
    finally:
        _wait_override.seconds = previous


def wait_limit(seconds: float) -> float:
    """`seconds`, or less within a `waiting_at_most` block: how long this thread may wait for anything a process
    that waits for the store may be keeping (a shared cache's lock), so the block's promise holds there too."""
    return _lock_timeout(seconds)


def _lock_timeout(asked: float | None = None) -> float:
    """The caller's timeout, else RECONWB_LOCK_TIMEOUT; never more than a `waiting_at_most` block allows."""
    seconds = _configured_lock_timeout() if asked is None else asked
    override = getattr(_wait_override, "seconds", None)
    return seconds if override is None else min(seconds, override)


def _is_lock_error(err: Exception) -> bool:
    text = str(err)
    # "Unique file handle conflict" / "already attached": another thread of this process is opening or closing
    # the same file at this moment (DuckDB's instance cache); "different configuration": another thread of this
    # process has it open read-only while this one asks to write, or the reverse (the server's first view)
    return any(
        marker in text
        for marker in ("Could not set lock", "Conflicting lock", "Unique file handle conflict", "already attached",
                       "different configuration")
    )


def _connect(path: Path, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying with jitter while another process holds the file.

    While it waits, the process holds a shared lock on `<store>.waiting`, so long work that writes in chunks
    sees someone is waiting and lets them in between two chunks (`make_way`).
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    waiting: int | None = None
    try:
        while True:
            try:
                with _open_close_lock:
                    return _attach(path, read_only)
            except (duckdb.IOException, duckdb.ResourceInUseException, duckdb.ConnectionException) as err:
                if not _is_lock_error(err):
                    raise StoreError(f"cannot open store {path}: {err}") from None
                if time.monotonic() >= deadline:
                    raise StoreLocked(
                        f"store {path} is locked by another process (waited {timeout:.0f} s); try again later"
                    ) from None
                if waiting is None:
                    waiting = _announce_waiting(path)
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, MAX_RETRY_DELAY)
    finally:
        if waiting is not None and waiting >= 0:
            os.close(waiting)  # releases the shared lock


# Rows per row group of the tables this process appends to. A checkpoint writes a row group that took new rows
# anew, and rewrites it whole, recompressed, once it is full: at DuckDB's default (122,880 rows) a chunk of long
# work that filled one row group each of match_groups, events and audit_log held the store for seconds (1.4
# CPU-s for match_groups alone, 4.3 CPU-s over 280k rows); at 16,384 the spikes are 0.2 CPU-s, the checkpoints
# 1.7 CPU-s over the same rows and the file a third smaller. DuckDB takes the size as an ATTACH option only,
# for that attachment: every open attaches the file with it (`_attach`).
ROW_GROUP_ROWS = 16_384


def _attach(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the store file, attached with `ROW_GROUP_ROWS`.

    The file is attached to a named in-memory DuckDB instance, one per store and mode: the connections of one
    process to the store share it, as `duckdb.connect(path)` shared its instance, and the file is detached
    (checkpointed, its lock released) when the last of them closes. Callers hold `_open_close_lock`."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    con = duckdb.connect(f":memory:reconwb_{'ro' if read_only else 'rw'}_{digest}")
    try:
        if not con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'store'").fetchone()[0]:
            if not read_only:  # where DuckDB spills for a file database, not the process's working folder
                con.execute("SET temp_directory = ?", [f"{path}.tmp"])
            options = "READ_ONLY" if read_only else f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
            con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS store ({options})")
        con.execute("USE store")
        con.execute("SET enable_progress_bar = false")  # an in-memory instance draws one on long queries
    except BaseException:
        con.close()
        raise
    return con


def _waiting_file(path: Path) -> Path:
    return path.with_name(path.name + ".waiting")


def _announce_waiting(path: Path) -> int:
    """A shared lock on `<store>.waiting` (-1 when the folder is read-only: we just wait, unseen)."""
    try:
        fd = os.open(_waiting_file(path), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # long work is looking at the line right now; it sees us next time
        pass
    return fd


@contextmanager
def announced_reader(path: str | os.PathLike[str]) -> Iterator[None]:
    """Within the block, this process counts as waiting for the store from the start, not only after its first
    failed open: long work that writes in chunks lets it in at its next pause (`make_way`). For a read a person
    is looking at a blank page for (the server's first view of a dashboard)."""
    fd = _announce_waiting(Path(path).absolute())
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)


def make_way(path: str | os.PathLike[str], *, at_most: float = MAKE_WAY_SECONDS) -> float:
    """Between two chunks of long work (the store closed): let processes that wait for the store in first.

    Waiters hold a shared lock on `<store>.waiting` while they retry; this waits, at most `at_most`, until none
    is left, so a reader gets in between chunks instead of racing the next chunk's open (then the long work
    queues like anyone else). Returns the seconds waited. A killed waiter's lock goes with its process.
    """
    began = time.monotonic()
    try:
        fd = os.open(_waiting_file(Path(path).absolute()), os.O_RDWR)
    except OSError:  # nobody ever waited
        return 0.0
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if time.monotonic() - began >= at_most:
                    break
                time.sleep(0.01)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                break
    finally:
        os.close(fd)
    return time.monotonic() - began


def writing_here(path: str | os.PathLike[str]) -> bool:
    """Whether this thread has the store at `path` open read-write right now: a read made now reads through
    that open and sees its uncommitted changes (`open_store`), which nothing may keep beyond it."""
    return bool(_writing.__dict__.get("opens", {}).get(Path(path).absolute()))


@contextmanager
def open_store(
    path: str | os.PathLike[str], *, read_only: bool = False, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to the store at `path`, migrated to the latest schema, and close it afterwards."""
    path = Path(path).absolute()
    if read_only and not path.exists():
        raise StoreMissing(f"no store at {path}; run `reconwb init` first")
    # A read inside this thread's own read-write hold (a panel's read called within a caller's write) reads
    # through that store: the file takes one mode per process at a time, so a read-only open would wait for
    # the very hold it sits in. Others are shut out by that hold anyway.
    writing: dict[Path, int] = _writing.__dict__.setdefault("opens", {})
    read_only = read_only and not writing.get(path)
    if not read_only:
        private_dir(path.parent, owned=False)
    asked = time.monotonic()
    con = _connect(path, read_only, _lock_timeout(timeout))
    if not read_only:
        writing[path] = writing.get(path, 0) + 1
    opened, cpu = time.monotonic(), time.process_time()
    outer = getattr(_parts, "current", None)
    parts: dict[str, float] = {}
    _parts.current = parts
    try:
        if not read_only:
            private_file(path)
        con.execute("SET TimeZone = 'UTC'")
        if path not in _migrated and not read_only:  # a read-only open cannot migrate: the next writer does
            with _migrate_lock:
                migrate(con)
                _migrated.add(path)
        ready = time.monotonic()
        parts["open"] = ready - opened
        try:
            yield con
        finally:
            parts["work"] = time.monotonic() - ready
    finally:
        closing = time.monotonic()
        with _open_close_lock:
            con.close()
        if not read_only:
            writing[path] -= 1
        parts["close"] = time.monotonic() - closing
        _parts.current = outer
        _record(time.monotonic() - opened, opened - asked, path, parts, time.process_time() - cpu)
        if not read_only:
            private_file(path.with_name(path.name + ".wal"))  # a WAL left behind by a crash-free close is rare


_open_transactions: set[int] = set()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: commit when the block ends, roll back when it raises.

    Nested use joins the outer transaction (DuckDB has no savepoints), so a function can be all-or-nothing on
    its own and still be part of a caller's larger unit of work.
    """
    key = id(con)
    if key in _open_transactions:
        yield con  # the outer block commits or rolls back
        return
    con.execute("BEGIN TRANSACTION")
    _open_transactions.add(key)
    try:
        yield con
    except BaseException:
        _open_transactions.discard(key)
        try:
            con.execute("ROLLBACK")
        finally:
            _release_held(key)
        raise
    else:
        _open_transactions.discard(key)
        try:
            con.execute("COMMIT")
        finally:
            _release_held(key)


_held_locks: dict[int, list[threading.RLock]] = {}


def keep_key(con: duckdb.DuckDBPyConnection, lock: threading.RLock, guard: str) -> None:
    """Within `con`'s open `transaction`: become the only writer of this process that checks and writes the
    key of the table `guard` (its row in `key_guards`) until the transaction ends.

    For tables whose key no index keeps (migration 0023): the writer reads which keys exist and inserts the
    others, so two writers must not do it at once. Processes write one at a time (the file lock); within a
    process, `lock` makes a second writer wait for the first's commit, and updating the guard row makes a
    writer whose snapshot began before that commit fail with a conflict (tried again by `in_transaction`)
    instead of inserting a key it could not see.
    """
    key = id(con)
    if key not in _open_transactions:
        raise RuntimeError("keep_key needs an open transaction (store.db.transaction)")
    lock.acquire()
    _held_locks.setdefault(key, []).append(lock)
    con.execute("UPDATE key_guards SET writes = writes + 1 WHERE name = ?", [guard])


def _release_held(key: int) -> None:
    for lock in reversed(_held_locks.pop(key, [])):
        lock.release()


CONFLICT_TRIES = 8


def in_transaction(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    work: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    tries: int = CONFLICT_TRIES,
) -> T:
    """Run `work` in one short transaction of its own, again when a writer of this same process conflicted.

    Threads of one process (a kernel's Run now clicks, a link answer racing its webhook) share one DuckDB
    instance, whose optimistic concurrency makes the later writer of a row fail ("Conflict on update"). That
    is the in-process twin of the file lock, and is handled the same way: wait a little, with jitter, and try
    the whole unit of work again. A person never sees the raw conflict.
    """
    delay = 0.02
    for attempt in range(1, tries + 1):
        try:
            with connect() as con, transaction(con):
                return work(con)
        except (duckdb.TransactionException, duckdb.ConstraintException) as err:
            if attempt == tries:
                raise StoreError(f"the store stayed busy with another writer of this process: {err}") from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: object) -> Iterator[str]:
    """Expose an Arrow table or polars/pandas frame to SQL as `name` for the block.

    DuckDB 2 refuses `register` while a result of the caller's last `execute` is unread, so that result is run
    to its end first.
    """
    con.complete()
    con.register(name, data)
    try:
        yield name
    finally:
        con.complete()
        con.unregister(name)


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pl.DataFrame:
    """The result of `sql` as a polars frame, without the extra copy a DB-API result would make."""
    con.complete()
    return con.sql(sql, params=params or None).pl()


def forget_migrated(path: str | os.PathLike[str] | None = None) -> None:
    """Make the next open check migrations again (tests that swap store files use this)."""
    if path is None:
        _migrated.clear()
    else:
        _migrated.discard(Path(path).absolute())
