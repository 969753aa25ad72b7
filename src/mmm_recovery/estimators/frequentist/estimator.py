"""Robyn-style frequentist MMM (the composition root: :mod:`.config`, :mod:`.objective`,
:mod:`.search` and :mod:`.resampling` do the work): Nevergrad search over adstock/saturation hyperparameters around a
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

Uncertainty: a moving-block bootstrap of training weeks (weeks are autocorrelated); intervals
are percentiles. Each replicate re-applies the model choice on the resampled weeks
(``bootstrap.method``):

* ``de`` (default): a re-search of ``bootstrap.budget`` evaluations started from the chosen
  point, as Nevergrad's ``TwoPointsDE`` runs it (:func:`.search.de_search`: the same population,
  initial sample, mutation, two-point crossover, bounds and multi-objective replacement), in
  NumPy with one objective call per generation instead of Nevergrad's per-candidate objects;
  then the selection rule over its evaluations. The interval carries the sampling error of the
  coefficients and of the re-search's choice, and the re-search's own noise: it is the interval
  ``research`` gave, measured so on the same datasets
  (``docs/benchmarks/bootstrap_coverage.md``).
* ``research``: the same with Nevergrad itself and the search's ``optimizer``. At budgets <= 150
  it returns the start in most replicates (a Ridge-only interval).
* ``reselect``: no search; the search's ``bootstrap.candidates`` most competitive distinct models
  (by the selection rule's score) are refitted on the resampled weeks and the rule picks one. No
  optimiser noise and no model the search did not visit: narrower, and it covers less.

Every fit reports ``bootstrap`` in its diagnostics: the method, the distinct models its
replicates chose, the share that chose the point estimate's own hyperparameters (1 means a
Ridge-only interval) and the median largest move of one hyperparameter (share of its range).

Validation: rolling-origin CV with the chosen hyperparameters, and the holdout.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.estimates import Diagnostics, FitStats
from mmm_recovery.core.response import ChannelResponse
from mmm_recovery.core.results import (
    EstimatorResult,
    FitInput,
    check_fit_input,
    fit_metrics,
    summarize_draws,
)
from mmm_recovery.estimators.base import Estimator
from mmm_recovery.estimators.frequentist.config import FrequentistConfig, adstock_params
from mmm_recovery.estimators.frequentist.objective import Objective
from mmm_recovery.estimators.frequentist.resampling import block_bootstrap_rows, cv_folds
from mmm_recovery.estimators.frequentist.search import (
    bootstrap_summary,
    bounds_vectors,
    contenders,
    de_search,
    mark_front,
    objective_columns,
    reselect,
    run_search,
    search,
    select,
    trial_converged,
)
from mmm_recovery.families import transforms


# ---------------------------------------------------------------------------------- estimator
class FrequentistMMM(Estimator):
    """Robyn-style MMM (module docstring). Lookup name ``frequentist``."""

    name = "frequentist"
    Config = FrequentistConfig
    config: FrequentistConfig

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
            transforms.fourier_features(
                pd.DatetimeIndex(data[fit_input.date]), cfg.yearly_seasonality
            )
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
                files.lift_test_weeks(tests),
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
                adstock_params={k: float(p[k][0, i]) for k in adstock_params(obj.family)},
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
        in_sample = fit_metrics(y[:n_train], fit["yhat"][:n_train])
        holdout = (
            fit_metrics(y[n_train:], fit["yhat"][n_train:]) if fit_input.holdout_weeks else None
        )
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
                    **{
                        f"train_{m}": v
                        for m, v in fit_metrics(y[tr], f["yhat"][tr]).to_dict().items()
                    },
                    **{
                        f"test_{m}": v
                        for m, v in fit_metrics(y[te], f["yhat"][te]).to_dict().items()
                    },
                }
            )
        cv_table = pd.DataFrame(folds)
        cv: dict[str, Any]
        if not len(cv_table):
            cv = {
                "folds": 0,
                "note": f"no fold: initial_train_weeks ({cfg.cv.initial_train_weeks}) + test_weeks "
                f"({cfg.cv.test_weeks}) exceed the {n_train} training weeks",
            }
        else:
            cv = {
                "folds": len(cv_table),
                **{
                    c: float(cv_table[c].mean())
                    for c in cv_table.columns
                    if c.startswith(("train_", "test_"))
                },
            }

        draws: dict[str, list[ChannelResponse]]
        boot_rows, draws = [], {c: [] for c in fit_input.channels}
        columns = objective_columns(cfg.objective, obj.lift is not None)
        boot = cfg.bootstrap
        if boot.method == "reselect":
            pool = contenders(evals, columns, boot.candidates)
            pool_features = obj.features(pool)
        for b in range(boot.replicates):
            r_rng = np.random.default_rng(boot_rng.integers(2**63))
            rows = block_bootstrap_rows(r_rng, n_train, boot.block_weeks)
            if boot.method == "reselect":
                hb = pool[reselect(obj, pool, pool_features, rows, columns, cfg.batch_size)]
            else:
                if boot.method == "de":
                    ev = de_search(obj, cfg, r_rng, boot.budget, rows, h_best)
                else:
                    ev = run_search(
                        obj, cfg, int(r_rng.integers(2**31 - 1)), boot.budget, rows, h_best
                    )
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
            "bootstrap": bootstrap_summary(cfg, h_best, [r["h"] for r in boot_rows]),
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
            fit=FitStats(in_sample, holdout, cv),
            diagnostics=Diagnostics.from_dict(diagnostics),
            interval={"level": cfg.bootstrap.level, "kind": "percentile-block-bootstrap"},
            runtime_seconds=time.perf_counter() - t0,
            tables=tables,
        )

    def param_names(self, channels: list[str]) -> list[str]:
        names = [
            f"{p}_{c}"
            for p in (*adstock_params(self.config.adstock), "slope", "gamma")
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

    def showcase(self, result: EstimatorResult, dataset: Any) -> list[tuple[str, Any]]:
        """:func:`mmm_recovery.estimators.frequentist.showcase.showcase`."""
        from mmm_recovery.estimators.frequentist.showcase import showcase

        return showcase(result, dataset)
