"""The Bayesian estimator's own figures (its showcase): prior predictive bands, trace and rank
plots, posterior draws against the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def prior_predictive(prior_y: np.ndarray, dates: pd.Series, y_obs: np.ndarray) -> Figure:
    """Prior predictive 50% and 94% bands of the weekly target (currency) against the observed."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    q = np.quantile(prior_y, [0.03, 0.25, 0.75, 0.97], axis=0)
    ax.fill_between(dates, q[0], q[3], alpha=0.2, label="prior predictive 94%")
    ax.fill_between(dates, q[1], q[2], alpha=0.4, label="prior predictive 50%")
    ax.plot(dates, y_obs, color="k", lw=1, label="observed")
    ax.set(ylabel="revenue / week", title="Prior predictive check")
    ax.legend(fontsize="small")
    return fig


def trace_rank(samples: np.ndarray, channels: list[str], name: str) -> Figure:
    """Trace (per chain) and rank histograms (per chain) of one parameter per channel.
    ``samples`` has shape (chain, draw, channel)."""
    n_chain, n_draw, n_ch = samples.shape
    fig = Figure(figsize=(9, 1.8 * n_ch), layout="constrained")
    axes = fig.subplots(n_ch, 2, squeeze=False)
    ranks = samples.reshape(-1, n_ch).argsort(axis=0).argsort(axis=0).reshape(n_chain, n_draw, n_ch)
    bins = np.linspace(0, n_chain * n_draw, 21)
    for j, ch in enumerate(channels):
        for c in range(n_chain):
            axes[j, 0].plot(samples[c, :, j], lw=0.5)
            axes[j, 1].hist(ranks[c, :, j], bins=bins, histtype="step")
        axes[j, 0].set_ylabel(f"{name}\n{ch}", fontsize="small")
    axes[0, 0].set_title("trace (one line per chain)")
    axes[0, 1].set_title("rank histograms (uniform = mixing well)")
    return fig


def posterior_vs_truth(
    draws: dict[str, np.ndarray], truth: dict[str, dict[str, float]], title: str
) -> Figure:
    """Histograms of posterior draws per channel with the true value marked.
    ``draws``: channel -> 1-D draws; ``truth``: channel -> true value (None if not comparable)."""
    names = list(draws)
    fig = Figure(figsize=(3 * len(names), 2.6), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, ch in zip(axes, names, strict=True):
        ax.hist(draws[ch], bins=40, color="tab:blue", alpha=0.7)
        if truth.get(ch) is not None:
            ax.axvline(truth[ch], color="k", lw=2, label="truth")
        ax.set_title(ch, fontsize="small")
    axes[0].legend(fontsize="small")
    fig.suptitle(title)
    return fig
