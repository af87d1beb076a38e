"""Global one-to-one assignment, and the three bands: auto-match, suggestion, no match.

First-come matching lets an early, mediocre candidate steal a payment from a later, better one. Here pairs that
are each other's best by a clear margin are settled first (vectorised; most pairs are like that), then each
connected component of what is left (transactions and payments joined by candidates) is solved as a
maximum-weight assignment. Nearly every component is small (two or three deposits and invoices of one payer),
and every component of one shape is solved at once by listing its few possible assignments in numpy, which
gives each chosen pair's regret too; only a component with more than `MAX_LISTED` ways (and only then is scipy
imported) goes to `scipy.optimize.linear_sum_assignment`. Very large components (one payer with hundreds of
equal invoices) fall back to greedy-by-score, which only feeds suggestions there anyway since equal scores are
ambiguous.

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

import itertools
import math
from functools import cache

import numpy as np
import polars as pl

from reconwb.matching.scoring import EVIDENCE_DATE

MAX_SOLVER_SIDE = 300
MAX_LISTED = 40_320  # components with up to this many ways to assign (8 of 8) are solved by listing them
LISTED_CELLS = 2_000_000  # ways x rows x components listed at once
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
    settled = _settled(live).select("t", "p", "confidence", regret=pl.lit(float("inf")))
    rest = live.join(settled.select("t"), on="t", how="anti").join(settled.select("p"), on="p", how="anti")
    if rest.is_empty():
        return settled
    # 2. connected components of what is left, each with its pairs' positions among its own t and p (in id order)
    t_arr, p_arr = rest["t"].to_numpy(), rest["p"].to_numpy()
    t_codes, t_idx = np.unique(t_arr, return_inverse=True)
    p_codes, p_idx = np.unique(p_arr, return_inverse=True)
    comp = _components(t_idx, p_idx + len(t_codes), len(t_codes) + len(p_codes))[t_idx]
    edges = rest.with_columns(comp=pl.Series(comp), ti=pl.Series(t_idx), pi=pl.Series(p_idx)).with_columns(
        ti=pl.col("ti").rank("dense").over("comp").cast(pl.Int64) - 1,
        pi=pl.col("pi").rank("dense").over("comp").cast(pl.Int64) - 1,
    ).with_columns(nt=pl.col("ti").max().over("comp") + 1, np=pl.col("pi").max().over("comp") + 1).sort("comp")
    # 3. every component of one shape at once when its assignments are few enough to list; else one by one
    solved = []
    for (nt, np_), group in edges.group_by("nt", "np", maintain_order=True):
        ways = _assignments(min(nt, np_), max(nt, np_))
        if ways > MAX_LISTED:
            solved += [_one(part) for part in group.partition_by("comp", maintain_order=True)]
            continue
        comps = group["comp"].unique(maintain_order=True)
        per_chunk = max(1, LISTED_CELLS // (ways * min(nt, np_)))  # bounded memory: so many components at once
        for start in range(0, len(comps), per_chunk):
            chunk = group.filter(pl.col("comp").is_in(comps.slice(start, per_chunk).implode()))
            solved.append(_listed(chunk, nt, np_))
    return pl.concat([settled.cast(schema), *(frame.cast(schema) for frame in solved)])


def _settled(live: pl.DataFrame) -> pl.DataFrame:
    """Pairs each other's best (first in id order on a tie) with no rival of either side within the margin."""
    by_t = live.sort("t", "confidence", "p", descending=[False, True, False])
    by_t = by_t.select("t", "p", "confidence", second=pl.when(pl.col("t").shift(-1) == pl.col("t")).then(
        pl.col("confidence").shift(-1))).filter(pl.col("t").is_first_distinct())
    by_p = live.sort("p", "confidence", "t", descending=[False, True, False])
    by_p = by_p.select("t", "p", second=pl.when(pl.col("p").shift(-1) == pl.col("p")).then(
        pl.col("confidence").shift(-1))).filter(pl.col("p").is_first_distinct())
    both = by_t.join(by_p, on=["t", "p"], suffix="_p")
    return both.filter(
        (pl.col("second").fill_null(-1.0) < pl.col("confidence") - SETTLED_MARGIN)
        & (pl.col("second_p").fill_null(-1.0) < pl.col("confidence") - SETTLED_MARGIN)
    ).select("t", "p", "confidence")


def _components(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """The connected component of each of `n` nodes (its smallest node) for the edges `left[i]`-`right[i]`:
    minimum labels spread along edges and shortened by pointer jumping, which settles in a few rounds on
    candidate graphs; scipy's search only if it does not."""
    labels = np.arange(n)
    for _ in range(64):
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        labels = labels[labels]
        if np.array_equal(labels, before):
            return labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, found = connected_components(graph, directed=False)
    return found


def _assignments(rows: int, cols: int) -> int:
    """How many ways `rows` items go to distinct ones of `cols` items (rows <= cols)."""
    return math.perm(cols, rows)


@cache
def _ways(rows: int, cols: int) -> np.ndarray:
    """Every assignment of `rows` to distinct ones of `cols` (rows <= cols), one per row, in lexical order."""
    return np.array(list(itertools.permutations(range(cols), rows)), dtype=np.int64).reshape(-1, rows)


def _listed(group: pl.DataFrame, nt: int, np_: int) -> pl.DataFrame:
    """The maximum-weight assignment of every component of one shape (`nt` x `np_`), by listing every way: the
    best total wins (the first listed on a tie: lowest ids first), and each chosen pair's regret is the best
    total less the best one with that pair's weight taken out."""
    comps = group["comp"].unique(maintain_order=True)
    k = pl.Series(np.searchsorted(comps.to_numpy(), group["comp"].to_numpy()))
    flip = nt > np_
    rows, cols = (group["pi"], group["ti"]) if flip else (group["ti"], group["pi"])
    a, b = min(nt, np_), max(nt, np_)
    weights = np.zeros((len(comps), a, b))
    weights[k.to_numpy(), rows.to_numpy(), cols.to_numpy()] = group["confidence"].to_numpy()
    ways = _ways(a, b)  # (n_ways, a)
    taken = weights[:, np.arange(a), ways]  # (n_comps, n_ways, a)
    totals = taken.sum(axis=2)
    best_way = totals.argmax(axis=1)
    best = totals[np.arange(len(comps)), best_way]
    chosen_cols = ways[best_way]  # (n_comps, a)
    chosen_vals = taken[np.arange(len(comps)), best_way]  # (n_comps, a)
    regret = np.empty((len(comps), a))
    for r in range(a):
        same = ways[None, :, r] == chosen_cols[:, r, None]  # ways that keep row r's chosen pair
        without = totals - same * chosen_vals[:, r, None]
        regret[:, r] = best - without.max(axis=1)
    comp_ids = np.repeat(comps.to_numpy(), a)
    local_rows = np.tile(np.arange(a), len(comps))
    local_cols = chosen_cols.ravel()
    ti, pi = (local_cols, local_rows) if flip else (local_rows, local_cols)
    picked = pl.DataFrame({"comp": comp_ids, "ti": ti, "pi": pi, "confidence": chosen_vals.ravel(),
                           "regret": regret.ravel()}).filter(pl.col("confidence") > 0)
    ids = group.select("comp", "ti", "pi", "t", "p")
    return picked.join(ids, on=["comp", "ti", "pi"]).select("t", "p", "confidence", "regret")


def _one(part: pl.DataFrame) -> pl.DataFrame:
    """One component too large to list: scipy's assignment (regret by re-solving, up to `MAX_REGRET_SIDE`), or
    greedy-by-score beyond `MAX_SOLVER_SIDE`."""
    from scipy.optimize import linear_sum_assignment

    ti, pi = part["ti"].to_numpy(), part["pi"].to_numpy()
    scores, nt, np_ = part["confidence"].to_numpy(), part["nt"][0], part["np"][0]
    if max(nt, np_) > MAX_SOLVER_SIDE:
        rows, cols, vals = _greedy(ti, pi, scores, part["t"].to_numpy(), part["p"].to_numpy())
        regret = np.full(len(rows), np.nan)
    else:
        matrix = np.zeros((nt, np_))
        matrix[ti, pi] = scores
        rows, cols = linear_sum_assignment(matrix, maximize=True)
        vals = matrix[rows, cols]
        regret = _regret(matrix, rows, cols) if max(nt, np_) <= MAX_REGRET_SIDE else np.full(len(rows), np.nan)
    picked = pl.DataFrame({"ti": rows.astype(np.int64), "pi": cols.astype(np.int64), "confidence": vals,
                           "regret": regret}).filter(pl.col("confidence") > 0).with_columns(
        pl.col("regret").fill_nan(None))
    return picked.join(part.select("ti", "pi", "t", "p"), on=["ti", "pi"]).select("t", "p", "confidence", "regret")


def _regret(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per chosen cell, how much the best total falls when that cell is forbidden."""
    from scipy.optimize import linear_sum_assignment

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
