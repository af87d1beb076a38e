"""Statement file -> store, all or nothing.

The file is read completely before the store is opened for writing, then every statement in it goes through
the one idempotent `transactions.ingest` inside ONE transaction: a file that fails half-way stores nothing,
and the same file (or an overlapping one) imported again adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from reconwb import accounts, balances, banks, connections, jsonutil, lifecycle
from reconwb.errors import Conflict
from reconwb.statements import parse
from reconwb.statements.csv import CsvMapping
from reconwb.statements.model import Statement
from reconwb.store.db import transaction
from reconwb.transactions import SCHEMA, IngestResult, ingest


@dataclass
class ImportResult:
    imported: int
    duplicates: int
    updated: int
    warnings: list[str] = field(default_factory=list)
    file: str = ""
    format: str = ""
    connection: str = ""
    statements: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def import_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    connection: str,
    *,
    fmt: str = "auto",
    mapping: CsvMapping | None = None,
    encoding: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Parse `path`, then store it under `connection` (created as a statement-file connection if new)."""
    fmt, statements = parse(path, fmt, mapping=mapping, encoding=encoding, overrides=overrides)
    return store(con, statements, connection, file=path, fmt=fmt)


def store(
    con: duckdb.DuckDBPyConnection, statements: list[Statement], connection: str, *, file: Path, fmt: str
) -> ImportResult:
    name = file.name
    warnings = [w for st in statements for w in [*st.warnings, st.balance_warning(name)] if w]
    digest = _sha256(file)
    total = IngestResult(0, 0, 0)
    with transaction(con):
        conn = connections.get(con, connection, missing_ok=True)
        if conn is None:
            banks.ensure_statement_bank(con)
            conn = connections.add(con, connection, banks.STATEMENT_BANK)
        elif conn.removed_at is not None:
            raise Conflict(f"connection {connection!r} was removed; import into another connection")
        frames = []
        for st in statements:
            frames.append(_with_account_ids(con, conn.connection_id, st, default_ref=connection, notices=warnings))
            if st.closing is not None and frames[-1].height:  # the balance proof on the dashboard
                balances.record(con, int(frames[-1]["account_id"][0]), st, source=name)
        if frames:  # one bulk pass for every account in the file
            total = ingest(con, None, pl.concat(frames), source="statement", source_ref=name)
        con.execute(
            "INSERT INTO statement_imports (connection_id, file_name, sha256, format, statements, imported,"
            " duplicates, updated, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [conn.connection_id, name, digest, fmt, len(statements), total.inserted, total.duplicates,
             total.updated, jsonutil.dumps(warnings)],
        )
        if conn.connector == connections.STATEMENT_CONNECTOR:
            lifecycle.record_success(con, conn.connection_id)
    return ImportResult(imported=total.inserted, duplicates=total.duplicates, updated=total.updated,
                        warnings=warnings, file=name, format=fmt, connection=connection,
                        statements=len(statements))


def _with_account_ids(con: duckdb.DuckDBPyConnection, connection_id: int, st: Statement, *,
                      default_ref: str, notices: list[str]) -> pl.DataFrame:
    """The statement's lines with the store's `account_id`, accounts created on first sight, or linked to the
    account another connection already holds under the same identity (said in `notices`)."""
    frame = st.frame()

    def account_id(ref: str, **details: str | None) -> int:
        found = accounts.resolve(con, connection_id, ref, **details)
        notice = found.notice(ref)
        if notice and notice not in notices:
            notices.append(notice)
        return found.account_id

    if "account_ref" not in frame.columns:  # one account per statement (OFX, MT940, CAMT)
        single = account_id(st.account_ref or default_ref, iban=st.iban, name=st.name, currency=st.currency)
        return frame.select(*SCHEMA).with_columns(account_id=pl.lit(single, pl.Int64))
    # bulk (CSV): an account column; look each distinct reference up once, then join
    refs = frame.group_by("account_ref").agg(currency=pl.col("currency").unique())
    ids = {
        ref: account_id(ref or st.account_ref or default_ref,
                        currency=currencies[0] if len(currencies) == 1 else None)
        for ref, currencies in refs.iter_rows()
    }
    account_id = pl.col("account_ref").replace_strict(ids, return_dtype=pl.Int64).alias("account_id")
    return frame.select(*SCHEMA, account_id)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
