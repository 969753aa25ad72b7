"""The ``sbc:`` block of a study file: simulation-based calibration of the Bayesian estimator
(:mod:`mmm_recovery.evaluation.sbc`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from mmm_recovery.core.scenario import Frozen


class SBCSettings(Frozen):
    """Simulation-based calibration: parameters and data drawn from the estimator's own model."""

    estimator: str = Field(
        "bayesian",
        description="Estimator checked (a key of `estimators`; it must sample a posterior in "
        "batches). Default bayesian.",
    )
    scenario: str = Field(
        description="Scenario whose simulator draws each simulation's spend and controls (its "
        "response parameters are not used: the model's prior draws them). No default."
    )
    n_weeks: int = Field(ge=26, description="Weeks of each simulated dataset. No default.")
    channels: list[str] = Field(
        min_length=1, description="Channels of the design (a subset of the scenario's). No default."
    )
    simulations: int = Field(ge=2, description="Number of simulations (fits). No default.")
    ranks: int = Field(
        99,
        ge=9,
        description="Posterior draws kept per simulation, evenly thinned over all chains' draws "
        "(so autocorrelation does not distort the ranks); each rank lies in 0..ranks. Default 99.",
    )
    batch_size: int = Field(
        8, ge=1, description="Simulations sampled in one batched call. Default 8."
    )
    alpha: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="Family-wise level of the uniformity tests: a quantity fails if its p-value "
        "is below alpha / (number of quantities) (Bonferroni). Default 0.05.",
    )
    reference_draws: int = Field(
        2000,
        ge=100,
        description="Uniform samples drawn to calibrate the ECDF uniformity test's p-values. "
        "Default 2000.",
    )

    @model_validator(mode="after")
    def _distinct_channels(self) -> SBCSettings:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels must be distinct (got {self.channels})")
        return self

    def check(self, scenarios: Mapping[str, Any]) -> None:
        """Refuse a block that names a scenario or channel the study lacks (its estimator is
        checked with the estimators, :func:`~mmm_recovery.core.spec_checks.check_study`)."""
        if self.scenario not in scenarios:
            raise ValueError(
                f"sbc.scenario: unknown scenario {self.scenario!r}; known: {sorted(scenarios)}"
            )
        known = list(scenarios[self.scenario].channels)
        missing = [c for c in self.channels if c not in known]
        if missing:
            raise ValueError(
                f"sbc.channels: {missing} not channels of scenario {self.scenario!r} ({known})"
            )
        self.design_spec(scenarios[self.scenario])

    def design_spec(self, scenario: Any) -> Any:
        """The scenario (a ``ScenarioSpec``) cut to this design: its :attr:`n_weeks`, its
        :attr:`channels`, no lift tests (validated again, so e.g. an ``l_max`` too long for the
        weeks is refused)."""
        data = scenario.model_dump()
        data.update(
            n_weeks=self.n_weeks,
            channels={c: data["channels"][c] for c in self.channels},
            lift_tests=[],
        )
        return type(scenario).model_validate(data)
