"""Settings of the reference estimator (``estimators.reference`` in a study YAML)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mmm_recovery.estimators.base import EstimatorConfig


class ReferenceConfig(EstimatorConfig):
    """Settings of the reference estimator (``estimators.reference`` in a study YAML): the
    transforms it assumes and its bootstrap."""

    description: ClassVar[str] = (
        "**Reference** (`reference`): ordinary least squares of the target on an intercept, the "
        "controls, a linear trend, yearly Fourier terms and each channel's spend through transforms it *assumes* "
        "(geometric adstock with a fixed retention, logistic saturation half saturated at a "
        "fixed multiple of the channel's mean adstocked spend); percentile intervals from a "
        "moving-block bootstrap of the training weeks. It estimates the coefficients only, so "
        "its recovery is as good as its assumptions: the floor the other estimators must beat."
    )
    summary: ClassVar[str] = (
        "OLS on assumed geometric adstock and logistic saturation, block-bootstrap intervals: "
        "a baseline and the worked example of docs/extending.md."
    )
    level_setting: ClassVar[tuple[str, ...]] = ("level",)

    l_max: int = Field(8, ge=1, le=104, description="Adstock weights. Default 8.")
    alpha: float = Field(
        0.3, ge=0.0, lt=1.0, description="Assumed geometric retention, every channel. Default 0.3."
    )
    half_saturation: float = Field(
        1.0,
        gt=0.0,
        description="Assumed half-saturation point as a multiple of the channel's mean adstocked "
        "weekly spend over the training weeks (so the logistic lam is ln 3 / (this x mean)). "
        "Default 1.",
    )
    yearly_seasonality: int = Field(
        2, ge=0, le=10, description="Yearly Fourier pairs in the design. Default 2."
    )
    replicates: int = Field(200, ge=0, le=10_000, description="Bootstrap replicates. Default 200.")
    block_weeks: int = Field(8, ge=1, description="Bootstrap block length in weeks. Default 8.")
    level: float = Field(0.9, gt=0.0, lt=1.0, description="Interval level. Default 0.9.")

    def min_train_weeks(self) -> int:
        """The adstock window plus one week for every coefficient of a small design."""
        return self.l_max + 1
