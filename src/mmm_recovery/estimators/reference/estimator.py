"""The reference estimator (:mod:`mmm_recovery.estimators.reference`): OLS on assumed transforms.

The composition root of a minimal estimator, as ``docs/extending.md`` walks through it: check the
input, build the design, fit, turn each fit into per-channel
:class:`~mmm_recovery.core.response.ChannelResponse` objects (currency scale), and let
:func:`~mmm_recovery.core.results.summarize_draws` make every reported quantity, interval and
curve from them, as every estimator does.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

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
from mmm_recovery.estimators.reference.config import ReferenceConfig
from mmm_recovery.families import registry as families
from mmm_recovery.families import transforms


class ReferenceMMM(Estimator):
    """OLS on assumed geometric adstock and logistic saturation; lookup name ``reference``."""

    name = "reference"
    Config = ReferenceConfig
    config: ReferenceConfig

    @property
    def interval_level(self) -> float:
        return self.config.level

    def _responses(self, lam: np.ndarray, coef: np.ndarray, channels: list[str]) -> dict:
        """Each channel's response (currency) for channel coefficients ``coef``."""
        cfg = self.config
        return {
            c: ChannelResponse(
                adstock_family="geometric",
                adstock_params={"alpha": cfg.alpha},
                l_max=cfg.l_max,
                normalize=True,
                saturation_family="logistic",
                saturation_params={"lam": float(lam[i])},
                beta=float(coef[i]),
            )
            for i, c in enumerate(channels)
        }

    def fit(self, fit_input: FitInput, rng: np.random.Generator) -> EstimatorResult:
        cfg = self.config
        t0 = time.perf_counter()
        check_fit_input(fit_input, l_max=cfg.l_max)
        data, n_train, channels = fit_input.data, fit_input.n_train, fit_input.channels
        weights = families.adstock_weights("geometric", {"alpha": cfg.alpha}, cfg.l_max, True)
        adstocked = np.stack(
            [np.convolve(x, weights[:, 0])[: len(x)] for x in fit_input.spend.T], axis=1
        )
        lam = np.log(3.0) / (cfg.half_saturation * adstocked[:n_train].mean(axis=0))
        media = families.saturate("logistic", adstocked, {"lam": lam})
        n = len(data)
        other = np.column_stack(
            [
                data[fit_input.controls].to_numpy(dtype=float),
                np.arange(n) / max(n - 1, 1),
                transforms.fourier_features(
                    pd.DatetimeIndex(data[fit_input.date]), cfg.yearly_seasonality
                ),
            ]
        )
        design = np.column_stack([np.ones(n), media, other])
        y = data[fit_input.target].to_numpy(dtype=float)

        def ols(rows: np.ndarray) -> np.ndarray:
            return np.linalg.lstsq(design[rows], y[rows], rcond=None)[0]

        beta = ols(np.arange(n_train))
        yhat = design @ beta
        point = self._responses(lam, beta[1 : 1 + len(channels)], channels)
        draws: dict[str, list[ChannelResponse]] = {c: [] for c in channels}
        for _ in range(cfg.replicates):
            starts = rng.integers(
                0, max(n_train - cfg.block_weeks, 0) + 1, size=-(-n_train // cfg.block_weeks)
            )
            rows = (starts[:, None] + np.arange(cfg.block_weeks)).ravel()[:n_train]
            for c, r in self._responses(lam, ols(rows)[1 : 1 + len(channels)], channels).items():
                draws[c].append(r)
        if not cfg.replicates:
            draws = {c: [point[c]] for c in channels}
        fit_stats = FitStats(
            in_sample=fit_metrics(y[:n_train], yhat[:n_train]),
            holdout=fit_metrics(y[n_train:], yhat[n_train:]) if fit_input.holdout_weeks else None,
        )
        decomposition = pd.DataFrame({"date": data[fit_input.date], "intercept": beta[0]})
        for i, c in enumerate(channels):
            decomposition[c] = media[:, i] * beta[1 + i]
        decomposition["other"] = other @ beta[1 + len(channels) :]
        rank = int(np.linalg.matrix_rank(design[:n_train]))
        return EstimatorResult(
            estimator=self.name,
            channels=summarize_draws(draws, fit_input, cfg.level, "percentile", point=point),
            fit=fit_stats,
            diagnostics=Diagnostics(rank == design.shape[1], {"design_rank": rank}),
            interval={"level": cfg.level, "kind": "percentile-block-bootstrap"},
            runtime_seconds=time.perf_counter() - t0,
            tables={
                "fitted": pd.DataFrame(
                    {
                        "date": data[fit_input.date],
                        "y": y,
                        "yhat": yhat,
                        "split": np.where(np.arange(n) < n_train, "train", "holdout"),
                    }
                ),
                "decomposition": decomposition,
            },
        )
