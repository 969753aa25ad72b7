"""The designed study in the reports: ADEMP, factor effects, the misspecification matrix, the
confounding contrasts and the random-truth curves, from the metrics files only
(``design_*.csv``, ``performance.csv``; :mod:`mmm_recovery.evaluation.design_analysis`).

Every figure states its Monte Carlo precision beside the arm's target: an effect's SE, a
contrast's paired SE, a slope's SE, and whether the target was met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmm_recovery.reporting.tables import fmt

#: the confounded channel(s) of each confounding cell are those its scenario moves; the table
#: shows every channel's row of the contrast file, and these first
FOCUS = ("search", "tv", "all")


@dataclass
class DesignMetrics:
    """The design tables of a metrics folder (empty frames where absent)."""

    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    contrasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: pd.DataFrame = field(default_factory=pd.DataFrame)
    performance: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def load(cls, metrics_dir: str | Path) -> DesignMetrics:
        d = Path(metrics_dir)

        def csv(name: str) -> pd.DataFrame:
            f = d / name
            return pd.read_csv(f) if f.is_file() and f.stat().st_size else pd.DataFrame()

        return cls(
            csv("design_cells.csv"),
            csv("design_effects.csv"),
            csv("design_contrasts.csv"),
            csv("design_truth.csv"),
            csv("performance.csv"),
            csv("calibration.csv"),
        )


def _ci(est: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    if fmt(est) == "n/a":
        return "n/a"
    if fmt(lo) == "n/a":
        return fmt(est, digits)
    return f"{fmt(est, digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def ademp_table(spec: Any) -> pd.DataFrame:
    """One row per arm: its aim, cells, derived replicates per cell, targets (from the study)."""
    if spec.design is None:
        return pd.DataFrame()
    rows = []
    for arm, a in spec.design.arms.items():
        cells = a.cells(arm)
        reps = a.replicates(spec.design.planning, arm)
        rows.append(
            {
                "arm": arm,
                "aim": a.aim,
                "factors": "; ".join(f"{f}: {', '.join(lv)}" for f, lv in a.factors.items())
                or "none (one cell)",
                "cells": len(cells),
                "replicates/cell": reps,
                "targets (MC-SE)": "; ".join(
                    f"{x.measure} per {x.of} {fmt(x.target_mcse)}" for x in a.aims
                ),
            }
        )
    return pd.DataFrame(rows)


def effects_table(dm: DesignMetrics, arm: str, estimator: str) -> pd.DataFrame:
    """The arm's meta-model for one estimator: per term, the coverage effect (average marginal
    effect, probability scale, main effects; log-odds for interactions) and the ratio of the
    geometric-mean absolute ROAS error, each with its 95% interval, and each main effect's SE
    against its target."""
    e = dm.effects
    if e.empty:
        return pd.DataFrame()
    e = e[(e["arm"] == arm) & (e["estimator"] == estimator)]
    cov = e[e["measure"] == "coverage"].set_index("term")
    err = e[e["measure"] == "abs_rel_error"].set_index("term")
    rows = []
    for term in cov.index:
        c, r = cov.loc[term], err.loc[term] if term in err.index else None
        main = c["kind"] == "main"
        rows.append(
            {
                "term": term,
                "coverage effect [95% CI]": _ci(c["ame"], c["ame_lower"], c["ame_upper"])
                if main
                else f"log-odds {_ci(c['estimate'], c['lower'], c['upper'], 2)}",
                "SE / target": f"{fmt(c['target_se'])} / {fmt(c['target_mcse'])}" if main else "",
                "|error| ratio [95% CI]": "n/a"
                if r is None
                else _ci(r["ratio"], r["ratio_lower"], r["ratio_upper"], 2),
                "log SE / target": ""
                if r is None or not main
                else f"{fmt(r['target_se'], 2)} / {fmt(r['target_mcse'], 2)}",
            }
        )
    return pd.DataFrame(rows)


def effects_note(dm: DesignMetrics, arm: str) -> str:
    """How many main effects met their target MC-SE, per measure (a claim's power, stated)."""
    e = dm.effects
    if e.empty:
        return ""
    e = e[(e["arm"] == arm) & (e["kind"] == "main")]
    parts = []
    for measure, g in e.groupby("measure", sort=False):
        if g["target_mcse"].isna().all():
            parts.append(f"{measure}: this arm's targets are per cell, not per effect")
            continue
        judged = g["meets_target"].dropna()
        parts.append(
            f"{measure}: {int(judged.sum())} of {len(g)} main effects met the target MC-SE"
            + (f" ({len(g) - len(judged)} not estimable)" if len(judged) < len(g) else "")
        )
    clusters = int(e["n_clusters"].max()) if len(e) else 0
    by = str(e["cluster"].iloc[0]) if len(e) and "cluster" in e else "replicate"
    how = (
        f"SEs are clustered by replicate ({clusters} replicates: every cell of a replicate "
        "shares its random numbers)"
        if by == "replicate"
        else f"SEs are clustered by fit ({clusters} fits): too few replicates to cluster on "
        "them, and fit clusters leave out the positive covariance that shared random numbers "
        "give two cells of a replicate, so they are conservative for these within-replicate "
        "contrasts"
    )
    return f"{how}, with t intervals on clusters - 1 df. " + "; ".join(parts) + "."


def misspecification_matrix(dm: DesignMetrics, arm: str = "misspecification") -> pd.DataFrame:
    """Per cell (truth's adstock x saturation) and estimator, channel averages with their MC-SE:
    ROAS coverage at 0.9 (``calibration.csv``), ROAS and mROAS bias (mean relative error)."""
    cells = dm.cells[dm.cells["arm"] == arm] if len(dm.cells) else pd.DataFrame()
    p, cal = dm.performance, dm.calibration
    if cells.empty or p.empty:
        return pd.DataFrame()
    p = p[(p["channel"] == "all") & p["scenario"].isin(cells["scenario"])]
    if len(cal):
        cal = cal[(cal["channel"] == "all") & (cal["quantity"] == "roas")]
        cal = cal[np.isclose(cal["nominal"], 0.9)]
    rows = []
    for scen, levels in zip(cells["scenario"], cells["levels"], strict=True):
        truth = ", ".join(v.split("=")[1] for v in levels.split(";"))
        for est, g in p[p["scenario"] == scen].groupby("estimator", sort=False):
            q = g.set_index("quantity")
            c = cal[(cal["scenario"] == scen) & (cal["estimator"] == est)] if len(cal) else cal
            rows.append(
                {
                    "truth": truth,
                    "estimator": est,
                    "ROAS coverage@0.9": _se(c.iloc[0], "coverage") if len(c) else "n/a",
                    "ROAS bias": _se(q.loc["roas"], "mean_rel_error")
                    if "roas" in q.index
                    else "n/a",
                    "mROAS bias": _se(q.loc["mroas"], "mean_rel_error")
                    if "mroas" in q.index
                    else "n/a",
                    "fits": int(q.loc["roas", "fits"]) if "roas" in q.index else 0,
                }
            )
    return pd.DataFrame(rows)


def _se(row: pd.Series, col: str) -> str:
    se = row.get(f"{col}_se", math.nan)
    return f"{fmt(row[col])} ({fmt(se)})" if fmt(se) != "n/a" else fmt(row[col])


def confounding_table(
    dm: DesignMetrics, moved: dict[str, list[str]] | None = None, arm: str = "confounding"
) -> pd.DataFrame:
    """Each confounding cell against the arm's unconfounded reference, paired on the
    replicate: the difference in ROAS relative error (bias) per estimator for the channels the
    cell's mechanism moves (``moved``: scenario -> channels; all of :data:`FOCUS` without it)
    and the channel average, with its 95% interval and paired SE (the unpaired SE beside it)."""
    c = dm.contrasts
    if c.empty:
        return pd.DataFrame()
    c = c[(c["arm"] == arm) & (c["measure"] == "rel_error")]
    rows = []
    for r in c.itertuples():
        shown = [*moved.get(str(r.scenario), []), "all"] if moved is not None else FOCUS
        if r.channel not in shown:
            continue
        rows.append(
            {
                "cell": str(r.scenario).removeprefix(f"{arm}-"),
                "estimator": r.estimator,
                "channel": r.channel,
                "ROAS bias vs none [95% CI]": _ci(r.difference, r.lo, r.hi),
                "paired SE": fmt(r.se),
                "unpaired SE": fmt(r.unpaired_se),
                "pairs": int(r.pairs),
            }
        )
    return pd.DataFrame(rows)


def pairing_note(dm: DesignMetrics) -> str:
    """What common random numbers bought: the median ratio of the unpaired to the paired SE
    over every contrast of the design."""
    c = dm.contrasts
    if c.empty:
        return ""
    ok = c[(c["se"] > 0) & c["unpaired_se"].notna()]
    if ok.empty:
        return ""
    ratio = (ok["unpaired_se"] / ok["se"]).median()
    return (
        f"Common random numbers: over the design's {len(ok)} cell contrasts, the unpaired SE is "
        f"a median {fmt(ratio, 2)} times the paired one, i.e. pairing saves about "
        f"{fmt(1 - 1 / ratio**2, 2)} of the replicates an unpaired design would need for the "
        "same precision."
    )


def truth_curves(dm: DesignMetrics, measure: str = "coverage") -> Figure:
    """The random-truth arm: fitted ``measure`` of ROAS against each truth feature, per
    estimator, with 95% intervals (others at their means)."""
    t = dm.truth
    t = t[(t["kind"] == "curve") & (t["measure"] == measure)] if len(t) else t
    feats = list(dict.fromkeys(t["feature"])) if len(t) else []
    fig = Figure(figsize=(2.6 * max(len(feats), 1), 2.8), layout="constrained")
    axes = fig.subplots(1, max(len(feats), 1), squeeze=False)[0]
    for ax, f in zip(axes, feats, strict=False):
        for est, g in t[t["feature"] == f].groupby("estimator", sort=False):
            ax.plot(g["x"], g["estimate"], marker="o", ms=3, label=str(est))
            ax.fill_between(g["x"], g["lower"], g["upper"], alpha=0.15)
        ax.set_xlabel(f)
        if f in ("half_saturation", "roas"):
            ax.set_xscale("log")
    axes[0].set_ylabel("ROAS coverage@0.9" if measure == "coverage" else "geo-mean |rel. error|")
    if feats:
        axes[0].legend(fontsize=7)
    return fig


def truth_slopes(dm: DesignMetrics) -> pd.DataFrame:
    """Slopes per sd of each truth feature (coverage: average derivative, probability scale;
    |error|: log ratio), with 95% intervals and SE against the target."""
    t = dm.truth
    if t.empty:
        return pd.DataFrame()
    t = t[t["kind"] == "slope"]
    rows = []
    for r in t.itertuples():
        cov = r.measure == "coverage"
        est, se = (r.marginal, r.marginal_se) if cov else (r.estimate, r.se)
        half = (r.upper - r.lower) / 2 if np.isfinite(r.upper) else math.nan
        scale = r.marginal / r.estimate if cov and r.estimate else 1.0
        rows.append(
            {
                "estimator": r.estimator,
                "measure": r.measure,
                "feature (per sd)": r.feature,
                "slope [95% CI]": _ci(est, est - half * scale, est + half * scale),
                "SE / target": f"{fmt(se)} / {fmt(r.target_mcse)}",
                "fits x channels": int(r.n_rows),
            }
        )
    return pd.DataFrame(rows)
