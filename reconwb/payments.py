"""Expected payments: what customers owe, imported from files or pulled from the customer's own endpoint.

A payment is identified by its `payment_id`. Importing or pulling again updates what changed (amount, dates,
reference) on payments nobody has paid yet and never touches one that is (partly) paid. The endpoint returns the
*pending* payments, so a payment that disappears from it is marked `cancelled` (kept, with `cancelled_at`), and
one that comes back is reopened.

A big payments file is applied in short chunks (`import_into`) and is all or nothing for readers. Its new payments
go in with their real status and `import_run` set to the run's id; `visible` (which every reader of `payments`
keeps to: reports, listings, matching, the explorer) shows a payment when `import_run` is NULL or its run in
`payment_import_runs` has the outcome `imported`. The reveal is then ONE short transaction: the changes to known
payments (waiting in `payment_import_changes`) applied and one row of `payment_import_runs` updated. Why not hide
new payments by status and reveal them with an UPDATE of every staged row (this module's first chunked
design)? DuckDB keeps an UPDATE's undo in memory and cannot spill it: the 24.5M statuses of a 2 GB export took
the import's peak from ~0.7 GB to 2.34 GB (and ran out of a 256 MB limit). Revealing in several transactions
would need such a run-level marker anyway, and copying a staging table in at the end (INSERT ... SELECT) holds
the store for as long as writing the whole file takes. `import_run` is never cleared: a done run's id costs a
lookup in a table of one row per big import, so those rows must be kept. A killed run's rows (its outcome
never set) stay hidden until the next import deletes them in chunks.
"""

from __future__ import annotations

import csv
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from reconwb import mappings, tabular, textencoding
from reconwb.errors import InvalidInput, NotFound, ReconwbError
from reconwb.private import private_dir
from reconwb.redaction import redact, register_secret

if TYPE_CHECKING:
    import duckdb
    import httpx

    from reconwb.vault import Vault
    from reconwb.workspace import Workspace

REQUIRED = ["payment_id", "amount", "currency", "issued_on", "due_on", "reference", "payer"]
OPTIONAL = ["payer_iban", "account_ref"]
FIELDS = [*REQUIRED, *OPTIONAL]  # as the payments table orders them
AUTH_SCHEMES = ("bearer", "api-key")
STATUSES = ("open", "partially_paid", "paid", "cancelled")
MAX_PAGES = 10_000
BATCH_ROWS = 100_000  # payments validated and staged at a time when a file is imported
# one payments write at a time in a process, until it commits: with no key index, two threads inserting the same
# new id would both succeed (DuckDB lets one process at a time write the file, so other processes cannot)
_WRITING = threading.RLock()
IMPORT_MEMORY = "256MB"  # what DuckDB may hold during a file import; it spills to disk beyond it


def visible(alias: str = "p") -> str:
    """SQL: the payment is not one of a chunked import still being written (or abandoned); see the docstring."""
    return (f"({alias}.import_run IS NULL OR {alias}.import_run IN"
            " (SELECT run_id FROM payment_import_runs WHERE outcome = 'imported'))")


class EndpointError(ReconwbError):
    """The payments endpoint could not be read."""


def _validate(raw: pl.DataFrame, where: str, date_format: str = "%Y-%m-%d") -> pl.DataFrame:
    """Payments columns checked and typed; `raw` may carry `_line` (its rows' file lines), which is kept."""
    payment_id = tabular.text(raw, "payment_id", where, required=True)
    if payment_id.is_duplicated().any():
        index, line = tabular.first_bad(raw, payment_id.is_first_distinct())
        raise InvalidInput(f"{where}: line {line}: payment_id {payment_id[index]!r} appears more than once")
    currency = tabular.text(raw, "currency", where, required=True).str.to_uppercase()
    bad = ~currency.str.contains(r"^[A-Z]{3}$")
    if bad.any():
        index, line = tabular.first_bad(raw, ~bad)
        raise InvalidInput(f"{where}: line {line}: currency {currency[index]!r} is not a 3-letter code")
    frame = pl.DataFrame({
        "payment_id": payment_id,
        "amount": tabular.money(raw, "amount", where, positive=True, currency=currency),
        "currency": currency,
        "issued_on": tabular.date(raw, "issued_on", where, fmt=date_format),
        "due_on": tabular.date(raw, "due_on", where, fmt=date_format),
        "reference": tabular.text(raw, "reference", where),
        "payer": tabular.text(raw, "payer", where),
        "payer_iban": tabular.text(raw, "payer_iban", where),
        "account_ref": tabular.text(raw, "account_ref", where),
    })
    return frame.with_columns(raw["_line"]) if "_line" in raw.columns else frame


def read_file(path: str | Path, overrides: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """A payments file (the Payments CSV, any invoicing export through a mapping, or Parquet), validated as
    a whole; for file mode. `overrides` are mapping keys (a mapping file, `--map`) on top of detection."""
    # one block for the whole file (nothing is stored, the whole file is held anyway): polars reads it on every
    # core, and values that repeat across the file are converted once (`tabular.per_distinct`)
    size = Path(path).stat().st_size if Path(path).is_file() else 0
    frames = list(batches(path, overrides, rows=max(BATCH_ROWS, size // 100 + 1)))
    if not frames:
        return _validate(pl.DataFrame(schema={c: pl.String for c in REQUIRED}), str(path))
    frame = pl.concat(frames)
    # counting distinct ids is cheap, finding the repeat is not: only done when there is one
    repeated = frame.filter(pl.col("payment_id").is_duplicated()) \
        if frame["payment_id"].n_unique() < frame.height else frame.clear()
    if repeated.height:
        second = repeated.row(1, named=True)
        raise InvalidInput(f"{path}: line {second['_line']}: payment_id {second['payment_id']!r} appears more"
                           " than once")
    return frame.drop("_line")


def batches(path: str | Path, overrides: Mapping[str, Any] | None = None, *,
            rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """The file as validated frames of about `rows` payments (blocks of `rows` * 100 bytes), read as a stream:
    a file of any size takes memory for one block. Each frame has `_line`, the file line of each payment."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        raw = tabular.read_table(path, REQUIRED, OPTIONAL)
        yield _validate(raw.with_columns(_line=pl.int_range(2, raw.height + 2, dtype=pl.Int64)), where)
        return
    with path.open("rb") as fh:
        head = fh.read(mappings.SNIFF_BYTES)
    if not head.strip():
        raise InvalidInput(f"{path}: line 1: empty file")
    overrides = dict(overrides or {})
    encoding = overrides.setdefault("encoding", textencoding.detect(path))
    mapping = mappings.resolve(head, where, "payments", overrides)
    reader = path.open("rb") if textencoding.is_utf8(encoding) else \
        textencoding.Utf8Reader(path.open("rb"), encoding, where)
    used = list(dict.fromkeys(c for spec in mapping.columns.values()
                              for c in ([spec] if isinstance(spec, str) else spec)))
    with reader as fh:
        for _ in range(mapping.skip_rows):
            fh.readline()
        header_raw = fh.readline().removeprefix(b"\xef\xbb\xbf")
        _check_utf8(header_raw, where, mapping.skip_rows + 1)
        header = [h.strip() for h in next(csv.reader([header_raw.decode()], delimiter=mapping.delimiter), [])]
        if any(c not in header for c in used):  # the head said otherwise: a byte that does not read as text
            raise InvalidInput(f"{where}: line {mapping.skip_rows + 1}: the header does not read the same as the"
                               " start of the file (a stray byte?)")
        positions = sorted(header.index(c) for c in used)  # polars names the columns it keeps in file order
        line = mapping.skip_rows + 2
        for original in tabular.blocks(fh, rows * 100):
            block, lines = _without_blank_lines(original, line)
            try:
                batch = pl.read_csv(block, has_header=False, columns=positions,
                                    new_columns=[header[i] for i in positions], separator=mapping.delimiter,
                                    infer_schema=False, empty_string_is_null=False) if block else None
            except (pl.exceptions.PolarsError, ValueError):
                _check_utf8(original, where, line)
                at, why = tabular.ragged_line(header_raw + block, mapping.delimiter)
                raise InvalidInput(f"{where}: line {lines[at - 2] if at and at - 2 < len(lines) else line}:"
                                   f" {why}") from None
            line += original.count(b"\n")
            if batch is None:
                continue
            numbers = pl.int_range(lines[0], lines[0] + batch.height, dtype=pl.Int64) \
                if isinstance(lines, range) or len(lines) != batch.height else pl.Series(lines, dtype=pl.Int64)
            canonical = _canonical(batch, mapping).with_columns(_line=numbers)
            yield _validate(canonical, where, mapping.date_format)


def _without_blank_lines(block: bytes, first: int) -> tuple[bytes, range | list[int]]:
    """The block without its blank lines (polars would skip them, or take a leading one for the width of every
    row), and the file line of each line kept."""
    if not (block.startswith((b"\n", b"\r\n")) or b"\n\n" in block or b"\n\r\n" in block):
        return block, range(first, first + block.count(b"\n"))
    rows = block.split(b"\n")[:-1]  # a block ends with a line end
    return b"".join(row + b"\n" for row in rows if row.strip()), [first + i for i, row in enumerate(rows)
                                                                   if row.strip()]


def _check_utf8(block: bytes, where: str, line: int) -> None:
    """A block polars refused because a byte is not UTF-8 (the file's first non-ASCII lines were) names it."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as err:
        raise textencoding.DecodeFailure(where, line + block.count(b"\n", 0, err.start), "utf-8") from None


def _canonical(batch: pl.DataFrame, mapping: mappings.Mapping) -> pl.DataFrame:
    """A batch of any export as the Payments CSV's columns, still text (validation says what is wrong)."""
    def column(field: str) -> pl.Expr:
        spec = mapping.columns.get(field)
        if spec is None:
            return pl.lit((mapping.currency or "") if field == "currency" else "")
        names = [spec] if isinstance(spec, str) else spec
        parts = [pl.col(n).fill_null("").str.strip_chars() for n in names]
        return parts[0] if len(parts) == 1 else pl.concat_str(parts, separator=" ").str.strip_chars()

    amount = mappings.money_text(column("amount"), mapping).fill_null("")
    spec = mapping.columns.get("amount")
    if spec is None:
        return batch.select(*(column(f).alias(f) for f in mappings.PAYMENT_FIELDS if f != "amount"),
                            amount.alias("amount"))
    # amounts repeat: each distinct text is rewritten once
    keys = [spec] if isinstance(spec, str) else list(spec)
    batch = tabular.per_distinct(batch, keys, [amount.alias("_amount")])
    return batch.select(*(column(f).alias(f) for f in mappings.PAYMENT_FIELDS if f != "amount"),
                        pl.col("_amount").alias("amount"))


def _upsert(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, source: str, source_ref: str | None) -> dict[str, int]:
    """Insert new payments; update unpaid ones whose details changed; reopen cancelled ones that came back."""
    from reconwb.store.db import registered

    frame = frame.with_columns(source=pl.lit(source), source_ref=pl.lit(source_ref, dtype=pl.String))
    with registered(con, "_pay", frame.to_arrow()):
        return _upsert_from(con, "_pay", frame.height, source_ref or source)


# a known payment that an import changes: unpaid (open, or cancelled and back in the file) and different
_CHANGED = f"""p.status IN ('open', 'cancelled') AND {visible("p")}
          AND (p.status = 'cancelled' OR p.amount <> i.amount OR p.currency <> i.currency
               OR p.issued_on IS DISTINCT FROM i.issued_on OR p.due_on IS DISTINCT FROM i.due_on
               OR p.reference IS DISTINCT FROM i.reference OR p.payer IS DISTINCT FROM i.payer)"""
_CHANGES_SET = """amount = i.amount, currency = i.currency, issued_on = i.issued_on,
            due_on = i.due_on, reference = i.reference, payer = i.payer,
            payer_iban = nullif(i.payer_iban, ''), account_ref = nullif(i.account_ref, ''),
            status = CASE WHEN p.status = 'cancelled' THEN 'open' ELSE p.status END,
            cancelled_at = NULL, source_ref = coalesce(i.source_ref, p.source_ref), updated_at = now()"""


def _check_repeats(con: duckdb.DuckDBPyConnection, table: str, where: str) -> None:
    """A payment id `table` holds twice refuses the file, naming the line of its second appearance."""
    columns = {d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description}
    line = "max(_line)" if "_line" in columns else "NULL"
    repeated = con.execute(f"SELECT payment_id, {line} FROM {table} GROUP BY payment_id HAVING count(*) > 1"
                           " ORDER BY 2, 1 LIMIT 1").fetchall()
    if repeated:
        at = f"line {repeated[0][1]}: " if repeated[0][1] is not None else ""
        raise InvalidInput(f"{where}: {at}payment_id {repeated[0][0]!r} appears more than once")


def _upsert_from(con: duckdb.DuckDBPyConnection, table: str, count: int, where: str) -> dict[str, int]:
    """`_upsert` from a table or view with the payments columns plus `source` and `source_ref` (and `_line`,
    the file line of each, when it came from a file).

    The one writer of `payments`, so the one keeper of its key: the table has no index on `payment_id` (a key
    index stays in memory whole, see migration 0018). A payment id `table` holds twice refuses it, naming the
    line of its second appearance; new ids are inserted, known ones updated while unpaid.
    """
    _check_repeats(con, table, where)
    changed = con.execute(
        f"UPDATE payments p SET {_CHANGES_SET} FROM {table} i WHERE p.payment_id = i.payment_id AND {_CHANGED}"
    ).fetchall()[0][0]
    inserted = con.execute(
        "INSERT INTO payments (payment_id, amount, currency, issued_on, due_on, reference, payer, payer_iban,"
        " account_ref, source, source_ref) SELECT payment_id, amount, currency, issued_on, due_on, reference,"
        f" payer, nullif(payer_iban, ''), nullif(account_ref, ''), source, source_ref FROM {table} i"
        " WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = i.payment_id)"
    ).fetchall()[0][0]
    return {"imported": int(inserted), "updated": int(changed), "unchanged": count - int(inserted) - int(changed)}


@contextmanager
def _bounded_memory(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's memory held to IMPORT_MEMORY while a file is imported (it spills the staging table and the
    joins to its temporary directory beyond that), then what it was before."""
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"SET memory_limit = '{IMPORT_MEMORY}'")
    try:
        yield
    finally:
        con.execute("RESET memory_limit")  # the default, exactly (its text is rounded)
        if con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] != before:
            con.execute(f"SET memory_limit = '{before}'")  # what the user had set


def import_file(con: duckdb.DuckDBPyConnection, path: str | Path,
                overrides: Mapping[str, Any] | None = None, *, rows: int | None = None) -> dict[str, int]:
    """Import a payments file, all or nothing, as a stream: each block of `rows` payments is validated and
    staged in the store, then one upsert applies the whole file (a payment id seen twice anywhere refuses it).
    Memory stays bounded whatever the file's size: polars holds one block, DuckDB at most IMPORT_MEMORY."""
    from reconwb.store.db import transaction

    count = 0
    # a failure rolls the staging table back with everything else
    with _WRITING, _bounded_memory(con), transaction(con):
        con.execute("CREATE OR REPLACE TEMP TABLE _payments_import (payment_id VARCHAR, amount DECIMAL(18, 3),"
                    " currency VARCHAR, issued_on DATE, due_on DATE, reference VARCHAR, payer VARCHAR,"
                    " payer_iban VARCHAR, account_ref VARCHAR, _line BIGINT, source VARCHAR, source_ref VARCHAR)")
        staged = [*FIELDS, "_line", "source", "source_ref"]
        for frame in batches(path, overrides, rows=rows or BATCH_ROWS):
            count += frame.height
            # read from the frame's Arrow stream: a registered Arrow table kept ~20 MB a block alive
            con.from_arrow(frame.with_columns(source=pl.lit("file"), source_ref=pl.lit(Path(path).name))
                           .select(staged)).insert_into("_payments_import")
        counts = _upsert_from(con, "_payments_import", count, str(path))
        con.execute("DROP TABLE _payments_import")
    return counts


IN_ONE_TRANSACTION = 10_000  # payments; a bigger file is applied in chunks (`import_into`)


def import_into(ws: Workspace, path: str | Path, overrides: Mapping[str, Any] | None = None, *,
                rows: int | None = None) -> dict[str, int]:
    """Import a payments file without holding the store for long, all or nothing.

    The file is read, validated and checked for repeated ids OUTSIDE the store (staged as Parquet next to it,
    DuckDB in memory held to IMPORT_MEMORY): a bad file stores nothing and never held the store. A small file
    is then applied in one transaction; a big one in short chunks (`store.chunks`): new payments go in hidden
    (`import_run` set, see `visible`), changes to known unpaid payments wait in `payment_import_changes`, and
    a last short transaction applies the changes and marks the run imported, which shows the new ones.
    A kill half-way leaves only hidden rows, which the next import deletes (in chunks) before it starts.
    """
    import duckdb

    from reconwb.events import new_id
    from reconwb.store import chunks
    from reconwb.store.db import transaction

    path = Path(path)
    undo_abandoned(ws)
    run_id = new_id("pim")
    stage = private_dir(chunks.staging_root(ws.db_path) / run_id)
    try:
        count = 0
        for i, frame in enumerate(batches(path, overrides, rows=rows or BATCH_ROWS)):
            count += frame.height
            frame.with_columns(source=pl.lit("file"), source_ref=pl.lit(path.name)).select(
                [*FIELDS, "_line", "source", "source_ref"]).write_parquet(stage / f"part-{i:06d}.parquet")
        if not count:
            return {"imported": 0, "updated": 0, "unchanged": 0}
        parts = str(stage / "part-*.parquet")
        files = "read_parquet('" + parts.replace("'", "''") + "')"
        with duckdb.connect() as outside:  # the repeated-id check reads the whole file: not in the store
            outside.execute(f"SET memory_limit = '{IMPORT_MEMORY}'")
            outside.execute("SET temp_directory = ?", [str(stage / "spill")])
            _check_repeats(outside, files, str(path))
        if count <= IN_ONE_TRANSACTION:
            with ws.connect() as con, _WRITING, transaction(con):
                return _upsert_from(con, files, count, str(path))
        return _apply_in_chunks(ws, run_id, parts, count, path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _apply_in_chunks(ws: Workspace, run_id: str, parts: str, count: int, name: str) -> dict[str, int]:
    from reconwb.store import chunks
    from reconwb.store.db import registered

    lines = pl.scan_parquet(parts)
    with ws.connect() as con:
        con.execute("INSERT INTO payment_import_runs (run_id, file_name, rows_total, host, pid)"
                    " VALUES (?, ?, ?, ?, ?)", [run_id, name, count, *chunks.owner()])
    outcome: list[dict[str, int]] = []

    def apply(con: duckdb.DuckDBPyConnection, part: pl.DataFrame) -> dict[str, int]:
        # DuckDB held to IMPORT_MEMORY: the joins probe every payment (24.5M in a 2 GB file) and spill
        with _bounded_memory(con), registered(con, "_part", part.to_arrow()):
            changed = con.execute(
                f"INSERT INTO payment_import_changes SELECT ?, i.payment_id, i.amount, i.currency, i.issued_on,"
                f" i.due_on, i.reference, i.payer, i.payer_iban, i.account_ref, i.source_ref FROM _part i"
                f" JOIN payments p USING (payment_id) WHERE {_CHANGED}", [run_id]).fetchall()[0][0]
            inserted = con.execute(
                "INSERT INTO payments (payment_id, amount, currency, issued_on, due_on, reference, payer,"
                " payer_iban, account_ref, source, source_ref, import_run) SELECT payment_id, amount, currency,"
                " issued_on, due_on, reference, payer, nullif(payer_iban, ''), nullif(account_ref, ''), source,"
                " source_ref, ? FROM _part i"
                " WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = i.payment_id)",
                [run_id]).fetchall()[0][0]
        return {"inserted": int(inserted), "updated": int(changed)}

    def finish(con: duckdb.DuckDBPyConnection) -> None:
        # the changes apply and the new payments show (the run's outcome), all at once; not memory-bounded: an
        # UPDATE's undo cannot spill (the changes are what the file changed, the new payments cost nothing here)
        updated = con.execute(
            f"UPDATE payments p SET {_CHANGES_SET} FROM payment_import_changes i WHERE i.run_id = ?"
            f" AND p.payment_id = i.payment_id AND {_CHANGED}", [run_id]).fetchall()[0][0]
        con.execute("DELETE FROM payment_import_changes WHERE run_id = ?", [run_id])
        inserted, = con.execute(
            "UPDATE payment_import_runs SET finished_at = now(), outcome = 'imported', updated = ? WHERE run_id = ?"
            " RETURNING inserted", [updated, run_id]).fetchone()
        outcome.append({"imported": int(inserted), "updated": int(updated),
                        "unchanged": count - int(inserted) - int(updated)})

    step = chunks.staged_step("payment_import_runs", run_id, lines, count, apply, finish)
    with _WRITING:  # this process's other payments writers wait until the file is in
        chunks.in_chunks(ws.connect, ws.db_path, step)
    if not outcome:
        raise InvalidInput(f"{name}: the import was undone by another process meanwhile; import it again")
    return outcome[0]


def undo_abandoned(ws: Workspace) -> int:
    """Delete, in chunks, the hidden payments of chunked imports whose process is gone; return how many runs."""
    from reconwb.store import chunks

    def drop(con: duckdb.DuckDBPyConnection, run_id: str, size: int) -> int:
        deleted = con.execute("DELETE FROM payments WHERE payment_id IN (SELECT payment_id FROM payments"
                              " WHERE import_run = ? LIMIT ?)", [run_id, size]).fetchall()[0][0]
        if deleted < size:
            con.execute("DELETE FROM payment_import_changes WHERE run_id = ?", [run_id])
        return int(deleted)

    return len(chunks.undo_abandoned(ws.connect, ws.db_path, "payment_import_runs", drop))


# -- the customer's endpoint ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A configured endpoint; its token is sealed in the vault under `owner`."""

    url: str
    auth: str

    @property
    def owner(self) -> str:
        return f"payment-source/{self.url}"


def save_source(con: duckdb.DuckDBPyConnection, vault: Vault, url: str, auth: str, token: str) -> Source:
    """Remember an endpoint and seal its token (never stored in clear)."""
    from reconwb.store.db import transaction

    if auth not in AUTH_SCHEMES:
        raise InvalidInput(f"--auth must be one of {', '.join(AUTH_SCHEMES)}")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"not an http(s) URL: {url!r}")
    if not token:
        raise InvalidInput("the token is empty")
    source = Source(url, auth)
    with transaction(con):
        con.execute(
            "INSERT INTO payment_sources (url, auth_scheme) VALUES (?, ?) "
            "ON CONFLICT (url) DO UPDATE SET auth_scheme = excluded.auth_scheme",
            [url, auth],
        )
        vault.put(con, source.owner, token)
    return source


def get_source(con: duckdb.DuckDBPyConnection, url: str) -> Source:
    row = con.execute("SELECT url, auth_scheme FROM payment_sources WHERE url = ?", [url]).fetchall()
    if not row:
        raise NotFound(f"no payments source {url!r}; pull it once with --auth and --token-stdin")
    return Source(row[0][0], row[0][1])


def _headers(auth: str, token: str) -> dict[str, str]:
    register_secret(token)
    if auth == "bearer":
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return {"Api-Key": token, "Accept": "application/json"}


def _get(client: httpx.Client, url: str, params: dict[str, Any] | None, retries: int) -> dict[str, Any]:
    import httpx

    delay = 0.2
    for attempt in range(retries + 1):
        try:
            response = client.get(url, params=params)
        except httpx.TransportError as err:
            if attempt == retries:
                raise EndpointError(f"payments endpoint {url} unreachable: {redact(err)}") from None
        else:
            if response.status_code in (401, 403):
                raise EndpointError(f"payments endpoint {url} refused the token (HTTP {response.status_code})")
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == retries:
                    raise EndpointError(f"payments endpoint {url} failed: HTTP {response.status_code}")
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 30.0))
            elif response.status_code != 200:
                raise EndpointError(f"payments endpoint {url} answered HTTP {response.status_code}")
            else:
                try:
                    body = response.json()
                except ValueError:
                    raise EndpointError(f"payments endpoint {url} did not answer JSON") from None
                if not isinstance(body, dict | list):
                    raise EndpointError(f"payments endpoint {url} answered unexpected JSON")
                return body if isinstance(body, dict) else {"payments": body}
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise EndpointError(f"payments endpoint {url} failed")  # pragma: no cover


def fetch_pages(url: str, auth: str, token: str, *, timeout: float = 10.0, retries: int = 3) -> Iterator[list[dict]]:
    """Every page of pending payments.

    The endpoint answers `{"payments": [...], "next": URL-or-null}` (a `next` link), or
    `{"payments": [...], "page": N, "pages": M}` (page numbers, asked for with `?page=N`); a bare list is one page.
    """
    import httpx

    with httpx.Client(headers=_headers(auth, token), timeout=httpx.Timeout(timeout), follow_redirects=True) as client:
        next_url: str | None = url
        params: dict[str, Any] | None = None
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            body = _get(client, next_url, params, retries)
            items = body.get("payments", body.get("items", body.get("data")))
            if not isinstance(items, list):
                raise EndpointError(f"payments endpoint {url} answered without a payments list")
            yield items
            if body.get("next"):
                next_url, params = str(httpx.URL(next_url).join(str(body["next"]))), None
            elif isinstance(body.get("page"), int) and isinstance(body.get("pages"), int) \
                    and body["page"] < body["pages"]:
                next_url, params = url, {"page": body["page"] + 1}
            else:
                next_url = None
        raise EndpointError(f"payments endpoint {url} has more than {MAX_PAGES} pages")


def pull(
    con_factory: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    vault: Vault,
    source: Source,
    *,
    timeout: float = 10.0,
    retries: int = 3,
) -> dict[str, int]:
    """Fetch the endpoint's pending payments (no store open meanwhile), then upsert and cancel in one transaction.

    `con_factory` is `ws.connect`: the store is opened to read the token, closed during network I/O, and opened
    again to write.
    """
    from reconwb.store.db import registered, transaction

    with con_factory() as con:
        token = vault.get(con, source.owner)
    if not token:
        raise NotFound(f"no token stored for payments source {source.url}")
    rows: list[dict] = []
    for page in fetch_pages(source.url, source.auth, token, timeout=timeout, retries=retries):
        rows.extend(page)
    where = f"payments endpoint {source.url}"
    raw = pl.DataFrame(
        [{k: (None if r.get(k) is None else str(r.get(k))) for k in REQUIRED + OPTIONAL} for r in rows],
        schema={k: pl.String for k in REQUIRED + OPTIONAL},
    ).with_columns(pl.all().fill_null(""))
    frame = _validate(raw, where)
    with _WRITING, con_factory() as con, transaction(con):
        counts = _upsert(con, frame, "endpoint", source.url)
        with registered(con, "_seen", frame.select("payment_id").to_arrow()):
            cancelled = con.execute(
                "UPDATE payments SET status = 'cancelled', cancelled_at = now(), updated_at = now() "
                "WHERE source = 'endpoint' AND source_ref = ? AND status = 'open' "
                "AND payment_id NOT IN (SELECT payment_id FROM _seen)",
                [source.url],
            ).fetchall()[0][0]
        con.execute("UPDATE payment_sources SET last_pulled_at = now() WHERE url = ?", [source.url])
    return {**counts, "cancelled": int(cancelled), "fetched": frame.height}


def list_payments(con: duckdb.DuckDBPyConnection, *, status: str | None = None, limit: int = 1000,
                  offset: int = 0) -> pl.DataFrame:
    """Payments with how much is still open, newest due first (paged)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    return con.sql(
        f"""
        SELECT p.payment_id, p.amount, p.currency, p.issued_on, p.due_on, p.reference, p.payer, p.status,
               p.amount - coalesce(m.paid, 0) AS open_amount, p.source
        FROM payments p LEFT JOIN ({PAID_SQL}) m USING (payment_id)
        WHERE p.status = coalesce(?, p.status) AND list_contains(?, p.status) AND {visible("p")}
        ORDER BY p.due_on DESC NULLS LAST, p.payment_id LIMIT ? OFFSET ?
        """,
        params=[status, list(STATUSES), limit, offset],
    ).pl()


# how much of each payment live (matched) groups settle: the money linked plus the fee a rule accepted, plus the
# FX difference a conversion left
def paid_sql(links: str = "matches") -> str:
    """PAID_SQL over `links` (a table or subquery shaped like `matches`, e.g. the links of a few payments)."""
    return (
        "SELECT x.payment_id, sum(x.amount + x.fee + coalesce(x.fx_difference, 0)) AS paid FROM"
        f" {links} x JOIN match_groups g USING (group_id) WHERE g.status = 'matched' GROUP BY x.payment_id"
    )


PAID_SQL = paid_sql()
