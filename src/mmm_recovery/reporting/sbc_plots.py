"""Figures and tables of the simulation-based calibration (:mod:`mmm_recovery.evaluation.sbc`),
per arm, from its ranks table (``reports/metrics/sbc_ranks.csv``) and ``sbc.json``. They never
save."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import binom

from mmm_recovery.evaluation.sbc_uniformity import randomised_pit


def _grid(n: int, cols: int = 6, size: float = 2.0) -> tuple[Figure, list[Any]]:
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(size * min(n, cols), size * rows * 0.85), layout="constrained")
    axes = fig.subplots(rows, min(n, cols), squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, list(axes[:n])


def _title(ax: Any, name: str, verdicts: dict[str, Any]) -> None:
    q = verdicts.get(name)
    failed = q is not None and q["verdict"] != "uniform"
    label = name if q is None else f"{name}\np = {q['p_value']:.3g}"
    if q is not None and q.get("weak_test"):
        label += f" (weak: {q['contraction']:.2f})"
    ax.set_title(label, fontsize=7, color="firebrick" if failed else "black")
    ax.tick_params(labelsize=6)


def _arm(ranks: pd.DataFrame, metrics: dict[str, Any], arm: str) -> tuple[pd.DataFrame, dict]:
    return ranks[ranks["arm"] == arm], metrics["arms"][arm]["quantities"]


def rank_histograms(
    ranks: pd.DataFrame, metrics: dict[str, Any], arm: str, bins: int = 10
) -> Figure:
    """One rank histogram per test quantity of arm ``arm`` (``bins`` equal bins of
    ``0..ranks``), with the band in which 99% of a bin's counts fall under uniform ranks
    (pointwise, grey); a title in red marks a quantity the uniformity test failed, "weak" one
    whose contraction is below the study's bound."""
    n_ranks = int(metrics["settings"]["ranks"])
    ranks, verdicts = _arm(ranks, metrics, arm)
    names = list(dict.fromkeys(ranks["quantity"]))
    fig, axes = _grid(len(names))
    edges = np.linspace(0, n_ranks + 1, bins + 1)
    for ax, name in zip(axes, names, strict=True):
        r = ranks.loc[ranks["quantity"] == name, "rank"].to_numpy()
        lo, hi = binom.ppf([0.005, 0.995], len(r), 1.0 / bins)
        ax.axhspan(lo, hi, color="0.85", lw=0)
        ax.axhline(len(r) / bins, color="0.5", lw=0.8)
        ax.hist(r, bins=edges, color="tab:blue", alpha=0.8)
        _title(ax, name, verdicts)
    fig.suptitle(
        f"Rank histograms, arm {arm} ({ranks['simulation'].nunique()} simulations)", fontsize=9
    )
    return fig


def ecdf_differences(ranks: pd.DataFrame, metrics: dict[str, Any], arm: str, seed: int) -> Figure:
    """Per test quantity of arm ``arm``, the ECDF of the randomised PIT minus the uniform CDF,
    with the simultaneous band of level 1 - ``alpha`` (ArviZ's simulation method, Säilynoja et
    al. 2022) that a calibrated quantity's curve leaves with probability ``alpha``."""
    from arviz_stats.ecdf_utils import ecdf_pit

    design = metrics["settings"]
    rng = np.random.default_rng(seed)
    ranks, verdicts = _arm(ranks, metrics, arm)
    names = list(dict.fromkeys(ranks["quantity"]))
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=True):
        r = ranks.loc[ranks["quantity"] == name, "rank"].to_numpy()
        u = randomised_pit(r, int(design["ranks"]), rng)
        x, ecdf, lo, hi = ecdf_pit(u, 1.0 - float(design["alpha"]), 1000, rng=rng)
        ax.fill_between(x, lo - x, hi - x, color="0.85", lw=0, step="post")
        ax.step(x, ecdf - x, where="post", color="tab:blue", lw=1)
        ax.axhline(0.0, color="0.5", lw=0.8)
        _title(ax, name, verdicts)
    fig.suptitle(
        f"Arm {arm}: ECDF of the rank (PIT) minus uniform, with a simultaneous band", fontsize=9
    )
    return fig


def verdict_table(metrics: dict[str, Any], arm: str) -> pd.DataFrame:
    """One row per test quantity of arm ``arm``: its simulations, mean rank, contraction (and
    whether that makes it a weak test), p-value and verdict."""
    m = metrics["arms"][arm]
    rows = [
        {
            "quantity": name,
            "simulations": q["simulations"],
            "of them converged": q["converged"],
            "mean rank / ranks": round(q["mean_rank_share"], 3),
            "contraction": round(q["contraction"], 2),
            "test": "weak" if q["weak_test"] else "informative",
            "p-value": f"{q['p_value']:.3g}",
            "verdict": q["verdict"],
        }
        for name, q in m["quantities"].items()
    ]
    return pd.DataFrame(rows)


def power_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per arm: simulations, quantities, Bonferroni threshold, the p-value's Monte Carlo relative
    error there, and the test's power against each miscalibration (with its Monte Carlo SE)."""
    rows = []
    for arm, m in metrics["arms"].items():
        p = m.get("power")
        if p is None:
            continue
        rows.append(
            {
                "arm": arm,
                "simulations": m["simulations"],
                "quantities": m["quantities_tested"],
                "threshold": f"{m['threshold']:.2g}",
                "p-value MC rel. error": f"{m['p_value_relative_error']:.1%}",
                f"power: sd {p['narrow']['miscalibration']:g} too narrow": (
                    f"{p['narrow']['power']:.3f} ± {p['narrow']['se']:.3f}"
                ),
                f"power: {p['bias']['miscalibration']:g} sd bias": (
                    f"{p['bias']['power']:.3f} ± {p['bias']['se']:.3f}"
                ),
                f"both >= {p['target']:g}": "yes" if p["met"] else "no",
            }
        )
    return pd.DataFrame(rows)


def decision_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per arm: the budget advice's mean predicted and true lift, their difference (0 when the
    decision is calibrated) and the slope of true on predicted lift (1), each with its SE."""

    def pm(d: dict[str, Any]) -> str:
        return f"{d['mean']:,.0f} ± {d['se']:,.0f}"

    rows = []
    for arm, m in metrics["arms"].items():
        d = m.get("decision")
        if not d:
            continue
        slope = d.get("slope_true_on_predicted")
        rows.append(
            {
                "arm": arm,
                "fits": d["predicted_lift"]["n"],
                "predicted lift / week": pm(d["predicted_lift"]),
                "true lift / week": pm(d["true_lift"]),
                "predicted - true": pm(d["predicted_minus_true"]),
                "slope true ~ predicted": f"{slope['estimate']:.3f} ± {slope['se']:.3f}"
                if slope
                else "",
            }
        )
    return pd.DataFrame(rows)


def summary(metrics: dict[str, Any]) -> str:
    """What the SBC found, per arm, as Markdown prose: simulations and convergence, the
    verdicts (failed and weak quantities), the power, the decision's calibration and the
    follow-up of the lead."""
    s = metrics["settings"]
    out = []
    for arm, m in metrics["arms"].items():
        d = m["design"]
        lifts = len(d.get("lift_tests") or [])
        weeks = "the scenario's"
        parts = [
            f"**Arm `{arm}`** ({d.get('n_weeks') or weeks} weeks, "
            f"{', '.join(d['channels']) if d.get('channels') else 'every channel'} of "
            f"`{s['scenario']}`, {lifts} lift test{'s' if lifts != 1 else ''}): "
            f"{m['simulations']} simulations, {m['converged']} met every convergence threshold, "
            f"{m['divergent_fits']} had divergences, {m['failed_simulations']} failed to fit."
        ]
        if m.get("quantities"):
            failed, weak = m["failed"], m["weak"]
            parts.append(
                f"Of {m['quantities_tested']} quantities at family-wise level {s['alpha']}, "
                + (
                    "none fails the uniformity test"
                    if not failed
                    else f"{len(failed)} fail: {', '.join(failed)}"
                )
                + (
                    f"; {len(weak)} are weak tests (contraction below {s['weak_contraction']}: "
                    f"{', '.join(weak)})."
                    if weak
                    else "."
                )
            )
            low = min(m["quantities"].items(), key=lambda kv: kv[1]["p_value"])
            parts.append(
                f"Closest to the threshold ({m['threshold']:.2g}): {low[0]} (p = "
                f"{low[1]['p_value']:.2g}, mean rank / ranks {low[1]['mean_rank_share']:.3f})."
            )
            p = m["power"]
            parts.append(
                f"The test's power per quantity: {p['narrow']['power']:.2f} against a posterior "
                f"sd {p['narrow']['miscalibration']:.0%} too narrow, {p['bias']['power']:.2f} "
                f"against a {p['bias']['miscalibration']:g}-sd bias (target {p['target']:g}: "
                f"{'met' if p['met'] else 'not met'})."
            )
        dec = m.get("decision")
        if dec:
            diff = dec["predicted_minus_true"]
            parts.append(
                f"Budget advice: predicted minus true lift {diff['mean']:,.0f} ± "
                f"{diff['se']:,.0f} per week (z = {dec['z']:.2f})."
            )
        fu = m.get("follow_up", {}).get("together")
        if fu:
            parts.append(
                f"Mean PIT of the {', '.join(s['follow_up'])} quantities: {fu['mean']:.3f} ± "
                f"{fu['se']:.4f} (z = {fu['z']:.2f} against 0.5)."
            )
        out.append(" ".join(parts))
    return "\n\n".join(out)
