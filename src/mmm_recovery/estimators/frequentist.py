"""Robyn-style frequentist MMM: Nevergrad search over adstock/saturation hyperparameters around a
non-negative Ridge regression, with block-bootstrap intervals and rolling-origin validation.

Model (per candidate hyperparameters ``h``)::

    y_t = b0 + sum_c beta_c * hill(adstock_c(spend_c)_t; slope_c, kappa_c) + Z_t gamma + e_t

* adstock: geometric (``alpha``, default) or Weibull CDF/PDF (``shape``, ``scale`` in weeks), with
  ``l_max`` weights, normalised to sum to 1 by default (the truth's and PyMC-Marketing's
  convention, so saturation parameters are in units of weekly spend);
* saturation: Hill. As in Robyn, the search works on ``gamma`` in [0, 1] and the half-saturation
  point is ``kappa_c = min + gamma_c * (max - min)`` of the channel's adstocked training spend;
  results report ``kappa`` in currency;
* ``Z``: controls, a 0-1 trend and yearly Fourier terms (order from the config);
* Ridge: ``(1/n) RSS + lambda * sum_j var_j * b_j**2`` (penalty on standardised coefficients,
  intercept free; ``lambda`` is scale-free and searched on log10 scale), solved in closed form.

Non-negative media coefficients are a **real constraint**, not a penalty: inside the search a
batched active-set iteration fixes negative media coefficients at 0 and re-solves (what NNLS's
inner loop does; it is exact unless a dropped coefficient would re-enter, which the final fit
rules out), and the final and bootstrap fits use ``scipy.optimize.lsq_linear`` (bounded-variable
least squares) on the ridge-augmented system, which is the exact constrained optimum. A penalty
(as in the seed notebook) changes the objective's surface and lets small negative effects through.

Search: Nevergrad (optimiser by name, default ``TwoPointsDE``), ``budget`` evaluations per trial,
``trials`` independent trials, candidates asked and evaluated in batches (the objective is
vectorised over a batch). Objectives: ``nrmse`` (Robyn's NRMSE = RMSE / range(y)) or
``nrmse+decomp_rssd`` (multi-objective with Robyn's DECOMP.RSSD, the distance between each
channel's share of effect and share of spend). Calibration: given lift tests (``calibrate``, on
by default), Robyn's MAPE.LIFT is one more objective -- the mean absolute relative error of the
model's lift against each measured lift: the steady-state ``beta_c * (hill((x + delta_x) S) -
hill(x S))`` with ``S`` the sum of the adstock weights (1 when normalised), or for a test of a
given length the mean over its weeks from steady state.
Selection rule: among the Pareto-optimal evaluations of all trials, scale each objective to
[0, 1] over the front and pick the point closest to the origin (for ``nrmse`` without lift
tests: the lowest NRMSE).

Uncertainty: a moving-block bootstrap of training weeks (weeks are autocorrelated); each
replicate re-runs a short search started from the chosen point and refits; intervals are
percentiles. Validation: rolling-origin CV with the chosen hyperparameters, and the holdout.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.optimize import lsq_linear

from mmm_recovery import io, transforms
from mmm_recovery.estimators.base import Estimator, EstimatorConfig
from mmm_recovery.estimators.registry import register
from mmm_recovery.response import ChannelResponse
from mmm_recovery.results import (
    EstimatorResult,
    FitInput,
    check_fit_input,
    fit_metrics,
    summarize_draws,
)
from mmm_recovery.simulate import fourier_features

ADSTOCK_PARAMS = {
    "geometric": ("alpha",),
    "weibull_cdf": ("shape", "scale"),
    "weibull_pdf": ("shape", "scale"),
}


class SearchBounds(EstimatorConfig):
    """Search bounds (lower, upper) of each hyperparameter."""

    alpha: tuple[float, float] = Field(
        (0.0, 0.95), description="Geometric retention. Default [0, 0.95]."
    )
    shape: tuple[float, float] = Field((0.2, 10.0), description="Weibull shape. Default [0.2, 10].")
    scale: tuple[float, float] = Field(
        (0.5, 12.0), description="Weibull scale, weeks. Default [0.5, 12]."
    )
    slope: tuple[float, float] = Field((0.5, 3.0), description="Hill exponent. Default [0.5, 3].")
    gamma: tuple[float, float] = Field(
        (0.3, 1.0), description="Hill kappa as a share of the adstocked range. Default [0.3, 1]."
    )
    log10_lambda: tuple[float, float] = Field(
        (-6.0, 0.0), description="log10 of the Ridge penalty. Default [-6, 0]."
    )

    @model_validator(mode="after")
    def _ordered(self) -> SearchBounds:
        for name in type(self).model_fields:
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"bounds.{name}: lower {lo} must be < upper {hi}")
        if self.alpha[0] < 0 or self.alpha[1] >= 1:
            raise ValueError(f"bounds.alpha must lie in [0, 1); got {self.alpha}")
        if min(self.shape[0], self.scale[0], self.slope[0], self.gamma[0]) <= 0:
            raise ValueError("bounds.shape, scale, slope and gamma must be > 0")
        return self


class BootstrapConfig(EstimatorConfig):
    """Moving-block bootstrap of training weeks."""

    replicates: int = Field(
        100, ge=0, le=10000, description="Bootstrap replicates (0 = no intervals). Default 100."
    )
    block_weeks: int = Field(8, ge=1, description="Block length in weeks. Default 8.")
    level: float = Field(0.9, gt=0.0, lt=1.0, description="Interval level. Default 0.9.")
    budget: int = Field(300, ge=10, description="Search evaluations per replicate. Default 300.")


class CVConfig(EstimatorConfig):
    """Rolling-origin (expanding window) time-series cross-validation within the training weeks."""

    initial_train_weeks: int = Field(
        52, ge=8, description="Weeks in the first training window. Default 52."
    )
    test_weeks: int = Field(13, ge=1, description="Weeks in each test window. Default 13.")
    step_weeks: int = Field(
        13, ge=1, description="Weeks the origin moves between folds. Default 13."
    )


class FrequentistConfig(EstimatorConfig):
    """Settings of the frequentist estimator (``estimators.frequentist`` in a study YAML)."""

    adstock: Literal["geometric", "weibull_cdf", "weibull_pdf"] = Field(
        "geometric", description="Default geometric."
    )
    l_max: int = Field(12, ge=1, le=104, description="Adstock weights. Default 12.")
    normalize_adstock: bool = Field(True, description="Adstock weights sum to 1. Default true.")
    yearly_seasonality: int = Field(2, ge=0, le=10, description="Fourier order. Default 2.")
    trend: bool = Field(True, description="Include a 0-1 linear trend. Default true.")
    optimizer: str = Field(
        "TwoPointsDE", description="Nevergrad optimiser name. Default TwoPointsDE."
    )
    budget: int = Field(2000, ge=20, description="Evaluations per trial. Default 2000.")
    trials: int = Field(3, ge=1, le=100, description="Independent trials. Default 3.")
    batch_size: int = Field(
        32, ge=1, le=1024, description="Candidates evaluated per vectorised call. Default 32."
    )
    objective: Literal["nrmse", "nrmse+decomp_rssd"] = Field(
        "nrmse+decomp_rssd", description="Default multi-objective."
    )
    calibrate: bool = Field(
        True,
        description="With the data's lift tests, add Robyn's MAPE.LIFT (mean absolute relative "
        "error of the model's lift against each measured lift: the steady-state lift, or for a "
        "test of a given length, weeks, the mean lift over its weeks from steady state) to the "
        "objectives; false ignores them. Default true.",
    )
    bounds: SearchBounds = Field(default_factory=SearchBounds, description="Search bounds.")
    bootstrap: BootstrapConfig = Field(
        default_factory=BootstrapConfig, description="Bootstrap settings."
    )
    cv: CVConfig = Field(default_factory=CVConfig, description="Time-series CV settings.")
    convergence_tol: float = Field(
        0.01,
        gt=0.0,
        description="Converged if best NRMSE improved < this (relative) over the last 20% of each trial. Default 0.01.",
    )

    @model_validator(mode="after")
    def _known_optimizer(self) -> FrequentistConfig:
        import nevergrad as ng

        if self.optimizer not in ng.optimizers.registry:
            raise ValueError(
                f"optimizer {self.optimizer!r} is not a Nevergrad optimiser (e.g. TwoPointsDE, NGOpt, CMA)"
            )
        return self


# ---------------------------------------------------------------------------------- objective
@dataclass
class Objective:
    """Vectorised Robyn objective over a batch of hyperparameter vectors.

    A hyperparameter vector is ``[adstock params (C each) | slope (C) | gamma (C) | log10_lambda]``.
    """

    spend: np.ndarray  # (T, C) currency
    other: np.ndarray  # (T, K) controls, trend, Fourier
    y: np.ndarray  # (T,)
    rows: np.ndarray  # training rows used in the fit
    family: str
    l_max: int
    normalize: bool
    #: lift tests (channel index, x, x + delta_x, delta_y, weeks: NaN for steady state), or None
    lift: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def objective_names(self) -> list[str]:
        """Columns :meth:`objectives` returns: NRMSE, DECOMP.RSSD and, with lift tests, MAPE.LIFT."""
        return ["nrmse", "decomp_rssd", *(["mape_lift"] if self.lift is not None else [])]

    @property
    def n_channels(self) -> int:
        return self.spend.shape[1]

    @property
    def n_params(self) -> int:
        return self.n_channels * (len(ADSTOCK_PARAMS[self.family]) + 2) + 1

    def decode(self, h: np.ndarray) -> dict[str, np.ndarray]:
        """Split (B, n_params) into named (B, C) blocks and ``lambda`` (B,)."""
        h = np.atleast_2d(h)
        c = self.n_channels
        names = (*ADSTOCK_PARAMS[self.family], "slope", "gamma")
        out = {name: h[:, i * c : (i + 1) * c] for i, name in enumerate(names)}
        out["lambda"] = 10.0 ** h[:, -1]
        return out

    def features(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Saturated media (B, T, C) in [0, 1) and the Hill kappa in currency (B, C)."""
        p = self.decode(h)
        ad_params = {k: p[k] for k in ADSTOCK_PARAMS[self.family]}
        w = transforms.adstock_weights(self.family, ad_params, self.l_max, self.normalize)
        ad = transforms.convolve_adstock(self.spend, w)
        train = ad[:, self.train_rows_for_range, :]
        lo, hi = train.min(axis=1), train.max(axis=1)
        kappa = lo + p["gamma"] * (hi - lo)
        return transforms.hill_saturation(ad, p["slope"][:, None, :], kappa[:, None, :]), kappa

    @property
    def train_rows_for_range(self) -> np.ndarray:
        return np.arange(self.rows.max() + 1)

    def design(self, sat: np.ndarray) -> np.ndarray:
        """(B, T, C + K): media features then the other regressors."""
        other = np.broadcast_to(self.other, (sat.shape[0], *self.other.shape))
        return np.concatenate([sat, other], axis=2)

    def solve(
        self, design: np.ndarray, lam: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batched ridge with non-negative media coefficients (active set). Returns (coef (B, P), intercept (B,))."""
        d = design[:, rows, :]
        y = self.y[rows]
        n = len(rows)
        mean = d.mean(axis=1)
        dc = d - mean[:, None, :]
        yc = y - y.mean()
        var = (dc**2).mean(axis=1)
        var = np.where(var > 0, var, 1.0)
        gram = np.matmul(dc.transpose(0, 2, 1), dc)
        rhs = np.matmul(yc, dc)
        idx = np.arange(gram.shape[1])
        gram[:, idx, idx] += n * lam[:, None] * var
        c = self.n_channels
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        free = np.ones(rhs.shape, dtype=bool)
        todo = np.flatnonzero((coef[:, :c] < 0).any(axis=1))
        for _ in range(c):  # active set: only candidates with a negative media coefficient re-solve
            if todo.size == 0:
                break
            free[todo, :c] &= ~(coef[todo, :c] < 0)
            f = free[todo]
            g = np.where(f[:, :, None] & f[:, None, :], gram[todo], 0.0)
            g[:, idx, idx] += ~f
            coef[todo] = np.linalg.solve(g, np.where(f, rhs[todo], 0.0)[..., None])[..., 0]
            todo = todo[((coef[todo, :c] < 0) & f[:, :c]).any(axis=1)]
        coef[:, :c] = np.maximum(coef[:, :c], 0.0)
        intercept = y.mean() - np.einsum("bp,bp->b", mean, coef)
        return coef, intercept

    def losses(
        self, h: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(NRMSE, DECOMP.RSSD) per candidate, each of shape (B,)."""
        out = self.objectives(h, rows)
        return out["nrmse"], out["decomp_rssd"]

    def objectives(self, h: np.ndarray, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """:attr:`objective_names` -> its value per candidate, shape (B,)."""
        rows = self.rows if rows is None else rows
        sat, kappa = self.features(h)
        design = self.design(sat)
        coef, intercept = self.solve(design, self.decode(h)["lambda"], rows)
        nrmse, rssd = self._losses(design, coef, intercept, rows)
        out = {"nrmse": nrmse, "decomp_rssd": rssd}
        if self.lift is not None:
            out["mape_lift"] = self.mape_lift(h, kappa, coef)
        return out

    def mape_lift(self, h: np.ndarray, kappa: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """Robyn's MAPE.LIFT per candidate (B,): mean over the lift tests of
        ``|model lift - measured lift| / |measured lift|``. The model's lift is the change of its
        steady-state weekly response, ``beta_c * hill(x * sum(w_c))`` at constant spend, or for a
        test of ``weeks`` weeks the mean change over them from steady state: in test week ``t``
        the adstocked spend is ``x * sum(w_c) + delta_x * sum_{j<t} w_cj``."""
        assert self.lift is not None
        idx, x, x_after, dy, weeks = self.lift
        p = self.decode(h)
        ad_params = {k: p[k] for k in ADSTOCK_PARAMS[self.family]}
        w = transforms.adstock_weights(self.family, ad_params, self.l_max, self.normalize)
        wsum = w.sum(axis=-2)[:, idx]  # (B, l_max, C) -> (B, tests)
        slope, kap, beta = p["slope"][:, idx], kappa[:, idx], coef[:, idx]
        before = transforms.hill_saturation(x * wsum, slope, kap)
        model = beta * (transforms.hill_saturation(x_after * wsum, slope, kap) - before)
        timed = np.isfinite(weeks)
        if timed.any():
            n = weeks[timed].astype(int)
            longest = int(n.max())
            lags = np.minimum(np.arange(1, longest + 1), self.l_max) - 1  # (t,) last lag reached
            built = np.cumsum(w, axis=-2)[:, lags][:, :, idx[timed]]  # (B, t, tests)
            dx = (x_after - x)[timed]
            during = transforms.hill_saturation(
                (x * wsum)[:, None, timed] + dx * built, slope[:, None, timed], kap[:, None, timed]
            )
            share = (np.arange(longest)[:, None] < n[None, :]) / n[None, :]  # (t, tests)
            change = ((during - before[:, None, timed]) * share).sum(axis=1)
            model[:, timed] = beta[:, timed] * change
        return np.mean(np.abs(model - dy) / np.abs(dy), axis=1)

    def _losses(self, design, coef, intercept, rows):
        d = design[:, rows, :]
        y = self.y[rows]
        yhat = intercept[:, None] + np.einsum("bnp,bp->bn", d, coef)
        nrmse = np.sqrt(np.mean((y - yhat) ** 2, axis=1)) / (y.max() - y.min())
        c = self.n_channels
        effect = coef[:, :c] * d[:, :, :c].sum(axis=1)
        total = effect.sum(axis=1, keepdims=True)
        eff_share = np.divide(effect, total, out=np.zeros_like(effect), where=total > 0)
        spend = self.spend[rows].sum(axis=0)
        spend_share = spend / spend.sum()
        rssd = np.sqrt(((eff_share - spend_share) ** 2).sum(axis=1))
        return nrmse, rssd

    def exact_fit(self, h: np.ndarray, rows: np.ndarray | None = None) -> dict[str, Any]:
        """The exact bounded ridge fit (``lsq_linear``, BVLS) for one hyperparameter vector."""
        rows = self.rows if rows is None else rows
        h = np.atleast_2d(h)
        sat, kappa = self.features(h)
        design = self.design(sat)[0]
        lam = float(self.decode(h)["lambda"][0])
        d = design[rows]
        y = self.y[rows]
        n, p = d.shape
        mean = d.mean(axis=0)
        dc = d - mean
        var = (dc**2).mean(axis=0)
        var = np.where(var > 0, var, 1.0)
        a = np.vstack([dc, np.diag(np.sqrt(n * lam * var))])
        b = np.concatenate([y - y.mean(), np.zeros(p)])
        lower = np.full(p, -np.inf)
        lower[: self.n_channels] = 0.0
        sol = lsq_linear(a, b, bounds=(lower, np.full(p, np.inf)), method="bvls")
        coef = sol.x
        intercept = float(y.mean() - mean @ coef)
        nrmse, rssd = self._losses(design[None], coef[None], np.array([intercept]), rows)
        out = {
            "coef": coef,
            "intercept": intercept,
            "design": design,
            "kappa": kappa[0],
            "yhat": intercept + design @ coef,
            "nrmse": float(nrmse[0]),
            "rssd": float(rssd[0]),
        }
        if self.lift is not None:
            out["mape_lift"] = float(self.mape_lift(h, kappa, coef[None])[0])
        return out


def _reference_free_loss(obj: Objective, h: np.ndarray) -> float:  # pragma: no cover - doc helper
    return float(obj.losses(h)[0][0])


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
    names = (*ADSTOCK_PARAMS[cfg.adstock], "slope", "gamma")
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


def block_bootstrap_rows(rng: np.random.Generator, n: int, block: int) -> np.ndarray:
    """Moving-block bootstrap: concatenate random blocks of ``block`` consecutive weeks, cut to ``n``."""
    block = min(block, n)
    starts = rng.integers(0, n - block + 1, size=int(np.ceil(n / block)))
    return (starts[:, None] + np.arange(block)).ravel()[:n]


def cv_folds(n_train: int, cfg: CVConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds ``(train_rows, test_rows)`` inside the first ``n_train`` weeks."""
    folds = []
    end = cfg.initial_train_weeks
    while end + cfg.test_weeks <= n_train:
        folds.append((np.arange(end), np.arange(end, end + cfg.test_weeks)))
        end += cfg.step_weeks
    return folds


# ---------------------------------------------------------------------------------- estimator
@register
class FrequentistMMM(Estimator):
    """Robyn-style MMM (module docstring). Lookup name ``frequentist``."""

    name = "frequentist"
    Config = FrequentistConfig

    @property
    def interval_level(self) -> float:
        return self.config.bootstrap.level

    def objective(self, fit_input: FitInput) -> Objective:
        cfg = self.config
        data = fit_input.data
        n = len(data)
        other = [data[fit_input.controls].to_numpy(dtype=float)]
        if cfg.trend:
            other.append((np.arange(n) / max(n - 1, 1))[:, None])
        other.append(
            fourier_features(pd.DatetimeIndex(data[fit_input.date]), cfg.yearly_seasonality)
        )
        lift = None
        tests = fit_input.lift_tests
        if cfg.calibrate and len(tests):
            x = tests["x"].to_numpy(dtype=float)
            lift = (
                np.array([fit_input.channels.index(c) for c in tests["channel"]]),
                x,
                x + tests["delta_x"].to_numpy(dtype=float),
                tests["delta_y"].to_numpy(dtype=float),
                io.lift_test_weeks(tests),
            )
        return Objective(
            spend=fit_input.spend,
            other=np.hstack(other),
            y=data[fit_input.target].to_numpy(dtype=float),
            rows=np.arange(fit_input.n_train),
            family=cfg.adstock,
            l_max=cfg.l_max,
            normalize=cfg.normalize_adstock,
            lift=lift,
        )

    def other_names(self, fit_input: FitInput) -> list[str]:
        names = list(fit_input.controls) + (["trend"] if self.config.trend else [])
        for k in range(1, self.config.yearly_seasonality + 1):
            names += [f"sin_{k}", f"cos_{k}"]
        return names

    def responses(
        self, obj: Objective, h: np.ndarray, fit: dict[str, Any], channels: list[str]
    ) -> dict[str, ChannelResponse]:
        p = obj.decode(h)
        out = {}
        for i, c in enumerate(channels):
            out[c] = ChannelResponse(
                adstock_family=obj.family,
                adstock_params={k: float(p[k][0, i]) for k in ADSTOCK_PARAMS[obj.family]},
                l_max=obj.l_max,
                normalize=obj.normalize,
                saturation_family="hill",
                saturation_params={
                    "slope": float(p["slope"][0, i]),
                    "kappa": float(fit["kappa"][i]),
                },
                beta=float(fit["coef"][i]),
            )
        return out

    def fit(self, fit_input: FitInput, rng: np.random.Generator) -> EstimatorResult:
        cfg = self.config
        t0 = time.perf_counter()
        check_fit_input(fit_input, l_max=cfg.l_max, min_test_weeks=cfg.cv.test_weeks)
        obj = self.objective(fit_input)
        search_rng, boot_rng = rng.spawn(2)
        evals = search(obj, cfg, search_rng)
        chosen = int(evals.index[evals["chosen"]][0])
        h_best = np.asarray(evals.at[chosen, "h"])
        fit = obj.exact_fit(h_best)
        point = self.responses(obj, h_best, fit, fit_input.channels)

        y = obj.y
        n_train = fit_input.n_train
        fit_stats = {"in_sample": fit_metrics(y[:n_train], fit["yhat"][:n_train])}
        if fit_input.holdout_weeks:
            fit_stats["holdout"] = fit_metrics(y[n_train:], fit["yhat"][n_train:])
        folds = []
        for k, (tr, te) in enumerate(cv_folds(n_train, cfg.cv)):
            # the fold's own Objective: Hill kappa from the fold's training weeks only. The
            # hyperparameters stay those chosen on all training weeks (no re-search per fold),
            # so these scores are somewhat optimistic; the holdout is the clean check.
            f = dataclasses.replace(obj, rows=tr).exact_fit(h_best)
            folds.append(
                {
                    "fold": k,
                    "train_end": int(tr[-1]) + 1,
                    **{f"train_{m}": v for m, v in fit_metrics(y[tr], f["yhat"][tr]).items()},
                    **{f"test_{m}": v for m, v in fit_metrics(y[te], f["yhat"][te]).items()},
                }
            )
        cv_table = pd.DataFrame(folds)
        if not len(cv_table):
            fit_stats["cv"] = {
                "folds": 0,
                "note": f"no fold: initial_train_weeks ({cfg.cv.initial_train_weeks}) + test_weeks "
                f"({cfg.cv.test_weeks}) exceed the {n_train} training weeks",
            }
        else:
            fit_stats["cv"] = {
                "folds": len(cv_table),
                **{
                    c: float(cv_table[c].mean())
                    for c in cv_table.columns
                    if c.startswith(("train_", "test_"))
                },
            }

        boot_rows, draws = [], {c: [] for c in fit_input.channels}
        for b in range(cfg.bootstrap.replicates):
            r_rng = np.random.default_rng(boot_rng.integers(2**63))
            rows = block_bootstrap_rows(r_rng, n_train, cfg.bootstrap.block_weeks)
            ev = run_search(
                obj,
                cfg,
                int(r_rng.integers(2**31 - 1)),
                cfg.bootstrap.budget,
                rows=rows,
                start=h_best,
            )
            columns = objective_columns(cfg.objective, obj.lift is not None)
            hb = np.asarray(ev.at[select(mark_front(ev, columns), cfg.objective, columns), "h"])
            fb = obj.exact_fit(hb, rows=rows)
            for c, r in self.responses(obj, hb, fb, fit_input.channels).items():
                draws[c].append(r)
            boot_rows.append(
                {
                    "replicate": b,
                    "nrmse": fb["nrmse"],
                    "decomp_rssd": fb["rssd"],
                    **({"mape_lift": fb["mape_lift"]} if obj.lift is not None else {}),
                    "h": hb,
                }
            )
        if not cfg.bootstrap.replicates:
            draws = {c: [point[c]] for c in fit_input.channels}
        channels = summarize_draws(draws, fit_input, cfg.bootstrap.level, "percentile", point=point)

        lo, hi = bounds_vectors(cfg, obj.n_channels)
        at_bound = (np.abs(h_best - lo) < 0.01 * (hi - lo)) | (
            np.abs(h_best - hi) < 0.01 * (hi - lo)
        )
        names = self.param_names(fit_input.channels)
        conv = trial_converged(evals, cfg.convergence_tol)
        diagnostics = {
            **conv,
            "evaluations": len(evals),
            "pareto_size": int(evals["pareto"].sum()),
            **({"lift_tests": len(obj.lift[0])} if obj.lift is not None else {}),
            "chosen": {
                "nrmse": fit["nrmse"],
                "decomp_rssd": fit["rssd"],
                **({"mape_lift": fit["mape_lift"]} if obj.lift is not None else {}),
                "lambda": float(10 ** h_best[-1]),
                "hyperparameters": dict(zip(names, h_best.tolist(), strict=True)),
            },
            "at_search_bound": [n for n, b in zip(names, at_bound, strict=True) if b],
            "bootstrap_replicates": cfg.bootstrap.replicates,
            "coefficients": {
                "intercept": fit["intercept"],
                **dict(
                    zip(
                        fit_input.channels + self.other_names(fit_input),
                        fit["coef"].tolist(),
                        strict=True,
                    )
                ),
            },
        }
        tables = {
            "evaluations": self._flatten(evals, names),
            "cv": cv_table,
            "fitted": pd.DataFrame(
                {
                    "date": fit_input.data[fit_input.date],
                    "y": y,
                    "yhat": fit["yhat"],
                    "split": np.where(np.arange(len(y)) < n_train, "train", "holdout"),
                }
            ),
            "decomposition": self._decomposition(fit_input, fit),
        }
        if boot_rows:
            tables["bootstrap"] = self._flatten(pd.DataFrame(boot_rows), names)
        return EstimatorResult(
            estimator=self.name,
            channels=channels,
            fit=fit_stats,
            diagnostics=diagnostics,
            interval={"level": cfg.bootstrap.level, "kind": "percentile-block-bootstrap"},
            runtime_seconds=time.perf_counter() - t0,
            tables=tables,
        )

    def param_names(self, channels: list[str]) -> list[str]:
        names = [
            f"{p}_{c}"
            for p in (*ADSTOCK_PARAMS[self.config.adstock], "slope", "gamma")
            for c in channels
        ]
        return names + ["log10_lambda"]

    @staticmethod
    def _flatten(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        h = pd.DataFrame(np.stack(df["h"].to_numpy()), columns=names, index=df.index)
        return pd.concat([df.drop(columns="h"), h], axis=1)

    def _decomposition(self, fit_input: FitInput, fit: dict[str, Any]) -> pd.DataFrame:
        d, coef = fit["design"], fit["coef"]
        c = len(fit_input.channels)
        out = pd.DataFrame({"date": fit_input.data[fit_input.date], "intercept": fit["intercept"]})
        for i, name in enumerate(fit_input.channels + self.other_names(fit_input)):
            out[name] = d[:, i] * coef[i]
        out.attrs["media"] = fit_input.channels[:c]
        return out
