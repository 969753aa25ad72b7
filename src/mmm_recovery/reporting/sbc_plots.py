"""Figures of the simulation-based calibration (:mod:`mmm_recovery.evaluation.sbc`), from its
ranks table (``reports/metrics/sbc_ranks.csv``) and ``sbc.json``. They never save."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import binom

from mmm_recovery.evaluation import sbc


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
    ax.set_title(label, fontsize=7, color="firebrick" if failed else "black")
    ax.tick_params(labelsize=6)


def rank_histograms(ranks: pd.DataFrame, metrics: dict[str, Any], bins: int = 10) -> Figure:
    """One rank histogram per test quantity (``bins`` equal bins of ``0..ranks``), with the
    band in which 99% of a bin's counts fall under uniform ranks (pointwise, grey); a title in
    red marks a quantity the uniformity test failed."""
    n_ranks = int(metrics["design"]["ranks"])
    names = list(dict.fromkeys(ranks["quantity"]))
    fig, axes = _grid(len(names))
    edges = np.linspace(0, n_ranks + 1, bins + 1)
    for ax, name in zip(axes, names, strict=True):
        r = ranks.loc[ranks["quantity"] == name, "rank"].to_numpy()
        lo, hi = binom.ppf([0.005, 0.995], len(r), 1.0 / bins)
        ax.axhspan(lo, hi, color="0.85", lw=0)
        ax.axhline(len(r) / bins, color="0.5", lw=0.8)
        ax.hist(r, bins=edges, color="tab:blue", alpha=0.8)
        _title(ax, name, metrics["quantities"])
    fig.suptitle(f"Rank histograms ({len(ranks['simulation'].unique())} simulations)", fontsize=9)
    return fig


def ecdf_differences(ranks: pd.DataFrame, metrics: dict[str, Any], seed: int) -> Figure:
    """Per test quantity, the ECDF of the randomised PIT minus the uniform CDF, with the
    simultaneous band of level 1 - ``alpha`` (ArviZ's simulation method, Säilynoja et al. 2022)
    that a calibrated quantity's curve leaves with probability ``alpha``."""
    from arviz_stats.ecdf_utils import ecdf_pit

    design = metrics["design"]
    rng = np.random.default_rng(seed)
    names = list(dict.fromkeys(ranks["quantity"]))
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=True):
        r = ranks.loc[ranks["quantity"] == name, "rank"].to_numpy()
        u = sbc.randomised_pit(r, int(design["ranks"]), rng)
        x, ecdf, lo, hi = ecdf_pit(u, 1.0 - float(design["alpha"]), 1000, rng=rng)
        ax.fill_between(x, lo - x, hi - x, color="0.85", lw=0, step="post")
        ax.step(x, ecdf - x, where="post", color="tab:blue", lw=1)
        ax.axhline(0.0, color="0.5", lw=0.8)
        _title(ax, name, metrics["quantities"])
    fig.suptitle("ECDF of the rank (PIT) minus uniform, with a simultaneous band", fontsize=9)
    return fig


def verdict_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per test quantity: its simulations, p-value, threshold and verdict."""
    rows = [
        {
            "quantity": name,
            "simulations": q["simulations"],
            "of them converged": q["converged"],
            "mean rank / ranks": round(q["mean_rank_share"], 3),
            "p-value": f"{q['p_value']:.3g}",
            "threshold": f"{q['threshold']:.2g}",
            "verdict": q["verdict"],
        }
        for name, q in metrics["quantities"].items()
    ]
    return pd.DataFrame(rows)
