"""Exponential saturation, ``1 - exp(-lam x)``: the worked example of ``docs/extending.md``.

A family is this one class (and its YAML block's model): being a module of
:mod:`mmm_recovery.families` registers it, the study spec accepts ``family: exponential`` for a
channel's saturation, the simulator and the response model use it, the contract tests in
``tests/test_families.py`` run it on its ``examples`` and its hand-computed ``hand_case``, and
the methodology report prints its ``description``. PyMC-Marketing 1.3 has no component for it,
so the Bayesian estimator does not offer it (it says so when asked), while the truth of a
scenario may use it: a misspecification no estimator here can fit exactly.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from mmm_recovery.families.base import FamilySpec, Params, SaturationFamily


class ExponentialSaturationSpec(FamilySpec):
    """Exponential saturation ``1 - exp(-lam x)`` of adstocked spend ``x``."""

    family: Literal["exponential"] = Field(description="`exponential`.")
    lam: float = Field(
        gt=0.0, description="Rate in 1/currency of adstocked weekly spend. No default."
    )

    @property
    def params(self) -> dict[str, float]:
        return {"lam": self.lam}


class ExponentialSaturation(SaturationFamily):
    """``1 - exp(-lam x)``, ``lam`` in 1 / (unit of ``x``): concave from the first unit of spend,
    half saturated at ``x = ln(2) / lam``."""

    name = "exponential"
    parameters = ("lam",)
    spec = ExponentialSaturationSpec
    description = (
        "**Exponential**: $f(x) = 1 - e^{-\\lambda x}$, $\\lambda$ in 1/currency, half "
        "saturated at $x = \\ln 2 / \\lambda$."
    )
    examples = ({"lam": 2.0}, {"lam": 0.3}, {"lam": 1.2})
    # 1 - exp(-2x): 0 at 0, 1/2 at x = ln(2) / 2, 1 - exp(-2) at x = 1
    hand_case = ({"lam": 2.0}, (0.0, float(np.log(2.0) / 2.0), 1.0), (0.0, 0.5, 0.8646647167633873))

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        return -np.expm1(-np.asarray(params["lam"]) * np.asarray(x, dtype=float))

    def derivative(self, x: np.ndarray, params: Params) -> np.ndarray:
        lam = np.asarray(params["lam"])
        return lam * np.exp(-lam * np.asarray(x, dtype=float))

    def to_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        """``lam = lam_s / channel_scale``: ``1 - exp(-lam_s x / s) = 1 - exp(-(lam_s / s) x)``."""
        return {"lam": np.asarray(params["lam"]) / np.asarray(channel_scale, dtype=float)}

    def from_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        return {"lam": np.asarray(params["lam"]) * np.asarray(channel_scale, dtype=float)}
