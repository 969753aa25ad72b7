"""The Nevergrad search and Robyn's model selection: Pareto front over the objectives, the
documented selection rule, and each trial's convergence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.estimators.frequentist.config import FrequentistConfig, adstock_params
from mmm_recovery.estimators.frequentist.objective import Objective

# ------------------------------------------------------------------------------------ search
#: rows of a Pareto test compared with all points in one array operation (bounds its memory)
PARETO_CHUNK = 256


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (n, m), all objectives minimised."""
    n = points.shape[0]
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(points.T[::-1])
    best_second = np.inf
    if points.shape[1] == 2:
        keep[:] = False
        for i in order:  # sweep by first objective; keep strictly improving second objective
            if points[i, 1] < best_second:
                keep[i] = True
                best_second = points[i, 1]
        return keep
    for s in range(
        0, n, PARETO_CHUNK
    ):  # a block of rows against all points, objective by objective
        block = points[s : s + PARETO_CHUNK]
        no_worse = np.ones((len(block), n), dtype=bool)
        better = np.zeros((len(block), n), dtype=bool)
        for j in range(points.shape[1]):
            other, own = points[None, :, j], block[:, j, None]
            no_worse &= other <= own
            better |= other < own
        keep[s : s + PARETO_CHUNK] = ~np.any(no_worse & better, axis=1)
    return keep


def objective_columns(objective: str, calibrated: bool) -> list[str]:
    """The objectives the search minimises: ``objective``'s, plus MAPE.LIFT when calibrated."""
    return [*objective.split("+"), *(["mape_lift"] if calibrated else [])]


def mark_front(evals: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``evals`` with ``pareto``: non-dominated in ``columns`` (for a single objective, in NRMSE
    and DECOMP.RSSD, the front the report plots)."""
    columns = columns if len(columns) > 1 else ["nrmse", "decomp_rssd"]
    evals["pareto"] = pareto_mask(evals[columns].to_numpy())
    return evals


def selection_distance(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """The selection rule's score of each row of ``points`` (n, m): for one objective its value;
    else the distance to the origin after scaling each objective to [0, 1] over ``front``, the
    Pareto-optimal rows (lower is better)."""
    if points.shape[1] == 1:
        return points[:, 0]
    low = front.min(axis=0)
    span = front.max(axis=0) - low
    scaled = (points - low) / np.where(span > 0, span, 1.0)
    return np.hypot(*scaled.T) if points.shape[1] == 2 else np.linalg.norm(scaled, axis=1)


def select(evals: pd.DataFrame, objective: str, columns: list[str] | None = None) -> int:
    """Index (label) of the chosen evaluation: lowest NRMSE for a single objective, else the
    Pareto point (``pareto`` column) closest to the origin after scaling each objective in
    ``columns`` (default: ``objective``'s) to [0, 1] over the front."""
    columns = columns or objective_columns(objective, False)
    if len(columns) == 1:
        return int(evals[columns[0]].idxmin())
    front = evals[evals["pareto"]]
    pts = front[columns].to_numpy()
    return int(front.index[np.argmin(selection_distance(pts, pts))])


def contenders(evals: pd.DataFrame, columns: list[str], k: int) -> np.ndarray:
    """The ``k`` distinct hyperparameter vectors of ``evals`` (a marked search, :func:`mark_front`)
    that score best by the selection rule (:func:`selection_distance`, scaled over the search's
    front), best first, shape (<= k, n_params): the models the search found competitive."""
    pts = evals[columns].to_numpy()
    front = evals.loc[evals["pareto"], columns].to_numpy() if len(columns) > 1 else pts
    h = np.stack(evals["h"].to_numpy())
    _, first = np.unique(h, axis=0, return_index=True)  # drop re-evaluations of one point
    first = first[np.argsort(selection_distance(pts[first], front), kind="stable")]
    return h[first[:k]]


#: TwoPointsDE's settings (``nevergrad.optimization.differentialevolution``): the smallest
#: population, and the weights of the difference and of the pull toward the best point
DE_POPULATION, DE_F1, DE_F2 = 30, 0.8, 0.8


def _bounce(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Nevergrad's ``bouncing`` bound: reflect once at the nearer bound, then clip."""
    return np.clip(2 * np.clip(x, lo, hi) - x, lo, hi)


def two_point_crossover(
    rng: np.random.Generator, donor: np.ndarray, parent: np.ndarray
) -> np.ndarray:
    """TwoPointsDE's crossover, row by row: two distinct cut points, and a coin says whether
    the stretch between them or the rest comes from the parent (when the cuts are the two ends,
    one is redrawn, as Nevergrad does, so that both sides give a coordinate); below 4
    coordinates, each coordinate but one random one comes from the parent with probability
    0.5."""
    n, d = donor.shape
    idx = np.arange(d)
    if d < 4:
        take = (idx != rng.integers(d, size=(n, 1))) & (rng.uniform(size=(n, d)) > 0.5)
        return np.where(take, parent, donor)
    first = rng.integers(d + 1, size=n)
    second = rng.integers(d, size=n)
    second += second >= first
    low, high = np.minimum(first, second), np.maximum(first, second)
    ends = (low == 0) & (high == d)
    redraw, which = rng.integers(1, d, size=n), rng.integers(2, size=n)
    low = np.where(ends & (which == 0), redraw, low)
    high = np.where(ends & (which == 1), redraw, high)
    inside = (idx >= low[:, None]) & (idx < high[:, None])
    outside = (idx < low[:, None]) | (idx >= high[:, None])
    take = np.where(rng.integers(2, size=(n, 1)) == 1, inside, outside)
    return np.where(take, parent, donor)


def de_search(
    obj: Objective,
    cfg: FrequentistConfig,
    rng: np.random.Generator,
    budget: int,
    rows: np.ndarray,
    start: np.ndarray,
) -> pd.DataFrame:
    """A re-search as Nevergrad's ``TwoPointsDE`` runs it from a suggested start, in NumPy: the
    same table as :func:`run_search`, without Nevergrad's per-candidate objects.

    Generations of one candidate per member of a population of ``max(30, batch_size)``, the
    first being ``start`` and samples ``N(centre, (range / 6)**2)`` of the box (Nevergrad's
    sampling of a bounded array with an initial value). A member's candidate is
    ``x + F1 (a - b) + F2 (best - x)`` with TwoPointsDE's two-point crossover against ``x`` and
    Nevergrad's bouncing bounds. With several objectives (Nevergrad's multi-objective
    adaptation), ``best`` is the member itself when it is Pareto-optimal among all evaluations
    so far, else a random Pareto point, ``a`` and ``b`` are two distinct Pareto points when the
    front has more than two, and a candidate replaces its member with probability equal to the
    share of objectives it improves; with one, ``best`` is the best evaluation so far, ``a`` and
    ``b`` random members, and a candidate replaces its member when it is no worse. Each
    generation is one vectorised call of the objective."""
    lo, hi = bounds_vectors(cfg, obj.n_channels)
    told = objective_columns(cfg.objective, obj.lift is not None)
    size = max(DE_POPULATION, cfg.batch_size)
    centre, sigma = (lo + hi) / 2, (hi - lo) / 6
    hs, values = [], []
    multi = len(told) > 1
    population = np.empty((0, lo.size))
    losses = np.empty((0, len(told)))
    # the best evaluations so far: the Pareto front of all (several objectives), or the best one
    front, front_loss = np.empty((0, lo.size)), np.empty((0, len(told)))
    done = 0
    while done < budget:
        n = min(size, budget - done)
        if not len(population):  # the first generation: the start and the initial sample
            cands = _bounce(centre + sigma * rng.standard_normal((n, lo.size)), lo, hi)
            cands[0] = np.clip(start, lo, hi)
        else:
            if multi:  # a member is on the front unless a front point dominates it
                no_worse = np.all(front_loss[None] <= losses[:, None], axis=2)
                somewhere_better = np.any(front_loss[None] < losses[:, None], axis=2)
                on_front = ~np.any(no_worse & somewhere_better, axis=1)
            x = population[:n]
            if multi and len(front) > 2:  # two distinct Pareto points per member
                ia = rng.integers(len(front), size=n)
                ib = rng.integers(len(front) - 1, size=n)
                a, b = front[ia], front[ib + (ib >= ia)]
            else:
                a, b = population[rng.integers(len(population), size=(2, n))]
            if multi:
                other = front[rng.integers(len(front), size=n)]
                best = np.where(on_front[:n, None], x, other)
            else:
                best = front[[0]]
            donor = x + DE_F1 * (a - b) + DE_F2 * (best - x)
            cands = _bounce(two_point_crossover(rng, donor, x), lo, hi)
        out = obj.objectives(cands, rows)
        loss = np.column_stack([out[c] for c in told])
        if not len(population):
            population, losses = cands.copy(), loss.copy()
        else:
            if len(told) > 1:
                better = (loss < losses[:n]).mean(axis=1) > rng.uniform(size=n)
            else:
                better = loss[:, 0] <= losses[:n, 0]
            population[:n][better], losses[:n][better] = cands[better], loss[better]
        front, front_loss = np.vstack([front, cands]), np.vstack([front_loss, loss])
        keep = pareto_mask(front_loss) if multi else np.arange(len(front)) == np.argmin(front_loss)
        front, front_loss = front[keep], front_loss[keep]
        hs.append(cands)
        values.append(out)
        done += n
    h = np.concatenate(hs)
    table = pd.DataFrame(
        {
            "trial": 0,
            "step": np.arange(len(h)),
            **{c: np.concatenate([v[c] for v in values]) for c in obj.objective_names},
        }
    )
    table["h"] = list(h)
    return table


def reselect(
    obj: Objective,
    pool: np.ndarray,
    features: tuple[np.ndarray, np.ndarray],
    rows: np.ndarray,
    columns: list[str],
    batch_size: int,
) -> int:
    """Row of ``pool`` (candidates, :func:`contenders`) that the selection rule picks when every
    candidate is refitted on ``rows``: the lowest objective, or the Pareto point closest to the
    origin after scaling over the front (:func:`select`'s rule). ``features`` is
    ``obj.features(pool)``, which the rows do not change."""
    values = []
    for s in range(0, len(pool), batch_size):
        cut = slice(s, s + batch_size)
        out = obj.objectives(pool[cut], rows, (features[0][cut], features[1][cut]))
        values.append(np.column_stack([out[c] for c in columns]))
    pts = np.concatenate(values)
    if len(columns) == 1:
        return int(np.argmin(pts[:, 0]))
    front = np.flatnonzero(pareto_mask(pts))
    return int(front[np.argmin(selection_distance(pts[front], pts[front]))])


def bounds_vectors(cfg: FrequentistConfig, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    names = (*adstock_params(cfg.adstock), "slope", "gamma")
    lo = np.concatenate(
        [np.full(n_channels, getattr(cfg.bounds, n)[0]) for n in names]
        + [[cfg.bounds.log10_lambda[0]]]
    )
    hi = np.concatenate(
        [np.full(n_channels, getattr(cfg.bounds, n)[1]) for n in names]
        + [[cfg.bounds.log10_lambda[1]]]
    )
    return lo, hi


def run_search(
    obj: Objective,
    cfg: FrequentistConfig,
    seed: int,
    budget: int,
    rows: np.ndarray | None = None,
    start: np.ndarray | None = None,
    trial: int = 0,
) -> pd.DataFrame:
    """One Nevergrad trial: ``budget`` evaluations asked/told in batches of ``cfg.batch_size``.

    Returns one row per evaluation: trial, step, the objectives (:attr:`Objective.objective_names`)
    and the hyperparameters ``h``; Nevergrad is told those of :func:`objective_columns`.
    """
    import nevergrad as ng

    lo, hi = bounds_vectors(cfg, obj.n_channels)
    param = ng.p.Array(init=(lo + hi) / 2, lower=lo, upper=hi)
    param.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.registry[cfg.optimizer](
        parametrization=param, budget=budget, num_workers=cfg.batch_size
    )
    if start is not None:
        opt.suggest(np.clip(start, lo, hi))
    told = objective_columns(cfg.objective, obj.lift is not None)
    hs, values = [], []
    done = 0
    while done < budget:
        cands = [opt.ask() for _ in range(min(cfg.batch_size, budget - done))]
        h = np.stack([c.value for c in cands])
        out = obj.objectives(h, rows)
        loss = np.column_stack([out[c] for c in told])
        for cand, v in zip(cands, loss, strict=True):
            opt.tell(cand, [float(a) for a in v] if len(told) > 1 else float(v[0]))
        hs.append(h)
        values.append(out)
        done += len(cands)
    h = np.concatenate(hs)
    table = pd.DataFrame(
        {
            "trial": trial,
            "step": np.arange(len(h)),
            **{c: np.concatenate([v[c] for v in values]) for c in obj.objective_names},
        }
    )
    table["h"] = list(h)
    return table


def search(obj: Objective, cfg: FrequentistConfig, rng: np.random.Generator) -> pd.DataFrame:
    """All trials' evaluations, with the Pareto front flagged and the chosen row marked."""
    seeds = rng.integers(0, 2**31 - 1, size=cfg.trials)
    evals = pd.concat(
        [run_search(obj, cfg, int(s), cfg.budget, trial=t) for t, s in enumerate(seeds)],
        ignore_index=True,
    )
    columns = objective_columns(cfg.objective, obj.lift is not None)
    mark_front(evals, columns)
    evals["chosen"] = False
    evals.loc[select(evals, cfg.objective, columns), "chosen"] = True
    return evals


def trial_converged(evals: pd.DataFrame, tol: float) -> dict[str, Any]:
    """Best NRMSE at 80% of each trial's budget vs at the end: converged if within ``tol``."""
    per_trial = {}
    for t, g in evals.groupby("trial"):
        best = g["nrmse"].cummin().to_numpy()
        at80 = best[int(0.8 * (len(best) - 1))]
        per_trial[int(t)] = float((at80 - best[-1]) / best[-1])
    return {"late_improvement": per_trial, "converged": all(v < tol for v in per_trial.values())}


def bootstrap_summary(
    cfg: FrequentistConfig, h_best: np.ndarray, chosen: list[np.ndarray]
) -> dict[str, Any]:
    """How far the bootstrap's chosen models are from the point estimate's: the method, the
    distinct models chosen, the share of replicates that chose the point estimate's own
    hyperparameters (1 means the interval holds them fixed: a Ridge-only interval), and the
    median over replicates of the largest move of one hyperparameter, as a share of its search
    range."""
    if not chosen:
        return {"method": cfg.bootstrap.method, "distinct": 0}
    lo, hi = bounds_vectors(cfg, (len(h_best) - 1) // (len(adstock_params(cfg.adstock)) + 2))
    h = np.stack(chosen)
    move = (np.abs(h - h_best) / (hi - lo)).max(axis=1)
    return {
        "method": cfg.bootstrap.method,
        "distinct": int(len(np.unique(h, axis=0))),
        "at_point": float(np.mean(move == 0)),
        "median_move": float(np.median(move)),
    }
