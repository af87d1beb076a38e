"""Read-only SQL for people: one SELECT, run in a transaction that is always rolled back.

The analyst's `%%reconwb_sql` magic and dashboards use this, so a typo cannot change the books. A DuckDB
read-only connection is not used because a process cannot hold a read-only and a read-write connection to the
same file at once, and a kernel may be syncing in the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from reconwb.errors import InvalidInput
from reconwb.store.db import frame, transaction
from reconwb.workspace import Workspace

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def query(ws: Workspace, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    """The result of one read-only statement as a polars frame."""
    with ws.connect() as con:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as err:
            raise InvalidInput(f"SQL does not parse: {str(err).splitlines()[0]}") from None
        if len(statements) != 1:
            raise InvalidInput(f"expected exactly one SELECT statement, got {len(statements)}")
        if statements[0].type not in _ALLOWED:
            raise InvalidInput(f"only SELECT is allowed here, not {statements[0].type.name}")
        try:
            with transaction(con):
                raise _Rollback(frame(con, sql, list(params) if params else None))
        except _Rollback as done:
            return done.frame
        except duckdb.Error as err:
            raise InvalidInput(f"query failed: {str(err).splitlines()[0]}") from None


class _Rollback(Exception):  # noqa: N818 - control flow: leave the transaction without committing
    def __init__(self, result: pl.DataFrame) -> None:
        self.frame = result
