"""Long work written in bounded chunks: each chunk one short transaction, its size following measured time.

reconwb's rule is that no open holds the store longer than a couple of seconds, whatever the size of the work
(a reconcile run, a statement file, a key rotation, a retention sweep). The work computes what it writes
outside the store, then hands `in_chunks` a step that writes the next `size` rows and records how far it got
in the same transaction, so a kill between two chunks leaves a consistent store and the next run goes on from
there. Each chunk aims at `CHUNK_SECONDS` of hold; between two chunks processes that wait for the store go
first (`store.db.make_way`).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from reconwb.store.db import make_way, note_part, transaction

if TYPE_CHECKING:
    import polars as pl

# the hold each chunk aims at: within the "couple of seconds" a reader may wait. Tried at 1 s (session 5): at 1M a
# reconcile chunk's fixed cost (each open starts with a cold cache) doubled the opens (199) and the CPU (+92 %)
CHUNK_SECONDS = 1.5
FIRST_CHUNK_ROWS = 10_000  # rows in the first chunk, before any time was measured
MIN_CHUNK_ROWS = 2_000
MAX_CHUNK_ROWS = 500_000
# Work whose cost is proportional to its rows (a file's lines appended and checked against the store's keys)
# starts bigger and may grow faster: each chunk is a pause for waiting readers and a fresh open, so fewer is
# faster for everyone (a 1M-line statement: 7 chunks from 10k at 2x, 4 from 100k at 8x; 100k statement lines
# hold the store about 0.2 s on a quiet host)
PROPORTIONAL_FIRST_ROWS = 100_000
PROPORTIONAL_GROWTH = 8.0

# a step writes up to `size` rows in the open transaction; it returns the rows it wrote and whether the work is
# complete, or None when there was nothing left to do (another process finished it meanwhile)
Step = Callable[[duckdb.DuckDBPyConnection, int], "tuple[int, bool] | None"]


@dataclass
class Pace:
    """Chunk sizes: start at `first` rows, then as many as fit `seconds` at the last chunk's pace, at most
    `growth` times the last size (a small chunk's pace says little about a big one's when its cost is not
    proportional to its rows: a reconcile chunk's is not), within `least` and `most`."""

    first: int = field(default_factory=lambda: FIRST_CHUNK_ROWS)  # read when made: tests make chunks small
    least: int = field(default_factory=lambda: MIN_CHUNK_ROWS)
    most: int = field(default_factory=lambda: MAX_CHUNK_ROWS)
    seconds: float = field(default_factory=lambda: CHUNK_SECONDS)
    growth: float = 2.0

    @classmethod
    def proportional(cls) -> Pace:
        """The pace of work whose cost is proportional to its rows (`PROPORTIONAL_FIRST_ROWS`)."""
        return cls(first=PROPORTIONAL_FIRST_ROWS, growth=PROPORTIONAL_GROWTH)

    def next(self, size: int, rows: int, held: float) -> int:
        rate = rows / max(held, 1e-3)
        return int(min(self.most, self.growth * size, max(self.least, rate * self.seconds)))


def in_chunks(connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
              path: str | os.PathLike[str], step: Step, pace: Pace | None = None,
              before: Callable[[int], None] | None = None) -> int:
    """Run `step` chunk after chunk, each in a transaction of its own, until it says the work is complete;
    return the number of chunks written. `before(size)`, when given, runs ahead of each open: work that needs
    no store (building the chunk's rows and payloads) is done there, outside the hold."""
    pace = pace or Pace()
    size, chunks = min(pace.first, pace.most), 0
    while True:
        if before is not None:
            before(size)
        with connect() as con:
            started = time.monotonic()  # the hold: from the open (not the wait for it) to after the close
            with transaction(con):
                outcome = step(con, size)
                stepped = time.monotonic()
            note_part("step", stepped - started)
            note_part("commit", time.monotonic() - stepped)  # a commit past checkpoint_threshold checkpoints
        if outcome is None:
            break
        rows, last = outcome
        chunks += 1
        if last:
            break
        size = pace.next(size, rows, time.monotonic() - started)
        make_way(path)
    return chunks


def staged_step(runs_table: str, run_id: str, staged: pl.LazyFrame, rows: int,
                apply: Callable[[duckdb.DuckDBPyConnection, pl.DataFrame], dict[str, int]],
                finish: Callable[[duckdb.DuckDBPyConnection], None]) -> Step:
    """The `in_chunks` step of a file import staged outside the store (`rows` lines of `staged`: Parquet files,
    or a frame in memory), whose run is a row of `runs_table` (run_id, rows_done, finished_at and the counters
    `apply` returns).

    Each chunk reads how far the run got, applies the next `size` staged lines (`apply` returns its counters,
    added to the run's row in the same transaction) and moves `rows_done`; once every line is in, `finish`
    reveals the file in one last short transaction. A run another process finished meanwhile ends the loop."""
    def step(con: duckdb.DuckDBPyConnection, size: int) -> tuple[int, bool] | None:
        done, finished = con.execute(f"SELECT rows_done, finished_at FROM {runs_table} WHERE run_id = ?",
                                     [run_id]).fetchone()
        if finished is not None:
            return None
        if done < rows:
            part = staged.slice(done, size).collect()
            counts = apply(con, part)
            added = "".join(f", {name} = {name} + ?" for name in counts)
            con.execute(f"UPDATE {runs_table} SET rows_done = rows_done + ?{added} WHERE run_id = ?",
                        [part.height, *counts.values(), run_id])
            return part.height, False
        finish(con)
        return 0, True

    return step


ABANDONED_AFTER = 24 * 3600.0  # seconds: a run of another host sharing the folder left unfinished this long


def staging_root(db_path: Path) -> Path:
    """Where long work stages what it computed outside the store (next to it, private)."""
    return db_path.with_name(db_path.name + ".staging")


def owner() -> tuple[str, int]:
    """Who runs a piece of long work (host, pid), recorded with it so that the next run knows when it died."""
    return socket.gethostname(), os.getpid()


def abandoned(host: str, pid: int, age_seconds: float) -> bool:
    """Whether unfinished work recorded by (host, pid) is abandoned: its process is gone (this host), or it is
    older than ABANDONED_AFTER (another host's process cannot be asked)."""
    if host != socket.gethostname():
        return age_seconds > ABANDONED_AFTER
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    return False


def undo_abandoned(connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
                   path: str | os.PathLike[str], runs_table: str,
                   drop: Callable[[duckdb.DuckDBPyConnection, str, int], int]) -> list[str]:
    """Undo, in chunks, the runs in `runs_table` (run_id, host, pid, started_at, finished_at, outcome) that
    their process left unfinished: `drop(con, run_id, size)` deletes up to `size` of a run's hidden rows and
    says how many; the run is closed as `undone` once none is left. Returns the runs undone."""
    with connect() as con:
        runs = con.execute(f"SELECT run_id, host, pid, epoch(now() - started_at) FROM {runs_table}"
                           " WHERE finished_at IS NULL").fetchall()
    gone = [run_id for run_id, host, pid, age in runs if abandoned(host, pid, age)]
    for run_id in gone:
        def step(con: duckdb.DuckDBPyConnection, size: int, run_id: str = run_id) -> tuple[int, bool]:
            deleted = drop(con, run_id, size)
            if deleted < size:
                con.execute(f"UPDATE {runs_table} SET finished_at = now(), outcome = 'undone'"
                            " WHERE run_id = ? AND finished_at IS NULL", [run_id])
            return deleted, deleted < size

        in_chunks(connect, path, step)
        shutil.rmtree(staging_root(Path(path)) / run_id, ignore_errors=True)
    return gone
