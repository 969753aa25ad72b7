"""Figures and display tables. Every function returns a Figure (or a DataFrame) and never saves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmm_recovery.response import ChannelResponse


def truth_table(truth: dict[str, Any]) -> pd.DataFrame:
    """One row per channel: true parameters and the derived ROAS figures."""
    rows = {}
    for name, ch in truth["channels"].items():
        ad = {f"adstock_{k}": v for k, v in ch["adstock"].items() if k not in ("normalize",)}
        sat = {f"saturation_{k}": v for k, v in ch["saturation"].items()}
        rows[name] = {
            **ad,
            **sat,
            "beta": ch["beta"],
            "spend_share": ch["spend_share"],
            "contribution_share": ch["contribution_share"],
            "roas": ch["roas"],
            "mroas": ch["mroas"],
        }
    return pd.DataFrame(rows).T


def adstock_kernels(truth: dict[str, Any]) -> Figure:
    """True adstock weights per channel (lag 0 first)."""
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    for name, ch in truth["channels"].items():
        w = ChannelResponse.from_dict(ch).weights()
        ax.plot(np.arange(w.size), w, marker="o", label=f"{name} ({ch['adstock']['family']})")
    ax.set(xlabel="lag (weeks)", ylabel="weight", title="True adstock kernels")
    ax.legend(fontsize="small")
    return fig


def response_curves(
    truth: dict[str, Any], estimates: dict[str, dict[str, Any]] | None = None
) -> Figure:
    """True steady-state response curves (weekly revenue vs constant weekly spend), optionally with
    estimated curves ``{estimator: {channel: {"spend", "estimate", "lower", "upper"}}}`` overlaid."""
    names = list(truth["channels"])
    fig = Figure(figsize=(3.2 * len(names), 3), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ch = truth["channels"][name]
        ax.plot(ch["curve"]["spend"], ch["curve"]["response"], color="k", lw=2, label="truth")
        ax.axvline(ch["mean_weekly_spend"], color="grey", ls=":", lw=1)
        for est, curves in (estimates or {}).items():
            c = curves[name]
            line = ax.plot(c["spend"], c["estimate"], label=est)[0]
            if c.get("lower") is not None:
                ax.fill_between(
                    c["spend"], c["lower"], c["upper"], color=line.get_color(), alpha=0.2
                )
        ax.set(title=name, xlabel="weekly spend")
    axes[0, 0].set_ylabel("weekly revenue (steady state)")
    axes[0, -1].legend(fontsize="small")
    return fig


def spend_and_target(data: pd.DataFrame, truth: dict[str, Any]) -> Figure:
    """Weekly spend per channel (top) and the target (bottom)."""
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for name in truth["channel_names"]:
        ax1.plot(data["date"], data[name], lw=1, label=name)
    ax1.set(ylabel="spend / week")
    ax1.legend(fontsize="small", ncol=len(truth["channel_names"]))
    ax2.plot(data["date"], data["y"], color="k", lw=1)
    ax2.set(ylabel="revenue / week (y)")
    return fig


def decomposition(weekly: pd.DataFrame, truth: dict[str, Any]) -> Figure:
    """True decomposition: base (intercept+trend+seasonality), controls, and each channel, stacked."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    parts = {
        "base": weekly["base"],
        "controls": weekly["competitor_effect"] + weekly["event_effect"],
    }
    parts |= {name: weekly[f"contribution_{name}"] for name in truth["channel_names"]}
    ax.stackplot(weekly["date"], *parts.values(), labels=list(parts), alpha=0.8)
    ax.plot(weekly["date"], weekly["mu"], color="k", lw=1, label="mu (noiseless)")
    ax.set(ylabel="revenue / week", title="True decomposition")
    ax.legend(fontsize="x-small", ncol=4, loc="lower left")
    return fig


def recovery_table(result: dict[str, Any], truth: dict[str, Any]) -> pd.DataFrame:
    """Estimate, interval and truth per channel for adstock params, ROAS, marginal ROAS and
    contribution share (quantities present in both)."""
    rows = []
    for ch, est in result["channels"].items():
        t = truth["channels"][ch]
        pairs = [
            (f"adstock.{k}", v, t["adstock"].get(k)) for k, v in est["adstock"]["params"].items()
        ]
        pairs += [
            (f"saturation.{k}", v, t["saturation"].get(k))
            for k, v in est["saturation"]["params"].items()
            if est["saturation"]["family"] == t["saturation"]["family"]
        ]
        pairs += [(q, est[q], t[q]) for q in ("roas", "mroas", "contribution_share")]
        for name, e, true in pairs:
            lo, hi = e["lower"], e["upper"]
            rows.append(
                {
                    "channel": ch,
                    "quantity": name,
                    "estimate": e["estimate"],
                    "lower": lo,
                    "upper": hi,
                    "truth": true,
                    "covered": None if lo is None or true is None else bool(lo <= true <= hi),
                }
            )
    return pd.DataFrame(rows)


def pareto_front(evals: pd.DataFrame) -> Figure:
    """All evaluations in (NRMSE, DECOMP.RSSD), the Pareto front and the chosen model."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.scatter(
        evals["nrmse"],
        evals["decomp_rssd"],
        s=3,
        alpha=0.2,
        c=evals["trial"],
        cmap="viridis",
        label="evaluations",
    )
    front = evals[evals["pareto"]].sort_values("nrmse")
    ax.plot(front["nrmse"], front["decomp_rssd"], "o-", color="tab:red", ms=3, label="Pareto front")
    chosen = evals[evals["chosen"]]
    ax.plot(chosen["nrmse"], chosen["decomp_rssd"], "*", color="k", ms=14, label="chosen")
    ax.set(xlabel="NRMSE", ylabel="DECOMP.RSSD", title="Multi-objective search")
    lo, hi = evals["nrmse"].quantile([0.0, 0.5])
    ax.set_xlim(lo * 0.95, hi)
    ax.legend(fontsize="small")
    return fig


def convergence(evals: pd.DataFrame) -> Figure:
    """Best NRMSE so far against evaluations, one line per trial."""
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for trial, g in evals.groupby("trial"):
        ax.plot(g["step"], g["nrmse"].cummin(), label=f"trial {trial}")
    ax.set(
        xlabel="evaluation",
        ylabel="best NRMSE so far",
        yscale="log",
        title="Convergence of the search",
    )
    ax.legend(fontsize="small")
    return fig


def fitted_vs_actual(fitted: pd.DataFrame) -> Figure:
    """Observed and fitted target over time; the holdout weeks shaded."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(fitted["date"], fitted["y"], color="k", lw=1, label="observed")
    ax.plot(fitted["date"], fitted["yhat"], color="tab:blue", lw=1, label="fitted")
    hold = fitted[fitted["split"] == "holdout"]
    if len(hold):
        ax.axvspan(hold["date"].min(), hold["date"].max(), color="grey", alpha=0.2, label="holdout")
    ax.set(ylabel="revenue / week")
    ax.legend(fontsize="small")
    return fig


def estimated_decomposition(decomp: pd.DataFrame, channels: list[str]) -> Figure:
    """Estimated weekly contributions: base (intercept + other regressors) and each channel."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    other = [c for c in decomp.columns if c not in ("date", *channels)]
    parts = {"base + controls": decomp[other].sum(axis=1)} | {c: decomp[c] for c in channels}
    ax.stackplot(decomp["date"], *parts.values(), labels=list(parts), alpha=0.8)
    ax.set(ylabel="revenue / week", title="Estimated decomposition")
    ax.legend(fontsize="x-small", ncol=4, loc="lower left")
    return fig
