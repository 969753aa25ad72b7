"""The common result format, typed: what an estimator reports of a fit.

Every estimator returns its channels, fit statistics and diagnostics as these frozen dataclasses
(:class:`~mmm_recovery.core.results.EstimatorResult` holds them); ``to_dict`` gives the JSON
layout of ``results.json`` and of a study record (``from_dict`` reads it back), so what is
written is exactly what was typed, and a consumer reads named fields instead of guessing keys.

Units: every estimate is on the original currency scale (ROAS in revenue per unit of spend,
``beta`` in revenue per week, ``lam`` in 1/currency, ``kappa`` in currency, a curve's ``spend``
in currency per week).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the per-channel quantities every estimator reports besides its curve's parameters
CHANNEL_QUANTITIES = ("beta", "contribution_total", "contribution_share", "roas", "mroas")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval at the estimator's level (``None`` without one).

    ``levels``: intervals of the same kind at further nominal levels (``"0.5" -> (lo, hi)``),
    for calibration curves; ``extra``: further per-quantity values an estimator adds, e.g. its
    prior and likelihood sensitivity (:mod:`mmm_recovery.core.sensitivity`)."""

    estimate: float
    lower: float | None = None
    upper: float | None = None
    levels: dict[str, tuple[float, float]] | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"estimate": self.estimate, "lower": self.lower, "upper": self.upper}
        if self.levels is not None:
            out["levels"] = {k: list(v) for k, v in self.levels.items()}
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        levels = d.get("levels")
        return cls(
            estimate=d["estimate"],
            lower=d.get("lower"),
            upper=d.get("upper"),
            levels=None if levels is None else {k: (v[0], v[1]) for k, v in levels.items()},
            extra={k: v for k, v in d.items() if k not in ("estimate", "lower", "upper", "levels")},
        )


def _params(d: Mapping[str, Any]) -> dict[str, Estimate]:
    return {k: Estimate.from_dict(v) for k, v in d.items()}


@dataclass(frozen=True)
class AdstockEstimate:
    """The adstock family, its window and each parameter's estimate."""

    family: str
    l_max: int
    normalize: bool
    params: dict[str, Estimate]

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "l_max": self.l_max,
            "normalize": self.normalize,
            "params": {k: v.to_dict() for k, v in self.params.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AdstockEstimate:
        return cls(d["family"], d["l_max"], d["normalize"], _params(d["params"]))


@dataclass(frozen=True)
class SaturationEstimate:
    """The saturation family and each parameter's estimate."""

    family: str
    params: dict[str, Estimate]

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": {k: v.to_dict() for k, v in self.params.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SaturationEstimate:
        return cls(d["family"], _params(d["params"]))


@dataclass(frozen=True)
class CurveEstimate:
    """The steady-state response curve on a spend grid: estimate and pointwise band (arrays of
    the grid's length; the band ``None`` without draws)."""

    spend: np.ndarray
    estimate: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "spend": self.spend,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CurveEstimate:
        def arr(v: Any) -> np.ndarray | None:
            return None if v is None else np.asarray(v, dtype=float)

        return cls(
            np.asarray(d["spend"], dtype=float),
            np.asarray(d["estimate"], dtype=float),
            arr(d.get("lower")),
            arr(d.get("upper")),
        )


@dataclass(frozen=True)
class ChannelEstimate:
    """Everything an estimator reports of one channel."""

    adstock: AdstockEstimate
    saturation: SaturationEstimate
    beta: Estimate
    contribution_total: Estimate
    contribution_share: Estimate
    roas: Estimate
    mroas: Estimate
    curve: CurveEstimate

    def quantity(self, name: str) -> Estimate:
        """A quantity by name: one of :data:`CHANNEL_QUANTITIES`, or ``adstock.<param>`` /
        ``saturation.<param>``."""
        group, _, param = name.partition(".")
        if param:
            return getattr(self, group).params[param]
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adstock": self.adstock.to_dict(),
            "saturation": self.saturation.to_dict(),
            **{q: getattr(self, q).to_dict() for q in CHANNEL_QUANTITIES},
            "curve": self.curve.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChannelEstimate:
        return cls(
            adstock=AdstockEstimate.from_dict(d["adstock"]),
            saturation=SaturationEstimate.from_dict(d["saturation"]),
            **{q: Estimate.from_dict(d[q]) for q in CHANNEL_QUANTITIES},
            curve=CurveEstimate.from_dict(d["curve"]),
        )


@dataclass(frozen=True)
class FitMetrics:
    """How well the fitted mean follows the target: MAPE (a fraction), NRMSE (RMSE / range of
    the target, Robyn's definition) and R²."""

    mape: float
    nrmse: float
    r2: float

    def to_dict(self) -> dict[str, float]:
        return {"mape": self.mape, "nrmse": self.nrmse, "r2": self.r2}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitMetrics:
        return cls(d["mape"], d["nrmse"], d["r2"])


@dataclass(frozen=True)
class FitStats:
    """Fit statistics: in the training weeks, in the holdout weeks (``None`` without a
    holdout), and an estimator's own cross-validation summary (``None`` if it has none)."""

    in_sample: FitMetrics
    holdout: FitMetrics | None = None
    cv: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"in_sample": self.in_sample.to_dict()}
        if self.holdout is not None:
            out["holdout"] = self.holdout.to_dict()
        if self.cv is not None:
            out["cv"] = dict(self.cv)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitStats:
        hold = d.get("holdout")
        return cls(
            FitMetrics.from_dict(d["in_sample"]),
            None if hold is None else FitMetrics.from_dict(hold),
            d.get("cv"),
        )


@dataclass(frozen=True)
class Diagnostics(Mapping[str, Any]):
    """A fit's workflow diagnostics: ``converged`` (every threshold of the estimator met; a fit
    that misses one is kept and flagged) and the estimator's own checks by name in ``details``
    (R-hat, ESS, divergences; search evaluations; ...). Read as a mapping, it is
    :meth:`to_dict` (``converged`` included)."""

    converged: bool
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "converged" in self.details:
            raise ValueError("Diagnostics: 'converged' is a field, not a detail")

    def to_dict(self) -> dict[str, Any]:
        return {"converged": self.converged, **self.details}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnostics:
        return cls(bool(d["converged"]), {k: v for k, v in d.items() if k != "converged"})

    def __getitem__(self, key: str) -> Any:
        return self.converged if key == "converged" else self.details[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return 1 + len(self.details)
