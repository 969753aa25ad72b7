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
    estimated curves ``{estimator: {channel: {"spend", "mean", "lower", "upper"}}}`` overlaid."""
    names = list(truth["channels"])
    fig = Figure(figsize=(3.2 * len(names), 3), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ch = truth["channels"][name]
        ax.plot(ch["curve"]["spend"], ch["curve"]["response"], color="k", lw=2, label="truth")
        ax.axvline(ch["mean_weekly_spend"], color="grey", ls=":", lw=1)
        for est, curves in (estimates or {}).items():
            c = curves[name]
            line = ax.plot(c["spend"], c["mean"], label=est)[0]
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
