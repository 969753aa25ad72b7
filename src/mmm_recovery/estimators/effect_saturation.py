"""PyMC-Marketing's logistic saturation sampled by its effect at a reference spend.

PyMC-Marketing's ``LogisticSaturation`` is ``beta * tanh(lam * x / 2)`` on max-scaled adstocked
spend ``x``, sampled as ``lam`` and the asymptote ``beta``. The data pin the channel's average
contribution, not ``beta``: along ``beta * tanh(lam * x0 / 2) = const`` the likelihood is nearly
flat, and in the default study's posterior ``log lam`` and ``log beta`` correlate down to -0.99
(tv), so NUTS needs small steps and long trajectories to move along that ridge.

:class:`EffectLogisticSaturation` is the same curve sampled as ``lam`` and ``effect``, the
curve's value at a fixed reference input ``x0`` per channel (the channel's mean scaled training
spend, :func:`reference_input`)::

    effect * tanh(lam * x / 2) / tanh(lam * x0 / 2),   beta = effect / tanh(lam * x0 / 2)

``effect`` is the contribution at typical spend, which the data identify whatever ``lam`` is.
Importing this module imports PyMC-Marketing; :mod:`mmm_recovery.estimators.bayesian` imports it
only when it builds a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pymc_extras.prior import Prior
from pymc_marketing.mmm import SaturationTransformation
from pymc_marketing.mmm.transformers import logistic_saturation
from pymc_marketing.serialization import serialization
from pytensor.xtensor import as_xtensor


def reference_input(x_train: pd.DataFrame, channels: list[str]) -> np.ndarray:
    """Each channel's mean training spend over its max absolute training spend (PyMC-Marketing's
    channel scale): the reference input ``x0``, clipped to [0.001, 1]."""
    x = x_train[list(channels)].to_numpy(dtype=float)
    scale = np.abs(x).max(axis=0)
    return np.clip(x.mean(axis=0) / np.where(scale > 0, scale, 1.0), 1e-3, 1.0)


def beta_from_effect(lam: Any, effect: Any, x0: Any) -> np.ndarray:
    """The asymptote ``beta`` of ``beta * tanh(lam * x / 2)`` whose value at ``x0`` is ``effect``
    (all on the scaled data; ``x0`` broadcasts over the last axis, the channels)."""
    lam, effect, x0 = (np.asarray(a, dtype=float) for a in (lam, effect, x0))
    return effect / np.tanh(lam * x0 / 2.0)


@serialization.register
class EffectLogisticSaturation(SaturationTransformation):
    """``effect * tanh(lam * x / 2) / tanh(lam * x0 / 2)`` (module docstring); ``x0`` has one
    value per channel, in the model's channel order."""

    lookup_name = "effect_logistic"

    default_priors = {
        "lam": Prior("Gamma", alpha=3, beta=1, dims="channel"),
        "effect": Prior("HalfNormal", sigma=0.25, dims="channel"),
    }

    def __init__(self, x0: Any, priors: dict | None = None, prefix: str | None = None) -> None:
        self.x0 = np.asarray(x0, dtype=float).ravel()
        super().__init__(priors=priors, prefix=prefix)

    def function(self, x, lam, effect, *, dim: str | None = None):
        """The saturated contribution on the scaled target."""
        x0 = as_xtensor(self.x0, dims=("channel",))
        return effect * logistic_saturation(x, lam) / logistic_saturation(x0, lam)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "x0": [float(v) for v in self.x0]}

    @classmethod
    def from_dict(cls, data: dict) -> EffectLogisticSaturation:
        data = dict(data)
        x0 = data.pop("x0")
        data.pop("__type__", None)
        priors = data.get("priors")
        if priors is not None:
            from pymc_marketing.mmm.components.base import _deserialize_value

            priors = {k: _deserialize_value(v) for k, v in priors.items()}
        return cls(x0, priors=priors, prefix=data.get("prefix"))
