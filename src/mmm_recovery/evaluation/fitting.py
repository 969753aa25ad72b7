"""Fit one registered estimator to one simulated replicate of a study's scenario."""

from __future__ import annotations

from pathlib import Path

from mmm_recovery.core import paths
from mmm_recovery.core.results import EstimatorResult, FitInput
from mmm_recovery.core.spec import Study
from mmm_recovery.estimators.registry import estimator_for
from mmm_recovery.simulation.simulate import SimulatedDataset


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
    fit_input = FitInput.from_simulated(
        dataset, study.study.holdout_weeks, study.study.calibration_levels
    )
    result = estimator_for(study, estimator, **estimator_kwargs).fit(
        fit_input, study.estimator_rng(scenario, replicate, estimator, seed)
    )
    result.scenario, result.replicate = scenario, replicate
    return result
