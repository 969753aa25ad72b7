"""The data-generating process of a scenario: channels (spend, adstock, saturation, effect),
base, noise, controls and lift tests; validated, frozen, in absolute units (currency, weeks).

The ``adstock:`` and ``saturation:`` blocks are tagged unions of every registered family's model
(:mod:`mmm_recovery.families`): a new family class extends them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import (
    Field,
    StrictInt,
    model_validator,
)

from mmm_recovery.core.files import MAX_LIFT_TEST_WEEKS
from mmm_recovery.core.frozen import Frozen as Frozen
from mmm_recovery.core.frozen import NumbersNotBooleans as NumbersNotBooleans
from mmm_recovery.core.frozen import SpecError as SpecError
from mmm_recovery.core.truth_design import RandomTruthSpec
from mmm_recovery.families import registry as families
from mmm_recovery.families.base import FamilySpec

# ------------------------------------------------------------------ curve families
# The ``adstock:`` and ``saturation:`` blocks are tagged unions of every registered family's
# model (:mod:`mmm_recovery.families`): a new family class extends them.
if TYPE_CHECKING:
    from collections.abc import Callable

    class AdstockSpec(FamilySpec):
        """What every adstock family's block has besides its parameters."""

        l_max: int
        normalize: bool

    SaturationSpec = FamilySpec
else:
    AdstockSpec = Annotated[
        families.spec_union(families.adstock_specs()), Field(discriminator="family")
    ]
    SaturationSpec = Annotated[
        families.spec_union(families.saturation_specs()), Field(discriminator="family")
    ]


# --------------------------------------------------------------------------- channel
class ChannelConfounding(Frozen):
    """How a channel's spend follows demand (all 0: spend is exogenous, the default)."""

    season: float = Field(
        0.0,
        ge=-3.0,
        le=3.0,
        description="Loading of the latent log-spend on the standardised base demand (trend + "
        "seasonality): search that follows demand. Default 0.",
    )
    shock: float = Field(
        0.0,
        ge=-3.0,
        le=3.0,
        description="Loading of the latent log-spend on the unobserved demand shock "
        "(`demand_shock`). Default 0.",
    )
    peak_timing: float = Field(
        0.0,
        ge=-5.0,
        le=5.0,
        description="Shift of the log-odds that a flight is on, per sd of seasonality: bursts "
        "timed with seasonal peaks. Default 0.",
    )


class ChannelSpec(Frozen):
    """One media channel: how its spend is generated and how it drives revenue."""

    mean_spend: float = Field(
        gt=0.0, description="Mean weekly spend in active weeks, currency. No default."
    )
    spend_cv: float = Field(
        0.4,
        ge=0.0,
        le=3.0,
        description="Coefficient of variation of active-week spend. Default 0.4.",
    )
    active_share: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Share of weeks with spend (flighting; others are zero). Default 1.",
    )
    burst_persistence: float = Field(
        0.75,
        ge=0.0,
        lt=1.0,
        description="Probability that an on/off flight continues next week. Default 0.75.",
    )
    adstock: AdstockSpec = Field(
        description="Geometric or Weibull adstock block, chosen by `family`."
    )
    saturation: SaturationSpec = Field(
        description="Logistic or Hill saturation block, chosen by `family`."
    )
    beta: float = Field(
        ge=0.0, description="Maximum weekly contribution (saturation -> 1), currency. No default."
    )
    confounding: ChannelConfounding | None = Field(
        None, description="How spend follows demand (see ChannelConfounding). Default none."
    )


# ----------------------------------------------------------------- base and noise
class NoiseSpec(Frozen):
    """Observation noise: an absolute sd (currency), or a target signal-to-noise ratio
    ``sd(mu) / sd(noise)`` of each dataset's own noiseless target.

    ``sd`` keeps the noise independent of the media signal, so a scenario that changes media
    (correlated spend, other effects) changes nothing else: a designed study's cells set ``sd``.
    ``snr`` scales the noise with the dataset's signal, so changing media changes the noise too.
    Give one of them (``snr: null`` removes an inherited ratio)."""

    kind: Literal["gaussian", "multiplicative"] = Field("gaussian", description="Default gaussian.")
    snr: float | None = Field(
        None,
        gt=0.0,
        description="sd(noiseless target) / sd(noise) of each dataset. Default 4 when sd is not given.",
    )
    sd: float | None = Field(
        None,
        gt=0.0,
        description="Noise sd in currency per week, independent of the media signal. Default none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_ratio(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("snr") is None and data.get("sd") is None:
            return {**data, "snr": 4.0}
        return data

    @model_validator(mode="after")
    def _one_scale(self) -> NoiseSpec:
        if self.sd is not None and self.snr is not None:
            raise ValueError(
                f"give snr ({self.snr}) or sd ({self.sd}), not both (snr: null or sd: null "
                "removes an inherited one)"
            )
        return self


class DemandShockSpec(Frozen):
    """An unobserved demand shock: a stationary AR(1) series (sd 1) that adds ``effect`` x shock to
    revenue and, through each channel's ``confounding.shock`` loading, moves spend too -- the
    confounder every MMM fears (budgets follow demand the model cannot see). With ``proxy_noise``
    the analyst has a noisy measurement of it as a control column ``demand_index`` (a repair an
    analyst could plausibly have: a category-demand or search-trend index)."""

    effect: float = Field(description="Revenue per sd of the shock, currency per week. No default.")
    ar: float = Field(0.8, ge=0.0, lt=1.0, description="AR(1) coefficient. Default 0.8.")
    proxy_noise: float | None = Field(
        None,
        gt=0.0,
        description="Sd of the proxy's measurement error, in sd units of the shock: the data "
        "gain a control `demand_index` = shock + this x N(0, 1). Default none (unobserved).",
    )


class CompetitorSpec(Frozen):
    """A standardised competitor-activity index (AR(1), mean 0, sd 1) entering linearly."""

    coef: float = Field(
        -5000.0, description="Revenue per unit of the index, currency. Default -5000."
    )
    ar: float = Field(
        0.7, ge=0.0, lt=1.0, description="AR(1) coefficient of the index. Default 0.7."
    )


class EventSpec(Frozen):
    """A 0/1 event flag (promotions, holidays) with a fixed effect."""

    probability: float = Field(
        0.05, ge=0.0, le=1.0, description="Weekly probability of an event. Default 0.05."
    )
    effect: float = Field(
        20000.0, description="Revenue effect of an event week, currency. Default 20000."
    )


class LiftTestSpec(Frozen):
    """A lift test (an experiment's measured incremental revenue) an analyst brings to the model.

    The channel's weekly spend moves from ``x``, its mean weekly spend in the simulated data
    (held there before the test), to ``x * (1 + spend_change)``, and the experiment measures the
    change of weekly revenue with a Gaussian error of sd ``standard_error`` x |true lift|.
    ``spend_change: -1`` is a go-dark test (the channel switched off): it measures the channel's
    whole effect at its mean spend. Without ``weeks`` the test is idealised -- long enough for
    carry-over to build up, so it measures the truth's steady-state response difference. With
    ``weeks`` it lasts that many weeks and measures the mean weekly change over them: a slowly
    decaying channel's carry-over has not built up, so the test measures less than the
    steady-state lift. The test's length reaches the estimators (the ``weeks`` column of
    ``lift_tests.csv``), and both compare the measurement with their model's mean lift over the
    same weeks from steady state (PyMC-Marketing's lift likelihood reads every test as steady
    state; Robyn compares a test with the model's effect over the test's own dates)."""

    channel: str = Field(description="Channel tested (a key of `channels`). No default.")
    spend_change: float = Field(
        ge=-1.0,
        description="Relative change of weekly spend in the test (-1: switched off, 0.5: +50%). "
        "No default.",
    )
    standard_error: float = Field(
        gt=0.0,
        description="Sd of the measured lift as a share of the true lift (0.15: a 15% standard "
        "error). No default.",
    )
    weeks: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_LIFT_TEST_WEEKS,
        description="Length of the test in weeks: it measures the mean weekly revenue change over "
        "them, starting from steady state at the mean spend. Default null: a test long enough "
        "for carry-over to build up (the steady-state lift).",
    )

    @model_validator(mode="after")
    def _changes_spend(self) -> LiftTestSpec:
        if self.spend_change == 0.0:
            raise ValueError(f"lift test on {self.channel}: spend_change must not be 0")
        return self


class ScenarioSpec(Frozen):
    """The data-generating process of one scenario (all amounts in currency per week)."""

    n_weeks: int = Field(208, ge=26, le=2000, description="Number of weeks. Default 208.")
    start_date: dt.date = Field(
        dt.date(2015, 11, 23),
        description="Date of the first week; the weeks step by 7 days from it, on its weekday. "
        "Default 2015-11-23 (a Monday).",
    )
    intercept: float = Field(
        100000.0, ge=0.0, description="Baseline revenue per week. Default 100000."
    )
    trend: float = Field(
        20000.0, description="Linear change of baseline from first to last week. Default 20000."
    )
    seasonality: list[tuple[float, float]] = Field(
        default_factory=lambda: [(15000.0, 5000.0)],
        description="Yearly Fourier amplitudes, one (sin, cos) pair per order, currency. Default [[15000, 5000]].",
    )
    spend_correlation: float = Field(
        0.0,
        gt=-1.0,
        lt=1.0,
        description="Correlation between channels' latent log-spend. Default 0.",
    )
    spend_autocorrelation: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="AR(1) coefficient of each channel's latent log-spend. Default 0.5.",
    )
    competitor: CompetitorSpec = Field(
        default_factory=cast("Callable[[], CompetitorSpec]", CompetitorSpec),
        description="Competitor index (see below).",
    )
    event: EventSpec = Field(
        default_factory=cast("Callable[[], EventSpec]", EventSpec),
        description="Event flag (see below).",
    )
    noise: NoiseSpec = Field(
        default_factory=cast("Callable[[], NoiseSpec]", NoiseSpec),
        description="Observation noise (see below).",
    )
    curve_points: int = Field(
        41, ge=5, le=1001, description="Points of the true response-curve grid. Default 41."
    )
    curve_max_multiple: float = Field(
        3.0, gt=0.0, description="Curve grid runs 0 .. this x each channel's mean_spend. Default 3."
    )
    channels: dict[str, ChannelSpec] = Field(
        min_length=1, description="Channel name -> ChannelSpec."
    )
    lift_tests: list[LiftTestSpec] = Field(
        default_factory=list,
        description="Lift tests the estimators are given with the data (see LiftTestSpec). "
        "Default none.",
    )
    demand_shock: DemandShockSpec | None = Field(
        None,
        description="An unobserved demand shock moving revenue and (through each channel's "
        "confounding.shock) spend (see DemandShockSpec). Default none.",
    )
    random_truth: RandomTruthSpec | None = Field(
        None,
        description="Draw every channel's truth per replicate from this design distribution "
        "(see RandomTruthSpec) instead of using the channels' parameters. Default none.",
    )

    @model_validator(mode="after")
    def _check(self) -> ScenarioSpec:
        n = len(self.channels)
        if n > 1 and self.spend_correlation <= -1.0 / (n - 1):
            raise ValueError(
                f"spend_correlation={self.spend_correlation} is not a valid equicorrelation for {n} channels "
                f"(needs > {-1.0 / (n - 1):.3f})"
            )
        reserved = {"date", "y", "competitor", "event"}
        for name in self.channels:
            if name in reserved or not name.isidentifier():
                raise ValueError(
                    f"channel name {name!r} must be an identifier and not one of {sorted(reserved)}"
                )
        for i, test in enumerate(self.lift_tests):
            if test.channel not in self.channels:
                raise ValueError(
                    f"lift_tests[{i}].channel={test.channel!r} is not a channel "
                    f"(channels: {list(self.channels)})"
                )
            if self.channels[test.channel].beta == 0.0:
                raise ValueError(
                    f"lift_tests[{i}]: channel {test.channel!r} has beta 0: no lift to measure "
                    "(its standard error, a share of the lift, would be 0)"
                )
        for name, ch in self.channels.items():
            if ch.confounding and ch.confounding.shock and self.demand_shock is None:
                raise ValueError(
                    f"channels.{name}.confounding.shock={ch.confounding.shock} needs a "
                    "demand_shock block (the shock it follows)"
                )
            if self.random_truth and (ch.adstock.family, ch.saturation.family) != (
                "geometric",
                "logistic",
            ):
                raise ValueError(
                    f"random_truth draws geometric/logistic truths; channels.{name} is "
                    f"{ch.adstock.family}/{ch.saturation.family}"
                )
            if ch.adstock.l_max >= self.n_weeks:
                raise ValueError(
                    f"channels.{name}.adstock.l_max={ch.adstock.l_max} must be < n_weeks={self.n_weeks}"
                )
        return self

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)
