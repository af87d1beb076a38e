from __future__ import annotations

import subprocess
import sys
import threading
from decimal import Decimal

from reconwb import report_cache, reports
from reconwb.store.db import transaction
from reconwb.workspace import Workspace


def _same(a: reports.Overview, b: reports.Overview) -> bool:
    return a.headline == b.headline and all(getattr(a, f).equals(getattr(b, f)) and
                                            getattr(a, f).schema == getattr(b, f).schema
                                            for f in ("money", "balances", "deposit_totals", "payment_totals",
                                                      "trend", "ageing"))


def test_the_shared_figures_are_the_reports_own_and_private(books: Workspace) -> None:
    computed = report_cache.overview(books)
    assert _same(computed, reports.overview(books))
    cache = books.db_path.with_name(books.db_path.name + ".overview")
    assert cache.stat().st_mode & 0o777 == 0o600
    taken = report_cache.overview(books)  # from the file: exact money, the same types
    assert _same(taken, computed)
    assert taken.money["reconciled_amount"][0] == Decimal("100.00")


def test_a_change_to_the_store_shows_at_the_next_read(books: Workspace) -> None:
    before = report_cache.overview(books)
    assert before.headline["deposits_matched"] == 1
    with books.connect() as con:  # the suggestion accepted, as the explorer does
        con.execute("UPDATE match_groups SET status = 'matched' WHERE group_id = 'g2'")
    after = report_cache.overview(books)
    assert after.headline["deposits_matched"] == 2 and after.headline["deposits_suggested"] == 0
    assert _same(after, reports.overview(books))
    subprocess.run(  # and back, by another process
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]);"
         " c.execute(\"UPDATE match_groups SET status = 'suggested' WHERE group_id = 'g2'\"); c.close()",
         str(books.db_path)], check=True)
    assert report_cache.overview(books).headline["deposits_matched"] == 1


def test_a_read_inside_an_open_write_is_not_kept(books: Workspace) -> None:
    """Inside a write, a read sees its uncommitted rows: those must not be shown once it is rolled back."""
    report_cache.overview(books)
    with books.held(read_only=False) as held, held.connect() as con:
        try:
            with transaction(con):
                con.execute("UPDATE match_groups SET status = 'matched' WHERE group_id = 'g2'")
                assert report_cache.overview(held).headline["deposits_matched"] == 2  # through the write's open
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert report_cache.overview(books).headline["deposits_matched"] == 1


def test_two_readers_at_once_compute_it_once(books: Workspace, monkeypatch) -> None:
    computed = []
    real = reports.overview

    def counted(ws, **kwargs):
        computed.append(1)
        return real(ws, **kwargs)

    monkeypatch.setattr(reports, "overview", counted)
    results = []
    readers = [threading.Thread(target=lambda: results.append(report_cache.overview(books))) for _ in range(3)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert len(computed) == 1 and len(results) == 3
    assert all(_same(r, results[0]) for r in results)


def test_a_reader_told_to_wait_briefly_does_not_wait_longer_for_another_computing_it(books: Workspace) -> None:
    """The server's first view waits 1 s for the store, then shows the busy notice; a kernel computing the same
    totals while it waits for a held store must not keep the view waiting on the shared file's lock instead."""
    import fcntl
    import os
    import time

    from reconwb.store.db import waiting_at_most

    lock_path = books.db_path.with_name(books.db_path.name + ".overview.lock")
    other = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # another open file: its lock is another's
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with waiting_at_most(0.5):
            figures = report_cache.overview(books)
        assert time.monotonic() - started < 10  # not the 60 s it would wait for another process's result
        assert _same(figures, reports.overview(books))
    finally:
        os.close(other)

