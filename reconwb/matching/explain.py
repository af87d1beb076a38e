"""Why a link was made, in the words an analyst would use.

"same payer, exact amount, paid 9 days after issue"; "reference INV0008060 is one character from INV-0000060;
payer and amount agree". One sentence per link, built from the facts the engine scored (vectorised: one polars
expression over every link at once), stored with the match, shown in the explorer and sent in the
`payment.matched` webhook, so a person or a downstream system can check a match without re-deriving it.
"""

from __future__ import annotations

import polars as pl

from reconwb.matching.frames import beside, cents_text
from reconwb.matching.rates import RATE_SCALE
from reconwb.matching.rules import Rules
from reconwb.tabular import per_distinct

_N, _REF = pl.col("n"), pl.col("p_reference").fill_null("")
_SHAPES = {
    "split-reference": pl.format("{} deposits quoting reference {} add up to the invoice", _N, _REF),
    "partial-reference": pl.format("a deposit quoting reference {} pays part of the invoice", _REF),
    "batch-references": pl.format("one deposit lists the references of {} invoices and pays their sum", _N),
    "batch-subset-sum": pl.format("one deposit from the payer equals the sum of exactly one set of {} of its open"
                                  " invoices", _N),
}


def _days(expr: pl.Expr, unit_one: str, unit_many: str) -> pl.Expr:
    return pl.when(expr.abs() == 1).then(pl.lit("1 " + unit_one)).otherwise(pl.format("{} " + unit_many, expr.abs()))


def _date() -> pl.Expr:
    early, late = pl.col("since_issue"), pl.col("delta")
    return (
        pl.when(early.is_null()).then(None)
        .when(early < 0).then(pl.concat_str([pl.lit("paid "), _days(early, "day", "days"), pl.lit(" before issue")]))
        .when(late > 0).then(pl.concat_str([pl.lit("paid "), _days(late, "day", "days"), pl.lit(" after due")]))
        .otherwise(pl.concat_str([pl.lit("paid "), _days(early, "day", "days"), pl.lit(" after issue")]))
    )


def _payer(rules: Rules) -> pl.Expr:
    return (
        pl.when(pl.col("iban_match")).then(pl.lit("payer's IBAN agrees"))
        .when(pl.col("payer_sim") >= 0.999).then(pl.lit("same payer"))
        .when(pl.col("payer_sim") >= rules.payer_min_similarity).then(
            pl.format("payer name close ({}%)", (pl.col("payer_sim") * 100).round(0).cast(pl.Int64)))
    )


def _amount(payer: pl.Expr) -> pl.Expr:
    fx = pl.col("fx_rate_e8").is_not_null()
    rate = pl.format("{}.{}", pl.col("fx_rate_e8") // RATE_SCALE,
                     (pl.col("fx_rate_e8") % RATE_SCALE).cast(pl.String).str.zfill(8).str.strip_chars_end("0"))
    return (
        pl.when(fx).then(pl.format("{} {} converted at {} ({} {} FX difference)", cents_text(pl.col("t_cents")),
                                   pl.col("t_currency"), rate.str.strip_chars_end("."),
                                   cents_text(pl.col("fx_cents")), pl.col("p_currency")))
        .when((pl.col("diff") == 0) & pl.col("unique_amount").fill_null(False) & payer.is_null()).then(
            pl.lit("exact amount that no other open invoice or deposit has"))
        .when(pl.col("diff") == 0).then(pl.lit("exact amount"))
        .when(pl.col("fee_cents") > 0).then(pl.format("amount less a fee of {}", cents_text(pl.col("fee_cents"))))
        .when(pl.col("diff").is_not_null()).then(pl.format("amount off by {}", cents_text(pl.col("diff"))))
    )


def _reference() -> pl.Expr:
    return (
        pl.when(pl.col("ref_level") == 3).then(pl.format("reference {} quoted", pl.col("p_reference")))
        .when(pl.col("ref_level") == 2).then(pl.format("reference {} found in the text", pl.col("p_reference")))
        .when(pl.col("ref_level") == 1).then(pl.format("reference {} is one character from {}", pl.col("ref_token"),
                                                       pl.col("p_reference")))
    )


def explain(links: pl.DataFrame, t: pl.DataFrame, p: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """`links` (with the scored facts joined, see `pipeline._finish`) with an `explanation` column."""
    if links.is_empty():
        return links.with_columns(explanation=pl.lit(None, dtype=pl.String))
    frame = beside(beside(links, t, "t", t_cents="cents", t_currency="currency"), p, "p", p_reference="reference",
                   p_currency="currency").with_columns(n=pl.len().over("kind", "gid"))
    alias = pl.when(pl.col("alias_name").is_not_null()).then(
        pl.format("payer known by the alias {} (learned from a person's match)", pl.col("alias_name"))
    ) if "alias_name" in frame.columns else pl.lit(None, dtype=pl.String)
    # each piece once, in steps (an eager frame does not share a sub-expression used twice); the date's words
    # once per distinct (days since issue, days from due): a few hundred among a million links
    frame = per_distinct(frame.with_columns(_payer=pl.coalesce(alias, _payer(rules))), ["since_issue", "delta"],
                         [_date().alias("_date")])
    payer = pl.col("_payer")
    frame = frame.with_columns(
        _facts=pl.concat_str([_reference(), payer, _amount(payer), pl.col("_date")], separator=", ",
                             ignore_nulls=True))
    facts = pl.col("_facts")
    shape = pl.lit(None, dtype=pl.String)
    for rule, words in _SHAPES.items():
        shape = pl.when(pl.col("rule") == rule).then(words).otherwise(shape)
    caveat = (
        pl.when((pl.col("band") == "suggested") & (pl.col("confidence") >= rules.auto_threshold))
        .then(pl.lit("; not automatic: another candidate fits about as well"))
        .when(pl.col("band") == "suggested").then(pl.lit("; not sure enough to match automatically"))
        .otherwise(pl.lit(""))
    )
    text = pl.coalesce(shape, pl.when(facts != "").then(facts), pl.lit("matched by rule ") + pl.col("rule"))
    return frame.with_columns(explanation=text + caveat).drop("t_cents", "t_currency", "p_reference", "p_currency",
                                                              "n", "_payer", "_facts", "_date")
