"""Saturation families: logistic and Hill.

Each class is one family: its parameters, its YAML block (``spec``), ``f`` and ``df/dx`` (the
pure functions in :mod:`mmm_recovery.families.transforms`), the map between parameters fitted on
max-scaled spend and the currency scale, and its PyMC-Marketing component. Defining a subclass
with a ``name`` registers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from mmm_recovery.families import transforms
from mmm_recovery.families.base import FamilySpec, Params, SaturationFamily

if TYPE_CHECKING:
    from pymc_marketing.mmm import SaturationTransformation


class LogisticSaturationSpec(FamilySpec):
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))`` of adstocked spend ``x``."""

    family: Literal["logistic"] = Field("logistic", description="`logistic` (default).")
    lam: float = Field(
        gt=0.0, description="Steepness in 1/currency of adstocked weekly spend. No default."
    )

    @property
    def params(self) -> dict[str, float]:
        return {"lam": self.lam}


class HillSaturationSpec(FamilySpec):
    """Hill saturation ``x**slope / (x**slope + kappa**slope)``."""

    family: Literal["hill"] = Field(description="`hill`.")
    slope: float = Field(gt=0.0, le=10.0, description="Hill exponent > 0. No default.")
    kappa: float = Field(
        gt=0.0, description="Half-saturation point in currency of adstocked weekly spend."
    )

    @property
    def params(self) -> dict[str, float]:
        return {"slope": self.slope, "kappa": self.kappa}


class LogisticSaturation(SaturationFamily):
    """``tanh(lam x / 2)``, ``lam`` in 1 / (unit of ``x``)."""

    name = "logistic"
    parameters = ("lam",)
    spec = LogisticSaturationSpec
    description = (
        "**Logistic**: $f(x) = \\frac{1 - e^{-\\lambda x}}{1 + e^{-\\lambda x}}$, "
        "$\\lambda$ in 1/currency."
    )
    examples = ({"lam": 2.0}, {"lam": 0.3}, {"lam": 1.2})
    # tanh(lam x / 2): 0 at 0, 1/2 at x = ln(3) / lam, tanh(0.5) at x = 0.5 (lam = 2)
    hand_case = (
        {"lam": 2.0},
        (0.0, float(np.log(3.0) / 2.0), 0.5),
        (0.0, 0.5, 0.46211715726000974),
    )

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        return transforms.logistic_saturation(x, params["lam"])

    def derivative(self, x: np.ndarray, params: Params) -> np.ndarray:
        t = np.tanh(0.5 * params["lam"] * x)
        return 0.5 * params["lam"] * (1.0 - t**2)

    def to_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        """``lam = lam_s / channel_scale``: ``tanh(lam_s (x / s) / 2) = tanh((lam_s / s) x / 2)``."""
        return {"lam": np.asarray(params["lam"]) / np.asarray(channel_scale, dtype=float)}

    def from_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        return {"lam": np.asarray(params["lam"]) * np.asarray(channel_scale, dtype=float)}

    def pymc_component(self, priors: dict[str, Any] | None = None) -> SaturationTransformation:
        from pymc_marketing.mmm import LogisticSaturation as PymcLogistic

        return PymcLogistic(priors=priors)


class HillSaturation(SaturationFamily):
    """``x**slope / (x**slope + kappa**slope)``; ``kappa`` (half saturation) in the unit of ``x``."""

    name = "hill"
    parameters = ("slope", "kappa")
    spec = HillSaturationSpec
    description = (
        "**Hill**: $f(x) = \\frac{x^a}{x^a + g^a}$ with slope $a$, half-saturation $g$ in currency."
    )
    examples = (
        {"slope": 1.5, "kappa": 2.0},
        {"slope": 0.7, "kappa": 0.5},
        {"slope": 3.0, "kappa": 1.0},
    )
    hand_case = ({"slope": 2.0, "kappa": 5.0}, (0.0, 5.0, 10.0), (0.0, 0.5, 0.8))  # x²/(x²+25)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        return transforms.hill_saturation(x, params["slope"], params["kappa"])

    def derivative(self, x: np.ndarray, params: Params) -> np.ndarray:
        h = transforms.hill_saturation(x, params["slope"], params["kappa"])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, params["slope"] * h * (1.0 - h) / np.where(x > 0, x, 1.0), 0.0)

    def to_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        """``kappa = kappa_s * channel_scale`` (currency); ``slope`` is scale-free."""
        return {
            "slope": np.asarray(params["slope"]),
            "kappa": np.asarray(params["kappa"]) * np.asarray(channel_scale, dtype=float),
        }

    def from_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        return {
            "slope": np.asarray(params["slope"]),
            "kappa": np.asarray(params["kappa"]) / np.asarray(channel_scale, dtype=float),
        }

    def pymc_component(self, priors: dict[str, Any] | None = None) -> SaturationTransformation:
        from pymc_marketing.mmm import HillSaturation as PymcHill

        return PymcHill(priors=priors)
