"""Store access for the open-banking service: short transactions, retried when a writer in this process raced.

Every step of a provider flow opens the store only around its own reads and writes, never across an HTTP call
to the provider, so other processes (kernels, jobs, the server) can use the store meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import duckdb

from reconwb.store.db import in_transaction
from reconwb.workspace import Workspace

T = TypeVar("T")


def in_store(ws: Workspace, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` in one transaction, again if a concurrent writer in this process conflicted with it (a link
    answer racing its webhook): the store's one conflict policy, `store.db.in_transaction`."""
    return in_transaction(ws.connect, work)


async def in_store_async(ws: Workspace, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """`in_store` off the event loop: the store work of an async step must not stall other fetches."""
    return await asyncio.to_thread(in_store, ws, work)


def run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async provider step from sync code (CLI, notebooks, a Jupyter kernel's running loop included)."""
    from reconwb.sync import run_blocking

    return run_blocking(factory)
