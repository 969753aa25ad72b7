"""The estimator interface. An estimator = one module in this package with a registered class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from mmm_recovery.results import EstimatorResult, FitInput


class EstimatorConfig(BaseModel):
    """Base of estimator settings: frozen, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Estimator(ABC):
    """Fit a model to a :class:`FitInput` and return an :class:`EstimatorResult`.

    Subclasses set ``name`` (the lookup name used in study YAMLs) and ``Config`` (a pydantic model
    of their settings) and are registered with :func:`mmm_recovery.estimators.registry.register`.
    """

    name: ClassVar[str]
    Config: ClassVar[type[EstimatorConfig]]

    def __init__(self, config: EstimatorConfig | dict[str, Any] | None = None):
        self.config = (
            config if isinstance(config, self.Config) else self.Config.model_validate(config or {})
        )

    @property
    @abstractmethod
    def interval_level(self) -> float:
        """Nominal probability of the intervals this estimator reports."""

    @abstractmethod
    def fit(self, fit_input: FitInput, rng: np.random.Generator) -> EstimatorResult:
        """Fit, summarise on the original currency scale, and report diagnostics."""
