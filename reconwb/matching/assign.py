"""Global one-to-one assignment, and the three bands: auto-match, suggestion, no match.

First-come matching lets an early, mediocre candidate steal a payment from a later, better one. Here pairs that
are each other's best by a clear margin are settled first (vectorised; most pairs are like that), then each
connected component of what is left (transactions and payments joined by candidates) is solved as a
maximum-weight assignment (`scipy.optimize.linear_sum_assignment`); a star (one transaction or one payment)
simply takes its best edge. Very large components (one payer with hundreds of equal invoices) fall back to
greedy-by-score, which only feeds suggestions there anyway since equal scores are ambiguous.

Then the bands. A chosen pair auto-matches only if its confidence reaches the auto threshold AND it is not
ambiguous. Ambiguous means another choice would explain the money about as well: for a pair chosen inside a
component, its *regret* (how much the component's best total falls when the pair is forbidden) is at most
`ambiguity_margin`. Three invoices of 49.00 from one payer and one deposit of 49.00 are therefore a suggestion,
never an arbitrary auto-match (forbidding the chosen invoice, another takes its place at the same score); but a
subscriber's January and February deposits for two equal monthly invoices are each auto-matched to their own
month, since giving February's invoice to January's deposit would leave a deposit unexplained. Components too
large to re-solve per pair fall back on rivals: no other live candidate of the pair's transaction or payment
within the margin, where an alternative stops counting once its other side is firmly auto-matched with a
clearly better score.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from reconwb.matching.scoring import EVIDENCE_DATE

MAX_SOLVER_SIDE = 300
DATE_TIEBREAK = 0.03  # weight of the date fit beside confidence when choosing (see `assign`)
MAX_REGRET_SIDE = 40  # components up to this size get each chosen pair's regret by re-solving without it
SETTLED_MARGIN = 0.05
AUTO, SUGGESTION = "matched", "suggested"


def assign(scored: pl.DataFrame, *, auto: float, suggest: float, margin: float) -> pl.DataFrame:
    """Chosen pairs `(t, p, confidence, band)`; every t and every p appears at most once.

    The choice weighs each pair by its confidence plus `DATE_TIEBREAK` times its date fit (`s_date`, when
    scored): confidence saturates once payer and amount agree, and then being inside the invoice's life rather
    than weeks past its due date is what tells a subscriber's January payment from February's.
    """
    live = scored.filter(pl.col("confidence") >= suggest)
    fit = (pl.col("s_date") / EVIDENCE_DATE).clip(0.0, 1.0) if "s_date" in live.columns else pl.lit(0.0)
    live = live.select("t", "p", sure="confidence", confidence=pl.col("confidence") + DATE_TIEBREAK * fit)
    if live.is_empty():
        return live.select("t", "p", "sure").rename({"sure": "confidence"}).with_columns(
            band=pl.lit(None, dtype=pl.String))
    weights = live.drop("sure")
    chosen = _solve(weights)
    by_rivals = _band(chosen.filter(pl.col("regret").is_null()).drop("regret"), weights, auto=auto, margin=margin)
    by_regret = chosen.filter(pl.col("regret").is_not_null()).with_columns(
        band=pl.when(pl.col("regret") > margin).then(pl.lit(AUTO)).otherwise(pl.lit(SUGGESTION))
    ).drop("regret")
    return pl.concat([by_regret, by_rivals]).join(live.select("t", "p", "sure"), on=["t", "p"]).select(
        "t", "p", confidence="sure",
        band=pl.when((pl.col("band") == AUTO) & (pl.col("sure") >= auto)).then(pl.lit(AUTO))
        .otherwise(pl.lit(SUGGESTION)),
    )


def _solve(live: pl.DataFrame) -> pl.DataFrame:
    """The chosen pairs with their `regret` (null where the rivals decide instead)."""
    schema = {**live.schema, "regret": pl.Float64}
    # 1. settled pairs: each is the other's only candidate, or each other's best by a clear margin. Taking them
    #    first is what a maximum-weight assignment does too, whenever no rival comes within the margin.
    ranked = live.with_columns(
        rt=pl.col("confidence").rank("ordinal", descending=True).over("t"),
        rp=pl.col("confidence").rank("ordinal", descending=True).over("p"),
        dt=pl.len().over("t"), dp=pl.len().over("p"),
    )
    second_t = ranked.filter(pl.col("rt") == 2).select("t", st="confidence")
    second_p = ranked.filter(pl.col("rp") == 2).select("p", sp="confidence")
    top = ranked.filter((pl.col("rt") == 1) & (pl.col("rp") == 1)).join(second_t, on="t", how="left").join(
        second_p, on="p", how="left")
    settled = top.filter(
        (pl.col("st").fill_null(-1.0) < pl.col("confidence") - SETTLED_MARGIN)
        & (pl.col("sp").fill_null(-1.0) < pl.col("confidence") - SETTLED_MARGIN)
    ).select("t", "p", "confidence", regret=pl.lit(float("inf")))
    rest = live.join(settled.select("t"), on="t", how="anti").join(settled.select("p"), on="p", how="anti")
    if rest.is_empty():
        return settled
    # 2. connected components of what is left
    t_arr, p_arr, c_arr = rest["t"].to_numpy(), rest["p"].to_numpy(), rest["confidence"].to_numpy()
    t_codes, t_idx = np.unique(t_arr, return_inverse=True)
    p_codes, p_idx = np.unique(p_arr, return_inverse=True)
    n_t = len(t_codes)
    graph = coo_matrix((np.ones(len(t_idx)), (t_idx, p_idx + n_t)), shape=(n_t + len(p_codes),) * 2)
    _, labels = connected_components(graph, directed=False)
    edge_comp = labels[t_idx]
    order = np.argsort(edge_comp, kind="stable")
    bounds = np.flatnonzero(np.diff(edge_comp[order])) + 1
    out_t: list[np.ndarray] = []
    out_p: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    for edges in np.split(order, bounds):
        ts, ti = np.unique(t_arr[edges], return_inverse=True)
        ps, pi = np.unique(p_arr[edges], return_inverse=True)
        scores = c_arr[edges]
        if len(ts) == 1 or len(ps) == 1:  # a star: its best edge (ties broken by the lowest ids)
            best = np.lexsort((p_arr[edges], t_arr[edges], -scores))[0]
            out_t.append(t_arr[edges][best:best + 1])
            out_p.append(p_arr[edges][best:best + 1])
            out_c.append(scores[best:best + 1])
            second = np.sort(scores)[-2] if len(scores) > 1 else 0.0
            out_r.append(np.array([scores[best] - second]))
            continue
        if max(len(ts), len(ps)) > MAX_SOLVER_SIDE:
            rows, cols, vals = _greedy(ti, pi, scores, t_arr[edges], p_arr[edges])
            regret = np.full(len(rows), np.nan)
        else:
            matrix = np.zeros((len(ts), len(ps)))
            matrix[ti, pi] = scores
            rows, cols = linear_sum_assignment(matrix, maximize=True)
            vals = matrix[rows, cols]
            regret = _regret(matrix, rows, cols) if max(len(ts), len(ps)) <= MAX_REGRET_SIDE else np.full(
                len(rows), np.nan)
        keep = vals > 0
        out_t.append(ts[rows[keep]])
        out_p.append(ps[cols[keep]])
        out_c.append(vals[keep])
        out_r.append(regret[keep])
    solved = pl.DataFrame(
        {"t": np.concatenate(out_t), "p": np.concatenate(out_p), "confidence": np.concatenate(out_c),
         "regret": np.concatenate(out_r)}
    ).with_columns(pl.col("regret").fill_nan(None)).cast(schema)
    return pl.concat([settled.cast(schema), solved])


def _regret(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per chosen cell, how much the best total falls when that cell is forbidden."""
    best = matrix[rows, cols].sum()
    out = np.empty(len(rows))
    for k, (r, c) in enumerate(zip(rows, cols, strict=True)):
        without = matrix.copy()
        without[r, c] = 0.0
        rr, cc = linear_sum_assignment(without, maximize=True)
        out[k] = best - without[rr, cc].sum()
    return out


def _greedy(ti: np.ndarray, pi: np.ndarray, scores: np.ndarray, t_ids: np.ndarray,
            p_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best score first, each side once; deterministic on ties (lowest ids first)."""
    used_t: set[int] = set()
    used_p: set[int] = set()
    rows, cols, vals = [], [], []
    for k in np.lexsort((p_ids, t_ids, -scores)):
        if ti[k] not in used_t and pi[k] not in used_p:
            used_t.add(int(ti[k]))
            used_p.add(int(pi[k]))
            rows.append(ti[k])
            cols.append(pi[k])
            vals.append(scores[k])
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=np.float64)


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
