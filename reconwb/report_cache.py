"""The money totals of a store computed once per state of the store, shared by every process that shows them.

On 1M deposits `reports.overview` takes about 1.3 CPU-seconds. When the reconciliation dashboard is asked for,
two processes want it at the same moment: the server draws the page's first view (`reconwb.server.first_view`)
while the page's kernel starts its prefetch (`reconwb.widgets.prefetch`). On two cores they computed it twice,
side by side, and each took twice as long. Here the first of them computes it and writes it to a private file
next to the store (`<store>.overview`, 0600); the other waits on `<store>.overview.lock` for it and reads the
file; a later page on an unchanged store reads it without opening the store at all.

The page still shows the store as it is at request time: an entry is valid for one state of the store only,
the key of that state being the store file's headers (DuckDB rewrites them at every checkpoint) and the size
and time of its write-ahead log (every commit appends to it), read when the page asks, plus the day (the ages
change at midnight). The key is taken while the store is open for reading, when no other process can write,
so an entry never holds figures of another state. A read inside this thread's own write (which would see its
uncommitted changes) and a store whose folder cannot be written are computed as before, without the file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import threading
import time
from dataclasses import fields
from pathlib import Path

import polars as pl

from reconwb import reports
from reconwb.private import write_private
from reconwb.store.db import wait_limit, writing_here
from reconwb.workspace import Workspace

HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers (one per checkpoint, alternating)
FORMAT = 1  # bump when `reports.Overview` or this file's layout changes: older entries then never match
# How long to wait for another process computing the same entry. Not the caller's wait for a held store (the
# server's first view gives up on that after 1 s): the other process gives up on a held store within its own
# timeout and releases the lock; computing beside it would only halve the speed of both.
OTHERS_SECONDS = 60.0
_FRAMES = tuple(f.name for f in fields(reports.Overview) if f.name != "headline")


def store_state(path: Path) -> str | None:
    """A key that changes whenever the store's data may have: its headers and its write-ahead log; None when
    there is no store."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            digest.update(fh.read(HEADER_BYTES))
        digest.update(str(path.stat().st_size).encode())
    except FileNotFoundError:
        return None
    try:
        wal = path.with_name(path.name + ".wal").stat()
        digest.update(f"wal {wal.st_size} {wal.st_mtime_ns}".encode())
    except FileNotFoundError:
        digest.update(b"no wal")
    return digest.hexdigest()


def overview(ws: Workspace, *, every: str = "week") -> reports.Overview:
    """`reports.overview(ws)` of the store as it is now: from the shared file when it holds this state, else
    computed (by one process at a time: another one asking meanwhile waits for it and reads its result)."""
    path = ws.db_path.absolute()
    cache = path.with_name(path.name + ".overview")
    key = _key(path, every)
    if key is None or writing_here(path):
        return reports.overview(ws, every=every)
    found = _read(cache, key)
    if found is not None:
        return found
    try:
        lock = os.open(path.with_name(cache.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a folder we cannot write: no sharing
        return reports.overview(ws, every=every)
    try:
        # another process computing it: wait for its result (or do it after all), no longer than this thread
        # may wait for the store (the first view's 1 s), since that process may itself be waiting for it
        _lock(lock, wait_limit(OTHERS_SECONDS))
        with ws.reading().held() as held:
            key = _key(path, every)  # the state being read: no other process writes while it is open
            found = _read(cache, key) if key is not None else None
            if found is not None:
                return found
            data = reports.overview(held, every=every)
            if key is not None:
                _write(cache, key, data)
            return data
    finally:
        os.close(lock)  # releases the lock


def _key(path: Path, every: str) -> str | None:
    state = store_state(path)
    return None if state is None else f"{FORMAT} {every} {dt.date.today().isoformat()} {state}"


def _lock(fd: int, seconds: float) -> None:
    """An exclusive lock on `fd`, waiting at most `seconds` (then without it: the caller computes anyway)."""
    give_up = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() >= give_up:
                return
            time.sleep(0.01)


def _read(cache: Path, key: str) -> reports.Overview | None:
    """The entry in `cache` if it is the one of `key`; None otherwise (or when unreadable: computed again)."""
    try:
        with open(cache, "rb") as fh:
            head = json.loads(fh.readline())
            if head.get("key") != key:
                return None
            frames = {name: pl.read_ipc(io.BytesIO(fh.read(size))) for name, size in head["frames"]}
        return reports.Overview(headline=head["headline"], **frames)
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None


def _write(cache: Path, key: str, data: reports.Overview) -> None:
    """Replace the entry in `cache` with `data`, whole (a reader sees the old entry or the new one)."""
    parts = []
    for name in _FRAMES:
        buffer = io.BytesIO()
        getattr(data, name).write_ipc(buffer)
        parts.append((name, buffer.getvalue()))
    head = json.dumps({"key": key, "headline": data.headline, "frames": [(n, len(b)) for n, b in parts]})
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        write_private(partial, head.encode() + b"\n" + b"".join(b for _n, b in parts))
        os.replace(partial, cache)
    except OSError:  # a full disk: the figures are still shown, only not shared
        partial.unlink(missing_ok=True)
