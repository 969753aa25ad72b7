"""The common result format that every estimator writes and the comparison reads.

One ``results.json`` per fit (``data/<scenario>/<estimator>/``), on the ORIGINAL currency scale::

    {
      "estimator": "frequentist", "scenario": "baseline", "replicate": 0,
      "interval": {"level": 0.9, "kind": "percentile-bootstrap" | "hdi"},
      "channels": {
        "<channel>": {
          "adstock":    {"family": "geometric", "l_max": 12, "normalize": true,
                         "params": {"alpha": {"estimate": e, "lower": lo, "upper": hi}}},
          "saturation": {"family": "hill", "params": {"slope": {...}, "kappa": {...}}},
          "beta":                {"estimate", "lower", "upper"},   # max weekly contribution, currency
          "contribution_total":  {...},  "contribution_share": {...},
          "roas":                {...},  "mroas":              {...},
          "curve": {"spend": [...], "estimate": [...], "lower": [...], "upper": [...]}
        }
      },
      "fit": {"in_sample": {"mape", "nrmse", "r2"}, "holdout": {...}, "cv": {...}},
      "diagnostics": {"converged": true, ...estimator specific...}
    }

The format is typed: :mod:`mmm_recovery.core.estimates` holds the dataclasses an estimator fills
(:class:`~mmm_recovery.core.estimates.ChannelEstimate`, ``FitStats``, ``Diagnostics``), whose
``to_dict`` is this layout.

Wall times are not in ``results.json`` (it must be byte-identical across runs): they go to
``data/timing/`` (:func:`mmm_recovery.core.files.write_timing`).

An estimate is ``{"estimate", "lower", "upper"}``: the point estimate (the frequentist fit on the
original data; the posterior mean) and the interval bounds, ``null`` when there is no interval.
The Bayesian estimator adds ``"prior_sensitivity"`` and ``"likelihood_sensitivity"``
(:mod:`mmm_recovery.core.sensitivity`) to each of its estimates. Estimates are summaries of *draws* (bootstrap replicates or posterior draws)
of per-channel :class:`~mmm_recovery.core.response.ChannelResponse` objects, so every derived
quantity (ROAS, marginal ROAS, curve) is computed by one formula for every estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.estimates import (
    CHANNEL_QUANTITIES,
    AdstockEstimate,
    ChannelEstimate,
    CurveEstimate,
    Diagnostics,
    Estimate,
    FitMetrics,
    FitStats,
    SaturationEstimate,
)
from mmm_recovery.core.response import ChannelResponse, ResponseDraws

RESULTS_FILE = "results.json"

#: per-draw quantities of one channel (name -> array over draws) -> extra keys for each quantity's
#: estimate, e.g. :func:`mmm_recovery.estimators.bayesian.sensitivity.power_scaling_sensitivity` on the same draws
DrawsAnnotator = Callable[[Mapping[str, np.ndarray]], Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class FitInput:
    """What an estimator is given: weekly data and the names of its columns.

    Attributes
    ----------
    data : DataFrame
        ``date``, target, channel spend (currency) and control columns, sorted by date.
    channels, controls : list of str
        Column names.
    holdout_weeks : int
        The last ``holdout_weeks`` rows are never used for fitting (out-of-sample check).
    curve_grid : dict
        ``channel -> spend grid`` (currency/week) on which to report response curves (the truth's
        grid for simulated data, so curves are directly comparable).
    target, date : str
        Column names of the target and the date.
    lift_tests : DataFrame
        Lift tests (:data:`~mmm_recovery.core.files.LIFT_TEST_COLUMNS`, and
        :data:`~mmm_recovery.core.files.LIFT_TEST_WEEKS` when a test has a length), empty without any;
        an estimator that calibrates with them says so in its config.
    """

    data: pd.DataFrame
    channels: list[str]
    controls: list[str]
    holdout_weeks: int
    curve_grid: dict[str, np.ndarray]
    target: str = files.TARGET_COLUMN
    date: str = files.DATE_COLUMN
    lift_tests: pd.DataFrame = field(default_factory=files.empty_lift_tests)
    levels: tuple[float, ...] = ()

    @property
    def n_train(self) -> int:
        return len(self.data) - self.holdout_weeks

    @property
    def train(self) -> pd.DataFrame:
        return self.data.iloc[: self.n_train]

    @property
    def spend(self) -> np.ndarray:
        """Spend matrix (weeks x channels), currency, all weeks."""
        return self.data[self.channels].to_numpy(dtype=float)

    @classmethod
    def from_simulated(
        cls, dataset: Any, holdout_weeks: int, levels: tuple[float, ...] = ()
    ) -> FitInput:
        truth = dataset.truth
        return cls(
            data=dataset.data,
            channels=list(truth["channel_names"]),
            controls=list(truth["controls"]),
            holdout_weeks=holdout_weeks,
            curve_grid={
                c: np.asarray(truth["channels"][c]["curve"]["spend"])
                for c in truth["channel_names"]
            },
            lift_tests=dataset.lift_tests,
            levels=tuple(levels),
        )


def level_key(level: float) -> str:
    """How an interval level names its entry in an estimate's ``levels`` (``0.5`` -> ``"0.5"``)."""
    return f"{level:g}"


def estimate(
    draws: np.ndarray | Sequence[float],
    level: float,
    kind: str = "percentile",
    point: float | None = None,
    levels: Sequence[float] = (),
) -> dict[str, Any]:
    """Summarise draws as ``{"estimate", "lower", "upper"}`` with a central interval of ``level``.

    ``estimate`` is ``point`` when given (e.g. the fit on the original data), else the draws' mean.

    ``kind="percentile"``: equal-tailed quantiles; ``kind="hdi"``: the narrowest interval
    containing ``level`` of the draws (highest density for unimodal draws).

    ``levels`` adds ``"levels": {"<level>": [lower, upper], ...}``, intervals of the same kind at
    further nominal levels (:func:`level_key` names them), for calibration curves.
    """
    x = np.asarray(draws, dtype=float).ravel()
    x = x[np.isfinite(x)]
    centre = float(point) if point is not None else (float(x.mean()) if x.size else float("nan"))
    if kind not in ("percentile", "hdi"):
        raise ValueError(f"interval kind must be 'percentile' or 'hdi'; got {kind!r}")
    if x.size < 2:
        return {"estimate": centre, "lower": None, "upper": None}
    lo, hi = _interval(x, level, kind)
    out: dict[str, Any] = {"estimate": centre, "lower": lo, "upper": hi}
    if levels:
        out["levels"] = {level_key(q): list(_interval(x, q, kind)) for q in levels}
    return out


def _interval(x: np.ndarray, level: float, kind: str) -> tuple[float, float]:
    if kind == "hdi":
        lo, hi = hdi(x, level)
    else:
        lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def hdi(x: np.ndarray, level: float) -> tuple[float, float]:
    """Narrowest interval holding ``ceil(level * n)`` of the sorted draws."""
    s = np.sort(np.asarray(x, dtype=float))
    n = s.size
    k = max(int(np.ceil(level * n)), 1)
    widths = s[k - 1 :] - s[: n - k + 1]
    i = int(np.argmin(widths))
    return float(s[i]), float(s[i + k - 1])


def channel_estimates(
    draws: Sequence[ChannelResponse],
    spend: np.ndarray,
    media_totals: np.ndarray,
    grid: np.ndarray,
    level: float,
    kind: str,
    point: ChannelResponse | None = None,
    point_media_total: float | None = None,
    annotate: DrawsAnnotator | None = None,
    levels: Sequence[float] = (),
) -> ChannelEstimate:
    """Summaries for one channel from its response draws (see module docstring).

    Parameters
    ----------
    draws : sequence of ChannelResponse
        One per bootstrap replicate / posterior draw, currency scale.
    spend : array (T,)
        The channel's observed weekly spend (currency).
    media_totals : array (D,)
        Total media contribution of all channels, per draw (for contribution shares).
    grid : array (G,)
        Spend grid (currency/week) for the steady-state response curve.
    level, kind
        Interval level and kind (see :func:`estimate`).
    point, point_media_total
        The point fit and its total media contribution; when omitted, estimates are draw means.
    annotate
        Called once with every quantity's draws; what it returns for a quantity is added to that
        quantity's estimate (e.g. its prior sensitivity).
    levels
        Further nominal levels at which every quantity also reports its interval
        (:func:`estimate`).
    """
    spend_total = float(spend.sum())
    mean_weekly = float(spend.mean())

    def quantities(r: ChannelResponse, media_total: float) -> dict[str, float]:
        c = float(r.contribution(spend).sum())
        return {
            "contribution_total": c,
            "contribution_share": c / media_total if media_total > 0 else float("nan"),
            "roas": c / spend_total if spend_total > 0 else float("nan"),
            "mroas": float(r.marginal(mean_weekly)),
            "beta": float(r.beta),
            **{f"adstock.{k}": float(v) for k, v in r.adstock_params.items()},
            **{f"saturation.{k}": float(v) for k, v in r.saturation_params.items()},
        }

    stacked = ResponseDraws.from_draws(draws)
    columns = None if stacked is None else stacked.quantities(spend, media_totals, mean_weekly)
    if columns is None:  # draws of different families: one at a time
        rows = [quantities(d, t) for d, t in zip(draws, media_totals, strict=True)]
        columns = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    pt = quantities(point, float(cast(float, point_media_total))) if point is not None else None
    extra: Mapping[str, Mapping[str, float]] = {}
    if annotate is not None:
        extra = annotate(columns)

    def est(key: str) -> Estimate:
        out = estimate(columns[key], level, kind, None if pt is None else pt[key], levels)
        return Estimate.from_dict({**out, **extra.get(key, {})})

    first = point or draws[0]
    curves = (
        np.array([d.steady_state(grid) for d in draws])
        if stacked is None
        else stacked.steady_state(grid)
    )
    lower = upper = None
    if len(draws) > 1:  # pointwise bands of the same kind as every other interval
        if kind == "hdi":
            bands = np.array([hdi(curves[:, g], level) for g in range(curves.shape[1])])
            lower, upper = bands[:, 0], bands[:, 1]
        else:
            lower, upper = np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return ChannelEstimate(
        adstock=AdstockEstimate(
            family=first.adstock_family,
            l_max=first.l_max,
            normalize=first.normalize,
            params={k: est(f"adstock.{k}") for k in first.adstock_params},
        ),
        saturation=SaturationEstimate(
            family=first.saturation_family,
            params={k: est(f"saturation.{k}") for k in first.saturation_params},
        ),
        **{k: est(k) for k in CHANNEL_QUANTITIES},
        curve=CurveEstimate(
            spend=np.asarray(grid, dtype=float),
            estimate=point.steady_state(grid) if point is not None else curves.mean(axis=0),
            lower=lower,
            upper=upper,
        ),
    )


def summarize_draws(
    draws: Mapping[str, Sequence[ChannelResponse]],
    fit_input: FitInput,
    level: float,
    kind: str,
    point: dict[str, ChannelResponse] | None = None,
    annotate: DrawsAnnotator | None = None,
) -> dict[str, ChannelEstimate]:
    """``channel -> estimates`` for all channels, from per-channel response draws (same draw order
    across channels), optionally the point fit and an annotator (:func:`channel_estimates`)."""
    spend = fit_input.spend
    n_draws = len(next(iter(draws.values())))
    totals = np.zeros(n_draws)
    point_total = 0.0
    for i, c in enumerate(fit_input.channels):
        stacked = ResponseDraws.from_draws(draws[c])
        if stacked is None:
            totals += np.array([d.contribution(spend[:, i]).sum() for d in draws[c]])
        else:
            totals += stacked.contribution(spend[:, i]).sum(axis=1)
        if point is not None:
            point_total += float(point[c].contribution(spend[:, i]).sum())
    return {
        c: channel_estimates(
            draws[c],
            spend[:, i],
            totals,
            fit_input.curve_grid[c],
            level,
            kind,
            None if point is None else point[c],
            point_total,
            annotate,
            fit_input.levels,
        )
        for i, c in enumerate(fit_input.channels)
    }


def fit_metrics(y: np.ndarray, yhat: np.ndarray) -> FitMetrics:
    """MAPE (fraction), NRMSE (RMSE / range of y, Robyn's definition) and R²."""
    y = np.asarray(y, dtype=float)
    yhat = np.asarray(yhat, dtype=float)
    resid = y - yhat
    rng = float(y.max() - y.min()) if y.size else float("nan")
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return FitMetrics(
        mape=float(np.mean(np.abs(resid) / np.abs(y))),
        nrmse=float(np.sqrt(np.mean(resid**2)) / rng) if rng > 0 else float("nan"),
        r2=float(1 - (resid**2).sum() / ss_tot) if ss_tot > 0 else float("nan"),
    )


@dataclass
class EstimatorResult:
    """A fit in the common format (see module docstring; the typed parts are in
    :mod:`mmm_recovery.core.estimates`) plus optional tables to save."""

    estimator: str
    channels: dict[str, ChannelEstimate]
    fit: FitStats
    diagnostics: Diagnostics
    interval: dict[str, Any]
    runtime_seconds: float
    scenario: str | None = None
    replicate: int | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict, repr=False)
    #: wall times (seconds) and rates derived from them: machine-dependent, so kept out of
    #: ``results.json`` (a DVC output must be the same bytes on every run) and written by
    #: :meth:`save` to ``data/timing/`` (see :func:`mmm_recovery.core.files.write_timing`)
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.diagnostics.converged

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimator": self.estimator,
            "scenario": self.scenario,
            "replicate": self.replicate,
            "interval": self.interval,
            "channels": {c: e.to_dict() for c, e in self.channels.items()},
            "fit": self.fit.to_dict(),
            "diagnostics": self.diagnostics.to_dict(),
        }

    def save(self, folder: Path) -> Path:
        """Write ``results.json`` and each table as ``<name>.parquet`` atomically into ``folder``."""
        folder = Path(folder)
        for name, table in self.tables.items():
            files.write_parquet(folder / f"{name}.parquet", table)
        files.write_timing(
            folder / RESULTS_FILE, {"runtime_seconds": self.runtime_seconds, **self.timing}
        )
        return files.write_json(folder / RESULTS_FILE, self.to_dict())


def load_result(folder: Path) -> dict[str, Any]:
    return files.read_json(Path(folder) / RESULTS_FILE)


class InputError(ValueError):
    """Data that an estimator cannot fit; the message names the column (and rows)."""


def check_fit_input(fit_input: FitInput, l_max: int, min_test_weeks: int = 0) -> None:
    """Refuse data no estimator can fit, naming the column: NaN, non-numeric, negative or
    constant/all-zero spend, and too few weeks for ``l_max`` + holdout + a test window."""
    data = fit_input.data
    need = l_max + fit_input.holdout_weeks + min_test_weeks
    if len(data) < need:
        raise InputError(
            f"{len(data)} weeks is too few: need at least l_max ({l_max}) + holdout ({fit_input.holdout_weeks})"
            f" + test window ({min_test_weeks}) = {need}"
        )
    for col in [fit_input.target, *fit_input.channels, *fit_input.controls]:
        if col not in data.columns:
            raise InputError(f"column {col!r} is missing (columns: {list(data.columns)})")
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise InputError(f"column {col!r} is not numeric (dtype {data[col].dtype})")
        bad = np.flatnonzero(~np.isfinite(data[col].to_numpy(dtype=float)))
        if bad.size:
            raise InputError(f"column {col!r} has NaN/inf at row(s) {bad[:10].tolist()}")
    for col in fit_input.channels:
        x = data[col].to_numpy(dtype=float)
        neg = np.flatnonzero(x < 0)
        if neg.size:
            raise InputError(f"channel {col!r} has negative spend at row(s) {neg[:10].tolist()}")
        train = x[: fit_input.n_train]
        if np.all(train == 0):
            raise InputError(
                f"channel {col!r} is all zero in the training weeks: its effect cannot be estimated"
            )
        if np.all(train == train[0]):
            raise InputError(
                f"channel {col!r} is constant ({train[0]}) in the training weeks: its effect is not identified"
            )
