"""The PyMC-Marketing model of the Bayesian estimator: its design frame and its ``MMM``.

``MMM`` with the configured family's adstock (geometric) and saturation components
(:mod:`mmm_recovery.families`), yearly Fourier seasonality, the data's controls plus a 0-1 time
index, and the study's priors; in the effect (and level) coordinates of
:mod:`~mmm_recovery.estimators.bayesian.reparam` for the logistic curve.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from mmm_recovery.core.results import FitInput
from mmm_recovery.estimators.bayesian.config import BayesianConfig, PriorSpec
from mmm_recovery.families import registry as families

if TYPE_CHECKING:
    from pymc_marketing.mmm import SaturationTransformation

    from mmm_recovery.estimators.bayesian.reparam import EffectLogisticSaturation

TIME_INDEX = "time_index"


def ensure_jax_devices(n: int) -> None:
    """Ask XLA for ``n`` host devices so NumPyro can run ``n`` chains in parallel. Effective only
    before jax is imported; a user's own ``--xla_force_host_platform_device_count`` wins."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "jax" not in sys.modules and "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def keep_generated_source_in_project() -> None:
    """PyTensor's numba backend writes the source of every function it compiles to a file it
    keeps: by default a new file in the system temp folder each time, never removed (hundreds a
    minute in a study). Point it at :data:`~mmm_recovery.core.paths.GENERATED_SRC` instead, where
    files are named by their content (a recompiled function reuses its file) and PyTensor
    removes those unused for weeks when a process exits. A folder set by the user
    (``PYTENSOR_FLAGS=generated_src_dir=...``) wins."""
    import pytensor

    from mmm_recovery.core import paths

    if not pytensor.config.generated_src_dir:
        pytensor.config.generated_src_dir = str(paths.GENERATED_SRC)


_CHANNEL_KEYS = ("adstock_", "saturation_")


def _prior(key: str, spec: PriorSpec):
    from pymc_extras.prior import Prior

    dims: tuple[str, ...] = ()
    if key.startswith(_CHANNEL_KEYS):
        dims = ("channel",)
    elif key == "gamma_control":
        dims = ("control",)
    elif key == "gamma_fourier":
        dims = ("fourier_mode",)
    return Prior(spec.distribution, dims=dims, **spec.parameters)


def model_config_from(priors: dict[str, PriorSpec]) -> dict[str, Any]:
    """PyMC-Marketing ``model_config`` from the study's priors (``likelihood_sigma`` becomes the
    sigma of its Normal likelihood)."""
    from pymc_extras.prior import Prior

    out = {k: _prior(k, v) for k, v in priors.items() if k != "likelihood_sigma"}
    if "likelihood_sigma" in priors:
        out["likelihood"] = Prior(
            "Normal", sigma=_prior("likelihood_sigma", priors["likelihood_sigma"]), dims="date"
        )
    return out


def saturation_params(cfg: BayesianConfig) -> list[str]:
    """The saturation parameters in the saved posterior and in the convergence checks: the
    family's parameters and ``beta``; for the logistic curve also ``effect`` (sampled or
    derived, :mod:`~mmm_recovery.estimators.bayesian.reparam`)."""
    names = [*families.saturation(cfg.saturation).parameters, "beta"]
    return [*names, "effect"] if cfg.saturation == "logistic" else names


def design_frame(cfg: BayesianConfig, fit_input: FitInput) -> pd.DataFrame:
    """X for PyMC-Marketing: date, channels, standardised controls and the time index.

    PyMC-Marketing does not scale controls and its ``gamma_control ~ Normal(0, 2)`` prior is on
    the max-scaled target, so a control in the millions (Robyn's ``competitor_sales_B``) would
    make that prior meaningless: controls are centred and scaled by their training mean and sd
    (a constant control is only centred)."""
    data = fit_input.data
    x = data[[fit_input.date, *fit_input.channels, *fit_input.controls]].copy()
    train = x.iloc[: fit_input.n_train]
    for c in fit_input.controls:
        sd = float(train[c].std(ddof=0))
        x[c] = (x[c] - float(train[c].mean())) / (sd if sd > 0 else 1.0)
    if cfg.trend:
        x[TIME_INDEX] = np.arange(len(data)) / max(fit_input.n_train - 1, 1)
    return x


def build_mmm(cfg: BayesianConfig, fit_input: FitInput):
    """The PyMC-Marketing ``MMM`` (unfitted), in the configured coordinates."""
    from pymc_marketing.mmm import MMM

    controls = [*fit_input.controls, *([TIME_INDEX] if cfg.trend else [])]
    model_config = model_config_from(cfg.priors)
    saturation: SaturationTransformation
    if cfg.saturation == "logistic" and cfg.logistic_parametrization == "effect":
        from mmm_recovery.estimators.bayesian.reparam import (
            EffectLogisticSaturation,
            reference_input,
        )

        x0 = reference_input(fit_input.data.iloc[: fit_input.n_train], fit_input.channels)
        beta_prior = model_config.pop("saturation_beta", None)
        saturation = EffectLogisticSaturation(
            x0, priors={"effect": beta_prior} if beta_prior is not None else None
        )
    else:
        saturation = families.saturation(cfg.saturation).pymc_component()
    mmm = MMM(
        date_column=fit_input.date,
        channel_columns=list(fit_input.channels),
        target_column=fit_input.target,
        control_columns=controls or None,
        yearly_seasonality=cfg.yearly_seasonality or None,
        adstock=families.adstock("geometric").pymc_component(l_max=cfg.l_max, normalize=True),
        saturation=saturation,
        model_config=model_config or None,
    )
    if cfg.level_intercept:
        from mmm_recovery.estimators.bayesian.reparam import LevelIntercept

        # set on the built MMM: its saturation is the one it applies (with the final priors)
        # level_intercept needs the effect coordinates: the saturation is EffectLogisticSaturation
        mmm.model_config["intercept"] = LevelIntercept(
            mmm.model_config["intercept"], cast("EffectLogisticSaturation", mmm.saturation)
        )
    return mmm
