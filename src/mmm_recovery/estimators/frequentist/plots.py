"""The frequentist estimator's own figures (its showcase): the search's Pareto front and
convergence."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def pareto_front(evals: pd.DataFrame) -> Figure:
    """All evaluations in (NRMSE, DECOMP.RSSD), the Pareto front and the chosen model (with lift
    tests the front is in three objectives, MAPE.LIFT too: its projection is not a line)."""
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
    style = "o" if "mape_lift" in evals else "o-"
    label = "Pareto front (with MAPE.LIFT)" if "mape_lift" in evals else "Pareto front"
    ax.plot(front["nrmse"], front["decomp_rssd"], style, color="tab:red", ms=3, label=label)
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
