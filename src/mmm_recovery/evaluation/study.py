"""The parameter-recovery study: scenarios x replicates x estimators, parallel and resumable.

Each task fits one estimator to one simulated replicate and writes one record atomically to
``data/study/<scenario>/rep_<NNN>/<estimator>.json``: the fit's result beside its truth
(:mod:`.tasks`). Aggregation scores every record against its truth
(:mod:`mmm_recovery.evaluation.score`, with the regret of its budget advice,
:mod:`mmm_recovery.evaluation.budget`) and never refits. A rerun skips tasks whose record exists
and carries the same input fingerprint (scenario, estimator settings, seeds, the code that fit
it), so an interrupted study resumes without redoing finished fits, never reads a half-written
one, and a change to the scoring or the reports refits nothing. A fit that raises is recorded as ``status: failed`` with its
reason and the study goes on; a fit that does not converge is kept and flagged.

Execution: ``processes`` (a local process pool of ``study.workers``) or a Dask distributed
scheduler (``study.scheduler: tcp://host:port``, or the ``MMM_RECOVERY_SCHEDULER`` environment
variable, which wins); one pool or Dask task per batch of tasks (:mod:`.tasks`). Progress is
printed as lines on stderr (:mod:`.progress`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import score, stability
from mmm_recovery.evaluation.scheduler import SCHEDULER_ENV, check_scheduler, scheduler_for
from mmm_recovery.evaluation.tasks import (
    Task,
    batches,
    is_done,
    read_record,
    run_batch,
    scored,
    tasks,
)

#: the aggregates of one cell (``score.aggregate``), each but ``n`` with its MC-SE ``<name>_se``
AGG_STATS = ("bias", "rmse", "mean_rel_error", "mean_abs_rel_error", "coverage", "mean_width")
AGG_COLUMNS = [
    "scenario",
    "estimator",
    "quantity",
    "channel",
    "n",
    *(c for stat in AGG_STATS for c in (stat, f"{stat}_se")),
    "coverage_lo",
    "coverage_hi",
    "n_intervals",
]


def run_study(
    study: Study,
    data_root: Path | None = None,
    progress: bool = True,
    only: Iterable[Task] | None = None,
) -> list[dict[str, Any]]:
    """Run every task whose record is missing; return the summaries of the tasks run now.
    ``progress``: print fits done / total, fits per minute and the time left to stderr
    (:class:`~mmm_recovery.evaluation.progress.Progress`)."""
    from mmm_recovery.evaluation.progress import Progress

    wanted = list(only or tasks(study))
    todo = [t for t in wanted if not is_done(study, t, data_root)]
    if not todo:
        return []
    study_path = str(study.source)
    root = str(data_root) if data_root else None
    sched = scheduler_for(study)
    done: list[dict[str, Any]] = []
    bar = Progress(
        len(todo),
        f"study {study.study.name}",
        skipped=len(wanted) - len(todo),
        enabled=progress,
    )
    bar.emit()
    if sched == "processes":
        with ProcessPoolExecutor(
            max_workers=study.study.workers, mp_context=mp.get_context("spawn")
        ) as pool:
            futures = [pool.submit(run_batch, study_path, b, root) for b in batches(study, todo)]
            for f in as_completed(futures):
                done += f.result()
                bar.update(len(f.result()))
    else:
        from distributed import Client
        from distributed import as_completed as dask_completed

        where = (
            f"environment variable {SCHEDULER_ENV}"
            if os.environ.get(SCHEDULER_ENV)
            else f"{study.source}: study.scheduler"
        )
        check_scheduler(sched, study.study.scheduler_timeout_s, where)
        with Client(sched, timeout=study.study.scheduler_timeout_s) as client:
            futures = [
                client.submit(run_batch, study_path, b, root, pure=False)
                for b in batches(study, todo)
            ]
            for f in dask_completed(futures):
                done += f.result()
                bar.update(len(f.result()))
    return done


def load_records(study: Study, data_root: Path | None = None) -> list[dict[str, Any]]:
    """The valid records of the current inputs (:func:`~.tasks.read_record`), each scored against
    its truth (:func:`~.tasks.scored`: this is where scoring runs, after the fits), failures with
    attempts left included (they count as failures until a later run fits them); missing tasks
    are simply absent."""
    records = (read_record(study, t, data_root) for t in tasks(study))
    return [scored(r, study.study.budget_bound) for r in records if r is not None]


def comparisons_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in records:
        if r["status"] != "ok":
            continue
        for row in r["comparison"]:
            rows.append(
                {
                    "scenario": r["scenario"],
                    "replicate": r["replicate"],
                    "estimator": r["estimator"],
                    **row,
                }
            )
    return pd.DataFrame(rows, columns=None if rows else COMPARISON_COLUMNS)


#: The columns of ``comparisons.csv`` when no fit succeeded (a fit's rows carry these and more)
COMPARISON_COLUMNS = (
    "scenario",
    "replicate",
    "estimator",
    "channel",
    "quantity",
    "truth",
    "estimate",
    "error",
    "rel_error",
    "lower",
    "upper",
    "width",
    "covered",
    "converged",
)
#: The columns every ``fits.csv`` has, whatever its fits' statuses
FIT_COLUMNS = (
    "scenario",
    "replicate",
    "estimator",
    "status",
    "converged",
    "error",
    "regret",
    "regret_share_of_lift",
    "true_lift_of_recommendation",
    "predicted_lift",
    "decomp_rssd_true",
    "decomp_rssd",
    "spend_share_pull",
    "holdout_mape",
)

#: Workflow diagnostics copied from a fit's results into ``fits.csv`` when the estimator has them
DIAGNOSTIC_COLUMNS = (
    "max_rhat",
    "min_ess_bulk",
    "min_ess_tail",
    "divergences",
    "min_bfmi",
    "mean_leapfrog_steps",
    "prior_predictive_share_in_range",
    "prior_sensitivity_threshold",
)


def fits_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per fit: status, convergence, error, regret, holdout MAPE and the workflow
    diagnostics the estimator records (:data:`DIAGNOSTIC_COLUMNS`)."""
    rows = []
    for r in records:
        row = {
            k: r.get(k)
            for k in (
                "scenario",
                "replicate",
                "estimator",
                "status",
                "converged",
            )
        }
        row["error"] = r.get("error")
        if r["status"] == "ok":
            row["regret"] = r["regret"]["regret"]
            row["regret_share_of_lift"] = r["regret"]["regret_share_of_lift"]
            row["true_lift_of_recommendation"] = r["regret"]["true_lift_of_recommendation"]
            row["predicted_lift"] = r["regret"].get("predicted_lift")
            row.update(r["shares"])
            row["holdout_mape"] = r["result"]["fit"].get("holdout", {}).get("mape")
            diag = r["result"].get("diagnostics", {})
            for key in DIAGNOSTIC_COLUMNS:
                if isinstance(diag.get(key), int | float):
                    row[key] = diag[key]
            if "prior_sensitivity_skipped" in diag:  # why a fit's sensitivities are missing
                row["prior_sensitivity_skipped"] = diag["prior_sensitivity_skipped"]
        rows.append(row)
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in FIT_COLUMNS]
    return df.reindex(columns=[*FIT_COLUMNS, *extra])


def metrics(study: Study, comparisons: pd.DataFrame, fits: pd.DataFrame) -> dict[str, Any]:
    """Nested ``scenario -> estimator -> {...}`` metrics for ``dvc metrics show``: per quantity
    (pooled over channels) bias, RMSE, coverage (+ exact 95% CI) and interval width; plus the
    nominal interval level, fits, failed fits, non-converged (but kept) fits and regret; with the
    study's ``calibration_levels``, each quantity's coverage at every nominal level."""
    from mmm_recovery.estimators.registry import estimator_for

    agg = score.aggregate(comparisons) if len(comparisons) else pd.DataFrame(columns=AGG_COLUMNS)
    levels = {name: estimator_for(study, name).interval_level for name in study.estimators}
    cal = score.calibration(comparisons, levels)
    out: dict[str, Any] = {}
    for scen in study.scenarios:
        out[scen] = {}
        for est in study.estimators:
            f = fits[(fits["scenario"] == scen) & (fits["estimator"] == est)] if len(fits) else fits
            ok = f[f["status"] == "ok"] if len(f) else f
            m: dict[str, Any] = {
                "interval_level": levels[est],
                "fits": int(len(f)),
                "failed": int((f["status"] != "ok").sum()) if len(f) else 0,
                "not_converged": int((~ok["converged"].astype(bool)).sum()) if len(ok) else 0,
            }
            for col in ("regret", "regret_share_of_lift", "holdout_mape"):
                mean, se, _ = score.mean_se(ok[col]) if len(ok) and col in ok else (np.nan,) * 3
                m[f"{col}_mean"], m[f"{col}_mean_se"] = mean, se
            m.update(_decision_quality(ok))
            cell = agg[(agg["scenario"] == scen) & (agg["estimator"] == est)]
            curve = cal[(cal["scenario"] == scen) & (cal["estimator"] == est)]
            for _, row in cell[cell["channel"] == "all"].iterrows():
                per_channel = cell[
                    (cell["quantity"] == row["quantity"]) & (cell["channel"] != "all")
                ]
                m[row["quantity"]] = {
                    **_cell(row),
                    "channels": {r["channel"]: _cell(r) for _, r in per_channel.iterrows()},
                }
                points = curve[curve["quantity"] == row["quantity"]]
                if len(points):  # empirical coverage at each nominal level (calibration curve)
                    m[row["quantity"]]["calibration"] = {
                        f"{r['nominal']:g}": {
                            k: r[k] for k in ("coverage", "coverage_se", "n_intervals")
                        }
                        for _, r in points.iterrows()
                    }
            out[scen][est] = m
    return out


def _decision_quality(ok: pd.DataFrame) -> dict[str, float]:
    """The regret distribution (median, 90th percentile); the optimizer's curse: the lift an
    estimator predicts for its own advice beside the lift that advice truly earns, and their
    paired mean difference (its "optimism") with its MC-SE; and the mean pull of its effect
    shares toward the spend shares, with its MC-SE."""
    out: dict[str, float] = {}
    for col in ("regret", "regret_share_of_lift"):
        v = ok[col].astype(float).dropna() if len(ok) and col in ok else pd.Series(dtype=float)
        out[f"{col}_median"] = float(v.median()) if len(v) else np.nan
        out[f"{col}_p90"] = float(v.quantile(0.9)) if len(v) else np.nan
    cols = ("predicted_lift", "true_lift_of_recommendation")
    pair = ok[list(cols)].astype(float) if len(ok) and set(cols) <= set(ok) else None
    for name, series in (
        ("predicted_lift", None if pair is None else pair[cols[0]]),
        ("true_lift", None if pair is None else pair[cols[1]]),
        ("lift_optimism", None if pair is None else pair[cols[0]] - pair[cols[1]]),
    ):
        mean, se, _ = score.mean_se(series) if series is not None else (np.nan,) * 3
        out[f"{name}_mean"], out[f"{name}_mean_se"] = mean, se
    for name in ("spend_share_pull", "decomp_rssd"):  # DECOMP.RSSD's pull (score.share_pull)
        v = ok[name] if len(ok) and name in ok else pd.Series(dtype=float)
        out[f"{name}_mean"], out[f"{name}_mean_se"], _ = score.mean_se(v)
    return out


def _cell(row: pd.Series) -> dict[str, Any]:
    """One aggregate cell of ``study.json``: every statistic with its MC-SE, coverage's exact 95%
    interval, and the number of estimates and of intervals."""
    out: dict[str, Any] = {}
    for stat in AGG_STATS:
        out[stat], out[f"{stat}_se"] = row[stat], row[f"{stat}_se"]
    out["coverage_ci95"] = [row["coverage_lo"], row["coverage_hi"]]
    out["n"], out["n_intervals"] = int(row["n"]), int(row["n_intervals"])
    return out


def write_outputs(study: Study, out_dir: Path, data_root: Path | None = None) -> dict[str, Any]:
    """Aggregate the records into ``out_dir``: ``study.json`` (DVC metrics), ``coverage.csv`` and
    ``bias.csv`` (DVC plots; one point per quantity x scenario x estimator), ``calibration.csv``
    (coverage at every nominal level, :func:`~.score.calibration`), ``fits.csv`` and
    ``comparisons.csv`` (tables). Committed files hold reproducible numbers only, rounded to
    :data:`METRIC_DIGITS`; wall times are in ``data/timing/`` (see :func:`runtime_table`).
    Returns the metrics."""
    records = load_records(study, data_root)
    main = [r for r in records if r["seed"] == 0]  # further seeds: seed stability only
    stab = stability.summarize(stability.stability_rows(study, records))
    return write_metrics(study, out_dir, comparisons_table(main), fits_table(main), stab)


def write_metrics(
    study: Study,
    out_dir: Path,
    comparisons: pd.DataFrame,
    fits: pd.DataFrame,
    seed_stability: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write the metrics files of :func:`write_outputs` from the comparisons and fits tables
    (one row per fit x channel x quantity, one per fit) and the seed-stability summary
    (:func:`~.stability.summarize`; ``stability.csv``, and a ``seed_stability`` block per
    scenario x estimator in ``study.json``); return the metrics."""
    fits = fits.sort_values(["scenario", "estimator", "replicate"])
    m = metrics(study, comparisons, fits)
    stab = seed_stability if seed_stability is not None else pd.DataFrame()
    stab = stab.reindex(columns=stability.COLUMNS)
    for scen, per_est in stability.metrics(stab).items():
        for est, cell in per_est.items():
            m.setdefault(scen, {}).setdefault(est, {})["seed_stability"] = cell
    out_dir = Path(out_dir)
    files.write_csv(out_dir / stability.STABILITY_FILE, _round_frame(stab))
    files.write_json(out_dir / "study.json", _rounded(m))
    files.write_csv(out_dir / "fits.csv", _round_frame(fits))
    files.write_csv(out_dir / "comparisons.csv", _round_frame(comparisons))
    agg = score.aggregate(comparisons) if len(comparisons) else pd.DataFrame(columns=AGG_COLUMNS)
    pooled = agg[agg["channel"] == "all"]
    label = pooled["quantity"] + " | " + pooled["scenario"] + "/" + pooled["estimator"]
    pooled = pooled.assign(label=label)
    cov_cols = [
        "label",
        "scenario",
        "estimator",
        "quantity",
        "coverage",
        "coverage_se",
        "coverage_lo",
        "coverage_hi",
    ]
    cov = pooled[pooled["n_intervals"] > 0][cov_cols]
    files.write_csv(out_dir / "coverage.csv", _round_frame(cov))
    bias_cols = [
        "label",
        "scenario",
        "estimator",
        "quantity",
        *(c for stat in ("bias", "rmse", "mean_abs_rel_error") for c in (stat, f"{stat}_se")),
    ]
    files.write_csv(out_dir / "bias.csv", _round_frame(pooled[bias_cols]))
    levels = {e: m[s][e]["interval_level"] for s in m for e in m[s]}
    cal = score.calibration(comparisons, levels)
    files.write_csv(out_dir / "calibration.csv", _round_frame(cal))
    return m


#: Significant digits kept in committed metrics: reruns agree to this precision (the Bayesian
#: sampler's floating-point summaries may differ in the last bits across machines).
METRIC_DIGITS = 6


def _round(x: float) -> float:
    return float(f"{x:.{METRIC_DIGITS}g}")


def _rounded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    if isinstance(obj, float) and np.isfinite(obj):
        return _round(obj)
    return obj


def _round_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].map(lambda v: _round(v) if np.isfinite(v) else v)
    return out


def runtime_table(study: Study, data_root: Path | None = None) -> pd.DataFrame:
    """Wall time per fit (seconds) of every finished task, from ``data/timing/`` (machine-dependent,
    so neither in the records nor in the committed metrics)."""
    rows = []
    for t in tasks(study):
        p = files.timing_path(t.path(data_root))
        if p.is_file():
            rows.append(
                {
                    "scenario": t.scenario,
                    "estimator": t.estimator,
                    "replicate": t.replicate,
                    **files.read_json(p),
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    raise SystemExit(
        "error: mmm_recovery.evaluation.study is a library module, not a command: run the study with "
        "`dvc repro study` (or `make reproduce` for the whole pipeline)"
    )
