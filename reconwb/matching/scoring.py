"""Scoring: which rule a candidate meets, and a confidence in [0, 1] with a per-field breakdown.

Each field contributes independent evidence `e` in [0, 1): a reference found is strong, an exact amount is
good but common, a payer match is good, a date close to the due date is weak. They combine as a noisy-OR,
`1 - prod(1 - e)`, so any strong field can carry a match while weak fields only add up slowly; the rule that
admitted the candidate then caps the result (an amount-only rule can never auto-match). Vectorised: one polars
expression per rule, evaluated over every candidate at once.
"""

from __future__ import annotations

import polars as pl

from reconwb.matching.rules import Rule, Rules

LEVEL = {"exact": 3, "extracted": 2, "fuzzy": 1}
EVIDENCE_REFERENCE = {3: 0.97, 2: 0.95, 1: 0.85}
EVIDENCE_AMOUNT = 0.6
EVIDENCE_PAYER_NAME = 0.8
EVIDENCE_PAYER_IBAN = 0.8
EVIDENCE_DATE = 0.3
EVIDENCE_FX = 0.85  # amount fit of a converted deposit within the FX tolerance
EVIDENCE_UNIQUE_AMOUNT = 0.88  # an exact amount no other candidate of either side has
FIELDS = ("reference", "amount", "payer", "date")


def _fee_hit(rule: Rule) -> pl.Expr:
    hit = pl.lit(False)
    for fee in rule.amount.fees:
        hit = hit | (pl.col("diff") == fee.fee_cents(pl.col("p_cents")))
    return hit


def _allowed(rule: Rule) -> pl.Expr:
    amount = rule.amount
    if not amount.has_tolerance:
        return pl.lit(0, dtype=pl.Int64)
    allowed = pl.max_horizontal(
        pl.lit(amount.tolerance_abs_cents, dtype=pl.Int64), (pl.col("p_cents") * amount.tolerance_pct_milli) // 100_000
    )
    if amount.tolerance_max_cents is not None:
        allowed = pl.min_horizontal(allowed, pl.lit(amount.tolerance_max_cents, dtype=pl.Int64))
    return allowed


def _amount_score(rule: Rule, rules: Rules) -> pl.Expr:
    """1 for exact, 0.9 for a known fee, 0.8 falling to 0.5 across the tolerance, 0 outside. A deposit in another
    currency passes only an `fx` rule: 0.85 within the FX tolerance of the converted amount."""
    across = pl.col("fx_rate_e8").is_not_null()
    if rule.amount.unique:
        return pl.when(pl.col("unique_amount")).then(EVIDENCE_UNIQUE_AMOUNT / EVIDENCE_AMOUNT).otherwise(0.0)
    if rule.amount.fx:
        fx_allowed = pl.col("p_cents") * rules.fx_tolerance_pct_milli // 100_000
        return pl.when(across & (pl.col("diff").abs() <= fx_allowed)).then(EVIDENCE_FX).otherwise(0.0)
    allowed = _allowed(rule)
    within = pl.col("diff").abs() <= allowed
    return (
        pl.when(across).then(0.0)
        .when(pl.col("diff") == 0).then(1.0)
        .when(_fee_hit(rule)).then(0.9)
        .when(within & (allowed > 0)).then(0.8 - 0.3 * pl.col("diff").abs() / allowed.clip(lower_bound=1))
        .otherwise(0.0)
    )


def _date_score(rule: Rule) -> pl.Expr:
    """1 inside the invoice's life (issue to due; for a `due` window, on the due date), falling to 0 at the
    window's edges, -1 outside."""
    window = rule.date
    before, after = max(window.before, 1), max(window.after, 1)
    early = pl.col("delta") if window.anchor == "due" else pl.col("since_issue")
    late = pl.col("delta")
    return (
        pl.when(late.is_null()).then(0.0)
        .when(~window.contains(pl.col("since_issue"), late)).then(-1.0)
        .when(early < 0).then(1 + early / before)
        .when(late > 0).then(1 - late / after)
        .otherwise(1.0)
    )


def _payer_ok(rule: Rule, rules: Rules) -> pl.Expr:
    name = pl.col("payer_sim") >= rules.payer_min_similarity
    return {"name": name, "iban": pl.col("iban_match"), "name_or_iban": name | pl.col("iban_match"),
            "absent": pl.col("payer_absent")}.get(rule.payer or "", pl.lit(True))


def _condition(rule: Rule, rules: Rules) -> pl.Expr:
    cond = (_amount_score(rule, rules) > 0) & (_date_score(rule) >= 0) & _payer_ok(rule, rules)
    if rule.reference:
        cond = cond & (pl.col("ref_level") >= LEVEL[rule.reference])
    if rule.account:
        cond = cond & pl.col("account_ok")
    return cond


def _by_rule(rules: Rules, make: object) -> pl.Expr:
    chain = None
    for i, rule in enumerate(rules.rules):
        value = make(rule)  # type: ignore[operator]
        chain = pl.when(pl.col("rule_idx") == i).then(value) if chain is None else chain.when(
            pl.col("rule_idx") == i).then(value)
    return chain.otherwise(None)  # type: ignore[union-attr]


def score(features: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Candidates that meet a rule, with `rule`, `confidence` and `s_<field>` evidence columns."""
    idx = None
    for i, rule in enumerate(rules.rules):
        cond = _condition(rule, rules)
        idx = pl.when(cond).then(i) if idx is None else idx.when(cond).then(i)
    frame = features.with_columns(rule_idx=idx.otherwise(None).cast(pl.Int16)).drop_nulls("rule_idx")  # type: ignore[union-attr]
    names = pl.Series([r.name for r in rules.rules], dtype=pl.String)
    caps = pl.Series([r.max_confidence for r in rules.rules], dtype=pl.Float64)
    sim = pl.col("ref_similarity").clip(0.0, 1.0)
    frame = frame.with_columns(
        rule=pl.col("rule_idx").replace_strict(list(range(len(names))), names.to_list(), return_dtype=pl.String),
        cap=pl.col("rule_idx").replace_strict(list(range(len(caps))), caps.to_list(), return_dtype=pl.Float64),
        s_reference=pl.when(pl.col("ref_level") == 3).then(EVIDENCE_REFERENCE[3])
        .when(pl.col("ref_level") == 2).then(EVIDENCE_REFERENCE[2])
        .when(pl.col("ref_level") == 1).then(EVIDENCE_REFERENCE[1] * sim)
        .otherwise(0.0),
        s_amount=EVIDENCE_AMOUNT * _by_rule(rules, lambda rule: _amount_score(rule, rules)),
        s_payer=pl.max_horizontal(
            pl.when(pl.col("payer_sim") >= rules.payer_min_similarity)
            .then(EVIDENCE_PAYER_NAME * pl.col("payer_sim")).otherwise(0.0),
            pl.when(pl.col("iban_match")).then(EVIDENCE_PAYER_IBAN).otherwise(0.0),
        ),
        s_date=EVIDENCE_DATE * _by_rule(rules, _date_score).clip(lower_bound=0.0),
    )
    residual = pl.lit(1.0)
    for name in FIELDS:
        residual = residual * (1 - pl.col(f"s_{name}"))
    return frame.with_columns(confidence=pl.min_horizontal(1 - residual, pl.col("cap")).round(4)).drop("cap")
