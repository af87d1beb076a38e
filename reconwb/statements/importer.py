"""Statement file -> store, all or nothing, without holding the store for long.

The file is read and validated completely before the store is opened for writing (a file that fails stores
nothing), then every statement in it goes through the one idempotent `transactions.ingest`; the same file (or
an overlapping one) imported again adds nothing.

A file of up to `IN_ONE_TRANSACTION` lines is written in ONE transaction. A bigger one (`import_into`) is keyed
as a whole outside the store and written in chunks (`store.chunks`), slices of that one frame (a 1M-line file's
keyed lines take about 60 MB, less than the parsed statements the caller holds; staging them as Parquet cost
0.3 s of a 4.5 s import and kept nothing a later process could use), each a short transaction: its lines go in
hidden (`transactions.visible`), and a last short transaction shows them all at once and records the file.
All-or-nothing is kept by that marker: a kill half-way leaves hidden lines that no report, match or listing
sees, and the next import (of any file) deletes them in chunks before the file is imported anew, so
re-importing gives exactly the lines of an uninterrupted import. Pending lines that the file books are updated
chunk by chunk (the same update any import of the file makes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from reconwb import accounts, balances, banks, connections, jsonutil, lifecycle, transactions
from reconwb.errors import Conflict
from reconwb.events import new_id
from reconwb.statements import parse
from reconwb.statements.csv import CsvMapping
from reconwb.statements.model import Statement
from reconwb.store import chunks
from reconwb.store.db import transaction
from reconwb.transactions import SCHEMA, IngestResult, ingest

if TYPE_CHECKING:
    from reconwb.workspace import Workspace

IN_ONE_TRANSACTION = chunks.FIRST_CHUNK_ROWS  # lines; a bigger file is written in chunks


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
    warnings = _warnings(statements, name)
    digest = _sha256(file)
    total = IngestResult(0, 0, 0)
    with transaction(con):
        conn = _connection(con, connection)
        frames = []
        for st in statements:
            frames.append(_with_account_ids(con, conn.connection_id, st, default_ref=connection, notices=warnings))
            if st.closing is not None and frames[-1].height:  # the balance proof on the dashboard
                balances.record(con, int(frames[-1]["account_id"][0]), st, source=name)
        if frames:  # one bulk pass for every account in the file
            total = ingest(con, None, pl.concat(frames), source="statement", source_ref=name)
        _recorded(con, conn, name, digest, fmt, len(statements), total, warnings)
    return ImportResult(imported=total.inserted, duplicates=total.duplicates, updated=total.updated,
                        warnings=warnings, file=name, format=fmt, connection=connection,
                        statements=len(statements))


def import_into(ws: Workspace, statements: list[Statement], connection: str, *, file: Path,
                fmt: str) -> ImportResult:
    """Store parsed `statements` under `connection`: a small file in one transaction (`store`), a big one in
    short chunks behind a marker that hides it until its last one (see the module's docstring)."""
    undo_abandoned(ws)
    if sum(st.count() for st in statements) <= IN_ONE_TRANSACTION:
        with ws.connect() as con:
            return store(con, statements, connection, file=file, fmt=fmt)
    name = file.name
    warnings = _warnings(statements, name)
    digest = _sha256(file)
    run_id = new_id("stm")
    with ws.connect() as con, transaction(con):  # short: the connection and accounts, the run
        conn = _connection(con, connection)
        frames = [_with_account_ids(con, conn.connection_id, st, default_ref=connection, notices=warnings)
                  for st in statements]
        con.execute("INSERT INTO statement_import_runs (run_id, connection_id, file_name, sha256, rows_total,"
                    " host, pid) VALUES (?, ?, ?, ?, 0, ?, ?)",
                    [run_id, conn.connection_id, name, digest, *chunks.owner()])
        after = transactions.last_txn_id(con)  # every line this run stages gets a bigger id
    owners = [int(f["account_id"][0]) if f.height else None for f in frames]
    # keys over the whole file, outside the store; the chunks are slices of it (no copy)
    keyed = transactions.prepared(None, pl.concat(frames))
    del frames
    rows, lines = keyed.height, keyed.lazy()

    def apply(con: duckdb.DuckDBPyConnection, part: pl.DataFrame) -> dict[str, int]:
        got = ingest(con, None, part, source="statement", source_ref=name, stage=run_id)
        return {"inserted": got.inserted, "updated": got.updated, "duplicates": got.duplicates}

    def finish(con: duckdb.DuckDBPyConnection) -> None:
        # every staged line shows at once, and the file is recorded
        transactions.reveal(con, run_id, after_txn_id=after)
        inserted, updated, duplicates = con.execute(
            "UPDATE statement_import_runs SET finished_at = now(), outcome = 'imported', rows_total = ?"
            " WHERE run_id = ? RETURNING inserted, updated, duplicates", [rows, run_id]).fetchone()
        for st, owner in zip(statements, owners, strict=True):
            if st.closing is not None and owner is not None:
                balances.record(con, owner, st, source=name)
        total.append(IngestResult(inserted, updated, duplicates))
        _recorded(con, conn, name, digest, fmt, len(statements), total[-1], warnings)

    total: list[IngestResult] = []
    chunks.in_chunks(ws.connect, ws.db_path, chunks.staged_step("statement_import_runs", run_id, lines, rows, apply,
                                                                finish), chunks.Pace.proportional())
    if not total:  # another process finished or undid the run meanwhile
        raise Conflict(f"the import of {name} was taken over by another process; import it again")
    return ImportResult(imported=total[0].inserted, duplicates=total[0].duplicates, updated=total[0].updated,
                        warnings=warnings, file=name, format=fmt, connection=connection,
                        statements=len(statements))


def undo_abandoned(ws: Workspace) -> int:
    """Delete, in chunks, the hidden lines of chunked imports whose process is gone; return how many runs."""
    return len(chunks.undo_abandoned(ws.connect, ws.db_path, "statement_import_runs", transactions.drop_staged))


def _warnings(statements: list[Statement], name: str) -> list[str]:
    return [w for st in statements for w in [*st.warnings, st.balance_warning(name)] if w]


def _connection(con: duckdb.DuckDBPyConnection, connection: str) -> connections.Connection:
    """The statement connection to import into, created on first use; refused when it was removed."""
    conn = connections.get(con, connection, missing_ok=True)
    if conn is None:
        banks.ensure_statement_bank(con)
        conn = connections.add(con, connection, banks.STATEMENT_BANK)
    elif conn.removed_at is not None:
        raise Conflict(f"connection {connection!r} was removed; import into another connection")
    return conn


def _recorded(con: duckdb.DuckDBPyConnection, conn: connections.Connection, name: str, digest: str, fmt: str,
              statements: int, total: IngestResult, warnings: list[str]) -> None:
    """The file in `statement_imports` (what was imported when, with its warnings); the connection succeeded."""
    con.execute(
        "INSERT INTO statement_imports (connection_id, file_name, sha256, format, statements, imported,"
        " duplicates, updated, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [conn.connection_id, name, digest, fmt, statements, total.inserted, total.duplicates,
         total.updated, jsonutil.dumps(warnings)],
    )
    if conn.connector == connections.STATEMENT_CONNECTOR:
        lifecycle.record_success(con, conn.connection_id)


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
