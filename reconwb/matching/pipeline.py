"""The matching pipeline on frames: the same code behind file mode and store mode.

Order matters and is deliberate: batches that list their invoices first (the deposit says what it pays), then
split and partial payments by shared reference, then the global one-to-one assignment over what is left, then
bounded subset-sum batches for deposits still unexplained. Each step only sees transactions and payments the
steps before it did not auto-match.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import polars as pl

from reconwb.matching import aliases as payer_aliases
from reconwb.matching import assign as assigning
from reconwb.matching import candidates as cands
from reconwb.matching import shapes
from reconwb.matching.explain import explain
from reconwb.matching.frames import beside, prepare_payments, prepare_transactions
from reconwb.matching.rules import Rules
from reconwb.matching.scoring import score

BREAKDOWN = ["s_reference", "s_amount", "s_payer", "s_date"]
FACTS = ["ref_level", "ref_token", "diff", "since_issue", "delta", "payer_sim", "iban_match", "alias_name",
         "fx_rate_e8", "unique_amount"]


@dataclass
class MatchResult:
    """`links`: one row per (transaction, payment) link with its group, shape, rule, confidence and band.

    `cents` is what the link takes from the deposit (in the payment's currency), `fee_cents` what it accepts as
    withheld and `fx_cents` what a conversion left (see `shapes.settle`): together they are how much of the
    payment the link settles.
    """

    links: pl.DataFrame  # gid, txn_id, payment_id, cents, fee_cents, kind, rule, confidence, band, + evidence
    txns: pl.DataFrame
    payments: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, for benchmarks and logs

    def by_band(self, band: str) -> pl.DataFrame:
        return self.links.filter(pl.col("band") == band)


def match(txns: pl.DataFrame, payments: pl.DataFrame, rules: Rules,
          exclude: pl.DataFrame | None = None, rates: pl.DataFrame | None = None,
          aliases: pl.DataFrame | None = None) -> MatchResult:
    """Match deposits (`cents > 0`) against open payments; `exclude` holds rejected (txn_id, payment_id) pairs,
    `rates` the exchange rates (`rates.RATE_COLUMNS`) that let a deposit pay an invoice in another currency,
    `aliases` the payer aliases and rejected name pairs people taught (`aliases.ALIAS_COLUMNS`)."""
    clock = _Clock()
    # side by side: normalising names is mostly one polars thread per column, and a machine has two cores or more
    with ThreadPoolExecutor(max_workers=1) as pool:
        prepared = pool.submit(prepare_payments, payments.filter(pl.col("cents") > 0))
        del payments  # the caller may have handed over its only reference: a million rows less to hold
        try:
            t = prepare_transactions(txns.filter(pl.col("cents") > 0), rules)
        finally:
            wait([prepared])
        del txns
        p = prepared.result()
        del prepared
    clock("prepare")
    if t.is_empty() or p.is_empty():
        return MatchResult(_finish(shapes.empty_links(), t, p, None, rules), t, p)
    aliased = payer_aliases.expand(t, aliases)
    pairs = cands.candidates(t, p, rules, rates, aliased)
    clock("candidates")
    banned = None
    if exclude is not None and not exclude.is_empty():
        banned = exclude.join(t.select("t", "txn_id"), on="txn_id").join(
            p.select("p", "payment_id"), on="payment_id").select("t", "p")
        pairs = pairs.join(banned, on=["t", "p"], how="anti")
    features = cands.with_features(pairs, t, p, aliased, payer_aliases.rejected(aliases))
    del pairs  # each big intermediate goes as soon as it has served: a million-row run keeps under 2 GB
    clock("features")
    parts = []

    batches = shapes.listed_batches(features, rules)
    parts.append(batches)
    taken_t, taken_p = batches.select("t"), batches.select("p")

    def remaining(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(taken_t, on="t", how="anti").join(taken_p, on="p", how="anti")

    clock("listed batches")
    scored = score(remaining(features), rules)
    clock("scoring")
    split_links = shapes.splits(remaining(features), scored, rules)
    del features
    parts.append(split_links)
    taken_t = pl.concat([taken_t, split_links.select("t")])
    taken_p = pl.concat([taken_p, split_links.select("p")])

    clock("splits")
    scored = remaining(scored)
    chosen = assigning.assign(scored, auto=rules.auto_threshold, suggest=rules.suggest_threshold,
                              margin=rules.ambiguity_margin)
    one = chosen.join(scored.select("t", "p", "t_cents", "rule"), on=["t", "p"]).select(
        gid=pl.col("t").cast(pl.Int64), t="t", p="p", cents="t_cents", kind=pl.lit("one_to_one"), rule="rule",
        confidence="confidence", band="band",
    ).cast(shapes.LINK_SCHEMA)
    clock("assignment")
    auto_one = one.filter(pl.col("band") == assigning.AUTO)
    taken_t = pl.concat([taken_t, auto_one.select("t")])
    taken_p = pl.concat([taken_p, auto_one.select("p")])

    subset = shapes.subset_batches(
        t.join(taken_t, on="t", how="anti"), p.join(taken_p, on="p", how="anti"), rules, banned
    )
    sure = subset.filter(pl.col("band") == assigning.AUTO)
    one = one.join(sure.select("t"), on="t", how="anti").join(sure.select("p"), on="p", how="anti")
    parts += [one, subset]
    clock("subset sums")
    links = _finish(pl.concat(parts), t, p, scored, rules)
    clock("finish")
    return MatchResult(links, t, p, clock.laps)


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._last, 3)
        self._last = now


def _finish(links: pl.DataFrame, t: pl.DataFrame, p: pl.DataFrame, scored: pl.DataFrame | None,
            rules: Rules) -> pl.DataFrame:
    """Stable group numbers, ids instead of row numbers, amounts and fees, and the evidence breakdown."""
    fx = None if scored is None else scored.filter(pl.col("conv_cents").is_not_null()).select("t", "p", "conv_cents")
    links = shapes.settle(links, t, p, fx)
    if links.height:  # numbered in (kind, group) order: the kind's place among the kinds, then the group, as one int
        kinds = {kind: i for i, kind in enumerate(sorted(links["kind"].unique()))}
        links = links.with_columns(gid=(pl.col("kind").replace_strict(kinds, return_dtype=pl.Int64) * (1 << 32)
                                        + pl.col("gid")).rank("dense").cast(pl.Int64))
    if scored is not None and links.height:
        links = links.join(scored.select("t", "p", *FACTS, *BREAKDOWN), on=["t", "p"], how="left")
    else:
        links = links.with_columns(
            pl.lit(None, dtype=pl.Int8).alias("ref_level"), pl.lit(None, dtype=pl.String).alias("ref_token"),
            pl.lit(None, dtype=pl.Int64).alias("diff"),
            pl.lit(None, dtype=pl.Int64).alias("since_issue"), pl.lit(None, dtype=pl.Int64).alias("delta"),
            pl.lit(None, dtype=pl.Float64).alias("payer_sim"), pl.lit(None, dtype=pl.Boolean).alias("iban_match"),
            pl.lit(None, dtype=pl.String).alias("alias_name"), pl.lit(None, dtype=pl.Int64).alias("fx_rate_e8"),
            pl.lit(None, dtype=pl.Boolean).alias("unique_amount"),
            *(pl.lit(None, dtype=pl.Float64).alias(c) for c in BREAKDOWN),
        )
    links = explain(links, t, p, rules)
    return beside(beside(links, t, "t", txn_id="txn_id"), p, "p", payment_id="payment_id").sort(
        "gid", "txn_id", "payment_id")
