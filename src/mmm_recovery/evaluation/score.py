"""Compare a fit with the truth, and aggregate comparisons over replicates.

Per fit and channel (:func:`compare`), one row per quantity:

* ``adstock.<param>``: when the estimator's adstock family equals the truth's;
* ``saturation.<param>`` and ``beta``: only when the saturation families match (a Hill ``kappa``
  and a logistic ``lam`` are not the same quantity);
* ``roas``, ``mroas``, ``contribution_share``: always;
* ``curve_error``: the integrated absolute difference between the estimated and the true
  steady-state response curve over the observed spend range ``[0, max weekly spend]``, relative to
  the integral of the true curve -- the right comparison when families differ.

Each row carries the estimate, interval, truth, error (estimate - truth), relative error, whether
the interval covers the truth and its width, the estimate's prior and likelihood power-scaling
sensitivity when the estimator reports them (:mod:`mmm_recovery.core.sensitivity`); plus the fit's
convergence flag.

Aggregation (:func:`aggregate`) per scenario x estimator x quantity (pooled over channels, and per
channel): mean bias, RMSE, mean relative error, coverage with its exact (Clopper-Pearson) 95% CI,
mean interval width. The pooled rows treat the channels of one fit as independent trials, so
their coverage intervals are somewhat too narrow; the per-channel rows are exact. Counts of
failed and non-converged fits are in :func:`mmm_recovery.evaluation.study.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mmm_recovery.core.sensitivity import LIKELIHOOD_KEY, PRIOR_KEY
from mmm_recovery.evaluation import budget

#: an estimate's sensitivity keys, copied into the comparison rows
SENSITIVITY_KEYS = (PRIOR_KEY, LIKELIHOOD_KEY)
#: prefix of a comparison column saying whether the interval at a further nominal level covers
#: the truth (``covered@0.5``; the levels are the study's ``calibration_levels``)
COVERED_AT = "covered@"


def curve_error(
    spend: np.ndarray, estimate: np.ndarray, truth: np.ndarray, max_spend: float
) -> float:
    """Integrated |estimate - truth| over ``spend <= max_spend``, relative to the integral of truth."""
    spend = np.asarray(spend, dtype=float)
    keep = spend <= max_spend + 1e-9
    if keep.sum() < 2:
        keep[:2] = True
    s, e, t = (
        spend[keep],
        np.asarray(estimate, dtype=float)[keep],
        np.asarray(truth, dtype=float)[keep],
    )
    denom = np.trapezoid(np.abs(t), s)
    return float(np.trapezoid(np.abs(e - t), s) / denom) if denom > 0 else float("nan")


def compare(
    result: Mapping[str, Any], truth: Mapping[str, Any], max_spend: Mapping[str, float]
) -> pd.DataFrame:
    """Rows (channel, quantity, estimate, lower, upper, truth, error, rel_error, covered, width,
    prior_sensitivity, likelihood_sensitivity); the sensitivities are NaN for an estimator that
    does not report them (:mod:`mmm_recovery.core.sensitivity`)."""
    rows = []
    for ch, est in result["channels"].items():
        t = truth["channels"][ch]
        items: list[tuple[str, Mapping[str, Any], float]] = []
        if est["adstock"]["family"] == t["adstock"]["family"]:
            items += [
                (f"adstock.{k}", v, t["adstock"][k]) for k, v in est["adstock"]["params"].items()
            ]
        if est["saturation"]["family"] == t["saturation"]["family"]:
            items += [
                (f"saturation.{k}", v, t["saturation"][k])
                for k, v in est["saturation"]["params"].items()
            ]
            items.append(("beta", est["beta"], t["beta"]))
        items += [(q, est[q], t[q]) for q in ("roas", "mroas", "contribution_share")]
        lo: Any
        hi: Any
        for name, e, true in items:
            lo, hi = e.get("lower"), e.get("upper")
            x = e["estimate"]
            rows.append(
                {
                    "channel": ch,
                    "quantity": name,
                    "estimate": x,
                    "lower": lo,
                    "upper": hi,
                    "truth": true,
                    "error": x - true,
                    "rel_error": (x - true) / abs(true) if true else np.nan,
                    "covered": np.nan if lo is None else float(lo <= true <= hi),
                    "width": np.nan if lo is None else hi - lo,
                    **{k: e.get(k, np.nan) for k in SENSITIVITY_KEYS},
                    **{
                        f"{COVERED_AT}{q}": float(b[0] <= true <= b[1])
                        for q, b in e.get("levels", {}).items()
                    },
                }
            )
        ce = curve_error(
            est["curve"]["spend"], est["curve"]["estimate"], t["curve"]["response"], max_spend[ch]
        )
        rows.append(
            {
                "channel": ch,
                "quantity": "curve_error",
                "estimate": ce,
                "lower": np.nan,
                "upper": np.nan,
                "truth": 0.0,
                "error": ce,
                "rel_error": ce,
                "covered": np.nan,
                "width": np.nan,
                **dict.fromkeys(SENSITIVITY_KEYS, np.nan),
            }
        )
    out = pd.DataFrame(rows)
    out["converged"] = bool(result["diagnostics"].get("converged", False))
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for a proportion ``k / n``."""
    if n == 0:
        return float("nan"), float("nan")
    a = 1 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def mean_se(x: pd.Series) -> tuple[float, float, int]:
    """The mean of the finite values of ``x``, its Monte Carlo standard error (NaN below two
    values) and their number."""
    v = x.astype(float)
    v = v[np.isfinite(v)]
    n = len(v)
    mean = float(v.mean()) if n else float("nan")
    se = float(v.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return mean, se, n


def root_mean_se(x: pd.Series) -> tuple[float, float, int]:
    """The square root of the mean of the finite values of ``x`` (e.g. squared errors: the
    RMSE), its Monte Carlo SE by the delta method, ``se(mean) / (2 root)``, and their number."""
    mean, se, n = mean_se(x)
    root = float(np.sqrt(mean))
    return root, se / (2 * root) if root > 0 else float("nan"), n


def _se(v: pd.Series) -> float:
    """Monte Carlo standard error of the mean of the finite values of ``v`` (NaN below two)."""
    return mean_se(v)[1]


def _summary(g: pd.DataFrame) -> pd.Series:
    """One cell's aggregates, each with its Monte Carlo standard error (``<name>_se``): of a mean
    the sample sd over root n; of coverage the binomial ``sqrt(p (1 - p) / n)`` (beside the
    exact 95% interval); of the RMSE the delta method, ``se(mean squared error) / (2 RMSE)``.
    Estimates of one fit's channels are counted as independent, so the SEs are somewhat small."""
    cov = g["covered"].dropna()
    k, n = int(cov.sum()), int(cov.size)
    lo, hi = clopper_pearson(k, n)
    err = g["error"].astype(float)
    rel = g["rel_error"].astype(float)
    rmse, rmse_se, _ = root_mean_se(err**2)
    p = k / n if n else np.nan
    return pd.Series(
        {
            "n": len(g),
            "bias": err.mean(),
            "bias_se": _se(err),
            "rmse": rmse,
            "rmse_se": rmse_se,
            "mean_rel_error": rel.mean(),
            "mean_rel_error_se": _se(rel),
            "mean_abs_rel_error": rel.abs().mean(),
            "mean_abs_rel_error_se": _se(rel.abs()),
            "coverage": p,
            "coverage_se": float(np.sqrt(p * (1 - p) / n)) if n else np.nan,
            "coverage_lo": lo,
            "coverage_hi": hi,
            "n_intervals": n,
            "mean_width": g["width"].astype(float).mean(),
            "mean_width_se": _se(g["width"]),
        }
    )


def aggregate(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x estimator x quantity x channel (``channel == "all"`` pools the channels)."""
    keys = ["scenario", "estimator", "quantity"]
    per_channel = (
        comparisons.groupby([*keys, "channel"]).apply(_summary, include_groups=False).reset_index()
    )
    pooled = comparisons.groupby(keys).apply(_summary, include_groups=False).reset_index()
    pooled["channel"] = "all"
    return pd.concat([pooled, per_channel], ignore_index=True)


def calibration(comparisons: pd.DataFrame, own_level: Mapping[str, float]) -> pd.DataFrame:
    """Empirical coverage against nominal level, per scenario x estimator x quantity, pooled
    over channels: one row per nominal level (the study's ``calibration_levels`` and each
    estimator's own level, ``own_level[estimator]``) with the coverage, its binomial MC-SE and
    exact 95% interval, and the number of intervals. Empty without any further level."""
    at = sorted(
        (c for c in comparisons.columns if c.startswith(COVERED_AT)),
        key=lambda c: float(c[len(COVERED_AT) :]),
    )
    columns = ["scenario", "estimator", "quantity", "nominal", "coverage", "coverage_se"]
    columns += ["coverage_lo", "coverage_hi", "n_intervals"]
    if not at or comparisons.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (scenario, est, quantity), g in comparisons.groupby(["scenario", "estimator", "quantity"]):
        levels = {float(c[len(COVERED_AT) :]): g[c] for c in at}
        if est in own_level:
            levels[float(own_level[est])] = g["covered"]
        for nominal, hits in sorted(levels.items()):
            hits = hits.dropna()
            k, n = int(hits.sum()), int(hits.size)
            if n == 0:
                continue
            p = k / n
            lo, hi = clopper_pearson(k, n)
            rows.append([scenario, est, quantity, nominal, p, np.sqrt(p * (1 - p) / n), lo, hi, n])
    return pd.DataFrame(rows, columns=columns)


def share_pull(result: Mapping[str, Any], truth: Mapping[str, Any]) -> dict[str, float]:
    """How far a fit's effect shares sit from the truth's, toward the spend shares.

    Robyn's DECOMP.RSSD is the distance between a model's effect shares and the spend shares,
    and its search prefers models with a small one. ``decomp_rssd_true`` is that distance for
    the true effect shares, ``decomp_rssd`` for the estimated ones, and ``spend_share_pull`` the
    projection of (estimated - true shares) on (spend - true shares), over the squared length of
    the latter: 0 when the estimate is off in no particular direction, 1 when it sits at the
    spend shares, negative when it is pushed away from them (NaN when the truth is at them)."""
    names = truth["channel_names"]
    spend = np.array([truth["channels"][c]["spend_share"] for c in names], dtype=float)
    true = np.array([truth["channels"][c]["contribution_share"] for c in names], dtype=float)
    est = np.array(
        [result["channels"][c]["contribution_share"]["estimate"] for c in names], dtype=float
    )
    toward = spend - true
    norm2 = float(toward @ toward)
    return {
        "decomp_rssd_true": float(np.sqrt(norm2)),
        "decomp_rssd": float(np.linalg.norm(est - spend)),
        "spend_share_pull": float((est - true) @ toward / norm2) if norm2 > 1e-12 else np.nan,
    }


@dataclass(frozen=True)
class Score:
    """One fit scored against its truth: :func:`compare`'s rows, the budget advice's regret and
    how far its effect shares lean toward the spend shares (:func:`share_pull`)."""

    comparison: pd.DataFrame
    regret: dict[str, Any]
    shares: dict[str, float]


def score(
    result: Mapping[str, Any],
    data: pd.DataFrame,
    truth: Mapping[str, Any],
    budget_bound: float,
    regret_bounds: tuple[float, ...] = (),
) -> Score:
    """Score one fit (``result``: the common result format as a dict) against the truth of the
    dataset it was fitted to: every quantity's error and coverage (:func:`compare`, curves over
    ``[0, max weekly spend]``) and the true revenue lost by following its budget advice from the
    mean weekly spend, each channel within ``budget_bound`` times its current spend
    (:func:`mmm_recovery.evaluation.budget.regret`), and at each of ``regret_bounds``. The one home of "how good is this fit": the
    compare stage and the study (:func:`score_fit`, from a record) both call it."""
    channels = truth["channel_names"]
    max_spend = {c: float(data[c].max()) for c in channels}
    current = {c: float(data[c].mean()) for c in channels}
    return score_fit(result, truth, max_spend, current, budget_bound, regret_bounds)


def score_fit(
    result: Mapping[str, Any],
    truth: Mapping[str, Any],
    max_spend: Mapping[str, float],
    current: Mapping[str, float],
    budget_bound: float,
    regret_bounds: tuple[float, ...] = (),
) -> Score:
    """:func:`score` from each channel's maximum and mean weekly spend (currency) instead of the
    data: what a study record keeps of its dataset; with ``regret_bounds``, the regret at each
    further bound too (``regret["at"]``, :func:`~mmm_recovery.evaluation.budget.regret_at`)."""
    true_curves, model_curves = budget.curves_from_truth(truth), budget.curves_from_result(result)
    regret = budget.regret(true_curves, model_curves, dict(current), budget_bound)
    if regret_bounds:
        regret["at"] = budget.regret_at(true_curves, model_curves, dict(current), regret_bounds)
    return Score(
        comparison=compare(result, truth, max_spend),
        regret=regret,
        shares=share_pull(result, truth),
    )
