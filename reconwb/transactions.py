"""Normalised transactions and the one idempotent way they enter the store.

Every source (portal, aggregator, statement file) produces `Txn` values, or a polars frame with the same
columns, and hands them to `ingest`. A transaction is identified per account by the bank's id when there is
one, else by a fingerprint of its content plus its occurrence number among identical lines of the same batch,
so that re-importing a file, or an overlapping statement, adds nothing, while two genuine identical payments on
one day stay two. A line another source (portal, aggregator, statement file) already stored on the same account
under another id is recognised by its content and not stored twice.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

from reconwb import money, settings

if TYPE_CHECKING:
    import duckdb

MONEY = money.MONEY
SCHEMA: dict[str, pl.DataType] = {
    "booked_on": pl.Date(),
    "amount": MONEY,
    "currency": pl.String(),
    "description": pl.String(),
    "reference": pl.String(),
    "counterparty": pl.String(),
    "bank_txn_id": pl.String(),
    "value_date": pl.Date(),
    "counterparty_iban": pl.String(),
    "status": pl.String(),
    "charges": MONEY,  # what the bank took on the line (statement files); not part of the identity
}
# how far apart a pending line and its booked version may be dated
PENDING_WINDOW_DAYS = 7
# A big statement file is written in chunks (`reconwb.statements.importer`): until its last short transaction its
# lines carry the status `staged:<booked|pending>:<run id>`, and every reader that lists lines, sums them or
# matches them keeps to VISIBLE lines, so a half-written file is seen by nobody (the dedupe keys still see it:
# a line staged once is never staged twice).
VISIBLE_STATUSES = ("booked", "pending")


def visible(alias: str = "t") -> str:
    """SQL: the line is booked or pending, not staged by a statement file still being written."""
    return f"{alias}.status IN {VISIBLE_STATUSES!r}"


def staged_statuses(run_id: str) -> list[str]:
    return [f"staged:{status}:{run_id}" for status in VISIBLE_STATUSES]


@dataclass(frozen=True)
class Txn:
    """One transaction as a source reports it. `amount` is positive for money in."""

    booked_on: dt.date
    amount: Decimal
    currency: str
    description: str = ""
    reference: str = ""
    counterparty: str = ""
    bank_txn_id: str | None = None
    value_date: dt.date | None = None
    counterparty_iban: str | None = None
    status: str = "booked"  # booked | pending

    def as_row(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    updated: int
    duplicates: int

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.inserted + other.inserted, self.updated + other.updated, self.duplicates + other.duplicates
        )


def to_frame(txns: Iterable[Txn] | pl.DataFrame) -> pl.DataFrame:
    """A frame with exactly the `SCHEMA` columns, whatever the input was."""
    if isinstance(txns, pl.DataFrame):
        frame = txns
    else:
        rows = [t.as_row() for t in txns]
        frame = pl.DataFrame(rows, schema={f.name: SCHEMA[f.name] for f in fields(Txn)}, orient="row")
    missing = [c for c in SCHEMA if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=SCHEMA[c]).alias(c) for c in missing)
    return frame.select(pl.col(c).cast(t) for c, t in SCHEMA.items()).with_columns(
        pl.col("status").fill_null("booked"),
        *(pl.col(c).fill_null("") for c in ("description", "reference", "counterparty")),
    )


def with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `dedupe_key`: `id:<bank id>` or `fp:<hash of content>#<occurrence>`.

    Occurrences are counted per account when the frame has an `account_id` column (bulk ingest of several
    accounts at once). Only lines without a bank id are fingerprinted, and the occurrence window runs over the
    64-bit content hash rather than the content string: the keys are the same, and a million lines take a
    fraction of the time.
    """
    per_account = ["account_id"] if "account_id" in frame.columns else []
    has_id = pl.col("bank_txn_id").is_not_null() & (pl.col("bank_txn_id") != "")
    frame = frame.with_row_index("_order")
    with_id = frame.filter(has_id).with_columns(dedupe_key=pl.concat_str([pl.lit("id:"), pl.col("bank_txn_id")]))
    without = frame.filter(~has_id)
    content = pl.concat_str(
        [
            pl.col("booked_on").cast(pl.String),
            money.text_expr(pl.col("amount")),  # "10.00" as before the store kept a third decimal
            pl.col("currency"),
            pl.col("description").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars(),
            pl.col("reference"),
            pl.col("counterparty").str.to_lowercase(),
        ],
        separator="|",
    )
    without = without.with_columns(_hash=content.hash(seed=0x5EC0))
    # occurrence number among identical lines: 0 for the (usual) unique line, a window only over the repeats
    repeated = pl.struct([*per_account, "_hash"]).is_duplicated()
    without = without.with_columns(_repeated=repeated)
    singles = without.filter(~pl.col("_repeated")).with_columns(_n=pl.lit(0, pl.UInt32))
    repeats = without.filter(pl.col("_repeated")).with_columns(
        _n=(pl.col("_hash").cum_count().over([*per_account, "_hash"]) - 1).cast(pl.UInt32)
    )
    without = pl.concat([singles, repeats]).drop("_repeated")
    without = without.with_columns(
        dedupe_key=pl.concat_str(
            [pl.lit("fp:"), pl.col("_hash").cast(pl.String), pl.lit("#"), pl.col("_n").cast(pl.String)]
        )
    ).drop("_hash", "_n")
    # fingerprints are unique by construction; a bank id may repeat (keep its last version)
    if with_id.height and with_id.select(pl.struct([*per_account, "dedupe_key"]).is_duplicated().any()).item():
        with_id = with_id.unique([*per_account, "dedupe_key"], keep="last", maintain_order=True)
    return pl.concat([with_id, without]).sort("_order").drop("_order")


def ingest(
    con: duckdb.DuckDBPyConnection,
    account_id: int | None,
    txns: Iterable[Txn] | pl.DataFrame,
    *,
    source: str,
    source_ref: str | None = None,
    stage: str | None = None,
) -> IngestResult:
    """Store what is new, update pending lines that have since been booked, skip the rest.

    `account_id=None` ingests a frame with an `account_id` column holding several accounts in one pass (a
    statement file with many accounts, a million-row CSV). Runs inside the caller's transaction when there
    is one; emits `transaction.created` for new lines in passthrough mode.

    With `stage` (a chunked statement run), `txns` is one chunk of a `prepared` frame and its new lines are
    stored hidden until `reveal(stage)`; pending lines it books are updated at once (the same update any
    import of the file makes).
    """
    # the store's machinery only when storing: file mode reads alone
    from reconwb.store.db import keep_key, transaction

    frame = txns if stage is not None else prepared(account_id, txns)
    if frame.is_empty():
        return IngestResult(0, 0, 0)
    with transaction(con):
        keep_key(con, _WRITING, "transactions")  # (account_id, dedupe_key) is kept unique here, not by an index
        return _ingest(con, frame, source=source, source_ref=source_ref, stage=stage)


_WRITING = threading.RLock()  # this process's writer of new transactions (`store.db.keep_key`)


def _ingest(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, *, source: str, source_ref: str | None,
            stage: str | None) -> IngestResult:
    from reconwb.store.db import registered

    # the accounts' id range as constants: DuckDB skips the row groups of other accounts (zone maps) instead of
    # scanning the whole table in every join, which made each chunk of a big file cost the table's size
    low, high = frame.select(low=pl.col("account_id").min(), high=pl.col("account_id").max()).row(0)
    mine = f"BETWEEN {int(low)} AND {int(high)}"
    with registered(con, "_incoming", frame.to_arrow()):
        # a pending line can only be booked by a booked incoming line; most files (statements) bring no
        # pending lines to accounts that hold none, and the two updates below are then skipped (their joins
        # were a fifth of a big chunk's time)
        updated_same: list[tuple] = []
        updated_moved: list[tuple] = []
        if _may_book_pending(con, frame, mine):
            # 1. the same line again (same key): a pending line that is now booked is updated, the rest skipped
            updated_same = con.execute(
                "UPDATE transactions t SET status = i.status, booked_on = i.booked_on, value_date = i.value_date,"
                " amount = i.amount, description = i.description, reference = i.reference, updated_at = now() "
                "FROM _incoming i WHERE t.account_id = i.account_id AND t.dedupe_key = i.dedupe_key"
                f" AND t.status = 'pending' AND i.status = 'booked' AND t.account_id {mine} RETURNING t.txn_id",
            ).fetchall()
            # 2. a booked line whose pending version had another key: same amount, close date, same reference
            updated_moved = con.execute(
                f"""
                UPDATE transactions t SET status = 'booked', dedupe_key = m.dedupe_key, bank_txn_id = m.bank_txn_id,
                    booked_on = m.booked_on, value_date = m.value_date, description = m.description,
                    reference = m.reference, updated_at = now()
                FROM (
                    SELECT i.*, p.txn_id AS pending_id,
                           row_number() OVER (PARTITION BY p.txn_id ORDER BY abs(i.booked_on - p.booked_on)) AS rp,
                           row_number() OVER (PARTITION BY i.account_id, i.dedupe_key
                                              ORDER BY abs(i.booked_on - p.booked_on)) AS ri
                    FROM _incoming i JOIN transactions p
                      ON p.account_id = i.account_id AND p.status = 'pending' AND i.status = 'booked'
                     AND p.account_id {mine} AND p.amount = i.amount AND p.currency = i.currency
                     AND abs(i.booked_on - p.booked_on) <= {PENDING_WINDOW_DAYS}
                     AND (p.reference = i.reference OR p.description = i.description)
                    WHERE NOT EXISTS (SELECT 1 FROM transactions x WHERE x.account_id {mine}
                                      AND x.account_id = i.account_id AND x.dedupe_key = i.dedupe_key)
                ) m
                WHERE t.txn_id = m.pending_id AND m.rp = 1 AND m.ri = 1
                RETURNING t.txn_id
                """,
            ).fetchall()
        crossed = _mark_seen_elsewhere(con, source)
        last_id = con.execute("SELECT coalesce(max(txn_id), 0) FROM transactions").fetchall()[0][0]
        # an anti-join rather than ON CONFLICT: the same result, and cheaper when most lines are known already;
        # row order is irrelevant to the insert, and letting DuckDB ignore it speeds up bulk loads
        con.execute("SET preserve_insertion_order = false")
        try:
            inserted = con.execute(
                "INSERT INTO transactions (account_id, dedupe_key, bank_txn_id, booked_on, value_date, amount,"
                " currency, description, reference, counterparty, counterparty_iban, status, charges, source,"
                " source_ref) SELECT i.account_id, i.dedupe_key, nullif(i.bank_txn_id, ''), i.booked_on, i.value_date,"
                " i.amount, i.currency, i.description, i.reference, i.counterparty, i.counterparty_iban,"
                " CASE WHEN CAST(? AS VARCHAR) IS NULL THEN i.status ELSE 'staged:' || i.status || ':' || ? END,"
                " i.charges, ?, ?"
                " FROM _incoming i WHERE NOT EXISTS (SELECT 1 FROM transactions t"
                f" WHERE t.account_id {mine} AND t.account_id = i.account_id AND t.dedupe_key = i.dedupe_key)"
                + (" AND NOT EXISTS (SELECT 1 FROM _seen_elsewhere c"
                   " WHERE c.account_id = i.account_id AND c.dedupe_key = i.dedupe_key)" if crossed else ""),
                [stage, stage, source, source_ref],
            ).fetchall()[0][0]
        finally:
            con.execute("RESET preserve_insertion_order")
            if crossed:
                con.execute("DROP TABLE _seen_elsewhere")
    inserted = int(inserted)
    booked_now = [row[0] for row in updated_same + updated_moved]
    if inserted and stage is None and settings.get(con, "operation_mode") == "passthrough":
        _emit_created(con, f"txn_id > {int(last_id)}")
    elif (inserted or booked_now) and settings.auto_reconciles(con):
        _queue_for_reconcile(con, after_txn_id=int(last_id), booked_now=booked_now)
    updated = len(booked_now)
    return IngestResult(inserted=inserted, updated=updated, duplicates=frame.height - inserted - updated)


def _may_book_pending(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, mine: str) -> bool:
    """Whether `frame` (registered as `_incoming`) has a booked line and its accounts (ids `mine`) a pending one."""
    if not frame.select((pl.col("status") == "booked").any()).item():
        return False
    return bool(con.execute(f"SELECT 1 FROM transactions WHERE account_id {mine} AND status = 'pending'"
                            " AND account_id IN (SELECT account_id FROM _incoming) LIMIT 1").fetchall())


EXPORT_COLUMNS = ("txn_id", "account_id", "booked_on", "amount", "currency", "description", "reference",
                  "counterparty")


def export_csv(con: duckdb.DuckDBPyConnection, out: str, *, connection_id: int | None = None) -> int:
    """Write the Transactions CSV (CONTRACTS.md); return the row count.

    `txn_id` is the bank's id, else the content fingerprint, so that importing an export back adds nothing;
    `account_id` is the account's own reference (its IBAN when known, else its number), not the store's row id,
    so that the file, imported anywhere, lands on the same account (`reconwb.accounts`). Like a bank statement
    it lists booked lines only: a pending line is the bank's to confirm, and the file (which has no status
    column) would otherwise book it when imported back.
    """
    where = "WHERE t.status = 'booked'" + (" AND a.connection_id = $connection" if connection_id is not None else "")
    query = (
        "SELECT coalesce(t.bank_txn_id, t.dedupe_key) AS txn_id, coalesce(a.iban, a.external_ref) AS account_id,"
        f" t.booked_on, {money.text_sql('t.amount')} AS amount, t.currency, t.description, t.reference,"
        " t.counterparty FROM transactions t"
        f" JOIN accounts a USING (account_id) {where} ORDER BY t.booked_on, t.txn_id"
    )
    params = {"connection": connection_id} if connection_id is not None else {}
    count = con.execute(f"SELECT count(*) FROM ({query})", params).fetchall()[0][0]
    target = out.replace("'", "''")
    con.execute(f"COPY ({query}) TO '{target}' (FORMAT csv, HEADER true)", params)
    return int(count)


_REF_KEY = "regexp_replace(upper(coalesce({}.reference, '')), '[^A-Z0-9]', '', 'g')"  # spacing, dashes aside
_SAME_LINE = "booked_on, amount, currency, " + _REF_KEY.format("{}")
_SEEN_ELSEWHERE_SQL = f"""
CREATE TEMP TABLE _seen_elsewhere AS
WITH incoming AS (
    SELECT i.account_id, i.dedupe_key, i.booked_on, i.amount, i.currency, i.reference,
           row_number() OVER (PARTITION BY i.account_id, {_SAME_LINE.format("i")} ORDER BY i.dedupe_key) AS n
    FROM _incoming i
    WHERE i.status = 'booked' AND NOT EXISTS (
        SELECT 1 FROM transactions t WHERE t.account_id = i.account_id AND t.dedupe_key = i.dedupe_key)
), stored AS (
    SELECT t.account_id, t.booked_on, t.amount, t.currency, t.reference,
           row_number() OVER (PARTITION BY t.account_id, {_SAME_LINE.format("t")} ORDER BY t.txn_id) AS n
    FROM transactions t
    WHERE t.source <> ? AND t.status = 'booked' AND t.account_id IN (SELECT DISTINCT account_id FROM _incoming)
)
SELECT i.account_id, i.dedupe_key FROM incoming i JOIN stored s
  ON s.account_id = i.account_id AND s.booked_on = i.booked_on AND s.amount = i.amount
 AND s.currency = i.currency AND s.n = i.n
 AND {_REF_KEY.format("s")} = {_REF_KEY.format("i")}
"""


def _mark_seen_elsewhere(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    """Lines another source already stored on the account (`_seen_elsewhere`); True when there may be any.

    One account reached through two sources (a portal and a statement file, an aggregator) gets each line from
    both, often under ids that differ between them. A new line is the same as a booked line another source
    stored when day, amount, currency and reference agree; the n-th of identical lines pairs with the n-th, so
    two genuine identical payments stay two. Skipped (cheaply) when no other source reaches these accounts.
    """
    other = con.execute(
        "SELECT 1 FROM transactions WHERE source <> ? AND account_id IN (SELECT DISTINCT account_id FROM _incoming)"
        " LIMIT 1", [source]).fetchall()
    if other:
        con.execute(_SEEN_ELSEWHERE_SQL, [source])
    return bool(other)


def prepared(account_id: int | None, txns: Iterable[Txn] | pl.DataFrame) -> pl.DataFrame:
    """The SCHEMA columns, `account_id` and `dedupe_key`: what `ingest` stores, keyed over the whole batch
    (occurrence numbers count identical lines of the whole file, so a file written in chunks gets the keys it
    would get in one piece)."""
    if account_id is None:
        if not isinstance(txns, pl.DataFrame) or "account_id" not in txns.columns:
            raise ValueError("ingest without account_id needs a frame with an account_id column")
        accounts = txns.get_column("account_id").cast(pl.Int64)
        frame = to_frame(txns).with_columns(account_id=accounts)
    else:
        frame = to_frame(txns).with_columns(account_id=pl.lit(account_id, dtype=pl.Int64))
    return with_keys(frame)


def reveal(con: duckdb.DuckDBPyConnection, stage: str, *, after_txn_id: int = 0) -> int:
    """Make a chunked statement run's staged lines booked or pending lines, all at once (one UPDATE of a
    status column); queue or announce them as `ingest` does. Returns how many.

    `after_txn_id` (`last_txn_id` before the run's first chunk) is a bound below every staged line's id: the
    statements skip the row groups of older lines instead of reading the whole table's statuses."""
    booked, pending = staged_statuses(stage)
    staged = "txn_id > ? AND status IN (?, ?)"
    params = [after_txn_id, booked, pending]
    announce = settings.get(con, "operation_mode") == "passthrough"
    if not announce and settings.auto_reconciles(con):
        # queued before the UPDATE, while their status still tells this run's booked deposits apart
        con.execute("INSERT INTO reconcile_queue (txn_id) SELECT txn_id FROM transactions"
                    " WHERE txn_id > ? AND status = ? AND amount > 0 ON CONFLICT DO NOTHING", [after_txn_id, booked])
    if announce:
        con.execute(f"CREATE TEMP TABLE _revealed AS SELECT txn_id FROM transactions WHERE {staged}", params)
    try:
        count = int(con.execute(f"UPDATE transactions SET status = split_part(status, ':', 2) WHERE {staged}",
                                params).fetchall()[0][0])
        if count and announce:
            _emit_created(con, "txn_id IN (SELECT txn_id FROM _revealed)")
    finally:
        if announce:
            con.execute("DROP TABLE _revealed")
    return count


def last_txn_id(con: duckdb.DuckDBPyConnection) -> int:
    """The last id the store handed out: every line stored from now on gets a bigger one (`txn_id_seq`, whatever
    ids were written by hand)."""
    row = con.execute("SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'txn_id_seq'"
                      " AND database_name = current_database()").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def drop_staged(con: duckdb.DuckDBPyConnection, stage: str, limit: int) -> int:
    """Delete up to `limit` staged lines of an abandoned chunked run; return how many."""
    return int(con.execute(
        "DELETE FROM transactions WHERE txn_id IN (SELECT txn_id FROM transactions WHERE status IN (?, ?)"
        " LIMIT ?)", [*staged_statuses(stage), limit]).fetchall()[0][0])


def _queue_for_reconcile(con: duckdb.DuckDBPyConnection, after_txn_id: int, booked_now: list[int]) -> None:
    """Leave this ingest's new and newly booked deposits for the reconcile that follows its commit
    (`reconwb.autoreconcile`). Queued in the ingest's own transaction, so a crash in between loses nothing;
    pending lines wait until the bank books them."""
    con.execute(
        "INSERT INTO reconcile_queue (txn_id) SELECT txn_id FROM transactions"
        " WHERE (txn_id > ? OR list_contains(?, txn_id)) AND status = 'booked' AND amount > 0"
        " ON CONFLICT DO NOTHING",
        [after_txn_id, booked_now],
    )


def _emit_created(con: duckdb.DuckDBPyConnection, which: str) -> None:
    """One `transaction.created` event per new line (`which`: an SQL condition; passthrough mode), in bulk."""
    from reconwb import events

    rows = con.execute(
        "SELECT txn_id, account_id, booked_on, amount, currency, description, reference, counterparty"
        f" FROM transactions WHERE {which} ORDER BY txn_id"
    ).fetchall()
    for txn_id, account_id, booked_on, amount, currency, description, reference, counterparty in rows:
        events.emit(
            con,
            "transaction.created",
            {
                "txn_id": txn_id,
                "account_id": account_id,
                "booked_on": booked_on,
                "amount": amount,
                "currency": currency,
                "description": description,
                "reference": reference,
                "counterparty": counterparty,
            },
            subject=f"transaction:{txn_id}",
        )
