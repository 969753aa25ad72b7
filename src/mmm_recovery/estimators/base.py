"""The estimator interface. An estimator = one sub-package of :mod:`mmm_recovery.estimators` whose
light ``__init__`` names its settings (``Config``, an :class:`EstimatorConfig`) and its
:class:`Estimator` subclass (``ESTIMATOR``); see :mod:`mmm_recovery.core.plugins`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import ConfigDict

from mmm_recovery.core.results import EstimatorResult, FitInput
from mmm_recovery.core.scenario import NumbersNotBooleans


class EstimatorConfig(NumbersNotBooleans):
    """Base of estimator settings: frozen, unknown keys are errors, no booleans for numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: what the methodology report says of the estimator (markdown)
    description: ClassVar[str] = ""
    #: the one line the model card says of it (markdown)
    summary: ClassVar[str] = ""
    #: the settings keys, outer first, that hold its interval level (the contract tests set it)
    level_setting: ClassVar[tuple[str, ...]] = ()

    def min_train_weeks(self) -> int:
        """The fewest training weeks a fit with these settings needs (a scenario or a
        bring-your-own file with fewer, plus its holdout, is refused before any fit): at least
        what the estimator's own input check
        (:func:`~mmm_recovery.core.results.check_fit_input`) demands. The study spec calls it
        without importing the estimator."""
        raise NotImplementedError(f"{type(self).__name__} must define min_train_weeks()")


def check_batch(fit_inputs: list[FitInput], rngs: list[np.random.Generator]) -> None:
    """A batch needs one random generator per dataset."""
    if len(fit_inputs) != len(rngs):
        raise ValueError(f"{len(fit_inputs)} datasets but {len(rngs)} random generators")


class Estimator(ABC):
    """Fit a model to a :class:`FitInput` and return an :class:`EstimatorResult`.

    Subclasses set ``name`` (the lookup name used in study YAMLs: the sub-package's name) and
    ``Config`` (a pydantic model of their settings, the sub-package's ``Config``).
    """

    name: ClassVar[str]
    Config: ClassVar[type[EstimatorConfig]]

    def __init__(
        self,
        config: EstimatorConfig | dict[str, Any] | None = None,
        artifacts_dir: Path | None = None,
    ):
        self.config = (
            config if isinstance(config, self.Config) else self.Config.model_validate(config or {})
        )
        #: where :meth:`fit` writes files beside the common result format (e.g. the Bayesian
        #: posterior); None writes none
        self.artifacts_dir = None if artifacts_dir is None else Path(artifacts_dir)

    def iter_fit_batch(
        self, fit_inputs: list[FitInput], rngs: list[np.random.Generator]
    ) -> Iterator[EstimatorResult]:
        """Fit many datasets, yielding each result as soon as it is done (in order). The
        default fits them one by one with :meth:`fit`; an estimator that can share work across
        datasets (compilation, a vectorised sampler) overrides it."""
        check_batch(fit_inputs, rngs)
        for fit_input, rng in zip(fit_inputs, rngs, strict=True):
            yield self.fit(fit_input, rng)

    def fit_batch(
        self, fit_inputs: list[FitInput], rngs: list[np.random.Generator]
    ) -> list[EstimatorResult]:
        """Every result of :meth:`iter_fit_batch`."""
        return list(self.iter_fit_batch(fit_inputs, rngs))

    def min_train_weeks(self) -> int:
        """The fewest training weeks a fit needs (:meth:`EstimatorConfig.min_train_weeks`)."""
        return self.config.min_train_weeks()

    def showcase(self, result: EstimatorResult, dataset: Any) -> list[tuple[str, Any]]:
        """This estimator's own checks for the showcase notebook (``notebooks/02_fit.py``): a list
        of (markdown heading, figure or table) for a fit of ``dataset`` (a simulated dataset with
        its truth). The common parts (fit, decomposition, recovery) are shown for every
        estimator; the default adds nothing."""
        return []

    @property
    @abstractmethod
    def interval_level(self) -> float:
        """Nominal probability of the intervals this estimator reports."""

    @abstractmethod
    def fit(self, fit_input: FitInput, rng: np.random.Generator) -> EstimatorResult:
        """Fit, summarise on the original currency scale, and report diagnostics.

        The result carries every channel's estimates, the fit statistics, the diagnostics (with
        ``converged``), its interval level, and the tables ``fitted`` (date, y, yhat, split) and
        ``decomposition`` (date, one column per channel, the rest of the fitted mean in others) that the notebooks and reports
        show for every estimator (``tests/test_estimator_contract.py`` checks them)."""
