"""Where a workspace lives: its store, its vault key, its run outputs.

Every public function of reconwb takes a `Workspace`, so a notebook, a job kernel, the CLI and the Jupyter
server all agree on which files they touch. Resolution order follows CONTRACTS.md: an explicit path, then
`RECONWB_DB`, then the workspace found from the current directory and its parents (the way git finds a
repository: a folder holding `reconwb.duckdb`, as `reconwb init DIR` makes it, or `data/reconwb.duckdb`, the
repository's own), then `data/reconwb.duckdb`; for the key, `RECONWB_KEY`, then `RECONWB_KEY_FILE`, then a key
file next to the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from reconwb.vault import Vault

STORE_NAME = "reconwb.duckdb"
DEFAULT_DB = Path("data") / STORE_NAME
KEY_FILE_NAME = "reconwb.key"
DB_ENV = "RECONWB_DB"


def discover(start: Path | None = None) -> Path | None:
    """The store of the workspace that holds `start` (default: the current directory), or None.

    Each folder from `start` up is asked, nearest first: its own `reconwb.duckdb` (a workspace made by
    `reconwb init`), then `data/reconwb.duckdb` (a source checkout).
    """
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        for candidate in (folder / STORE_NAME, folder / DEFAULT_DB):
            if candidate.is_file():
                return candidate
    return None


@dataclass(frozen=True)
class Workspace:
    """A store file plus the files that belong with it."""

    db_path: Path
    key_file: Path | None = None

    @classmethod
    def from_env(cls, db: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace a command or kernel should use: explicit path, environment, discovery, then default."""
        path = Path(db) if db else Path(os.environ.get(DB_ENV) or discover() or DEFAULT_DB)
        key_file = os.environ.get("RECONWB_KEY_FILE")
        return cls(db_path=path.absolute(), key_file=Path(key_file).absolute() if key_file else None)

    @property
    def data_dir(self) -> Path:
        """Directory for everything that belongs to this store (runs, diagnostics, default key)."""
        return self.db_path.parent

    @property
    def default_key_file(self) -> Path:
        return self.key_file or self.data_dir / KEY_FILE_NAME

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def diagnostics_dir(self) -> Path:
        return self.data_dir / "diagnostics"

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the store for one unit of work (see `reconwb.store.db.open_store`)."""
        from reconwb.store.db import open_store

        with open_store(self.db_path, read_only=read_only) as con:
            yield con

    def reading(self) -> Workspace:
        """This workspace, with every open read-only: for reads that may run beside each other. DuckDB lets
        several processes read a file at once (none while one writes), so the server's first view of a
        dashboard and its kernel's prefetch of the same totals do not queue for the file."""
        return _Reading(db_path=self.db_path, key_file=self.key_file)

    @contextmanager
    def held(self, *, read_only: bool = True) -> Iterator[Workspace]:
        """This workspace with ONE open of the store for every `connect` made inside the block: one screen
        panel's several reads are one unit of work, and on a small store opening the file is most of a read's
        cost (50-250 ms each on two shared cores; the jobs panel read four times). Each `connect` inside
        yields the same connection, read-only when `read_only`, whatever it asks, as `reading()` does."""
        with self.connect(read_only=read_only) as con:
            yield _Held(db_path=self.db_path, key_file=self.key_file, con=con)

    def vault(self) -> Vault:
        """The vault for this workspace's key; raises `KeyMissing` when no key is set up."""
        from reconwb.vault import Vault

        return Vault.for_workspace(self)


@dataclass(frozen=True)
class _Reading(Workspace):
    """`Workspace.reading()`: a workspace that opens its store read-only whatever the caller asks."""

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().connect(read_only=True) as con:
            yield con

    def reading(self) -> Workspace:
        return self


@dataclass(frozen=True)
class _Held(Workspace):
    """`Workspace.held()`: a workspace whose every `connect` is the one open its block holds."""

    con: duckdb.DuckDBPyConnection | None = field(default=None, compare=False, repr=False)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        assert self.con is not None  # made by `held` only
        yield self.con

    def reading(self) -> Workspace:
        return self  # a second open beside the held one would wait for it

    @contextmanager
    def held(self, *, read_only: bool = True) -> Iterator[Workspace]:
        yield self
