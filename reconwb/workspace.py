"""Where a workspace lives: its store, its vault key, its run outputs.

Every public function of reconwb takes a `Workspace`, so a notebook, a job kernel, the CLI and the Jupyter
server all agree on which files they touch. Resolution order follows CONTRACTS.md: an explicit path, then
`RECONWB_DB`, then `data/reconwb.duckdb`; for the key, `RECONWB_KEY`, then `RECONWB_KEY_FILE`, then a key file
next to the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from reconwb.vault import Vault

DEFAULT_DB = Path("data") / "reconwb.duckdb"
KEY_FILE_NAME = "reconwb.key"


@dataclass(frozen=True)
class Workspace:
    """A store file plus the files that belong with it."""

    db_path: Path
    key_file: Path | None = None

    @classmethod
    def from_env(cls, db: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace a command or kernel should use: explicit path, then environment, then default."""
        path = Path(db) if db else Path(os.environ.get("RECONWB_DB") or DEFAULT_DB)
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

    def vault(self) -> Vault:
        """The vault for this workspace's key; raises `KeyMissing` when no key is set up."""
        from reconwb.vault import Vault

        return Vault.for_workspace(self)
