"""Fit one registered estimator to one simulated replicate of a study's scenario, and what a study
record keeps of the fit. This module is part of every record's fingerprint
(:func:`mmm_recovery.evaluation.tasks.code_files`): what it computes is what a record holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmm_recovery.core import files, paths
from mmm_recovery.core.results import EstimatorResult, FitInput
from mmm_recovery.core.spec import Study
from mmm_recovery.estimators.registry import estimator_for
from mmm_recovery.simulation.simulate import SimulatedDataset, simulate


def simulated(study: Study, scenario: str, replicate: int) -> SimulatedDataset:
    """Replicate ``replicate`` of ``scenario``, simulated from its seed (the same bytes as the
    simulate stage's files: tested)."""
    return simulate(study.scenario(scenario), study.rng(scenario, replicate))


def fit_input(study: Study, dataset: SimulatedDataset) -> FitInput:
    """What an estimator is given of ``dataset`` under the study's holdout and calibration
    levels."""
    return FitInput.from_simulated(
        dataset, study.study.holdout_weeks, study.study.calibration_levels
    )


def record_fields(dataset: SimulatedDataset, result: EstimatorResult) -> dict[str, Any]:
    """A study record's fields of a finished fit: its result (as JSON has it), and the answer key
    it is scored against after the fits: the truth and each channel's weekly spend range
    (currency)."""
    res = json.loads(json.dumps(files._jsonable(result.to_dict())))
    return {
        "status": "ok",
        "converged": result.converged,
        "result": res,
        "truth": json.loads(json.dumps(files._jsonable(dataset.truth))),
        "spend": {
            c: {"max": float(dataset.data[c].max()), "mean": float(dataset.data[c].mean())}
            for c in dataset.truth["channel_names"]
        },
    }


def fit_dataset(
    study: Study,
    scenario: str,
    replicate: int,
    estimator: str,
    dataset: SimulatedDataset | None = None,
    data_root: Path | None = None,
    seed: int = 0,
    **estimator_kwargs,
) -> EstimatorResult:
    """Fit ``estimator`` to replicate ``replicate`` of ``scenario`` (read from the simulate stage's
    output unless ``dataset`` is given). Seeded by ``study.estimator_rng`` (with ``seed``). Extra
    keyword arguments go to the estimator's constructor (e.g. ``artifacts_dir``, where the
    Bayesian one writes its posterior)."""
    if dataset is None:
        dataset = SimulatedDataset.load(paths.replicate_dir(scenario, replicate, data_root))
    result = estimator_for(study, estimator, **estimator_kwargs).fit(
        fit_input(study, dataset), study.estimator_rng(scenario, replicate, estimator, seed)
    )
    result.scenario, result.replicate = scenario, replicate
    return result
