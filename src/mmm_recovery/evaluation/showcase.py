"""The per-scenario showcase: every configured estimator fitted to replicate 0 (the fit stage)
and those fits scored against the truth (the compare stage). The notebooks call these and only
narrate; the study runs the same fits and the same :func:`~mmm_recovery.evaluation.score.score`
for every replicate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.core.paths import estimator_dir
from mmm_recovery.core.results import EstimatorResult, load_result
from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation.fitting import fit_dataset
from mmm_recovery.evaluation.score import score
from mmm_recovery.simulation.simulate import SimulatedDataset

#: the replicate each scenario's showcase stages fit and compare
SHOWCASE_REPLICATE = 0


def fit_showcase(
    study: Study, scenario: str, estimator: str, data_root: Path | None = None
) -> tuple[EstimatorResult, SimulatedDataset]:
    """Fit ``estimator`` to replicate 0 of ``scenario`` (the simulate stage's files) and write
    ``data/<scenario>/fits/<estimator>/`` in the common result format, with the estimator's own files
    (e.g. the Bayesian posterior) beside it."""
    dataset = SimulatedDataset.load(paths.replicate_dir(scenario, SHOWCASE_REPLICATE, data_root))
    out_dir = estimator_dir(scenario, estimator, data_root)
    result = fit_dataset(
        study, scenario, SHOWCASE_REPLICATE, estimator, dataset=dataset, artifacts_dir=out_dir
    )
    result.save(out_dir)
    return result, dataset


def compare_showcase(
    study: Study, scenario: str, data_root: Path | None = None
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Score every configured estimator's showcase fit of ``scenario`` against the truth and write
    ``data/<scenario>/compare/comparison.csv`` (one row per estimator, channel and quantity) and
    ``budget.json`` (each estimator's budget advice and its regret). Returns the comparison, the
    advice and the loaded results."""
    dataset = SimulatedDataset.load(paths.replicate_dir(scenario, SHOWCASE_REPLICATE, data_root))
    results = {
        name: load_result(estimator_dir(scenario, name, data_root)) for name in study.estimators
    }
    scores = {
        name: score(r, dataset.data, dataset.truth, study.study.budget_bound)
        for name, r in results.items()
    }
    comparison = pd.concat(
        [s.comparison.assign(estimator=name) for name, s in scores.items()], ignore_index=True
    )
    advice = {name: s.regret for name, s in scores.items()}
    out = paths.scenario_dir(scenario, data_root) / "compare"
    files.write_csv(out / "comparison.csv", comparison)
    files.write_json(out / "budget.json", advice)
    return comparison, advice, results
