"""Aggregate the study's tables into its metrics: runs after the fits, from the files alone.

Reads ``comparisons.csv``, ``fits.csv`` and ``stability.csv`` from a metrics folder (written by
the study stage, :func:`mmm_recovery.evaluation.study.write_tables`) and writes beside them:

* ``study.json`` (DVC metrics): ``scenario -> estimator -> {...}`` (:func:`metrics`);
* ``pooled.json`` (DVC metrics): the same over all scenarios, and the paired contrasts between
  estimators (:func:`pooled_metrics`);
* ``performance.csv``: every cell's measures, per channel and channel-averaged, per scenario
  and over all (:func:`~.performance.performance`);
* ``calibration.csv``: coverage at every nominal level, per cell (:func:`~.performance.calibration`);
* ``contrasts.csv``: paired estimator differences (:func:`~.performance.contrasts`);
* ``coverage.csv`` and ``bias.csv`` (DVC plots): one point per cell, channels included.

A change to the scoring's aggregation or the reports reruns this and nothing that fits:
``python -m mmm_recovery.evaluation.aggregate studies/recovery.yaml reports/metrics``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import design_analysis, performance, stability
from mmm_recovery.evaluation.rounding import _round_frame, _rounded

#: the tables the aggregates are computed from (written by the study stage)
TABLES = ("comparisons.csv", "fits.csv", stability.STABILITY_FILE)

#: the measures of one cell in ``study.json`` (:func:`~.performance.performance`)
PERF_STATS = (
    "n",
    "fits",
    *(
        c
        for stat in ("bias", "rmse", "mean_rel_error", "mean_abs_rel_error")
        for c in (stat, f"{stat}_se")
    ),
    "coverage",
    "coverage_se",
    "coverage_lo",
    "coverage_hi",
    "n_intervals",
    "n_eff",
    "coverage_be",
    "coverage_be_se",
    "coverage_be_lo",
    "coverage_be_hi",
    "mean_width",
    "mean_width_se",
    "emp_se",
    "emp_se_se",
    "model_se",
    "se_ratio",
)


def metrics(
    study: Study,
    comparisons: pd.DataFrame,
    fits: pd.DataFrame,
    tables: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Nested ``scenario -> estimator -> {...}`` metrics for ``dvc metrics show``: the nominal
    interval level, fits, failed fits, non-converged (but kept) fits, regret and decision quality;
    per quantity a channel-averaged cell (:func:`~.performance.performance`: bias, RMSE, errors,
    coverage with its exact interval at the effective number of intervals, bias-eliminated
    coverage, empirical and model SE, each mean with its fit-clustered MC-SE) with every
    channel's own cell under ``channels``, each with its coverage at every nominal level
    (``calibration``). :func:`pooled_metrics` holds the same over all scenarios. ``tables``:
    the performance and calibration tables when already computed (:func:`_tables`)."""
    perf, cal = tables or _tables(study, comparisons)
    levels = _levels(study)
    means = fit_means(fits)
    return {
        scen: {
            est: _block(levels[est], scen, est, perf, cal, fits, means) for est in study.estimators
        }
        for scen in study.scenarios
    }


#: the per-fit columns averaged (with their fit-clustered MC-SE) in every block; ``lift_optimism``
#: is derived (predicted minus true lift of the recommendation)
FIT_MEAN_COLUMNS = (
    "regret",
    "regret_share_of_lift",
    "holdout_mape",
    "predicted_lift",
    "true_lift_of_recommendation",
    "lift_optimism",
    "spend_share_pull",
    "decomp_rssd",
    "regret_share_of_revenue",
    "curve_bias_at_optimum",
    "optimizer_curse",
)


def fit_means(fits: pd.DataFrame) -> dict[tuple[str, str, str], tuple[float, float]]:
    """``(scenario or ALL, estimator, column) -> (mean, MC-SE)`` of every per-fit column
    (:data:`FIT_MEAN_COLUMNS` and the regret shares at further bounds) over the fits that
    finished, in one pass (:func:`~.performance.cell_means`)."""
    ok = fits[fits["status"] == "ok"] if len(fits) else fits
    if not len(ok):
        return {}
    pred, true = "predicted_lift", "true_lift_of_recommendation"
    if {pred, true} <= set(ok):
        ok = ok.assign(lift_optimism=ok[pred].astype(float) - ok[true].astype(float))
    more = [c for c in ok.columns if c.startswith("regret_share_of_") and "@" in c]
    cols = [c for c in (*FIT_MEAN_COLUMNS, *more) if c in ok and ok[c].notna().any()]
    if not cols:
        return {}
    unit = ok.assign(channel=performance.ALL, **{c: pd.to_numeric(ok[c]) for c in cols})
    m = performance.cell_means(unit, ["estimator"], cols)
    return {
        (scen, est, c): (float(v), float(se))
        for c in cols
        for scen, est, v, se in zip(m["scenario"], m["estimator"], m[c], m[f"{c}_se"], strict=True)
        if pd.notna(v)
    }


def pooled_metrics(
    study: Study,
    comparisons: pd.DataFrame,
    fits: pd.DataFrame,
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """``estimator -> {...}`` as :func:`metrics`, every scenario together (each weighing the
    same), and ``contrasts``: the paired differences between estimators on the same datasets
    (:func:`~.performance.contrasts`), ``<estimator> - <versus> -> quantity -> measure ->
    {difference, se, lo, hi, pairs}``. ``tables``: performance, calibration and contrasts when
    already computed."""
    perf, cal, con = tables or (*_tables(study, comparisons), _contrasts(study, comparisons, fits))
    levels = _levels(study)
    means = fit_means(fits)
    out: dict[str, Any] = {
        est: _block(levels[est], performance.ALL, est, perf, cal, fits, means)
        for est in study.estimators
    }
    block: dict[str, Any] = {}
    for r in con[con["scenario"] == performance.ALL].itertuples():
        key = f"{r.estimator} - {r.versus}"
        block.setdefault(key, {}).setdefault(r.quantity, {})[r.measure] = {
            "difference": r.difference,
            "se": r.se,
            "lo": r.lo,
            "hi": r.hi,
            "pairs": int(r.pairs),
        }
    out["contrasts"] = block
    return out


def _levels(study: Study) -> dict[str, float]:
    from mmm_recovery.estimators.registry import estimator_for

    return {name: estimator_for(study, name).interval_level for name in study.estimators}


def _tables(study: Study, comparisons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    levels = _levels(study)
    return performance.performance(comparisons, levels), performance.calibration(
        comparisons, levels
    )


def _contrasts(study: Study, comparisons: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    return performance.contrasts(
        comparisons, fits, list(study.estimators), study.study.calibration_levels
    )


def _block(
    level: float,
    scen: str,
    est: str,
    perf: pd.DataFrame,
    cal: pd.DataFrame,
    fits: pd.DataFrame,
    means: dict[tuple[str, str, str], tuple[float, float]],
) -> dict[str, Any]:
    """One scenario's (or every scenario's: :data:`~.performance.ALL`) metrics of ``est``, whose
    intervals are at nominal ``level``; ``means``: :func:`fit_means` of ``fits``."""
    if len(fits):
        f = fits[fits["estimator"] == est]
        f = f if scen == performance.ALL else f[f["scenario"] == scen]
    else:
        f = fits
    ok = f[f["status"] == "ok"] if len(f) else f
    missing = int((f["status"] == "missing").sum()) if len(f) else 0
    m: dict[str, Any] = {
        "interval_level": level,
        # a task without a current record (not fitted yet, or overwritten) is counted apart:
        # never dropped, never part of a finished cell
        "fits": int(len(f)) - missing,
        "failed": int((f["status"] == "failed").sum()) if len(f) else 0,
        "missing": missing,
        "not_converged": int((_flag(ok["converged"]) != 1.0).sum()) if len(ok) else 0,
    }
    for col in ("regret", "regret_share_of_lift", "holdout_mape"):
        m[f"{col}_mean"], m[f"{col}_mean_se"] = means.get((scen, est, col), (np.nan, np.nan))
    m.update(
        _decision_quality(ok, {c: v for (s, e, c), v in means.items() if (s, e) == (scen, est)})
    )
    cells = perf[(perf["scenario"] == scen) & (perf["estimator"] == est)]
    curve = cal[(cal["scenario"] == scen) & (cal["estimator"] == est)]
    for q, cq in cells.groupby("quantity", sort=False):
        by_channel = {}
        for _, r in cq.iterrows():
            c = _cell(r)
            points = curve[(curve["quantity"] == q) & (curve["channel"] == r["channel"])]
            if len(points):  # empirical coverage at each nominal level (calibration curve)
                c["calibration"] = {
                    f"{p['nominal']:g}": {k: p[k] for k in CALIBRATION_KEYS}
                    for _, p in points.iterrows()
                }
            by_channel[r["channel"]] = c
        pooled = by_channel.pop(performance.ALL)
        m[q] = {**pooled, "channels": by_channel}
    return m


#: the statistics of a calibration point in ``study.json``
CALIBRATION_KEYS = ("coverage", "coverage_se", "coverage_lo", "coverage_hi", "n_intervals", "n_eff")


def _decision_quality(ok: pd.DataFrame, means: dict[str, tuple[float, float]]) -> dict[str, float]:
    """The regret distribution (median and 90th percentile, NaN below
    :data:`~.performance.MIN_FITS_QUANTILE` fits); the share of fits whose advice truly earns
    less than the current allocation (harmful advice) with its exact 95% interval, at the
    study's bound and each further one (``harmful_at_<b>``), and the regret's mean share of the
    optimum's lift there (``regret_share_of_lift_at_<b>``); the lift an estimator predicts for
    its own advice beside the lift that advice truly earns, and their paired mean difference
    (its "optimism"), split into the curves' bias at an allocation it did not select (the true
    optimum, ``curve_bias_at_optimum``) and the rest, the optimizer's curse; the regret as a
    share of revenue; the number of fits where a start of the true optimum's search ended in a
    worse local optimum or the recommendation beat it; and the mean pull of its effect shares
    toward the spend shares. Means carry their fit-clustered MC-SE (``means``: column -> (mean,
    MC-SE), :func:`fit_means`)."""
    out: dict[str, float] = {}
    for col in ("regret", "regret_share_of_lift"):
        v = ok[col] if len(ok) and col in ok else pd.Series(dtype=float)
        out[f"{col}_median"] = performance.quantile(v, 0.5)
        out[f"{col}_p90"] = performance.quantile(v, 0.9)
    lift = "true_lift_of_recommendation"
    harmful = (ok[lift].astype(float) < 0).where(ok[lift].notna()) if lift in ok else pd.Series()
    r = performance.rate(harmful)
    out["harmful_rate"], out["harmful_lo"], out["harmful_hi"] = r["rate"], r["lo"], r["hi"]
    for col in (c for c in ok.columns if c.startswith("harmful@")):  # at further bounds
        r = performance.rate(_flag(ok[col]))
        at = col.replace("@", "_at_")
        out[f"{at}_rate"], out[f"{at}_lo"], out[f"{at}_hi"] = r["rate"], r["lo"], r["hi"]
    if len(ok) and "optimum_beaten" in ok:  # the optimum's search, never hidden
        out["optimum_beaten_fits"] = int(_flag(ok["optimum_beaten"]).sum())
    if len(ok) and "optimum_starts_worse" in ok:
        worse = pd.to_numeric(ok["optimum_starts_worse"], errors="coerce")
        out["optimum_starts_worse_fits"] = int((worse > 0).sum())
    for name, col in (
        ("predicted_lift", "predicted_lift"),
        ("true_lift", lift),
        ("lift_optimism", "lift_optimism"),
        ("spend_share_pull", "spend_share_pull"),  # DECOMP.RSSD's pull (score.share_pull)
        ("decomp_rssd", "decomp_rssd"),
        ("regret_share_of_revenue", "regret_share_of_revenue"),
        ("curve_bias_at_optimum", "curve_bias_at_optimum"),
        ("optimizer_curse", "optimizer_curse"),
        *(
            (c.replace("@", "_at_"), c)
            for c in ok.columns
            if c.startswith("regret_share_of_") and "@" in c
        ),
    ):
        out[f"{name}_mean"], out[f"{name}_mean_se"] = means.get(col, (np.nan, np.nan))
    return out


def _flag(v: pd.Series) -> pd.Series:
    """A yes/no column as read back from CSV (bools, their text, or missing) as 1.0 / 0.0 / NaN."""
    table = {True: 1.0, False: 0.0, "True": 1.0, "False": 0.0}
    return v.map(lambda x: table.get(x, np.nan) if isinstance(x, bool | np.bool_ | str) else np.nan)


def _cell(row: pd.Series) -> dict[str, Any]:
    """One cell of ``study.json``: every measure of :func:`~.performance.performance` but its
    keys, counts as integers."""
    out: dict[str, Any] = {
        k: v for k, v in row.items() if k not in performance.CELL_KEYS and k in PERF_STATS
    }
    for k in ("n", "fits", "n_intervals"):
        out[k] = int(row[k]) if np.isfinite(row[k]) else 0
    return out


def read_tables(metrics_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The study's tables in ``metrics_dir``: comparisons, fits and seed stability; a clear
    error naming the file when one is missing."""
    out = []
    for name in TABLES:
        path = Path(metrics_dir) / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: missing; the study stage writes it (`dvc repro study`)"
            )
        try:
            out.append(pd.read_csv(path))
        except pd.errors.EmptyDataError:
            out.append(pd.DataFrame())
    return out[0], out[1], out[2]


def write_aggregates(study: Study, metrics_dir: Path) -> dict[str, Any]:
    """Compute every aggregate from the tables in ``metrics_dir`` and write them there (module
    docstring); return the ``study.json`` metrics."""
    metrics_dir = Path(metrics_dir)
    comparisons, fits, stab = read_tables(metrics_dir)
    if len(fits):
        fits = fits.sort_values(["scenario", "estimator", "replicate"], kind="stable")
    stab = stab.reindex(columns=stability.COLUMNS)
    perf, cal = _tables(study, comparisons)
    con = _contrasts(study, comparisons, fits)
    m = metrics(study, comparisons, fits, (perf, cal))
    for scen, per_est in stability.metrics(stab).items():
        for est, cell in per_est.items():
            m.setdefault(scen, {}).setdefault(est, {})["seed_stability"] = cell
    files.write_json(metrics_dir / "study.json", _rounded(m))
    files.write_json(
        metrics_dir / "pooled.json",
        _rounded(pooled_metrics(study, comparisons, fits, (perf, cal, con))),
    )
    files.write_csv(metrics_dir / "performance.csv", _round_frame(perf))
    files.write_csv(metrics_dir / "calibration.csv", _round_frame(cal))
    files.write_csv(metrics_dir / "contrasts.csv", _round_frame(con))
    cells = perf.reindex(columns=[*perf.columns, *(c for c in PERF_STATS if c not in perf)])
    cells = cells[cells["scenario"] != performance.ALL]
    label = (
        cells["quantity"]
        + " | "
        + cells["scenario"]
        + "/"
        + cells["estimator"]
        + " "
        + cells["channel"]
    )
    cells = cells.assign(label=label)
    keys = ["label", "scenario", "estimator", "quantity", "channel"]
    cov = cells[cells["n_intervals"] > 0][
        [*keys, "coverage", "coverage_se", "coverage_lo", "coverage_hi", "n_intervals", "n_eff"]
    ]
    files.write_csv(metrics_dir / "coverage.csv", _round_frame(cov))
    stats = ("bias", "rmse", "mean_abs_rel_error")
    bias = cells[[*keys, *(c for stat in stats for c in (stat, f"{stat}_se")), "fits"]]
    files.write_csv(metrics_dir / "bias.csv", _round_frame(bias))
    write_design(study, metrics_dir, comparisons)
    return m


def write_design(study: Study, metrics_dir: Path, comparisons: pd.DataFrame) -> None:
    """The designed arms' analyses (:mod:`.design_analysis`): ``design_cells.csv``,
    ``design_effects.csv``, ``design_contrasts.csv`` and ``design_truth.csv`` (empty tables
    for a study without a ``design:`` block)."""
    truths_file = metrics_dir / design_analysis.TRUTHS_FILE
    truths = pd.read_csv(truths_file) if truths_file.exists() else pd.DataFrame()
    tables = {
        "design_cells.csv": design_analysis.cells_table(study),
        "design_effects.csv": design_analysis.effects_table(study, comparisons),
        "design_contrasts.csv": design_analysis.contrasts_table(study, comparisons),
        "design_truth.csv": design_analysis.truth_slopes_table(study, comparisons, truths),
    }
    for name, table in tables.items():
        files.write_csv(metrics_dir / name, _round_frame(table))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmm_recovery.evaluation.aggregate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("study", help="the study file, e.g. studies/recovery.yaml")
    parser.add_argument(
        "metrics_dir", help="the folder of the study's tables, e.g. reports/metrics"
    )
    args = parser.parse_args(argv)
    from mmm_recovery.core.spec import load_study

    write_aggregates(load_study(args.study), Path(args.metrics_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
