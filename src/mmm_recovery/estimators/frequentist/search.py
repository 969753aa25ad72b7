"""The Nevergrad search and Robyn's model selection: Pareto front over the objectives, the
documented selection rule, and each trial's convergence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.estimators.frequentist.config import FrequentistConfig, adstock_params
from mmm_recovery.estimators.frequentist.objective import Objective


# ------------------------------------------------------------------------------------ search
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
    for i in range(n):
        dominated = np.all(points <= points[i], axis=1) & np.any(points < points[i], axis=1)
        keep[i] = not dominated.any()
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


def select(evals: pd.DataFrame, objective: str, columns: list[str] | None = None) -> int:
    """Index (label) of the chosen evaluation: lowest NRMSE for a single objective, else the
    Pareto point (``pareto`` column) closest to the origin after scaling each objective in
    ``columns`` (default: ``objective``'s) to [0, 1] over the front."""
    columns = columns or objective_columns(objective, False)
    if len(columns) == 1:
        return int(evals[columns[0]].idxmin())
    front = evals[evals["pareto"]]
    pts = front[columns].to_numpy()
    span = pts.max(axis=0) - pts.min(axis=0)
    scaled = (pts - pts.min(axis=0)) / np.where(span > 0, span, 1.0)
    dist = np.hypot(*scaled.T) if len(columns) == 2 else np.linalg.norm(scaled, axis=1)
    return int(front.index[np.argmin(dist)])


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
