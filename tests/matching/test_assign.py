"""Global assignment: listing the assignments of small components agrees with scipy's solver, regret included,
and connected components agree with scipy's."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from reconwb.matching.assign import _components, _settled, _solve


def _graph(seed: int) -> pl.DataFrame:
    """A random bipartite candidate graph of small components, scores on a coarse grid (ties happen)."""
    rng = np.random.default_rng(seed)
    rows = []
    t_base = p_base = 0
    for _ in range(40):
        nt, np_ = rng.integers(1, 6), rng.integers(1, 6)
        cells = rng.random((nt, np_)) < 0.6
        cells[rng.integers(nt), :] = True  # connected through one deposit at least
        for i, j in zip(*np.nonzero(cells), strict=True):
            rows.append((t_base + int(i), p_base + int(j), float(rng.choice([0.6, 0.7, 0.8, 0.9, 0.95]))))
        t_base, p_base = t_base + nt, p_base + np_
    return pl.DataFrame(rows, schema={"t": pl.UInt32, "p": pl.UInt32, "confidence": pl.Float64}, orient="row")


def _scipy_best(frame: pl.DataFrame) -> tuple[float, dict[tuple[int, int], float]]:
    """The best total of one component, and each chosen cell's regret, by scipy (re-solving without the cell)."""
    ts, ti = np.unique(frame["t"].to_numpy(), return_inverse=True)
    ps, pi = np.unique(frame["p"].to_numpy(), return_inverse=True)
    matrix = np.zeros((len(ts), len(ps)))
    matrix[ti, pi] = frame["confidence"].to_numpy()
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    best = matrix[rows, cols].sum()
    regret = {}
    for r, c in zip(rows, cols, strict=True):
        without = matrix.copy()
        without[r, c] = 0.0
        rr, cc = linear_sum_assignment(without, maximize=True)
        regret[(int(ts[r]), int(ps[c]))] = best - without[rr, cc].sum()
    return best, regret


@pytest.mark.parametrize("seed", range(6))
def test_listed_assignment_is_optimal_with_scipy_regrets(seed: int) -> None:
    graph = _graph(seed)
    chosen = _solve(graph)
    assert chosen["t"].is_unique().all() and chosen["p"].is_unique().all()
    assert chosen.join(graph, on=["t", "p"]).height == chosen.height  # only candidate pairs are chosen
    settled = _settled(graph)
    assert chosen.filter(pl.col("regret").is_infinite()).select("t", "p").sort("t").equals(
        settled.select("t", "p").sort("t"))
    rest = graph.join(settled.select("t"), on="t", how="anti").join(settled.select("p"), on="p", how="anti")
    t_idx = rest["t"].to_numpy().astype(np.int64)
    p_idx = rest["p"].to_numpy().astype(np.int64) + int(t_idx.max()) + 1
    labels = _components(t_idx, p_idx, int(p_idx.max()) + 1)[t_idx]
    solved = 0
    for comp in np.unique(labels):
        part = rest.filter(pl.Series(labels == comp))
        best, regret = _scipy_best(part)
        mine = chosen.join(part.select("t", "p"), on=["t", "p"])
        assert mine["regret"].is_finite().all()
        assert mine["confidence"].sum() == pytest.approx(best)
        for t, p, _, r in mine.iter_rows():
            if (t, p) in regret:  # on a tie scipy may pick another optimum (regret 0 then); the totals agree
                assert r == pytest.approx(regret[(t, p)])
            else:
                assert r == pytest.approx(0.0)
        solved += mine.height
    assert solved + settled.height == chosen.height


def test_components_agree_with_scipy_on_a_long_chain() -> None:
    # a path t0-p0-t1-p1-... is the slow case for spreading labels; pointer jumping keeps it to a few rounds
    n = 5000
    left = np.concatenate([np.arange(n), np.arange(1, n)])
    right = np.concatenate([np.arange(n), np.arange(n - 1)]) + n
    mine = _components(left, right, 2 * n)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(2 * n, 2 * n))
    _, theirs = connected_components(graph, directed=False)
    assert len(np.unique(mine)) == len(np.unique(theirs)) == 1
    split = np.concatenate([left[:100], left[n:n + 50]]), np.concatenate([right[:100], right[n:n + 50]])
    mine = _components(*split, 2 * n)
    _, theirs = connected_components(coo_matrix((np.ones(150), split), shape=(2 * n, 2 * n)), directed=False)
    assert len(np.unique(mine)) == len(np.unique(theirs))
    assert (mine[split[0]] == mine[split[1]]).all()
