"""``sbc.json``: per arm, each quantity's uniformity verdict with its contraction, the power of the
test actually run, the calibration of the budget advice, and the follow-up of a lead.

* Verdicts: :class:`~mmm_recovery.evaluation.sbc_uniformity.ECDFTest` per quantity, failing below
  ``alpha`` over the arm's number of quantities (Bonferroni); a quantity whose contraction is
  below ``weak_contraction`` is marked a weak test (it passes however wrong the likelihood).
* Power: :func:`~mmm_recovery.evaluation.sbc_uniformity.power` at the arm's number of simulations
  and threshold, against a posterior ``power.narrow`` too narrow and ``power.bias`` sd off.
* Decision: under the prior, the Bayes action's predicted lift is an unbiased estimate of its true
  lift (the posterior expected curves give ``E[true lift | data]`` for any allocation the data
  choose). Reported: the mean of predicted minus true lift with its SE, and the slope of true on
  predicted lift (1 if calibrated).
* Follow-up: per simulation, the mean mid-rank PIT ``(rank + 0.5) / (ranks + 1)`` over the
  quantities of the ``follow_up`` channels, averaged over simulations with its SE (0.5 if
  calibrated); quantities within a simulation are dependent, simulations are not.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.evaluation.sbc_uniformity import contraction, ecdf_test, power, randomised_pit

#: the name of the uniformity test, as reported
TEST = "ECDF (Saeilynoja et al. 2022) on the randomised PIT, Bonferroni over each arm's quantities"


def _mean_se(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, dtype=float)
    n = len(x)
    se = float(np.std(x, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": float(np.mean(x)) if n else float("nan"), "se": se, "n": n}


def decision_calibration(decisions: pd.DataFrame) -> dict[str, Any]:
    """Predicted vs true lift of the fits' budget advice (module docstring), currency per week."""
    pred = decisions["predicted_lift"].to_numpy(dtype=float)
    true = decisions["true_lift"].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "predicted_lift": _mean_se(pred),
        "true_lift": _mean_se(true),
        "predicted_minus_true": _mean_se(pred - true),
        "regret": _mean_se(decisions["regret"].to_numpy(dtype=float)),
    }
    if len(pred) > 2 and np.var(pred) > 0:
        slope, intercept = np.polyfit(pred, true, 1)
        resid = true - (slope * pred + intercept)
        se = np.sqrt(np.sum(resid**2) / (len(pred) - 2) / np.sum((pred - pred.mean()) ** 2))
        out["slope_true_on_predicted"] = {"estimate": float(slope), "se": float(se)}
    d = out["predicted_minus_true"]
    out["z"] = d["mean"] / d["se"] if d["se"] and np.isfinite(d["se"]) else float("nan")
    return out


def follow_up(ranks: pd.DataFrame, channels: list[str], n_ranks: int) -> dict[str, Any]:
    """Mean PIT per simulation over the quantities of ``channels`` (each, and all together)."""
    out: dict[str, Any] = {}
    pit = (ranks["rank"] + 0.5) / (n_ranks + 1)
    for key, group in [*((c, [c]) for c in channels), ("together", channels)]:
        pattern = "|".join(re.escape(f"[{c}]") for c in group)
        mask = ranks["quantity"].str.contains(pattern)
        if not mask.any():
            continue
        per_sim = pit[mask].groupby(ranks.loc[mask, "simulation"]).mean()
        m = _mean_se(per_sim.to_numpy())
        m["z"] = (m["mean"] - 0.5) / m["se"] if m["se"] else float("nan")
        out[key] = m
    return out


def arm_metrics(
    ranks: pd.DataFrame,
    fits: pd.DataFrame,
    decisions: pd.DataFrame,
    settings: Any,
    arm: str,
    seed: int,
    design: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One arm's block of ``sbc.json`` (module docstring); ``design``: what the arm resolved to
    (its weeks and channels), reported beside its settings."""
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, zlib.crc32(b"sbc-test"), zlib.crc32(arm.encode())])
    )
    quantities = list(dict.fromkeys(ranks["quantity"]))
    threshold = settings.alpha / max(len(quantities), 1)
    n = int(ranks["simulation"].nunique())
    shrink = contraction(ranks) if n > 1 else pd.Series(dtype=float)
    out: dict[str, Any] = {
        "design": settings.arms[arm].model_dump(mode="json") | (design or {}),
        "simulations": int(len(fits)),
        "failed_simulations": int(len(fits) - n),
        "converged": int(fits["converged"].fillna(False).astype(bool).sum()),
        "divergent_fits": int((fits["divergences"].fillna(0) > 0).sum()),
        "quantities_tested": len(quantities),
        "threshold": threshold,
    }
    if n < 2:
        return out | {"failed": [], "weak": [], "quantities": {}}
    test = ecdf_test(n, settings.reference_draws, seed)
    p = settings.power
    narrow = power(test, settings.ranks, threshold, rng, narrow=p.narrow, repeats=p.repeats)
    bias = power(test, settings.ranks, threshold, rng, bias=p.bias, repeats=p.repeats)
    out["p_value_relative_error"] = test.p_relative_error(threshold)
    out["power"] = {
        "narrow": {"miscalibration": p.narrow, "power": narrow[0], "se": narrow[1]},
        "bias": {"miscalibration": p.bias, "power": bias[0], "se": bias[1]},
        "target": p.target,
        "met": bool(narrow[0] >= p.target and bias[0] >= p.target),
    }
    rows = {}
    for name in quantities:
        sub = ranks[ranks["quantity"] == name]
        u = randomised_pit(sub["rank"].to_numpy(), settings.ranks, rng)
        pv = float(test.p_values(test.statistics(u[None, :]))[0]) if len(sub) == n else np.nan
        c = float(shrink.get(name, np.nan))
        rows[name] = {
            "simulations": int(len(sub)),
            "converged": int(sub["converged"].sum()),
            "p_value": pv,
            "verdict": "uniform" if pv >= threshold else "not uniform",
            "mean_rank_share": float(sub["rank"].mean() / settings.ranks),
            "contraction": c,
            "weak_test": bool(not c >= settings.weak_contraction),
        }
    out["failed"] = [q for q, r in rows.items() if r["verdict"] != "uniform"]
    out["weak"] = [q for q, r in rows.items() if r["weak_test"]]
    out["quantities"] = rows
    out["decision"] = decision_calibration(decisions) if len(decisions) else {}
    if settings.follow_up:
        out["follow_up"] = follow_up(ranks, list(settings.follow_up), settings.ranks)
    return out


def metrics(
    ranks: pd.DataFrame,
    fits: pd.DataFrame,
    decisions: pd.DataFrame,
    settings: Any,
    seed: int,
    designs: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``sbc.json``: the block's settings, the test, and one block per arm (:func:`arm_metrics`,
    with ``designs[arm]``: its resolved weeks and channels); ``failed`` lists
    ``<arm>/<quantity>`` of every failed test."""
    arms = {
        arm: arm_metrics(
            ranks[ranks["arm"] == arm],
            fits[fits["arm"] == arm],
            decisions[decisions["arm"] == arm],
            settings,
            arm,
            seed,
            (designs or {}).get(arm),
        )
        for arm in settings.arms
    }
    return {
        "settings": settings.model_dump(mode="json"),
        "test": TEST,
        "family_alpha": settings.alpha,
        "simulations": int(len(fits)),
        "failed": [f"{a}/{q}" for a, m in arms.items() for q in m["failed"]],
        "arms": arms,
    }
