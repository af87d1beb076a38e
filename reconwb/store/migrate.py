"""Numbered schema migrations, applied in order on open and recorded in `schema_migrations`.

A migration is a file `NNNN_name.sql` in `reconwb/store/migrations/`. Each runs in its own transaction, so a
store is always at some whole version. Never edit a migration that has shipped; add the next number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration; its SQL is read from the package only when it is applied (a store that is up to date,
    what nearly every open finds, costs a directory listing and one query)."""

    version: int
    name: str
    text: str | None = None
    source: Traversable | None = None

    @property
    def sql(self) -> str:
        if self.text is not None:
            return self.text
        assert self.source is not None
        return self.source.read_text(encoding="utf-8")


def available() -> list[Migration]:
    """Every migration shipped with this version of reconwb, in order."""
    found = []
    for entry in resources.files("reconwb.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), source=entry))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {versions}")
    return found


def applied(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The versions the store has; the table that records them is made on a store's first open."""
    try:
        return {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        pass
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)"
    )
    return set()


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply what is missing; return the versions applied now."""
    done = applied(con)
    newly = []
    for migration in available():
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        newly.append(migration.version)
    return newly


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied(con), default=0)
