"""Bring-your-own data in a study file: an analyst's weekly CSV and its measured lift tests."""

from __future__ import annotations

from pydantic import Field, StrictInt, model_validator

from mmm_recovery.core.files import MAX_LIFT_TEST_WEEKS
from mmm_recovery.core.frozen import Frozen


class MeasuredLiftTest(Frozen):
    """A lift test's result, in currency (PyMC-Marketing's ``add_lift_test_measurements`` row)."""

    channel: str = Field(description="Channel tested (a key of the column map). No default.")
    x: float = Field(ge=0.0, description="Weekly spend before the test. No default.")
    delta_x: float = Field(description="Change of weekly spend in the test. No default.")
    delta_y: float = Field(description="Measured change of weekly revenue. No default.")
    sigma: float = Field(gt=0.0, description="Standard error of delta_y. No default.")
    weeks: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_LIFT_TEST_WEEKS,
        description="Length of the test in weeks, from steady state at x: delta_y is the mean "
        "weekly change over them (the test's total incremental revenue divided by weeks, "
        "without what carries over after it ends). Default null: a test long enough for "
        "carry-over to build up (the steady-state change).",
    )

    @model_validator(mode="after")
    def _changes_spend(self) -> MeasuredLiftTest:
        if self.delta_x == 0.0 or self.x + self.delta_x < 0.0:
            raise ValueError(
                f"lift test on {self.channel}: delta_x={self.delta_x} must be non-zero with "
                f"x + delta_x >= 0 (x={self.x})"
            )
        if self.delta_y == 0.0:
            raise ValueError(
                f"lift test on {self.channel}: delta_y=0 (no measured lift) has no relative "
                "error for MAPE.LIFT; give the measured lift, however small, with its sigma"
            )
        return self


class CsvDatasetSpec(Frozen):
    """An analyst's own weekly CSV (no ground truth), fitted by every estimator of the study."""

    path: str = Field(description="CSV file, relative to the project root. No default.")
    date: str = Field(description="Date column (one row per week, sorted, no gaps). No default.")
    target: str = Field(description="Target (revenue) column. No default.")
    channels: dict[str, str] = Field(
        min_length=1, description="Channel name -> spend column (currency). No default."
    )
    controls: dict[str, str] = Field(
        default_factory=dict, description="Control name -> numeric column. Default none."
    )
    events: dict[str, str] = Field(
        default_factory=dict,
        description="Event name -> categorical column, expanded to one 0/1 indicator per level except the most common.",
    )
    holdout_weeks: int = Field(13, ge=0, le=104, description="Final weeks held out. Default 13.")
    curve_points: int = Field(
        41, ge=5, le=1001, description="Response-curve grid points. Default 41."
    )
    curve_max_multiple: float = Field(
        3.0, gt=0.0, description="Curve grid 0 .. this x mean weekly spend. Default 3."
    )
    lift_tests: list[MeasuredLiftTest] = Field(
        default_factory=list,
        description="Lift tests the estimators calibrate with (see MeasuredLiftTest). Default none.",
    )
    min_active_weeks: int = Field(
        8,
        ge=1,
        description="A channel must spend in at least this many weeks: with spend in one or two "
        "weeks its curve and ROAS are not identified, and the fits report intervals millions "
        "wide. Default 8.",
    )
    max_event_share: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="The event indicators (levels other than the most common, over all event "
        "columns) may number at most this share of the weeks: one indicator per week or so "
        "lets the fit explain the target exactly (in-sample R-squared 1) and attribute nothing. "
        "Default 0.1.",
    )

    @model_validator(mode="after")
    def _one_role_per_column(self) -> CsvDatasetSpec:
        roles = [("date", self.date), ("target", self.target)]
        for section in ("channels", "controls", "events"):
            roles += [(f"{section}.{k}", v) for k, v in getattr(self, section).items()]
        seen: dict[str, str] = {}
        for key, column in roles:
            if column in seen:
                raise ValueError(
                    f"{key} and {seen[column]} both map column {column!r}: each column has one role"
                )
            seen[column] = key
        return self

    @model_validator(mode="after")
    def _lift_tests_name_channels(self) -> CsvDatasetSpec:
        for i, test in enumerate(self.lift_tests):
            if test.channel not in self.channels:
                raise ValueError(
                    f"lift_tests[{i}].channel={test.channel!r} is not a channel of the column map "
                    f"({list(self.channels)})"
                )
        return self
