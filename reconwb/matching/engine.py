"""The two ways to run the engine: on two CSV files (touching no store), or on what the store holds.

File mode is how other tools and the benchmarks drive the engine; store mode is what `reconwb reconcile`, the
jobs and the notebooks run: it records match groups, moves payment statuses, audits and emits events (in short
chunks for a big run, `reconwb.matching.writing`), and keeps everything a person decided (pinned groups,
rejected suggestions).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from reconwb.errors import InvalidInput, NotFound
from reconwb.matching import rates as fx_rates
from reconwb.matching import rules as rules_mod
from reconwb.matching.assign import AUTO, SUGGESTION
from reconwb.matching.frames import cents, cents_text, rate_text
from reconwb.matching.pipeline import MatchResult, match

if TYPE_CHECKING:
    import duckdb

    from reconwb.workspace import Workspace

TXN_CSV = ["txn_id", "account_id", "booked_on", "amount", "currency", "description", "reference", "counterparty"]
PAYMENT_CSV = ["payment_id", "amount", "currency", "issued_on", "due_on", "reference", "payer"]
MATCHES_CSV = ["txn_id", "payment_id", "match_group", "rule", "confidence", "explanation"]
# file mode reads a Transactions CSV whole and stores nothing, so it takes larger files than a statement import
# (64 MB): a million lines (~95 MB) is the benchmark's size, matched within 2 GB
TXN_CSV_MAX_BYTES = 256 * 2**20


@dataclass
class ReconcileReport:
    """What a run did (or, for a dry run, would do)."""

    matched: int = 0  # payments now paid in full by this run
    partially_matched: int = 0  # payments now partly paid by this run
    suggested: int = 0  # suggestion groups waiting for a person
    unmatched_transactions: int = 0  # deposits considered that no auto-match explains
    open_payments: int = 0  # payments still open or partly paid after the run
    rule_version: str = ""
    dry_run: bool = False
    mode: str = "reconcile"
    links: int = 0
    groups: int = 0
    transactions: int = 0
    payments: int = 0
    seconds: float = 0.0
    by_rule: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per engine stage
    out: str | None = None
    skipped: bool = False  # store mode: the inputs were those of the last full run, so nothing was redone
    inputs: str = ""  # store mode: fingerprint of what a full run read (`_fingerprint`), kept in its audit row

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_transactions_csv(path: str | Path, overrides: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """The Transactions CSV, or any bank's CSV export (through `reconwb.mappings`), as engine input (txn_id,
    account, booked_on, cents, ...). A line without a bank id is known by its file line (`line:N`)."""
    from reconwb.statements import csv as statement_csv

    [st] = statement_csv.read(Path(path), name=str(path), overrides=overrides, max_bytes=TXN_CSV_MAX_BYTES)
    frame = st.frame().with_row_index("_row")
    frame = frame.with_columns(txn_id=pl.coalesce(pl.when(pl.col("txn_ref") != "").then("txn_ref"),
                                                  pl.format("line:{}", pl.col("_row") + 2)))
    if frame["txn_id"].n_unique() < frame.height:  # counting distinct ids is cheap; finding the repeat is not
        repeated = frame.filter(pl.col("txn_id").is_duplicated() & ~pl.col("txn_id").is_first_distinct()).head(1)
        raise InvalidInput(f"{path}: line {repeated['_row'][0] + 2}: txn_id {repeated['txn_ref'][0]!r} appears"
                           " more than once")
    return frame.select(
        "txn_id", pl.col("account_ref").alias("account"), "booked_on", "amount", "currency",
        "description", "reference", "counterparty", pl.col("counterparty_iban").fill_null(""),
    ).with_columns(cents=cents(pl.col("amount")))


def payments_input(frame: pl.DataFrame) -> pl.DataFrame:
    """Payments (as `reconwb.payments.read_file` returns them) as engine input, open amount = amount."""
    return frame.with_columns(cents=cents(pl.col("amount"))).with_columns(total_cents=pl.col("cents"))


def reconcile_files(
    transactions_csv: str | Path, payments_csv: str | Path, out_csv: str | Path, rules: str | Path | None = None,
    rates: str | Path | None = None,
    *, transactions_mapping: Mapping[str, Any] | None = None, payments_mapping: Mapping[str, Any] | None = None,
) -> ReconcileReport:
    """Match two files and write the Matches CSV (auto-matches only); touches no store. The mappings are keys
    put on top of each file's detected layout (`reconwb.mappings`); `rates`: a rates file (`date,base,quote,rate`
    or ECB-style) for deposits in another currency than their invoice."""
    from reconwb.payments import read_file

    started = time.perf_counter()
    ruleset = rules_mod.load(rules)
    fx = None if rates is None else fx_rates.read_file(rates)
    # the two files are read side by side: much of reading and checking a file is one polars thread at a time,
    # so on two cores the payments are read while the deposits are (a transactions error is still the one said)
    with ThreadPoolExecutor(max_workers=1) as pool:
        payments = pool.submit(lambda: payments_input(read_file(payments_csv, payments_mapping)))
        try:
            txns = read_transactions_csv(transactions_csv, transactions_mapping)
        finally:
            wait([payments])
    # the frames read go straight into the engine, which drops them once prepared: no reference is kept here
    # (nor in the future), else a million raw rows would stay alive through the whole run
    read = [txns, payments.result()]
    del txns, payments
    result = match(read.pop(0), read.pop(0), ruleset, rates=fx)
    read_s = time.perf_counter() - started - sum(result.seconds.values())
    write_matches(result, out_csv)
    report = summarise(result, ruleset, dry_run=False)
    report.stages = {"read": round(read_s, 3), **result.seconds}
    report.seconds = round(time.perf_counter() - started, 3)
    report.out = str(out_csv)
    return report


def write_matches(result: MatchResult, out_csv: str | Path) -> None:
    links = result.by_band(AUTO)
    frame = links.select(
        "txn_id", "payment_id",
        match_group=pl.format("m{}", pl.col("gid")),
        rule="rule",
        confidence=pl.col("confidence").round(4),
        explanation="explanation",
    )
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out_csv)


def summarise(result: MatchResult, ruleset: rules_mod.Rules, *, dry_run: bool,
              already_paid: pl.DataFrame | None = None) -> ReconcileReport:
    """Counts for a run: payments paid or partly paid by auto-matches, suggestions, what stays open."""
    auto = result.by_band(AUTO)
    paid = auto.group_by("payment_id").agg((pl.col("cents") + pl.col("fee_cents") + pl.col("fx_cents")).sum()).join(
        result.payments.select("payment_id", open="cents"), on="payment_id"
    )
    full = paid.filter(pl.col("cents") >= pl.col("open")).height
    partial = paid.height - full
    considered = result.txns.height
    return ReconcileReport(
        matched=full,
        partially_matched=partial,
        suggested=result.by_band(SUGGESTION).select("gid").n_unique(),
        unmatched_transactions=considered - auto.select("txn_id").n_unique(),
        open_payments=result.payments.height - full,
        rule_version=ruleset.version,
        dry_run=dry_run,
        links=auto.height,
        groups=auto.select("gid").n_unique(),
        transactions=considered,
        payments=result.payments.height,
        by_rule=dict(sorted(auto.group_by("rule").agg(pl.len()).iter_rows())),
    )


# -- store mode ------------------------------------------------------------------------------------------------

# `frames.cents` in SQL: exact cents, NULL (not matched automatically) for a sub-cent amount such as 1.235 KWD
_CENTS_SQL = "CASE WHEN {0} * 100 = trunc({0} * 100) THEN CAST({0} * 100 AS BIGINT) END"


@cache
def _store_sql() -> tuple[str, str, str]:
    """The reads of store mode (deposits, open payments, rejected pairs), built on first use: file mode never
    imports the store's modules."""
    from reconwb.matching.records import LIVE
    from reconwb.payments import PAID_SQL
    from reconwb.payments import visible as payment_visible

    txns = f"""
SELECT CAST(t.txn_id AS VARCHAR) AS txn_id, a.external_ref AS account, t.booked_on,
       {_CENTS_SQL.format("t.amount")} AS cents, t.currency, t.description, t.reference, t.counterparty,
       t.counterparty_iban
FROM transactions t JOIN accounts a USING (account_id) JOIN connections c USING (connection_id)
WHERE t.amount > 0 AND t.status = 'booked' AND (CAST(? AS VARCHAR) IS NULL OR c.name = ?)
  AND t.txn_id NOT IN (SELECT x.txn_id FROM matches x JOIN match_groups g USING (group_id)
                       WHERE g.status = '{LIVE}')
"""
    payments = f"""
SELECT p.payment_id, {_CENTS_SQL.format("(p.amount - coalesce(m.paid, 0))")} AS cents,
       {_CENTS_SQL.format("p.amount")} AS total_cents, p.currency, p.issued_on, p.due_on, p.reference, p.payer,
       p.payer_iban,
       coalesce((SELECT min(a.external_ref) FROM accounts a WHERE a.iban = p.account_ref), p.account_ref)
           AS account_ref
FROM payments p LEFT JOIN ({PAID_SQL}) m USING (payment_id)
WHERE p.status IN ('open', 'partially_paid') AND {payment_visible("p")}
"""
    excluded = """
SELECT CAST(x.txn_id AS VARCHAR) AS txn_id, x.payment_id FROM matches x JOIN match_groups g USING (group_id)
WHERE g.status IN ('rejected', 'removed')
"""
    return txns, payments, excluded


def _load(connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]], connection: str | None,
          txn_ids: list[int] | None = None) -> tuple[pl.DataFrame, ...]:
    """What a run reads: deposits, then (in a second open) payments and the rest. Two shorter holds instead of
    one: at 1M x 1M the single read held the store ~4-10 s while readers waited. Reading them apart is safe:
    what is settled in between is left alone at write time (`writing._apply`'s stale check)."""
    from reconwb.matching import aliases as payer_aliases

    txns_sql, payments_sql, excluded_sql = _store_sql()
    with connect() as con:
        if connection is not None and not con.execute(
                "SELECT 1 FROM connections WHERE name = ?", [connection]).fetchall():
            raise NotFound(f"no connection named {connection!r}")
        fx = fx_rates.load(con)
        if txn_ids is None:
            txns = con.sql(txns_sql, params=[connection, connection]).pl()
        else:
            txns = con.sql(f"{txns_sql} AND list_contains(?, t.txn_id)",
                           params=[connection, connection, txn_ids]).pl()
    with connect() as con:
        if txn_ids is None or (fx is not None and fx.height):
            payments = con.sql(payments_sql).pl()
        else:  # incremental: the open payments its deposits can reach (their currencies, unless FX)
            currencies = txns["currency"].unique().to_list()
            payments = con.sql(f"{payments_sql} AND list_contains(?, p.currency)", params=[currencies]).pl()
        excluded = con.sql(excluded_sql).pl()
        aliases = payer_aliases.for_engine(con)
    # a table scan has no fixed order; the engine numbers rows as it reads them, and a tie (two equal invoices of
    # one payer) must be settled the same way on every run: the same store gives the same matches
    txns, payments = txns.sort("txn_id"), payments.sort("payment_id")
    excluded, fx, aliases = (frame.sort(frame.columns) for frame in (excluded, fx, aliases))
    return txns, payments, excluded, fx, aliases


def _group_rows(result: MatchResult, ruleset: rules_mod.Rules) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The groups and links of a run, as rows for `match_groups` and `matches`, with evidence JSON."""
    links = result.links.with_columns(
        group_id=pl.format("grp_{}_{}", pl.lit(uuid.uuid4().hex[:12]), pl.col("gid")),
        amount=cents_text(pl.col("cents")), fee=cents_text(pl.col("fee_cents")),
        fx_difference=cents_text(pl.col("fx_cents")), fx_rate=rate_text(pl.col("fx_rate_e8")),
    )
    evidence_link = pl.struct(
        "txn_id", "payment_id", "amount", "fee", "fx_difference", "fx_rate", "explanation",
        reference_level=pl.col("ref_level"), amount_difference_cents=pl.col("diff"), days_from_due=pl.col("delta"),
        days_from_issue=pl.col("since_issue"), payer_alias=pl.col("alias_name"),
        reference=pl.col("s_reference"), amount_fit=pl.col("s_amount"), payer=pl.col("s_payer"),
        date=pl.col("s_date"),
    ).struct.json_encode()
    groups = links.group_by("group_id", maintain_order=True).agg(
        kind=pl.col("kind").first(), rule=pl.col("rule").first(), confidence=pl.col("confidence").min(),
        status=pl.col("band").first(), evidence=pl.format("[{}]", evidence_link.str.join(",")),
        explanation=pl.col("explanation").unique(maintain_order=True).str.join("; "),
    ).with_columns(
        rule_version=pl.lit(ruleset.version), pinned=pl.lit(False), created_by=pl.lit("reconwb"),
        evidence=pl.format('{{"engine": "reconwb", "explanation": {}, "links": {}}}',
                           pl.col("explanation").map_batches(_json_strings, return_dtype=pl.String),
                           pl.col("evidence")),
    ).drop("explanation")
    return groups, links.select("group_id", "txn_id", "payment_id", "amount", "fee", "fx_difference", "fx_rate",
                                "explanation")


def _json_strings(texts: pl.Series) -> pl.Series:
    """Each text as a JSON string literal (quotes and escapes included)."""
    return pl.DataFrame({"s": texts}).select(pl.struct("s").struct.json_encode().str.slice(5).str.head(-1)).to_series()



def reconcile_store(
    ws: Workspace, *, connection: str | None = None, rules: Path | None = None, dry_run: bool = False,
    txn_ids: list[int] | None = None,
) -> ReconcileReport:
    """Reconcile what the store holds and record the outcome, or (dry run) only say what would change.

    The store is read, closed while the engine works, and opened again to write (`reconwb.matching.writing`:
    in short chunks, resumable, for a big run): automatic suggestions are replaced by this run's, new groups
    recorded, payment statuses moved, events emitted. Pinned
    groups (made or confirmed by a person) and rejected or removed pairs are never touched or proposed again.
    `txn_ids` makes the run incremental (what `reconwb.autoreconcile` does after an ingest): only those deposits
    against the open payments they can reach, and only their automatic suggestions are replaced.
    """
    from reconwb import settings
    from reconwb.matching import writing

    started = time.perf_counter()
    ruleset = rules_mod.load(rules)
    if not dry_run:
        writing.resume(ws)  # a run killed between its chunks is finished first
    scope = connection or ""
    with ws.connect() as con:
        mode = settings.get(con, "operation_mode")
        # the last run's report (written with its last change) says what that run read
        last = None if txn_ids is not None or dry_run else con.execute(
            "SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'reconcile.run'"
            " ORDER BY audit_id DESC LIMIT 1").fetchone()
    if mode == "passthrough":
        return ReconcileReport(rule_version=ruleset.version, dry_run=dry_run, mode=mode)
    txns, payments, excluded, fx, aliases = _load(ws.connect, connection, txn_ids)
    inputs = _fingerprint(ruleset.version, scope, txns, payments, excluded, fx, aliases)
    read_s = time.perf_counter() - started
    done = json.loads(last[0]) if last is not None else {}
    if done.get("inputs") == inputs:  # the last run read exactly this: it would decide the same again
        known = {k: v for k, v in done.items() if k in ReconcileReport.__dataclass_fields__}
        report = ReconcileReport(**{**known, "matched": 0, "partially_matched": 0, "links": 0, "groups": 0,
                                    "by_rule": {}, "skipped": True})
        report.stages, report.seconds = {"read": round(read_s, 3)}, round(time.perf_counter() - started, 3)
        return report
    result = match(txns, payments.with_columns(pl.col("account_ref").cast(pl.String)), ruleset, exclude=excluded,
                   rates=fx, aliases=aliases)
    del txns, payments
    report = summarise(result, ruleset, dry_run=dry_run)
    report.stages = {"read": round(read_s, 3), **result.seconds}
    if not dry_run:
        write_started = time.perf_counter()
        groups, links = _group_rows(result, ruleset)
        # a full run's report carries the fingerprint of what it read into the audit row written with its last
        # change: a run killed before that is simply redone
        report.inputs = inputs if txn_ids is None else ""
        writing.record(ws, groups, links, ruleset.version, report.as_dict(), connection, txn_ids)
        report.stages["write"] = round(time.perf_counter() - write_started, 3)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _fingerprint(*parts: str | pl.DataFrame | None) -> str:
    """A digest of everything a store-mode run reads (its frames in the fixed order `_load` gives them), with
    the engine's and polars' versions: equal digests, equal decisions."""
    from reconwb import __version__

    digest = hashlib.sha256(f"{__version__}|{pl.__version__}".encode())
    for part in parts:
        if part is None or isinstance(part, str):
            digest.update(b"\0" + str(part).encode())
            continue
        digest.update(f"\0{part.schema}|{part.height}".encode())
        if part.height:
            digest.update(part.hash_rows().to_numpy().tobytes())
    return digest.hexdigest()
