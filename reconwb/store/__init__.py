"""The DuckDB store: schema migrations and the connection policy."""

from reconwb.store.db import (
    StoreError,
    StoreLocked,
    StoreMissing,
    announced_reader,
    open_store,
    registered,
    transaction,
)

__all__ = ["StoreError", "StoreLocked", "StoreMissing", "announced_reader", "open_store", "registered",
           "transaction"]
