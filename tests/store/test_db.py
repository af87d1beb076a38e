from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from reconwb.store import db, migrate
from reconwb.store.db import StoreLocked, StoreMissing, open_store, transaction


def test_fresh_store_is_migrated_and_records_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with open_store(path) as con:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert versions == [m.version for m in migrate.available()]
    for table in ("banks", "connections", "accounts", "secrets", "sessions", "sync_runs", "transactions",
                  "payments", "matches", "match_groups", "events", "webhook_endpoints", "webhook_deliveries",
                  "users", "audit_log"):
        assert table in tables


def test_old_store_gets_new_migrations_and_keeps_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.duckdb"
    shipped = migrate.available()
    monkeypatch.setattr(migrate, "available", lambda: shipped[:1])
    db.forget_migrated()
    with open_store(path) as con:
        con.execute("INSERT INTO settings (key, value) VALUES ('operation_mode', 'passthrough')")
    extra = migrate.Migration(9999, "add_column", "ALTER TABLE settings ADD COLUMN note VARCHAR;")
    monkeypatch.setattr(migrate, "available", lambda: [*shipped, extra])
    db.forget_migrated()
    with open_store(path) as con:
        assert migrate.current_version(con) == 9999
        assert con.execute("SELECT value, note FROM settings").fetchall() == [("passthrough", None)]
    db.forget_migrated()


def test_failed_migration_leaves_store_at_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.duckdb"
    with open_store(path) as con:
        before = migrate.current_version(con)
    broken = migrate.Migration(9998, "broken", "CREATE TABLE half (x INT); SELECT no_such_function();")
    shipped = migrate.available()
    monkeypatch.setattr(migrate, "available", lambda: [*shipped, broken])
    db.forget_migrated()
    with pytest.raises(duckdb.Error):
        with open_store(path):
            pass
    db.forget_migrated()
    monkeypatch.undo()
    with open_store(path) as con:
        assert migrate.current_version(con) == before
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert "half" not in tables


def test_transaction_rolls_back_on_error_and_nests(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as con:
        with pytest.raises(RuntimeError):
            with transaction(con):
                con.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
                with transaction(con):  # joins the outer one
                    con.execute("INSERT INTO settings (key, value) VALUES ('b', '2')")
                raise RuntimeError("boom")
        assert con.execute("SELECT count(*) FROM settings").fetchone()[0] == 0


def test_read_only_open_of_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreMissing, match="reconwb init"):
        with open_store(tmp_path / "nope.duckdb", read_only=True):
            pass


def _writer(path: str, tag: str, count: int, queue) -> None:
    try:
        for i in range(count):
            with open_store(path) as con:
                con.execute("INSERT INTO settings (key, value) VALUES (?, ?)", [f"{tag}-{i}", tag])
                time.sleep(0.005)  # hold the file a little, as real work does
        queue.put("ok")
    except Exception as err:  # pragma: no cover - reported to the parent
        queue.put(repr(err))


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.duckdb")
    with open_store(path):
        pass
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, tag, 30, queue)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert results == ["ok", "ok"]
    with open_store(path) as con:
        counts = dict(con.execute("SELECT value, count(*) FROM settings GROUP BY value").fetchall())
    assert counts == {"a": 30, "b": 30}


def _hold(path: str, seconds: float, ready) -> None:
    con = duckdb.connect(path)
    ready.set()
    time.sleep(seconds)
    con.close()


@contextmanager
def _held(path: str, seconds: float) -> Iterator[multiprocessing.Process]:
    """The store at `path` (made now) held for `seconds` by another process, from the start of the block."""
    with open_store(path):
        pass
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, seconds, ready))
    holder.start()
    try:
        assert ready.wait(30)
        yield holder
    finally:
        holder.join(timeout=30)


def test_store_held_too_long_gives_store_locked(tmp_path: Path) -> None:
    path = str(tmp_path / "held.duckdb")
    with _held(path, 5.0):
        started = time.monotonic()
        with pytest.raises(StoreLocked, match="locked by another process"):
            with open_store(path, timeout=0.5):
                pass
        assert time.monotonic() - started < 4
    with open_store(path, timeout=5):  # and once it is released, we get in
        pass


def test_each_open_records_how_long_it_held_the_store(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    with open_store(path):
        pass
    db.reset_hold_stats()
    with open_store(path):
        time.sleep(0.3)
    with open_store(path, read_only=True):
        pass
    stats = db.hold_stats()
    assert stats.opens == 2
    assert 0.3 <= stats.longest < 3
    assert stats.total >= stats.longest
    db.reset_hold_stats()
    assert db.hold_stats().opens == 0


def test_a_held_store_shows_in_the_wait_figure_and_waiting_at_most_gives_up_early(tmp_path: Path) -> None:
    path = str(tmp_path / "held.duckdb")
    with _held(path, 2.0):
        db.reset_hold_stats()
        started = time.monotonic()
        with db.waiting_at_most(0.3), pytest.raises(StoreLocked):
            with open_store(path, timeout=30):  # the narrower limit wins
                pass
        assert time.monotonic() - started < 1.5
        with open_store(path, timeout=30):  # outside the block the long wait applies: we get in once it is free
            pass
        assert db.hold_stats().longest_wait > 0.2


def _wait_and_read(path: str, got_in) -> None:
    with open_store(path, timeout=30):
        got_in.set()
        time.sleep(0.2)


def test_long_work_makes_way_for_a_process_waiting_for_the_store(tmp_path: Path) -> None:
    path = str(tmp_path / "held.duckdb")
    with _held(path, 3.0) as holder:  # a chunk of long work, in another process
        assert db.make_way(path, at_most=2.0) < 0.1  # nobody waits: long work goes straight on
        got_in = multiprocessing.get_context("spawn").Event()
        waiter = multiprocessing.get_context("spawn").Process(target=_wait_and_read, args=(path, got_in))
        waiter.start()
        try:
            deadline = time.monotonic() + 30
            while not _someone_in(Path(path + ".waiting")):  # the waiter found the store held: it is in line
                assert time.monotonic() < deadline
                time.sleep(0.05)
            holder.join(30)
            waited = db.make_way(path, at_most=10.0)  # between two chunks: the waiter goes first
            assert got_in.wait(5)  # it left the line with the store open (and says so a moment later)
            assert waited < 5
        finally:
            waiter.join(30)
    assert db.make_way(path, at_most=2.0) < 0.1  # the line is empty again


def _someone_in(line: Path) -> bool:
    try:
        fd = os.open(line, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def test_an_announced_reader_is_let_in_by_long_work_before_it_even_waits(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with open_store(path):
        pass
    with db.announced_reader(path):  # a first view about to read: in line from the start
        assert _someone_in(Path(str(path) + ".waiting"))
        assert db.make_way(path, at_most=0.3) >= 0.3  # long work between two chunks waits for it
    assert not _someone_in(Path(str(path) + ".waiting"))
    assert db.make_way(path, at_most=2.0) < 0.1


def test_a_read_only_open_waits_for_a_writer_of_the_same_process(tmp_path: Path) -> None:
    """DuckDB refuses a second configuration of an open file in one process (the server's read-only first view
    beside its webhook receiver's write): that is waited out like another process's lock."""
    import threading

    path = tmp_path / "s.duckdb"
    with open_store(path):
        pass
    got: list[tuple[int]] = []

    def read() -> None:
        with open_store(path, read_only=True, timeout=30) as con:
            got.append(con.execute("SELECT 1").fetchone())

    with open_store(path):
        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)
        assert not got  # still waiting: the writer has it
    reader.join(30)
    assert got == [(1,)]


def test_appends_land_in_small_row_groups_and_a_process_shares_its_open_store(tmp_path: Path) -> None:
    """A checkpoint rewrites a row group that took new rows, whole once full: small row groups keep a chunk of long
    work's checkpoint short (db.ROW_GROUP_ROWS). DuckDB takes the size per attachment, so it must hold on every
    open, and connections of one process still share the store as `duckdb.connect(path)` did."""
    path = tmp_path / "s.duckdb"
    for _ in range(2):  # the second open appends to what the first wrote
        with open_store(path) as con:
            con.execute("INSERT INTO audit_log (actor, action, detail) SELECT 'bench', 'x', '{}' FROM range(20000)")
    with open_store(path) as con, open_store(path) as nested:
        groups = con.execute("SELECT count(DISTINCT row_group_id), max(count) FROM pragma_storage_info('audit_log')"
                             " WHERE segment_type <> 'VALIDITY'").fetchone()
        assert nested.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 40000
    assert groups[0] >= 40000 // db.ROW_GROUP_ROWS
    assert groups[1] <= db.ROW_GROUP_ROWS


def test_a_read_inside_a_write_of_the_same_thread_reads_through_it(tmp_path: Path) -> None:
    """A read-only read called inside the same thread's write (a panel drawn within a caller's write) reads at
    once: the file takes one mode per process, so a read-only open would wait for the very hold it sits in,
    then fail as "locked". Another thread's read still waits for the write (the test above)."""
    path = tmp_path / "s.duckdb"
    with open_store(path) as con:
        con.execute("INSERT INTO settings (key, value) VALUES ('locale', 'de_DE')")
        began = time.monotonic()
        with open_store(path, read_only=True, timeout=5) as inner:
            assert inner.execute("SELECT value FROM settings WHERE key = 'locale'").fetchone() == ("de_DE",)
        assert time.monotonic() - began < 5
    with open_store(path, read_only=True) as alone:  # no write held: a true read-only open
        with pytest.raises(duckdb.Error):
            alone.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")
