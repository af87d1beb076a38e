"""Match shapes beyond one-to-one: split payments and batched deposits.

- split: several deposits quote one invoice's reference and together pay at most its open amount (one deposit
  that pays part of it is the one-part case); what they leave is the residual open amount.
- batch by listed references: one deposit quotes several invoices' references and pays their sum (or their sum
  less a known fee).
- batch by subset-sum: a deposit without usable references from a payer who has several open invoices in the
  window, whose amount equals exactly one subset of them (bounded: at most `batch_max_items` of at most
  `batch_max_candidates` invoices, enumerated as bit masks in numpy). Two subsets that fit make it a suggestion.

Each function returns link rows `t, p, cents, kind, rule, confidence, band` with a `gid` local to the shape.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

from reconwb.matching.assign import AUTO, SUGGESTION
from reconwb.matching.candidates import SINCE_DUE, SINCE_ISSUE
from reconwb.matching.frames import beside
from reconwb.matching.rules import Rules
from reconwb.matching.scoring import EVIDENCE_DATE, EVIDENCE_REFERENCE

LINK_SCHEMA = {
    "gid": pl.Int64(), "t": pl.UInt32(), "p": pl.UInt32(), "cents": pl.Int64(), "kind": pl.String(),
    "rule": pl.String(), "confidence": pl.Float64(), "band": pl.String(),
}
SUBSET_UNIQUE_CONFIDENCE = 0.92
SUBSET_AMBIGUOUS_CONFIDENCE = 0.6


def empty_links() -> pl.DataFrame:
    return pl.DataFrame(schema=LINK_SCHEMA)


def _in_window(rules: Rules) -> pl.Expr:
    return rules.in_any_window(pl.col("since_issue"), pl.col("delta"))


def _band(confidence: pl.Expr, rules: Rules) -> pl.Expr:
    return pl.when(confidence >= rules.auto_threshold).then(pl.lit(AUTO)).otherwise(pl.lit(SUGGESTION))


def _ref_confidence() -> pl.Expr:
    evidence = pl.when(pl.col("ref_level") == 3).then(EVIDENCE_REFERENCE[3]).otherwise(EVIDENCE_REFERENCE[2])
    return 1 - (1 - evidence) * (1 - EVIDENCE_DATE * 0.5)


def listed_batches(features: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """One deposit quoting the references of several invoices whose open amounts add up to the deposit."""
    refs = features.filter((pl.col("ref_level") >= 2) & pl.col("account_ok") & _in_window(rules)
                           & pl.col("fx_rate_e8").is_null())
    per_t = refs.group_by("t").agg(
        n=pl.len(), total=pl.col("p_cents").sum(), t_cents=pl.col("t_cents").first(), conf=_ref_confidence().min()
    ).filter(pl.col("n") >= 2)
    ok = pl.col("total") == pl.col("t_cents")
    for fee in rules.fees:
        ok = ok | (pl.col("total") - fee.fee_cents(pl.col("total")) == pl.col("t_cents"))
    batches = per_t.filter(ok)
    links = refs.join(batches.select("t", "conf"), on="t")
    # an invoice claimed by two batches is not decided here
    links = links.filter(pl.len().over("p") == 1)
    links = links.filter(pl.len().over("t") >= 2)
    return links.select(
        gid=pl.col("t").cast(pl.Int64), t="t", p="p", cents="p_cents", kind=pl.lit("batch"),
        rule=pl.lit("batch-references"), confidence=pl.col("conf").round(4), band=_band(pl.col("conf"), rules),
    ).cast(LINK_SCHEMA)


def splits(features: pl.DataFrame, scored: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Deposits quoting one invoice's reference, each smaller than it, together paying at most its open amount.

    Parts that add up to the open amount exactly are a split even when one of them would also pass as the whole
    payment within a tolerance; otherwise an invoice that some deposit pays in full is left to one-to-one.
    """
    refs = features.filter((pl.col("ref_level") >= 2) & pl.col("account_ok") & _in_window(rules)
                           & pl.col("fx_rate_e8").is_null())
    single_ref = refs.group_by("t").agg(n=pl.len()).filter(pl.col("n") == 1).select("t")
    parts = refs.join(single_ref, on="t").filter(pl.col("diff") > 0)
    sums = parts.group_by("p").agg(n=pl.len(), total=pl.col("t_cents").sum(), p_cents=pl.col("p_cents").first())
    exact = sums.filter((pl.col("n") >= 2) & (pl.col("total") == pl.col("p_cents"))).select("p")
    full = scored.filter(pl.col("ref_level") >= 1)  # pays the invoice in full under some rule: one-to-one's job
    partial = (
        parts.join(exact, on="p", how="anti")
        .join(full.select("t").unique(), on="t", how="anti")
        .join(full.select("p").unique(), on="p", how="anti")
    )
    parts = pl.concat([parts.join(exact, on="p"), partial])
    groups = parts.group_by("p").agg(
        n=pl.len(), total=pl.col("t_cents").sum(), p_cents=pl.col("p_cents").first(), conf=_ref_confidence().min()
    ).filter((pl.col("total") <= pl.col("p_cents")) & (pl.col("n") <= rules.split_max_parts))
    links = parts.join(groups.select("p", "n", "conf"), on="p")
    return links.select(
        gid=pl.col("p").cast(pl.Int64), t="t", p="p", cents="t_cents", kind=pl.lit("split"),
        rule=pl.when(pl.col("n") > 1).then(pl.lit("split-reference")).otherwise(pl.lit("partial-reference")),
        confidence=pl.col("conf").round(4), band=_band(pl.col("conf"), rules),
    ).cast(LINK_SCHEMA)


def settle(links: pl.DataFrame, t: pl.DataFrame, p: pl.DataFrame, fx: pl.DataFrame | None = None) -> pl.DataFrame:
    """Say, per link, what it takes from the deposit (`cents`) and what it accepts as not arriving (`fee_cents`).

    A rule that admits a short deposit (a fee schedule, a tolerance) settles the payment in full: the shortfall
    is the fee, so the payment is `paid`, not left open by the bank's charge. Per shape:
    - one-to-one: the whole deposit; the fee is what it lacks of the open amount (never negative);
    - batch: the deposit allocated over its payments in payment order, each up to its open amount, so the
      links add up to the deposit exactly and a fee on the total falls on the last payments;
    - split: each deposit as it is, no fee (the residual stays open until more money comes);
    - across currencies (`fx`: t, p, conv_cents): the deposit converted into the invoice's currency, and what
      that leaves of the open amount as `fx_cents` (negative when the rate favoured the business), no fee.
    """
    if links.is_empty():
        return links.with_columns(fee_cents=pl.lit(0, dtype=pl.Int64), fx_cents=pl.lit(0, dtype=pl.Int64))
    frame = beside(beside(links, t, "t", t_cents="cents"), p, "p", p_cents="cents")
    if fx is None:
        frame = frame.with_columns(conv_cents=pl.lit(None, dtype=pl.Int64))
    else:
        frame = frame.join(fx.select("t", "p", "conv_cents"), on=["t", "p"], how="left")
    # what a batch's earlier payments (in payment order) already took: only batches need the running sum, so it
    # is worked out on them alone (the caller orders the links)
    is_batch = pl.col("kind") == "batch"
    frame = pl.concat([
        frame.filter(~is_batch).with_columns(before=pl.lit(None, dtype=pl.Int64)),
        frame.filter(is_batch).sort("gid", "p").with_columns(
            before=pl.col("p_cents").cum_sum().over("gid") - pl.col("p_cents")),
    ])
    taken = (
        pl.when(pl.col("conv_cents").is_not_null()).then(pl.col("conv_cents"))
        .when(pl.col("kind") == "batch").then((pl.col("t_cents") - pl.col("before")).clip(0, pl.col("p_cents")))
        .otherwise(pl.col("t_cents"))
    )
    fee = (
        pl.when((pl.col("kind") == "split") | pl.col("conv_cents").is_not_null()).then(0)
        .otherwise((pl.col("p_cents") - taken).clip(lower_bound=0))
    )
    fx_cents = pl.when(pl.col("conv_cents").is_not_null()).then(pl.col("p_cents") - taken).otherwise(0)
    return frame.with_columns(cents=taken, fee_cents=fee.cast(pl.Int64), fx_cents=fx_cents.cast(pl.Int64)).drop(
        "t_cents", "p_cents", "conv_cents", "before")


@cache
def _masks(n: int, max_items: int) -> np.ndarray:
    """Every subset of n items with 2..max_items members, as a 0/1 matrix (one row per subset)."""
    codes = np.arange(1 << n, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(n)) & 1).astype(np.int64)
    size = bits.sum(axis=1)
    return bits[(size >= 2) & (size <= max_items)]


def subset_batches(txns: pl.DataFrame, payments: pl.DataFrame, rules: Rules,
                   banned: pl.DataFrame | None = None) -> pl.DataFrame:
    """Deposits equal to exactly one bounded subset of their payer's open invoices in the window.

    `banned` (t, p) pairs, rejected or removed by a person, are never part of a subset.
    """
    t = txns.filter(pl.col("payer_key") != "").select("t", "currency", "payer_key", "account", "booked_on",
                                                       t_cents="cents")
    p = payments.filter(pl.col("payer_key") != "").select("p", "currency", "payer_key", "account_ref", "opens",
                                                          "anchor", p_cents="cents")
    pairs = t.join(p, on=["currency", "payer_key"]).filter(
        ((pl.col("account_ref") == "") | (pl.col("account_ref") == pl.col("account")))
        & rules.in_any_window(SINCE_ISSUE, SINCE_DUE)
        & (pl.col("p_cents") < pl.col("t_cents"))
    )
    if banned is not None and not banned.is_empty():
        pairs = pairs.join(banned, on=["t", "p"], how="anti")
    groups = pairs.group_by("t").agg(  # candidates in payment order: a join's order differs between runs
        t_cents=pl.col("t_cents").first(), ps=pl.col("p").sort(), amounts=pl.col("p_cents").sort_by("p"),
        total=pl.col("p_cents").sum()
    ).filter(
        (pl.col("ps").list.len() >= 2) & (pl.col("ps").list.len() <= rules.batch_max_candidates)
        & (pl.col("total") >= pl.col("t_cents"))
    ).sort("t")
    rows: list[tuple[int, int, int, int, str, str, float, str]] = []
    used: set[int] = set()
    fees = rules.fees
    for t_id, target, ps, amounts, _ in groups.iter_rows():
        free = [i for i, pid in enumerate(ps) if pid not in used]
        if len(free) < 2:
            continue
        ps_arr, am = np.asarray(ps)[free], np.asarray(amounts, dtype=np.int64)[free]
        masks = _masks(len(free), rules.batch_max_items)
        sums = masks @ am
        ok = sums == target
        for fee in fees:
            ok |= sums - fee.fee_cents(sums) == target
        hits = np.flatnonzero(ok)
        if len(hits) == 0:
            continue
        unique = len(hits) == 1
        confidence = SUBSET_UNIQUE_CONFIDENCE if unique else SUBSET_AMBIGUOUS_CONFIDENCE
        band = AUTO if unique and confidence >= rules.auto_threshold else SUGGESTION
        chosen = masks[hits[0]].astype(bool)
        for pid, cents in zip(ps_arr[chosen], am[chosen], strict=True):
            if band == AUTO:
                used.add(int(pid))
            rows.append((t_id, t_id, int(pid), int(cents), "batch", "batch-subset-sum", confidence, band))
    if not rows:
        return empty_links()
    return pl.DataFrame(rows, schema=LINK_SCHEMA, orient="row")
