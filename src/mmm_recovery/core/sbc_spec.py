"""The ``sbc:`` block of a study file: simulation-based calibration of the Bayesian estimator
(:mod:`mmm_recovery.evaluation.sbc`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import Field, ValidationError, model_validator

from mmm_recovery.core.frozen import Frozen
from mmm_recovery.core.scenario import LiftTestSpec


class SBCArm(Frozen):
    """One design SBC runs: the block's scenario cut to these weeks and channels, with these lift
    tests (their measurements drawn from the model, like the target)."""

    n_weeks: int | None = Field(
        None, ge=26, description="Weeks of each simulated dataset. Default: the scenario's."
    )
    channels: list[str] | None = Field(
        None,
        min_length=1,
        description="Channels of the design (a subset of the scenario's). Default: the scenario's.",
    )
    lift_tests: list[LiftTestSpec] = Field(
        default_factory=list,
        description="Lift tests of every simulation (their spend change, error and length; the "
        "measured lift is drawn from the estimator's own lift likelihoods). Default none.",
    )

    @model_validator(mode="after")
    def _distinct_channels(self) -> SBCArm:
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels must be distinct (got {self.channels})")
        return self


class SBCPower(Frozen):
    """The miscalibrations the test must detect (:func:`mmm_recovery.evaluation.sbc_uniformity.power`)."""

    narrow: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description="A posterior sd this share too small (0.2: nominal 90% intervals cover 81%). "
        "Default 0.2.",
    )
    bias: float = Field(
        0.3, gt=0.0, description="A posterior shifted by this many posterior sd. Default 0.3."
    )
    target: float = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        description="Power the simulations must give against each, per quantity at the "
        "Bonferroni threshold. Default 0.8.",
    )
    repeats: int = Field(
        4000, ge=100, description="Simulated SBC runs per power estimate. Default 4000."
    )


class SBCSettings(Frozen):
    """Simulation-based calibration: parameters and data drawn from the estimator's own model.

    Each simulation is fitted by the study's own fit function (:mod:`mmm_recovery.evaluation.sbc`).
    """

    estimator: str = Field(
        "bayesian",
        description="Estimator checked (a key of `estimators`; its model must be one it can "
        "sample from, as the Bayesian one's). Default bayesian.",
    )
    scenario: str = Field(
        description="Scenario whose simulator draws each simulation's spend, controls and lift-test "
        "designs (its response parameters are not used: the model's prior draws them). No default."
    )
    arms: dict[str, SBCArm] = Field(
        min_length=1,
        description="Designs checked, by name; each runs every simulation (the same seeds: the "
        "arms share their spend and parameter draws). No default.",
    )
    simulations: int = Field(ge=2, description="Simulations (fits) per arm. No default.")
    ranks: int = Field(
        99,
        ge=9,
        description="Posterior draws kept per simulation, evenly thinned over all chains' draws "
        "(so autocorrelation does not distort the ranks); each rank lies in 0..ranks. Default 99.",
    )
    alpha: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="Family-wise level of each arm's uniformity tests: a quantity fails if its "
        "p-value is below alpha / (the arm's number of quantities) (Bonferroni). Default 0.05.",
    )
    reference_draws: int = Field(
        100000,
        ge=100,
        description="Uniform samples drawn to calibrate the ECDF test's p-values; the p-value's "
        "Monte Carlo relative error at the threshold is reported. Default 100000.",
    )
    power: SBCPower = Field(
        default_factory=cast("Callable[[], SBCPower]", SBCPower),
        description="Miscalibrations the test must detect.",
    )
    weak_contraction: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="A quantity whose posterior variance is on average more than 1 - this share "
        "of its prior variance is marked a weak test (its ranks stay uniform however wrong the "
        "likelihood). Default 0.5.",
    )
    follow_up: list[str] = Field(
        default_factory=list,
        description="Channels whose quantities' mean PIT per simulation is reported with its SE "
        "(a lead to confirm or rule out). Default none.",
    )

    def check(self, scenarios: Mapping[str, Any]) -> None:
        """Refuse a block that names a scenario or channel the study lacks (its estimator is
        checked with the estimators, :func:`~mmm_recovery.core.spec_checks.check_study`)."""
        if self.scenario not in scenarios:
            raise ValueError(
                f"sbc.scenario: unknown scenario {self.scenario!r}; known: {sorted(scenarios)}"
            )
        known = list(scenarios[self.scenario].channels)
        for name, arm in self.arms.items():
            missing = [c for c in arm.channels or () if c not in known]
            if missing:
                raise ValueError(
                    f"sbc.arms.{name}.channels: {missing} not channels of scenario "
                    f"{self.scenario!r} ({known})"
                )
            try:
                self.design_spec(scenarios[self.scenario], name)
            except ValidationError as e:
                reasons = "; ".join(
                    str(err["msg"]).removeprefix("Value error, ") for err in e.errors()
                )
                raise ValueError(f"sbc.arms.{name}: {reasons}") from None
        unknown = [c for c in self.follow_up if c not in known]
        if unknown:
            raise ValueError(f"sbc.follow_up: {unknown} not channels of scenario {self.scenario!r}")

    def design_spec(self, scenario: Any, arm: str) -> Any:
        """The scenario (a ``ScenarioSpec``) cut to arm ``arm``'s design: its weeks, its
        channels, its lift tests (validated again, so e.g. an ``l_max`` too long for the weeks
        or a lift test on a channel outside the design is refused)."""
        a = self.arms[arm]
        data = scenario.model_dump()
        if a.n_weeks is not None:
            data["n_weeks"] = a.n_weeks
        if a.channels is not None:
            data["channels"] = {c: data["channels"][c] for c in a.channels}
        data["lift_tests"] = [t.model_dump() for t in a.lift_tests]
        return type(scenario).model_validate(data)


#: the parts of the ``sbc:`` block, documented after it in ``studies/README.md``
SBC_MODELS = (SBCArm, SBCPower)
