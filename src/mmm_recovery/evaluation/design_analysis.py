"""The designed study's analyses (``design:`` arms), from the study's tables; never refits.

* :func:`cells_table` -- every design cell: its arm, factor levels, replicates and the arm's
  target Monte Carlo SEs (``design_cells.csv``).
* :func:`effects_table` -- per arm with factors, per estimator: the meta-model
  (:func:`~.metamodel.factor_effects`) of the primary quantity's coverage at the common
  nominal level (logistic, Firth) and of its absolute relative error (log-linear), main effects
  and two-way interactions, SEs clustered by replicate (the common-random-numbers unit), each
  beside its arm's target MC-SE and whether it met it (``design_effects.csv``).
* :func:`contrasts_table` -- per arm, every cell against the arm's reference cell on the same
  replicates: paired differences per estimator and channel, with the paired and the unpaired
  MC-SE (``design_contrasts.csv``).
* :func:`truth_slopes_table` -- the random-truth arm: coverage and error against the drawn
  truth's features (``design_truth.csv``, :mod:`.truth_features`).

The primary quantity is ROAS: defined for every adstock and saturation family, so cells whose
truth lies outside an estimator's family are scored on the same estimand.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import metamodel, truth_features

#: the answer keys' features per dataset and channel, written by the study stage
TRUTHS_FILE = "truths.csv"
#: the primary quantity of every arm (family-free)
PRIMARY = "roas"
#: the common nominal level of the coverage analysed (every estimator reports it when the study's
#: calibration_levels include it; else each estimator's own level, column ``covered``)
COMMON_LEVEL = 0.9
#: fewest replicates for replicate-clustered SEs: with fewer, the replicate sandwich has too few
#: clusters (t on 1 or 2 df), so each fit is a cluster instead -- conservative for the
#: within-replicate contrasts a factorial estimates, whose cells' shared random numbers make
#: them positively correlated (the fit clusters leave that covariance out)
MIN_CLUSTERS = 10
#: measure -> (meta-model kind, the aims' measure whose target applies)
MEASURES: dict[str, tuple[Literal["binomial", "log"], str]] = {
    "coverage": ("binomial", "coverage"),
    "abs_rel_error": ("log", "log_abs_error"),
}

CELL_COLUMNS = ["scenario", "arm", "levels", "replicates", "target_coverage", "target_rel_error"]
CONTRAST_COLUMNS = ["arm", "scenario", "reference", "estimator", "quantity", "channel"]
CONTRAST_COLUMNS += ["measure", "difference", "se", "unpaired_se", "lo", "hi", "pairs"]
_LEAD = ["arm", "estimator", "quantity", "measure", "target_mcse"]
EFFECT_COLUMNS = [*_LEAD, "target_se", *metamodel.COLUMNS, "cluster", "meets_target"]
TRUTH_COLUMNS = [*_LEAD, *truth_features.COLUMNS, "cluster"]


def cluster_column(rows: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``rows`` with a ``fit`` column, and the cluster to use: the replicate (the common-
    random-numbers unit) with at least :data:`MIN_CLUSTERS` of them, else the fit."""
    rows = rows.assign(fit=rows["scenario"].astype(str) + "/" + rows["replicate"].astype(str))
    return rows, "replicate" if rows["replicate"].nunique() >= MIN_CLUSTERS else "fit"


def covered_column(comparisons: pd.DataFrame) -> str:
    """The coverage column analysed: at :data:`COMMON_LEVEL` where the table has it."""
    col = f"covered@{COMMON_LEVEL:g}"
    return col if col in comparisons else "covered"


def cells_table(study: Study) -> pd.DataFrame:
    """One row per design cell (:data:`CELL_COLUMNS`); ``levels`` is ``factor=level`` joined by
    ``;``, targets are the arm's ``of: cell`` aims (NaN without one)."""
    rows = []
    for scen, (arm, levels) in study.cells.items():
        aims = study.design.arms[arm].aims if study.design else []
        target = {a.measure: a.target_mcse for a in aims if a.of == "cell"}
        rows.append(
            {
                "scenario": scen,
                "arm": arm,
                "levels": ";".join(f"{k}={v}" for k, v in levels.items()),
                "replicates": study.replicates_of(scen),
                "target_coverage": target.get("coverage", math.nan),
                "target_rel_error": target.get("rel_error", math.nan),
            }
        )
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def _arm_rows(study: Study, comparisons: pd.DataFrame, arm: str) -> pd.DataFrame:
    """The arm's primary-quantity rows, with a column per factor (its level)."""
    cells = {s: lv for s, (a, lv) in study.cells.items() if a == arm}
    d = comparisons[(comparisons["quantity"] == PRIMARY) & comparisons["scenario"].isin(cells)]
    d = d.assign(abs_rel_error=d["rel_error"].abs(), coverage=d[covered_column(d)])
    assert study.design is not None
    for factor in study.design.arms[arm].factors:
        d = d.assign(**{factor: d["scenario"].map(lambda s, f=factor: cells[s][f])})
    return d


def effects_table(study: Study, comparisons: pd.DataFrame) -> pd.DataFrame:
    """The meta-models of every arm with factors (module docstring): :data:`metamodel.COLUMNS`
    with ``arm, estimator, quantity, measure, target_mcse, target_se, meets_target`` first;
    ``target_se`` is the SE compared with the target (the average marginal effect's for
    coverage, on the probability scale; the log ratio's for the absolute error)."""
    out = []
    if study.design is None:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    for arm, spec in study.design.arms.items():
        if not spec.factors:
            continue
        targets: dict[str, float] = {
            a.measure: a.target_mcse for a in spec.aims if a.of == "effect"
        }
        rows, cluster = cluster_column(_arm_rows(study, comparisons, arm))
        factors = {f: list(levels) for f, levels in spec.factors.items()}
        for est in study.estimators:
            d = rows[rows["estimator"] == est]
            if d.empty:
                continue
            for measure, (kind, aim) in MEASURES.items():
                t = metamodel.factor_effects(
                    d, factors, measure, kind, cluster=cluster, interactions=len(factors) > 1
                )
                t["cluster"] = cluster
                se = t["ame_se"] if kind == "binomial" else t["se"]
                target = targets.get(aim, math.nan)
                t.insert(0, "target_se", se)
                t.insert(0, "target_mcse", target)
                t.insert(0, "measure", measure)
                t.insert(0, "quantity", PRIMARY)
                t.insert(0, "estimator", est)
                t.insert(0, "arm", arm)
                t["meets_target"] = np.where(
                    t["kind"] == "main",
                    (se <= target) if not math.isnan(target) else np.nan,
                    np.nan,
                )
                out.append(t)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=TRUTH_COLUMNS)


def contrasts_table(study: Study, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Every design cell against its arm's reference cell (the first cell: every factor at its
    first level), paired on the replicate (common random numbers): per estimator and channel
    (and ``all``, the channel average per replicate), the mean difference of the primary
    quantity's relative error, absolute relative error and coverage, with the paired SE, the
    SE the same fits would give unpaired, and a t 95% interval on pairs - 1 df."""
    if study.design is None:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    cov = covered_column(comparisons)
    d = comparisons[comparisons["quantity"] == PRIMARY]
    d = d.assign(abs_rel_error=d["rel_error"].abs(), coverage=d[cov])
    avg = d.groupby(["scenario", "replicate", "estimator"], as_index=False)[
        ["rel_error", "abs_rel_error", "coverage"]
    ].mean()
    d = pd.concat([d, avg.assign(channel="all")], ignore_index=True)
    keyed = d.set_index(["scenario", "estimator", "channel", "replicate"]).sort_index()
    rows = []
    for arm, spec in study.design.arms.items():
        cells = list(spec.cells(arm))
        ref = cells[0]
        for scen in cells[1:]:
            for (est, chan), grp in d[d["scenario"] == scen].groupby(["estimator", "channel"]):
                try:
                    base = keyed.loc[(ref, est, chan)]
                except KeyError:
                    continue
                mine = grp.set_index("replicate")
                for measure in ("rel_error", "abs_rel_error", "coverage"):
                    rows.append(_paired(arm, scen, ref, est, chan, measure, mine, base))
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def _paired(
    arm: str,
    scen: str,
    ref: str,
    est: str,
    chan: str,
    measure: str,
    mine: pd.DataFrame,
    base: pd.DataFrame,
) -> dict[str, object]:
    a, b = mine[measure].dropna(), base[measure].dropna()
    shared = a.index.intersection(b.index)
    diff = float((a[shared] - b[shared]).mean()) if len(shared) else math.nan
    se, unpaired = (
        metamodel.paired_vs_unpaired_se(a, b) if len(shared) > 1 else (math.nan, math.nan)
    )
    t = stats.t.ppf(0.975, len(shared) - 1) if len(shared) > 1 else math.nan
    return {
        "arm": arm,
        "scenario": scen,
        "reference": ref,
        "estimator": est,
        "quantity": PRIMARY,
        "channel": chan,
        "measure": measure,
        "difference": diff,
        "se": se,
        "unpaired_se": unpaired,
        "lo": diff - t * se,
        "hi": diff + t * se,
        "pairs": len(shared),
    }


def truth_slopes_table(
    study: Study, comparisons: pd.DataFrame, truths: pd.DataFrame
) -> pd.DataFrame:
    """The random-truth arms (a ``random_truth`` block in their base): per estimator, coverage
    and absolute error of the primary quantity against the truth's features
    (:func:`~.truth_features.slopes`), with each arm's ``of: slope`` target."""
    if study.design is None or truths.empty:
        return pd.DataFrame(columns=TRUTH_COLUMNS)
    out = []
    for arm, spec in study.design.arms.items():
        if "random_truth" not in spec.base:
            continue
        targets: dict[str, float] = {a.measure: a.target_mcse for a in spec.aims if a.of == "slope"}
        d = comparisons[
            (comparisons["quantity"] == PRIMARY) & comparisons["scenario"].isin(spec.cells(arm))
        ]
        d = d.assign(abs_rel_error=d["rel_error"].abs(), coverage=d[covered_column(d)])
        d = d.merge(truths, on=["scenario", "replicate", "channel"], suffixes=("", "_truth"))
        d, cluster = cluster_column(d)
        for est, grp in d.groupby("estimator", sort=False):
            for measure, (kind, aim) in MEASURES.items():
                t = truth_features.slopes(grp, truth_features.FEATURES, measure, kind, cluster)
                t["cluster"] = cluster
                t.insert(0, "target_mcse", targets.get(aim, math.nan))
                t.insert(0, "measure", measure)
                t.insert(0, "quantity", PRIMARY)
                t.insert(0, "estimator", est)
                t.insert(0, "arm", arm)
                out.append(t)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=TRUTH_COLUMNS)
