"""The estimator interface. An estimator = one sub-package of :mod:`mmm_recovery.estimators` whose
``__init__`` imports its :class:`Estimator` subclass."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import ConfigDict

from mmm_recovery.core.results import EstimatorResult, FitInput
from mmm_recovery.core.scenario import NumbersNotBooleans

#: Every defined estimator class by its lookup name (filled by ``Estimator.__init_subclass__``).
REGISTERED: dict[str, type[Estimator]] = {}


class EstimatorConfig(NumbersNotBooleans):
    """Base of estimator settings: frozen, unknown keys are errors, no booleans for numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_batch(fit_inputs: list[FitInput], rngs: list[np.random.Generator]) -> None:
    """A batch needs one random generator per dataset."""
    if len(fit_inputs) != len(rngs):
        raise ValueError(f"{len(fit_inputs)} datasets but {len(rngs)} random generators")


class Estimator(ABC):
    """Fit a model to a :class:`FitInput` and return an :class:`EstimatorResult`.

    Subclasses set ``name`` (the lookup name used in study YAMLs) and ``Config`` (a pydantic model
    of their settings); defining such a subclass registers it (:mod:`.registry` looks it up).
    """

    name: ClassVar[str]
    Config: ClassVar[type[EstimatorConfig]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name:
            if name in REGISTERED and REGISTERED[name] is not cls:
                raise ValueError(
                    f"estimator name {name!r} is already registered by "
                    f"{REGISTERED[name].__qualname__}"
                )
            REGISTERED[name] = cls

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

    @abstractmethod
    def min_train_weeks(self) -> int:
        """The fewest training weeks a fit needs (a bring-your-own file with fewer, plus its
        holdout, is refused before any fit): at least what the estimator's own input check
        (:func:`~mmm_recovery.core.results.check_fit_input`) demands."""

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
