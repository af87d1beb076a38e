"""The two ways to run the engine: on two CSV files (touching no store), or on what the store holds.

File mode is how other tools and the benchmarks drive the engine; store mode is what `reconwb reconcile`, the
jobs and the notebooks run: it records match groups, moves payment statuses, audits and emits events, all in
one transaction, and keeps everything a person decided (pinned groups, rejected suggestions).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reconwb import tabular
from reconwb.matching import rules as rules_mod
from reconwb.matching.assign import AUTO, SUGGESTION
from reconwb.matching.frames import cents
from reconwb.matching.pipeline import MatchResult, match

TXN_CSV = ["txn_id", "account_id", "booked_on", "amount", "currency", "description", "reference", "counterparty"]
PAYMENT_CSV = ["payment_id", "amount", "currency", "issued_on", "due_on", "reference", "payer"]
MATCHES_CSV = ["txn_id", "payment_id", "match_group", "rule", "confidence"]


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
    out: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_transactions_csv(path: str | Path) -> pl.DataFrame:
    """The Transactions CSV of CONTRACTS.md as engine input (txn_id, account, booked_on, cents, ...)."""
    raw = tabular.read_table(path, TXN_CSV, ["counterparty_iban"])
    txn_id = tabular.text(raw, "txn_id", path, required=True)
    if txn_id.is_duplicated().any():
        dup = txn_id.filter(txn_id.is_duplicated())[0]
        raise tabular.InvalidInput(f"{path}: txn_id {dup!r} appears more than once")
    return pl.DataFrame({
        "txn_id": txn_id,
        "account": tabular.text(raw, "account_id", path),
        "booked_on": tabular.date(raw, "booked_on", path, required=True),
        "amount": tabular.money(raw, "amount", path),
        "currency": tabular.text(raw, "currency", path, required=True).str.to_uppercase(),
        "description": tabular.text(raw, "description", path),
        "reference": tabular.text(raw, "reference", path),
        "counterparty": tabular.text(raw, "counterparty", path),
        "counterparty_iban": tabular.text(raw, "counterparty_iban", path),
    }).with_columns(cents=cents(pl.col("amount")))


def payments_input(frame: pl.DataFrame) -> pl.DataFrame:
    """Payments (as `reconwb.payments.read_file` returns them) as engine input, open amount = amount."""
    return frame.with_columns(cents=cents(pl.col("amount")), total_cents=cents(pl.col("amount")))


def reconcile_files(
    transactions_csv: str | Path, payments_csv: str | Path, out_csv: str | Path, rules: str | Path | None = None
) -> ReconcileReport:
    """Match two files and write the Matches CSV (auto-matches only); touches no store."""
    from reconwb.payments import read_file

    started = time.perf_counter()
    ruleset = rules_mod.load(rules)
    txns = read_transactions_csv(transactions_csv)
    payments = payments_input(read_file(payments_csv))
    result = match(txns, payments, ruleset)
    write_matches(result, out_csv)
    report = summarise(result, ruleset, dry_run=False)
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
    )
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out_csv)


def summarise(result: MatchResult, ruleset: rules_mod.Rules, *, dry_run: bool,
              already_paid: pl.DataFrame | None = None) -> ReconcileReport:
    """Counts for a run: payments paid or partly paid by auto-matches, suggestions, what stays open."""
    auto = result.by_band(AUTO)
    paid = auto.group_by("payment_id").agg(pl.col("cents").sum()).join(
        result.payments.select("payment_id", open="cents"), on="payment_id"
    )
    # a batch allocates the payment's open amount; a split the deposits' amounts
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
