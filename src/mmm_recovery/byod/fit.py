"""Fit every estimator of a study to a bring-your-own dataset and advise a budget (the package
docstring, :mod:`mmm_recovery.byod`, says what the data must be)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.byod.validate import DataError, read_csv, validate
from mmm_recovery.core import files, paths
from mmm_recovery.core.results import FitInput
from mmm_recovery.core.spec import CsvDatasetSpec, SpecError, Study

ROBYN_COLUMNS = {
    "tv": "tv_S",
    "ooh": "ooh_S",
    "print": "print_S",
    "facebook": "facebook_S",
    "search": "search_S",
}


def min_weeks(study: Study, spec: CsvDatasetSpec) -> int:
    """Weeks every estimator of the study needs: its own minimum of training weeks
    (:meth:`~mmm_recovery.estimators.base.Estimator.min_train_weeks`: the adstock window plus one
    week, or plus a CV test window) plus the holdout, at least one week."""
    from mmm_recovery.estimators.registry import estimator_for

    need = 1
    for name in study.estimators:
        need = max(need, estimator_for(study, name).min_train_weeks() + spec.holdout_weeks)
    return need


def load(study: Study, name: str) -> FitInput:
    """Read, validate and map a dataset to a :class:`FitInput` (canonical column names)."""
    if name not in study.datasets:
        raise DataError(
            f"{study.source}: datasets.{name}: not declared (declared: {sorted(study.datasets)})"
        )
    spec = study.datasets[name]
    file = paths.resolve(spec.path)
    label = spec.path
    if not file.is_file():
        raise DataError(f"{label}: file not found (datasets.{name}.path)")
    df = validate(read_csv(file, label), spec, label, min_weeks(study, spec))
    return _fit_input(df, spec)


def _fit_input(df: pd.DataFrame, spec: CsvDatasetSpec) -> FitInput:
    """A validated frame mapped to canonical column names."""
    data = pd.DataFrame(
        {files.DATE_COLUMN: df[spec.date], files.TARGET_COLUMN: df[spec.target].astype(float)}
    )
    for ch, col in spec.channels.items():
        data[ch] = df[col].astype(float)
    for ctl, col in spec.controls.items():
        data[ctl] = df[col].astype(float)
    controls = list(spec.controls)
    for ev, col in spec.events.items():
        levels = df[col].astype(str)
        for level in sorted(set(levels) - {levels.mode().iloc[0]}):
            key = f"{ev}_{level}"
            data[key] = (levels == level).astype(float)
            controls.append(key)
    grid = {
        ch: np.linspace(0.0, spec.curve_max_multiple * float(data[ch].mean()), spec.curve_points)
        for ch in spec.channels
    }
    return FitInput(
        data=data,
        channels=list(spec.channels),
        controls=controls,
        holdout_weeks=spec.holdout_weeks,
        curve_grid=grid,
        lift_tests=files.lift_test_table([t.model_dump() for t in spec.lift_tests]),
    )


def byod_dir(name: str, data_root: Path | None = None) -> Path:
    """``data/byod/<name>``; a name that could reach outside it (``../x``) is refused."""
    from mmm_recovery.core.spec_checks import DATASET_NAME_RULE, dataset_name_ok

    if not dataset_name_ok(name):
        raise SpecError(f"datasets.{name}: {DATASET_NAME_RULE}")
    return (data_root or paths.DATA) / "byod" / name


def fit_all(study: Study, name: str, data_root: Path | None = None) -> dict[str, Any]:
    """Fit every estimator of the study to dataset ``name``; write each result to
    ``data/byod/<name>/<estimator>/`` and the budget advice (no regret: no truth) to
    ``data/byod/<name>/budget.json``, all at once (:func:`~mmm_recovery.core.files.atomic_dir`).
    Returns ``{"input", "results", "advice"}``."""
    fit_input = load(study, name)
    with files.atomic_dir(byod_dir(name, data_root)) as out:
        return _fit_into(study, name, fit_input, out)


def _fit_into(study: Study, name: str, fit_input: FitInput, out: Path) -> dict[str, Any]:
    """:func:`fit_all`'s fits and advice, written into ``out`` (a temporary folder that takes
    the results folder's place only when every estimator has finished: a failed fit leaves the
    previous results as they were)."""
    from mmm_recovery.estimators.registry import estimator_for
    from mmm_recovery.evaluation import budget

    results, advice = {}, {}
    current = {c: float(fit_input.data[c].mean()) for c in fit_input.channels}
    for est in study.estimators:
        res = estimator_for(study, est, artifacts_dir=out / est).fit(
            fit_input, study.dataset_rng(name, est)
        )
        res.scenario, res.replicate = name, 0
        res.save(out / est)
        results[est] = res
        curves = budget.curves_from_result(files.read_json(out / est / "results.json"))
        rec = budget.optimise(curves, current, study.study.budget_bound)
        advice[est] = {
            "current": current,
            "recommended": rec,
            "predicted_lift": budget.total_response(curves, rec)
            - budget.total_response(curves, current),
            "note": "no ground truth: regret cannot be computed",
        }
    files.write_json(out / "budget.json", advice)
    return {"input": fit_input, "results": results, "advice": advice}


def write_example(study: Study, out: str | Path, scenario: str | None = None) -> Path:
    """A CSV in Robyn's ``dt_simulated_weekly`` layout (DATE, revenue, tv_S, ooh_S, print_S,
    facebook_S, search_S, competitor_sales_B, events, newsletter), simulated from ``scenario``
    (default: the study's first) with replicate 0's seed."""
    from mmm_recovery.simulation.simulate import simulate

    scenario = scenario or next(iter(study.scenarios))
    ds = simulate(study.scenario(scenario), study.rng(scenario, 0))
    d = ds.data
    rng = study.rng(scenario, 0, stream=99)  # the extra columns' own stream
    out_df = pd.DataFrame({"DATE": d["date"].dt.strftime("%Y-%m-%d"), "revenue": d["y"].round(2)})
    for ch in ds.truth["channel_names"]:
        out_df[ROBYN_COLUMNS.get(ch, f"{ch}_S")] = d[ch].round(2)
    out_df["competitor_sales_B"] = d["competitor"].round(6)
    out_df["events"] = np.where(d["event"] > 0, "event", "na")
    out_df["newsletter"] = rng.poisson(3.0, size=len(d)).astype(float)
    return files.write_csv(paths.resolve(out), out_df)
