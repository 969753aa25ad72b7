"""The frequentist estimator's own checks in the showcase notebook: the search's Pareto front and
convergence, and rolling-origin CV."""

from __future__ import annotations

from typing import Any

from mmm_recovery.core.results import EstimatorResult
from mmm_recovery.estimators.frequentist import plots


def showcase(result: EstimatorResult, dataset: Any) -> list[tuple[str, Any]]:
    evals = result.tables["evaluations"]
    return [
        ("The search: Pareto front of the objectives over all trials", plots.pareto_front(evals)),
        ("The search: best objective by evaluation, per trial", plots.convergence(evals)),
        (
            "Rolling-origin CV with the chosen hyperparameters (no re-search per fold, so "
            "somewhat optimistic; the holdout is the clean check)",
            result.tables["cv"],
        ),
    ]
