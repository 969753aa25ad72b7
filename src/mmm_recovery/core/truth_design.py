"""The random-truth arm's design distribution: truths drawn per replicate, not fixed per scenario.

A one-truth scenario answers "does the estimator recover *this* truth"; a study's claims are
about MMM truths in general. :class:`RandomTruthSpec` declares a distribution over realistic
parameters (carry-over, saturation, effect size, spend shares, flighting) from which each
replicate draws its own truth (:mod:`mmm_recovery.simulation.truth_draw`), so coverage and error
can be modelled smoothly against the truth's features. It is deliberately *not* the Bayesian
estimator's prior: a Beta(1, 3) decay prior against a uniform design, a Gamma(3, 1) ``lam`` on
scaled data against log-uniform half-saturation points in currency.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from mmm_recovery.core.frozen import Frozen


def _range(lo: float, hi: float, what: str) -> tuple[float, float]:
    return Field((lo, hi), description=what)


class RandomTruthSpec(Frozen):
    """Each replicate draws every channel's truth from these ranges (geometric adstock and
    logistic saturation channels; their other settings -- ``spend_cv``, ``l_max`` -- are kept)."""

    decay: tuple[float, float] = _range(
        0.0, 0.8, "Geometric decay alpha ~ Uniform(lo, hi). Default [0, 0.8]."
    )
    half_saturation: tuple[float, float] = _range(
        0.5,
        3.0,
        "Steady-state spend at which the logistic curve reaches half its maximum, as a multiple "
        "of the channel's mean weekly spend in active weeks ~ log-uniform(lo, hi). Default [0.5, 3].",
    )
    roas: tuple[float, float] = _range(
        0.5,
        4.0,
        "Steady-state revenue per unit of spend at the channel's mean spend in active weeks ~ "
        "log-uniform(lo, hi): sets beta. Default [0.5, 4].",
    )
    active_share: tuple[float, float] = _range(
        0.4, 1.0, "Share of weeks with spend ~ Uniform(lo, hi). Default [0.4, 1]."
    )
    spend_concentration: float = Field(
        4.0,
        gt=0.0,
        le=1000.0,
        description="Dirichlet concentration (per channel) of the channels' shares of the total "
        "average weekly spend (the scenario's channels' mean_spend x active_share, summed). "
        "Default 4.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RandomTruthSpec:
        bounds = {"decay": (0.0, 0.99), "active_share": (0.01, 1.0)}
        for key in ("decay", "half_saturation", "roas", "active_share"):
            lo, hi = getattr(self, key)
            floor, ceil = bounds.get(key, (1e-9, float("inf")))
            if not floor <= lo <= hi <= ceil:
                raise ValueError(f"{key}: need {floor} <= lo <= hi <= {ceil}; got [{lo}, {hi}]")
        return self
