"""PyMC-Marketing's logistic saturation, sampled by its effect at a reference spend.

PyMC-Marketing's ``LogisticSaturation`` is ``beta * tanh(lam * x / 2)`` on max-scaled adstocked
spend ``x``, sampled as ``lam`` and the asymptote ``beta``. The data pin the channel's average
contribution, not ``beta``: along ``beta * tanh(lam * x0 / 2) = const`` the likelihood is nearly
flat, and in the default study's posterior ``log lam`` and ``log beta`` correlate down to -0.99
(tv), so NUTS needs small steps and long trajectories to move along that ridge.

:class:`EffectLogisticSaturation` is **the same model** sampled in other coordinates: ``lam`` and
``effect``, the curve's value at a fixed reference input ``x0`` per channel (the channel's mean
scaled training spend, :func:`reference_input`)::

    effect * tanh(lam * x / 2) / tanh(lam * x0 / 2),   beta = effect / tanh(lam * x0 / 2)

The prior stays the one on ``(lam, beta)``: ``beta`` is independent of ``lam`` with a
scale-family prior (HalfNormal, Exponential, Gamma or LogNormal), so
given ``lam`` the effect ``beta * t`` (``t = tanh(lam * x0 / 2)``) has the same family with its
scale multiplied by ``t`` (:func:`scaled_prior_parameters`), e.g. ``beta ~ HalfNormal(s)`` gives
``effect | lam ~ HalfNormal(s * t)``. The joint density of ``(lam, effect)`` is exactly the image
of ``p(lam) p(beta)``, and forward (prior predictive) draws are exact too. Only NUTS's geometry
changes.

:class:`LevelIntercept` does the same for the intercept: NUTS samples the level
``intercept + sum_c effect_c``, which the data pin, instead of the baseline, which trades off
against an always-on channel's effect; the intercept's prior is moved with it (unit Jacobian).

Importing this module imports PyMC-Marketing; :mod:`mmm_recovery.estimators.bayesian` imports it
only when it builds a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pymc.dims as pmd
from pymc_extras.prior import Prior
from pymc_marketing.mmm import SaturationTransformation
from pymc_marketing.mmm.transformers import logistic_saturation
from pymc_marketing.serialization import serialization
from pytensor.xtensor import as_xtensor
from pytensor.xtensor import math as ptxm

#: PyMC-Marketing's default prior on ``beta`` (``LogisticSaturation.default_priors``)
DEFAULT_BETA_PRIOR = Prior("HalfNormal", sigma=2, dims="channel")


def reference_input(x_train: pd.DataFrame, channels: list[str]) -> np.ndarray:
    """Each channel's mean training spend over its max training spend (PyMC-Marketing's channel
    scale; spend is non-negative, checked by ``check_fit_input``): the reference input ``x0``,
    clipped to [0.001, 1]."""
    x = x_train[list(channels)].to_numpy(dtype=float)
    scale = x.max(axis=0)
    return np.clip(x.mean(axis=0) / np.where(scale > 0, scale, 1.0), 1e-3, 1.0)


def beta_from_effect(lam: Any, effect: Any, x0: Any) -> np.ndarray:
    """The asymptote ``beta`` of ``beta * tanh(lam * x / 2)`` whose value at ``x0`` is ``effect``
    (all on the scaled data; ``x0`` broadcasts over the last axis, the channels)."""
    lam, effect, x0 = (np.asarray(a, dtype=float) for a in (lam, effect, x0))
    return effect / np.tanh(lam * x0 / 2.0)


def effect_from_beta(lam: Any, beta: Any, x0: Any) -> np.ndarray:
    """The value at ``x0`` of ``beta * tanh(lam * x / 2)`` (inverse of :func:`beta_from_effect`)."""
    lam, beta, x0 = (np.asarray(a, dtype=float) for a in (lam, beta, x0))
    return beta * np.tanh(lam * x0 / 2.0)


#: supported priors on ``beta``: family -> accepted parameter sets, each with how a parameter
#: changes when the variable is multiplied by ``t`` (PyMC's defaults are filled in first)
_SCALE_RULES: dict[str, list[dict[str, str]]] = {
    "HalfNormal": [{"sigma": "mul"}],
    "Exponential": [{"scale": "mul"}, {"lam": "div"}],
    "Gamma": [{"alpha": "keep", "beta": "div"}, {"mu": "mul", "sigma": "mul"}],
    "LogNormal": [{"mu": "log", "sigma": "keep"}],
}
_DEFAULTS = {"HalfNormal": {"sigma": 1.0}, "LogNormal": {"mu": 0.0, "sigma": 1.0}}


def scaled_prior_parameters(prior: Prior, t: Any) -> dict[str, Any]:
    """Parameters of the distribution of ``t * beta`` for ``beta ~ prior`` (same family).

    Supported: ``HalfNormal(sigma)``, ``Exponential(scale | lam)``, ``Gamma(alpha, beta | mu,
    sigma)``, ``LogNormal(mu, sigma)`` with numeric parameters (PyMC's defaults fill in a left-out
    ``sigma`` or ``mu``); anything else is an error naming the prior.
    """
    params = {**_DEFAULTS.get(prior.distribution, {}), **prior.parameters}
    rules = next(
        (r for r in _SCALE_RULES.get(prior.distribution, []) if set(r) == set(params)), None
    )
    if rules is None:
        supported = "; ".join(f"{k}({', '.join(r)})" for k, rs in _SCALE_RULES.items() for r in rs)
        raise ValueError(
            f"saturation_beta prior {prior.distribution}({', '.join(prior.parameters)}) is not "
            f"supported with logistic_parametrization: effect; use one of {supported}, or "
            "logistic_parametrization: beta"
        )
    ops = {
        "mul": lambda v: v * t,
        "div": lambda v: v / t,
        "log": lambda v: v + ptxm.log(t),
        "keep": lambda v: v,
    }
    out: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(value, int | float):
            raise ValueError(f"saturation_beta prior: parameter {name} must be a number")
        out[name] = ops[rules[name]](value)
    return out


@serialization.register
class EffectLogisticSaturation(SaturationTransformation):
    """``effect * tanh(lam * x / 2) / tanh(lam * x0 / 2)`` with the prior of ``(lam, beta)``
    (module docstring); ``x0`` has one value per channel, in the model's channel order."""

    lookup_name = "effect_logistic"

    #: ``effect``'s entry is the prior of the asymptote ``beta``, not of the effect (which is
    #: drawn from it rescaled by ``t``, see :meth:`channel_variables`): PyMC-Marketing's ``model_config``
    #: and the saved model attributes therefore list ``beta``'s prior as ``saturation_effect``
    default_priors = {
        "lam": Prior("Gamma", alpha=3, beta=1, dims="channel"),
        "effect": DEFAULT_BETA_PRIOR,
    }

    def __init__(self, x0: Any, priors: dict | None = None, prefix: str | None = None) -> None:
        self.x0 = np.asarray(x0, dtype=float).ravel()
        #: a shared variable holding ``x0`` to build the graph with instead of the constant (the
        #: batched sampler makes it an input, :mod:`~mmm_recovery.estimators.bayesian.batched`)
        self.x0_variable: Any = None
        super().__init__(priors=priors, prefix=prefix)

    def reference(self) -> Any:
        """``x0`` in the graph, dimension ``channel``: the constant, or :attr:`x0_variable`."""
        return as_xtensor(
            self.x0 if self.x0_variable is None else self.x0_variable, dims=("channel",)
        )

    @property
    def beta_prior(self) -> Prior:
        """The prior of the asymptote ``beta``."""
        return self.function_priors["effect"]

    def function(self, x, lam, effect, *, dim: str | None = None):
        """The saturated contribution on the scaled target."""
        return effect * logistic_saturation(x, lam) / logistic_saturation(self.reference(), lam)

    def channel_variables(self) -> tuple[Any, Any]:
        """``(lam, effect)`` of the model in context: created on the first call (``effect`` drawn
        given ``lam`` as ``t * beta``, the prior of ``beta`` rescaled by
        ``t = tanh(lam * x0 / 2)``), the same variables afterwards, so :class:`LevelIntercept`
        can use them before PyMC-Marketing applies the saturation."""
        model = pm.modelcontext(None)
        names = self.variable_mapping
        if names["lam"] in model.named_vars:
            return model[names["lam"]], model[names["effect"]]
        lam = self.function_priors["lam"].create_variable(names["lam"], xdist=True)
        t = logistic_saturation(self.reference(), lam)
        prior = self.beta_prior
        effect = getattr(pmd, prior.distribution)(
            names["effect"], **scaled_prior_parameters(prior, t), dims=prior.dims
        )
        return lam, effect

    def apply(self, x, *, core_dim: str | None = None, idx=None):
        """As PyMC-Marketing's ``apply`` (inside a model), with :meth:`channel_variables`."""
        if idx is not None:
            raise NotImplementedError("EffectLogisticSaturation does not support idx")
        lam, effect = self.channel_variables()
        return self.function(x, dim=core_dim, lam=lam, effect=effect)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "x0": [float(v) for v in self.x0]}

    @classmethod
    def from_dict(cls, data: dict) -> EffectLogisticSaturation:
        from pymc_marketing.mmm.components.base import _deserialize_value

        data = dict(data)
        data.pop("__type__", None)
        priors = data.get("priors")
        if priors is not None:
            priors = {k: _deserialize_value(v) for k, v in priors.items()}
        return cls(data["x0"], priors=priors, prefix=data.get("prefix"))


#: name of the sampled level in the posterior (:class:`LevelIntercept`)
LEVEL_NAME = "intercept_level"


class LevelIntercept(Prior):
    """PyMC-Marketing's intercept prior, with the intercept sampled through the level
    ``intercept + sum_c effect_c`` (each channel's curve at its reference input).

    The data pin the mean of the target, not how it splits between the baseline and an always-on
    channel: in the default study's posterior the intercept and search's effect correlate at
    -0.93, a ridge that costs NUTS long trajectories and, at its tail, divergences. NUTS samples
    ``level`` instead, and ``intercept_contribution = level - shift`` is a deterministic, with
    ``shift = sum_c effect_c``. For a location family ``p(intercept) = f(intercept - m)``, the
    level given the effects has density ``f(level - shift - m)``: the same family with location
    ``m + shift``. The map ``(intercept, effect) -> (level, effect)`` is a shift with unit
    Jacobian, so the joint density, and hence the model and its priors, are unchanged; only
    NUTS's geometry is.

    Supported priors: Normal, StudentT, Laplace (location ``mu``, default 0) and Cauchy (location
    ``alpha``, required), scalar, with numeric parameters, no transform. Only PyMC-Marketing's
    time-invariant intercept (``intercept_contribution``). It serialises as the plain prior
    (``to_dict``) and a deep copy is the plain prior, so ``MMM.load``, ``build_from_idata`` and
    PyMC-Marketing's time-slice cross-validation (which deep-copies the model) rebuild the same
    model in PyMC-Marketing's own coordinates; set it on the built ``MMM``'s ``model_config``
    (:meth:`BayesianMMM.build`).
    """

    def __init__(self, prior: Prior, saturation: EffectLogisticSaturation) -> None:
        from mmm_recovery.estimators.bayesian.config import (
            LEVEL_LOCATION,
            level_unsupported,
            numeric_parameters,
        )

        why = (
            level_unsupported(prior.distribution, prior.parameters)
            if numeric_parameters(prior)
            else "its parameters must be numbers"
        )
        if why is None and (prior.dims or prior.transform is not None or not prior.centered):
            why = "it must be scalar, untransformed and centred"
        if why is not None:
            raise ValueError(
                f"intercept prior {prior.distribution}({', '.join(prior.parameters)}) with dims "
                f"{prior.dims or ()}: {why}; it cannot be sampled as the level "
                "(intercept_parametrization: level); use intercept_parametrization: intercept"
            )
        super().__init__(prior.distribution, dims=prior.dims, **prior.parameters)
        self.location = LEVEL_LOCATION[prior.distribution]
        self.saturation = saturation

    def create_variable(self, name: str, xdist: bool = False):
        """``level`` (free) and ``name = level - shift`` (deterministic) in the model in context."""
        if not xdist or name != "intercept_contribution":
            raise NotImplementedError(
                "LevelIntercept builds PyMC-Marketing's time-invariant intercept "
                f"(intercept_contribution, xdist=True), not {name!r} (xdist={xdist})"
            )
        _, effect = self.saturation.channel_variables()
        shift = effect.sum("channel")
        params = dict(self.parameters)
        params[self.location] = params.get(self.location, 0.0) + shift
        level = getattr(pmd, self.distribution)(LEVEL_NAME, **params)
        return pmd.Deterministic(name, level - shift)
