"""Global one-to-one assignment, and the three bands: auto-match, suggestion, no match.

First-come matching lets an early, mediocre candidate steal a payment from a later, better one. Here each
connected component of the candidate graph (transactions and payments joined by candidates) is solved as a
maximum-weight assignment (`scipy.optimize.linear_sum_assignment`); most components are a single pair and are
taken without any solver. Very large components (rare: one payer with hundreds of equal invoices) fall back to
greedy-by-score, which is optimal whenever scores do not cross, and only feeds suggestions there anyway.

Then the bands. A chosen pair auto-matches only if its confidence reaches the auto threshold AND it is not
ambiguous: no other live candidate of its transaction or of its payment scores within `ambiguity_margin` of it.
Three invoices of 49.00 from one payer and one deposit of 49.00 are therefore a suggestion, never an arbitrary
auto-match. An alternative stops counting once its other side is firmly auto-matched with a clearly better score.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MAX_SOLVER_SIDE = 300
AUTO, SUGGESTION = "matched", "suggested"


def assign(scored: pl.DataFrame, *, auto: float, suggest: float, margin: float) -> pl.DataFrame:
    """Chosen pairs `(t, p, confidence, band)`; every t and every p appears at most once."""
    live = scored.filter(pl.col("confidence") >= suggest).select("t", "p", "confidence")
    if live.is_empty():
        return live.with_columns(band=pl.lit(None, dtype=pl.String))
    chosen = _solve(live)
    return _band(chosen, live, auto=auto, margin=margin)


def _solve(live: pl.DataFrame) -> pl.DataFrame:
    degrees = live.with_columns(dt=pl.len().over("t"), dp=pl.len().over("p"))
    trivial = degrees.filter((pl.col("dt") == 1) & (pl.col("dp") == 1)).select("t", "p", "confidence")
    rest = degrees.filter((pl.col("dt") > 1) | (pl.col("dp") > 1)).select("t", "p", "confidence")
    if rest.is_empty():
        return trivial
    t_codes, t_idx = np.unique(rest["t"].to_numpy(), return_inverse=True)
    p_codes, p_idx = np.unique(rest["p"].to_numpy(), return_inverse=True)
    n_t = len(t_codes)
    graph = coo_matrix((np.ones(len(t_idx)), (t_idx, p_idx + n_t)), shape=(n_t + len(p_codes),) * 2)
    _, labels = connected_components(graph, directed=False)
    rest = rest.with_columns(comp=pl.Series(labels[t_idx])).with_columns(
        nt=pl.col("t").n_unique().over("comp"), np=pl.col("p").n_unique().over("comp")
    )
    # a star (one transaction, or one payment, in the component) is solved by its best edge: vectorised
    stars = rest.filter((pl.col("nt") == 1) | (pl.col("np") == 1))
    best = stars.sort(["comp", "confidence", "t", "p"], descending=[False, True, False, False]).unique(
        "comp", keep="first", maintain_order=True).select("t", "p", "confidence")
    picked: list[pl.DataFrame] = [trivial, best]
    general = rest.filter((pl.col("nt") > 1) & (pl.col("np") > 1)).select("t", "p", "confidence", "comp")
    for (_,), comp in general.sort("comp").group_by(["comp"], maintain_order=True):
        picked.append(_solve_component(comp))
    return pl.concat(picked)


def _solve_component(comp: pl.DataFrame) -> pl.DataFrame:
    ts, ti = np.unique(comp["t"].to_numpy(), return_inverse=True)
    ps, pi = np.unique(comp["p"].to_numpy(), return_inverse=True)
    scores = comp["confidence"].to_numpy()
    if max(len(ts), len(ps)) > MAX_SOLVER_SIDE:
        return _greedy(comp)
    matrix = np.zeros((len(ts), len(ps)))
    matrix[ti, pi] = scores
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    keep = matrix[rows, cols] > 0
    return pl.DataFrame(
        {"t": ts[rows[keep]], "p": ps[cols[keep]], "confidence": matrix[rows[keep], cols[keep]]},
        schema=comp.select("t", "p", "confidence").schema,
    )


def _greedy(comp: pl.DataFrame) -> pl.DataFrame:
    used_t: set[int] = set()
    used_p: set[int] = set()
    rows = []
    for t, p, c in comp.sort(["confidence", "t", "p"], descending=[True, False, False]).select(
            "t", "p", "confidence").iter_rows():
        if t not in used_t and p not in used_p:
            used_t.add(t)
            used_p.add(p)
            rows.append((t, p, c))
    return pl.DataFrame(rows, schema=comp.select("t", "p", "confidence").schema, orient="row")


def _band(chosen: pl.DataFrame, live: pl.DataFrame, *, auto: float, margin: float) -> pl.DataFrame:
    firm = chosen.clear().select("t", "p", "confidence")
    for _ in range(3):
        # an alternative (t, p2) is dead when p2 is firmly taken by another transaction with a clearly better score
        alive = live.join(firm.rename({"t": "ft", "confidence": "fc"}), on="p", how="left").join(
            firm.rename({"p": "fp", "confidence": "gc"}), on="t", how="left"
        ).filter(
            (pl.col("ft").is_null() | (pl.col("ft") == pl.col("t")) | (pl.col("fc") < pl.col("confidence") + margin))
            & (pl.col("fp").is_null() | (pl.col("fp") == pl.col("p")) | (pl.col("gc") < pl.col("confidence") + margin))
        ).select("t", "p", "confidence")
        alt_t = _best_other(chosen, alive, "t", "p")
        alt_p = _best_other(chosen, alive, "p", "t")
        banded = chosen.join(alt_t, on=["t", "p"], how="left").join(alt_p, on=["t", "p"], how="left").with_columns(
            band=pl.when(
                (pl.col("confidence") >= auto)
                & (pl.col("alt_t").fill_null(0.0) < pl.col("confidence") - margin)
                & (pl.col("alt_p").fill_null(0.0) < pl.col("confidence") - margin)
            ).then(pl.lit(AUTO)).otherwise(pl.lit(SUGGESTION))
        )
        new_firm = banded.filter(pl.col("band") == AUTO).select("t", "p", "confidence")
        if new_firm.height == firm.height:
            break
        firm = new_firm
    return banded.drop("alt_t", "alt_p")


def _best_other(chosen: pl.DataFrame, live: pl.DataFrame, side: str, other: str) -> pl.DataFrame:
    """For each chosen pair, the best score among the other candidates of its `side` (`alt_<side>`)."""
    rivals = chosen.select("t", "p").join(live.rename({other: "o"}), on=side).filter(pl.col("o") != pl.col(other))
    return rivals.group_by("t", "p").agg(pl.col("confidence").max().alias(f"alt_{side}"))
