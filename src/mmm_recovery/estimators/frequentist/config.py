"""Settings of the frequentist estimator (``estimators.frequentist`` in a study YAML)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, cast

from pydantic import Field, model_validator

from mmm_recovery.estimators.base import EstimatorConfig
from mmm_recovery.estimators.frequentist.optimizers import NEVERGRAD_OPTIMIZERS
from mmm_recovery.families import registry as families

if TYPE_CHECKING:
    from collections.abc import Callable

    AdstockName = str
else:  # every registered adstock family (mmm_recovery.families)
    AdstockName = Literal[tuple(families.adstock_names())]


def adstock_params(family: str) -> tuple[str, ...]:
    """The searched parameters of an adstock family (its own parameters)."""
    return families.adstock(family).parameters


class SearchBounds(EstimatorConfig):
    """Search bounds (lower, upper) of each hyperparameter."""

    alpha: tuple[float, float] = Field(
        (0.0, 0.95), description="Geometric retention. Default [0, 0.95]."
    )
    shape: tuple[float, float] = Field((0.2, 10.0), description="Weibull shape. Default [0.2, 10].")
    scale: tuple[float, float] = Field(
        (0.5, 12.0), description="Weibull scale, weeks. Default [0.5, 12]."
    )
    slope: tuple[float, float] = Field((0.5, 3.0), description="Hill exponent. Default [0.5, 3].")
    gamma: tuple[float, float] = Field(
        (0.3, 1.0), description="Hill kappa as a share of the adstocked range. Default [0.3, 1]."
    )
    log10_lambda: tuple[float, float] = Field(
        (-6.0, 0.0), description="log10 of the Ridge penalty. Default [-6, 0]."
    )

    @model_validator(mode="after")
    def _ordered(self) -> SearchBounds:
        for name in type(self).model_fields:
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"bounds.{name}: lower {lo} must be < upper {hi}")
        if self.alpha[0] < 0 or self.alpha[1] >= 1:
            raise ValueError(f"bounds.alpha must lie in [0, 1); got {self.alpha}")
        if min(self.shape[0], self.scale[0], self.slope[0], self.gamma[0]) <= 0:
            raise ValueError("bounds.shape, scale, slope and gamma must be > 0")
        return self


class BootstrapConfig(EstimatorConfig):
    """Moving-block bootstrap of training weeks."""

    replicates: int = Field(
        100, ge=0, le=10000, description="Bootstrap replicates (0 = no intervals). Default 100."
    )
    block_weeks: int = Field(8, ge=1, description="Block length in weeks. Default 8.")
    level: float = Field(0.9, gt=0.0, lt=1.0, description="Interval level. Default 0.9.")
    method: Literal["de", "research", "reselect"] = Field(
        "de",
        description="What each replicate re-optimises on the resampled weeks. `de`: a "
        "re-search of `budget` evaluations started from the chosen model, as Nevergrad's "
        "TwoPointsDE runs it, in NumPy (one objective call per generation). `research`: the "
        "same with Nevergrad itself and the search's `optimizer`. `reselect`: no search; "
        "refit the search's `candidates` most competitive models and choose among them by "
        "the selection rule (no optimiser noise; narrower). Default de.",
    )
    candidates: int = Field(
        300,
        ge=1,
        description="Models each `reselect` replicate chooses among (1 holds the chosen "
        "hyperparameters fixed: a Ridge-only interval). Default 300.",
    )
    budget: int = Field(
        300, ge=10, description="Evaluations per `de` or `research` replicate. Default 300."
    )


class CVConfig(EstimatorConfig):
    """Rolling-origin (expanding window) time-series cross-validation within the training weeks."""

    initial_train_weeks: int = Field(
        52, ge=8, description="Weeks in the first training window. Default 52."
    )
    test_weeks: int = Field(13, ge=1, description="Weeks in each test window. Default 13.")
    step_weeks: int = Field(
        13, ge=1, description="Weeks the origin moves between folds. Default 13."
    )


class FrequentistConfig(EstimatorConfig):
    """Settings of the frequentist estimator (``estimators.frequentist`` in a study YAML)."""

    #: what the reports say of this estimator (markdown)
    description: ClassVar[str] = (
        "**Frequentist** (`frequentist`, Robyn-style): per channel: geometric adstock, then Hill "
        "saturation whose half-saturation point is $\\kappa = \\min + \\gamma (\\max - \\min)$ of the "
        "adstocked training spend (Robyn's parametrisation). A Ridge regression (penalty on "
        "standardised coefficients, closed form) with the controls, a linear trend and yearly "
        "Fourier terms; media coefficients constrained to be non-negative (an active-set solve "
        "inside the search, bounded least squares for the final fit). Nevergrad (`TwoPointsDE` by "
        "default) searches $(\\alpha_c, a_c, \\gamma_c)$ and $\\log_{10}\\lambda$; the objectives are "
        "NRMSE $= \\mathrm{RMSE} / (\\max y - \\min y)$ and DECOMP.RSSD $= \\sqrt{\\sum_c "
        "(\\text{effect share}_c - \\text{spend share}_c)^2}$. The chosen model is the Pareto-"
        "optimal point closest to the origin after scaling both objectives to [0, 1] over the "
        "front. Intervals: moving-block bootstrap of weeks; each replicate re-runs a short "
        "TwoPointsDE re-search (`bootstrap.budget` evaluations, started from the chosen model) "
        "on the resampled weeks and applies the selection rule; percentile intervals. They "
        "carry the re-search's own noise beside the sampling error. Validation: the holdout "
        "and rolling-origin CV."
    )
    #: the one line the model card says of this estimator (markdown)
    summary: ClassVar[str] = (
        "Robyn-style: Nevergrad search over per-channel geometric adstock and Hill saturation "
        "hyperparameters and the Ridge penalty, non-negative Ridge regression inside, "
        "multi-objective selection (NRMSE, DECOMP.RSSD), block-bootstrap intervals."
    )
    #: where the settings hold the interval level (the contract tests set it)
    level_setting: ClassVar[tuple[str, ...]] = ("bootstrap", "level")

    adstock: AdstockName = Field("geometric", description="Default geometric.")
    l_max: int = Field(12, ge=1, le=104, description="Adstock weights. Default 12.")
    normalize_adstock: bool = Field(True, description="Adstock weights sum to 1. Default true.")
    yearly_seasonality: int = Field(2, ge=0, le=10, description="Fourier order. Default 2.")
    trend: bool = Field(True, description="Include a 0-1 linear trend. Default true.")
    optimizer: str = Field(
        "TwoPointsDE", description="Nevergrad optimiser name. Default TwoPointsDE."
    )
    budget: int = Field(2000, ge=20, description="Evaluations per trial. Default 2000.")
    trials: int = Field(3, ge=1, le=100, description="Independent trials. Default 3.")
    batch_size: int = Field(
        32, ge=1, le=1024, description="Candidates evaluated per vectorised call. Default 32."
    )
    objective: Literal["nrmse", "nrmse+decomp_rssd"] = Field(
        "nrmse+decomp_rssd", description="Default multi-objective."
    )
    calibrate: bool = Field(
        True,
        description="With the data's lift tests, add Robyn's MAPE.LIFT (mean absolute relative "
        "error of the model's lift against each measured lift: the steady-state lift, or for a "
        "test of a given length, weeks, the mean lift over its weeks from steady state) to the "
        "objectives; false ignores them. Default true.",
    )
    bounds: SearchBounds = Field(
        default_factory=cast("Callable[[], SearchBounds]", SearchBounds),
        description="Search bounds.",
    )
    bootstrap: BootstrapConfig = Field(
        default_factory=cast("Callable[[], BootstrapConfig]", BootstrapConfig),
        description="Bootstrap settings.",
    )
    cv: CVConfig = Field(
        default_factory=cast("Callable[[], CVConfig]", CVConfig),
        description="Time-series CV settings.",
    )
    convergence_tol: float = Field(
        0.01,
        gt=0.0,
        description="Converged if best NRMSE improved < this (relative) over the last 20% of each trial. Default 0.01.",
    )

    @model_validator(mode="after")
    def _bounds_cover_the_adstock(self) -> FrequentistConfig:
        """The search needs bounds for every parameter of the adstock family it searches (a
        new family's parameters need a :class:`SearchBounds` field)."""
        missing = [p for p in adstock_params(self.adstock) if p not in SearchBounds.model_fields]
        if missing:
            raise ValueError(
                f"adstock {self.adstock!r}: the search has no bounds for {missing}; add them to "
                "SearchBounds (estimators/frequentist/config.py)"
            )
        return self

    @model_validator(mode="after")
    def _known_optimizer(self) -> FrequentistConfig:
        if self.optimizer not in NEVERGRAD_OPTIMIZERS:
            raise ValueError(
                f"optimizer {self.optimizer!r} is not a Nevergrad optimiser (e.g. TwoPointsDE, NGOpt, CMA)"
            )
        return self

    def min_train_weeks(self) -> int:
        """The adstock window plus one rolling-origin CV test window."""
        return self.l_max + self.cv.test_weeks
