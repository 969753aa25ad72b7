"""Bayesian MMM: PyMC-Marketing 1.3 ``MMM`` sampled with NUTS (NumPyro by default).

Model: ``pymc_marketing.mmm.MMM`` with ``GeometricAdstock(l_max, normalize=True)`` and the
logistic saturation ``beta * tanh(lam * x / 2)`` (``HillSaturation`` selectable), yearly Fourier
seasonality, the data's controls plus a 0-1 time index (PyMC-Marketing's MMM has no trend term).
The logistic curve is sampled as ``lam`` and its effect at the channel's mean spend
(:class:`~mmm_recovery.estimators.effect_saturation.EffectLogisticSaturation`, the default,
``logistic_parametrization: effect``) or as ``lam`` and ``beta`` (PyMC-Marketing's
``LogisticSaturation``, ``logistic_parametrization: beta``): the same curve, but ``lam`` and
``beta`` are strongly correlated a posteriori, which costs NUTS long trajectories.
With the effect coordinates, NUTS also samples the intercept as the level
``intercept + sum_c effect_c`` (:class:`~mmm_recovery.estimators.effect_saturation.LevelIntercept`,
``intercept_parametrization: level``), which removes the ridge between the baseline and an
always-on channel. Either way the model and its priors are the same (both are exact changes of
variables). Priors come from the study YAML (``estimators.bayesian.priors``, keys
:data:`PRIOR_KEYS`); a key left out keeps PyMC-Marketing's default on its scaled data:
``adstock_alpha ~ Beta(1, 3)`` (short carry-over a priori more likely, any decay possible),
``saturation_lam ~ Gamma(3, 1)`` (curvature within the max-scaled spend range),
``saturation_beta ~ HalfNormal(2)``, ``intercept ~ Normal(0, 2)``, ``gamma_control ~ Normal(0,
2)``, ``gamma_fourier ~ Laplace(0, 1)``, noise sd ``HalfNormal(2)``. The last five are loose for
a target scaled to (0, 1] (the prior predictive check shows it), so the default study sets them
to the target's scale (``studies/recovery.yaml`` gives the reasons).

Scale: PyMC-Marketing divides each channel and the target by their maxima over the training weeks
(``channel_scale``, ``target_scale``; controls are not scaled), so its ``saturation_lam``,
``kappa`` and ``saturation_beta`` (derived from ``saturation_effect`` in the effect coordinates)
are on scaled data. :func:`to_original_scale` converts them to the truth's units (``lam`` in
1/currency, ``kappa`` in currency, ``beta`` in currency per week); every reported quantity is
computed from the converted posterior draws.

Workflow checks recorded as metrics (never hidden): prior predictive coverage of the observed
range, divergences, max R-hat, min bulk/tail ESS, min BFMI; a fit that misses a threshold is
``converged: false`` in its results and kept.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator, model_validator

from mmm_recovery.estimators.base import Estimator, EstimatorConfig
from mmm_recovery.estimators.registry import register
from mmm_recovery.response import ChannelResponse
from mmm_recovery.results import (
    EstimatorResult,
    FitInput,
    check_fit_input,
    fit_metrics,
    summarize_draws,
)

TIME_INDEX = "time_index"

#: Intercept priors the level coordinates support (a location family): family -> its location
#: parameter (``LevelIntercept``); the location must be given for Cauchy, which has no default
LEVEL_LOCATION = {"Normal": "mu", "StudentT": "mu", "Laplace": "mu", "Cauchy": "alpha"}


def level_unsupported(distribution: str, parameters: Mapping[str, object]) -> str | None:
    """Why an intercept prior (a PyMC distribution name and its parameters) cannot be moved with
    the level, or None if it can."""
    location = LEVEL_LOCATION.get(distribution)
    if location is None:
        families = ", ".join(f"{k} (location {v})" for k, v in LEVEL_LOCATION.items())
        return f"intercept prior {distribution} is not a location family ({families})"
    if distribution == "Cauchy" and location not in parameters:
        return "intercept prior Cauchy needs its location alpha"
    return None


#: Hill saturation parameters (PyMC-Marketing's ``HillSaturation``: ``saturation_<name>``)
HILL_PARAMS = ("slope", "kappa", "beta")


def ensure_jax_devices(n: int) -> None:
    """Ask XLA for ``n`` host devices so NumPyro can run ``n`` chains in parallel. Effective only
    before jax is imported; a user's own ``--xla_force_host_platform_device_count`` wins."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "jax" not in sys.modules and "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


#: Prior keys of the study YAML (PyMC-Marketing ``model_config`` keys, plus ``likelihood_sigma``)
PRIOR_KEYS = (
    "adstock_alpha",
    "saturation_lam",
    "saturation_beta",
    "saturation_slope",
    "saturation_kappa",
    "intercept",
    "gamma_control",
    "gamma_fourier",
    "likelihood_sigma",
)


class PriorSpec(EstimatorConfig):
    """A prior: a PyMC distribution name and its parameters (numbers)."""

    distribution: str = Field(description="PyMC distribution name, e.g. Beta, Gamma, HalfNormal.")
    parameters: dict[str, float] = Field(default_factory=dict, description="Keyword parameters.")


class Thresholds(EstimatorConfig):
    """Convergence thresholds; a fit missing any of them is reported ``converged: false``."""

    max_rhat: float = Field(
        1.01, gt=1.0, description="Maximum R-hat over parameters. Default 1.01."
    )
    min_ess: float = Field(400.0, gt=0.0, description="Minimum bulk and tail ESS. Default 400.")
    max_divergences: int = Field(0, ge=0, description="Maximum divergent transitions. Default 0.")
    min_bfmi: float = Field(0.3, ge=0.0, description="Minimum E-BFMI over chains. Default 0.3.")


class BayesianConfig(EstimatorConfig):
    """Settings of the Bayesian estimator (``estimators.bayesian`` in a study YAML)."""

    l_max: int = Field(12, ge=1, le=104, description="Adstock weights. Default 12.")
    saturation: Literal["logistic", "hill"] = Field("logistic", description="Default logistic.")
    logistic_parametrization: Literal["effect", "beta"] = Field(
        "effect",
        description="Coordinates NUTS samples the logistic curve beta * tanh(lam * x / 2) in; "
        "the model and its priors (saturation_lam, saturation_beta) are the same either way. "
        "`effect`: lam and the curve's value at the channel's mean training spend, with the "
        "Jacobian, so the prior on (lam, beta) is unchanged; `beta`: lam and beta "
        "(PyMC-Marketing's LogisticSaturation), whose posterior correlation reaches -0.99 and "
        "costs NUTS longer trajectories. Default effect.",
    )
    intercept_parametrization: Literal["auto", "level", "intercept"] = Field(
        "auto",
        description="Coordinates NUTS samples the intercept in; the model and its prior "
        "(priors.intercept) are the same either way. `level`: intercept + the sum of the "
        "channels' effects at their mean spend (a shift with unit Jacobian, the prior's location "
        "moved by the same sum), which removes the ridge between the baseline and an always-on "
        "channel; needs the logistic saturation in the effect coordinates and a Normal, "
        "StudentT, Laplace or Cauchy intercept prior. `intercept`: PyMC-Marketing's own. "
        "`auto` (default): level where it applies, else intercept.",
    )
    calibrate: bool = Field(
        True,
        description="Condition on the data's lift tests, if it has any: each measured lift is a "
        "Normal observation, with its standard error, of the model's lift: the steady-state "
        "response difference beta * (sat(x + delta_x) - sat(x)) (PyMC-Marketing's lift-test "
        "likelihood), or for a test of a given length (weeks) the mean change over its weeks "
        "from steady state, through the model's adstock. false ignores them. Default true.",
    )
    yearly_seasonality: int = Field(2, ge=0, le=10, description="Fourier order. Default 2.")
    trend: bool = Field(True, description="Add a 0-1 time-index control. Default true.")
    priors: dict[str, PriorSpec] = Field(
        default_factory=dict,
        description="Prior per parameter, on PyMC-Marketing's max-scaled data: "
        + ", ".join(PRIOR_KEYS)
        + ". A key left out keeps PyMC-Marketing's default (likelihood_sigma: the sd of the "
        "Normal likelihood).",
    )

    @field_validator("priors")
    @classmethod
    def _known_prior_keys(
        cls, v: dict[str, PriorSpec], info: ValidationInfo
    ) -> dict[str, PriorSpec]:
        unknown = sorted(set(v) - set(PRIOR_KEYS))
        if unknown:
            raise ValueError(f"unknown prior key(s) {unknown}; known: {list(PRIOR_KEYS)}")
        family = info.data.get("saturation")
        other = {"logistic": ("saturation_slope", "saturation_kappa"), "hill": ("saturation_lam",)}
        wrong = sorted(set(v) & set(other.get(family, ())))
        if wrong:
            raise ValueError(f"{wrong} are not parameters of the {family} saturation")
        return v

    def _level_blocker(self) -> str | None:
        """Why the level coordinates cannot apply to this configuration, or None if they can
        (no intercept prior: PyMC-Marketing's default ``Normal(0, 2)``)."""
        if self.saturation != "logistic" or self.logistic_parametrization != "effect":
            return (
                "it needs saturation: logistic with logistic_parametrization: effect (got "
                f"saturation: {self.saturation}, logistic_parametrization: "
                f"{self.logistic_parametrization})"
            )
        prior = self.priors.get("intercept")
        return None if prior is None else level_unsupported(prior.distribution, prior.parameters)

    @model_validator(mode="after")
    def _level_needs_effect_coordinates(self) -> BayesianConfig:
        why = self._level_blocker() if self.intercept_parametrization == "level" else None
        if why:
            raise ValueError(
                f"intercept_parametrization: level: {why}; use intercept_parametrization: intercept"
            )
        return self

    sampler: Literal["numpyro", "nutpie", "pymc"] = Field(
        "numpyro", description="NUTS implementation. Default numpyro."
    )
    chains: int = Field(4, ge=1, le=16, description="Chains. Default 4.")
    draws: int = Field(1000, ge=10, description="Draws per chain. Default 1000.")
    tune: int = Field(1000, ge=10, description="Tuning steps per chain. Default 1000.")
    target_accept: float = Field(
        0.9, gt=0.5, lt=1.0, description="NUTS target acceptance. Default 0.9."
    )
    hdi_level: float = Field(
        0.94, gt=0.0, lt=1.0, description="HDI probability of reported intervals. Default 0.94."
    )
    summary_draws: int = Field(
        1000, ge=10, description="Posterior draws used for derived summaries. Default 1000."
    )
    prior_predictive_draws: int = Field(
        500, ge=10, description="Prior predictive draws. Default 500."
    )
    thresholds: Thresholds = Field(
        default_factory=Thresholds, description="Convergence thresholds."
    )
    save_idata: bool = Field(
        True, description="Write the posterior as netCDF beside the results. Default true."
    )
    prior_sensitivity: bool = Field(
        True,
        description="Power-scaling sensitivity (Kallioinen et al. 2024, ArviZ psense) of every "
        "reported quantity to the prior and to the likelihood, from the summary draws: a "
        "warning, without the truth, that the prior is informative relative to the likelihood "
        "for that quantity. Adds the log prior and pointwise log likelihood groups to the saved "
        "posterior. Default true.",
    )
    prior_sensitivity_threshold: float = Field(
        0.05,
        gt=0.0,
        description="A quantity whose prior sensitivity reaches this is reported as "
        "prior-sensitive (a prior-data conflict if its likelihood sensitivity reaches it too, "
        "strong prior / weak likelihood if not). Default 0.05, the paper's and ArviZ's.",
    )

    @property
    def level_intercept(self) -> bool:
        """Whether NUTS samples the intercept as the level (``intercept_parametrization``;
        ``auto``: with the logistic effect coordinates and a supported intercept prior)."""
        if self.intercept_parametrization != "auto":
            return self.intercept_parametrization == "level"
        return self._level_blocker() is None


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


def to_original_scale(
    saturation: str,
    params: dict[str, np.ndarray],
    channel_scale: np.ndarray | float,
    target_scale: float,
) -> dict[str, np.ndarray]:
    """Saturation parameters fitted on max-scaled data -> the truth's currency units.

    PyMC-Marketing's channel contribution on the original scale is
    ``target_scale * beta_s * f(adstock(x) / channel_scale)``; adstock is linear, so

    * logistic ``f = tanh(lam_s * u / 2)``: ``lam = lam_s / channel_scale`` (1/currency);
    * Hill ``f = u**slope / (u**slope + kappa_s**slope)``: ``kappa = kappa_s * channel_scale``
      (currency), ``slope`` unchanged;
    * ``beta = beta_s * target_scale`` (currency per week).
    """
    sc = np.asarray(channel_scale, dtype=float)
    out = {"beta": np.asarray(params["beta"]) * target_scale}
    if saturation == "logistic":
        out["lam"] = np.asarray(params["lam"]) / sc
    elif saturation == "hill":
        out["slope"] = np.asarray(params["slope"])
        out["kappa"] = np.asarray(params["kappa"]) * sc
    else:
        raise ValueError(f"unknown saturation {saturation!r}")
    return out


def with_logistic_views(idata: Any, x0: np.ndarray, channels: list[str]) -> Any:
    """``idata`` with both coordinates of the logistic curve in its posterior: the derived
    ``saturation_beta`` when NUTS sampled ``saturation_effect``, the derived ``saturation_effect``
    (the curve's value at ``x0``) when it sampled ``saturation_beta``."""
    import xarray as xr

    from mmm_recovery.estimators.effect_saturation import beta_from_effect, effect_from_beta

    post = idata["posterior"].to_dataset()
    ref = xr.DataArray(np.asarray(x0, dtype=float), coords={"channel": list(channels)})
    lam = post["saturation_lam"]
    if "saturation_beta" not in post:
        beta = xr.apply_ufunc(beta_from_effect, lam, post["saturation_effect"], ref)
        post = post.assign(saturation_beta=beta)
    elif "saturation_effect" not in post:
        post = post.assign(
            saturation_effect=xr.apply_ufunc(effect_from_beta, lam, post["saturation_beta"], ref)
        )
    idata["posterior"] = post
    return idata


#: InferenceData attributes that record when/how long, not what: dropped before saving so the same
#: seed gives the same file
_VOLATILE_ATTRS = ("created_at", "sampling_time")


def _with_attrs(da: Any, attrs: dict) -> Any:
    out = da.copy(deep=False)
    out.attrs = attrs
    return out


def reproducible_idata(idata: Any) -> Any:
    """A copy of ``idata`` that is the same bytes on disk for the same draws: without wall-clock
    attributes (creation time, sampling time), and with every group's variables and coordinates
    in sorted order (PyMC builds some groups, e.g. ``prior``, from sets of names, so their order
    follows the process's string-hash seed)."""
    import xarray as xr

    def clean(attrs: dict) -> dict:
        return {k: attrs[k] for k in sorted(attrs) if k not in _VOLATILE_ATTRS}

    groups = {}
    for node in idata.subtree:
        ds = node.to_dataset(inherit=False)
        # plain variables (no attached coordinates), so the sorted order is the order written
        coords = {
            k: _with_attrs(ds.coords[k].variable, clean(ds.coords[k].attrs))
            for k in sorted(ds.coords)
        }
        data = {k: _with_attrs(ds[k].variable, clean(ds[k].attrs)) for k in sorted(ds.data_vars)}
        groups[node.path] = xr.Dataset(data, coords=coords, attrs=clean(ds.attrs))
    return type(idata).from_dict(groups)


def convergence_diagnostics(
    idata: Any, var_names: list[str], thresholds: Thresholds
) -> dict[str, Any]:
    """Divergences, max R-hat, min bulk/tail ESS, min BFMI, mean leapfrog steps per draw (the
    sampler's cost per draw; NaN if it does not record them), and the verdict ``converged``."""
    import arviz as az

    post = (
        idata["posterior"].to_dataset()
        if hasattr(idata["posterior"], "to_dataset")
        else idata["posterior"]
    )
    sub = post[var_names]
    rhat = az.rhat(sub)
    ess_bulk = az.ess(sub, method="bulk")
    ess_tail = az.ess(sub, method="tail")

    def extreme(ds, fn):
        return float(fn([float(fn(ds[v].values)) for v in ds.data_vars]))

    stats = idata["sample_stats"]
    divergences = int(np.asarray(stats["diverging"]).sum())
    try:
        bfmi = np.asarray(az.bfmi(idata)["energy"].values, dtype=float).ravel()
        min_bfmi = float(np.min(bfmi))
    except Exception:  # noqa: BLE001 - some samplers do not record energy
        min_bfmi = float("nan")
    steps = np.asarray(stats["n_steps"], dtype=float) if "n_steps" in stats else np.array([np.nan])
    out = {
        "divergences": divergences,
        "mean_leapfrog_steps": float(np.mean(steps)),
        "max_rhat": extreme(rhat, np.nanmax),
        "min_ess_bulk": extreme(ess_bulk, np.nanmin),
        "min_ess_tail": extreme(ess_tail, np.nanmin),
        "min_bfmi": min_bfmi,
    }
    failures = []
    if out["divergences"] > thresholds.max_divergences:
        failures.append(f"{divergences} divergences > {thresholds.max_divergences}")
    if not out["max_rhat"] < thresholds.max_rhat:
        failures.append(f"max R-hat {out['max_rhat']:.4f} >= {thresholds.max_rhat}")
    if not min(out["min_ess_bulk"], out["min_ess_tail"]) > thresholds.min_ess:
        failures.append(
            f"min ESS {min(out['min_ess_bulk'], out['min_ess_tail']):.0f} <= {thresholds.min_ess}"
        )
    if np.isfinite(min_bfmi) and min_bfmi < thresholds.min_bfmi:
        failures.append(f"min BFMI {min_bfmi:.2f} < {thresholds.min_bfmi}")
    out["converged"] = not failures
    out["failures"] = failures
    return out


def numeric_parameters(prior: Any) -> bool:
    """Whether every parameter of a PyMC-Marketing ``Prior`` is a number (not a nested prior)."""
    return all(isinstance(v, int | float) for v in prior.parameters.values())


def _declared_priors(mmm) -> list[tuple[Any, str, str]]:
    """``(prior, declared variable, sampled variable)`` for every prior of the built ``mmm``.

    The declared variable is the one the study declares the prior on: the logistic curve's
    ``beta``, the intercept, the likelihood's sigma. The sampled variable is the free variable
    NUTS sampled for it, which differs in the effect and level coordinates (``saturation_effect``
    for ``saturation_beta``, ``intercept_level`` for ``intercept_contribution``); this is the one
    place that maps the declared coordinates to the sampled ones."""
    from mmm_recovery.estimators.effect_saturation import LEVEL_NAME, EffectLogisticSaturation

    cfg = mmm.model_config
    intercept = "intercept_contribution"
    triples = [
        (
            cfg["intercept"],
            intercept,
            LEVEL_NAME if LEVEL_NAME in mmm.model.named_vars else intercept,
        )
    ]
    sigma = cfg["likelihood"].parameters.get("sigma")
    if sigma is not None:
        triples.append((sigma, "y_sigma", "y_sigma"))
    if mmm.control_columns:
        triples.append((cfg["gamma_control"], "gamma_control", "gamma_control"))
    if mmm.yearly_seasonality:
        triples.append((cfg["gamma_fourier"], "gamma_fourier", "gamma_fourier"))
    for component in (mmm.adstock, mmm.saturation):
        for key, prior in component.function_priors.items():
            name = component.variable_mapping[key]
            if isinstance(component, EffectLogisticSaturation) and key == "effect":
                triples.append((component.beta_prior, "saturation_beta", name))
            else:
                triples.append((prior, name, name))
    return triples


def declared_log_prior(mmm, posterior: Any) -> Any:
    """The log density of each declared prior (:func:`_declared_priors`) at every posterior draw:
    a dataset with one variable per prior, on the posterior variable's dimensions.

    These are the priors as written in the study YAML (PyMC-Marketing's defaults for keys it
    leaves out), on the scaled data; whatever coordinates NUTS sampled in, the model is the same,
    so this is the prior that :mod:`mmm_recovery.sensitivity` power-scales. A prior whose
    parameters are not numbers (a hierarchical prior) or that has a transform is an error naming
    the variable, and so is a model whose free variables are not exactly those priors' sampled
    variables: a prior this function does not know would otherwise be left out silently."""
    import pymc as pm
    import xarray as xr

    triples = _declared_priors(mmm)
    sampled = {name for _, _, name in triples}
    free = {rv.name for rv in mmm.model.free_RVs}
    if sampled != free:
        raise ValueError(
            f"the declared priors cover {sorted(sampled)} but the model samples {sorted(free)}: "
            "the prior sensitivity cannot be computed for this model; set prior_sensitivity: false"
        )
    out = {}
    for prior, name, _ in triples:
        if not numeric_parameters(prior) or prior.transform is not None:
            raise ValueError(
                f"prior of {name} ({prior.distribution}, parameters {dict(prior.parameters)}, "
                f"transform {prior.transform}): the prior sensitivity needs numeric parameters "
                "and no transform; set prior_sensitivity: false"
            )
        values = posterior[name]
        dist = getattr(pm, prior.distribution).dist(**prior.parameters)
        logp = pm.logp(dist, np.asarray(values.values, dtype=float)).eval()
        out[name] = xr.DataArray(np.asarray(logp, dtype=float), coords=values.coords)
    return xr.Dataset(out)


def per_draw_total(ds: Any) -> np.ndarray:
    """Sum of every variable of ``ds`` over all but its (chain, draw) dimensions:
    ``(chain, draw)`` array."""
    total = 0.0
    for da in ds.data_vars.values():
        total = total + da.sum([d for d in da.dims if d not in ("chain", "draw")])
    return np.asarray(total.transpose("chain", "draw").values, dtype=float)


#: name of the lift-test likelihood in the model (PyMC-Marketing's default): steady-state tests
LIFT_NAME = "lift_measurements"
#: name of the likelihood of the tests of a given length (the ``weeks`` column)
LIFT_WINDOW_NAME = "lift_window_measurements"


def _lift_likelihoods(lift_tests: pd.DataFrame) -> tuple[np.ndarray, tuple[tuple[str, Any], ...]]:
    """Each lift test's weeks (NaN: steady state) and, per likelihood, its name and the mask of
    the tests it holds, in table order: steady-state tests in :data:`LIFT_NAME`, tests of a given
    length in :data:`LIFT_WINDOW_NAME`."""
    from mmm_recovery import io

    weeks = io.lift_test_weeks(lift_tests)
    steady = np.isnan(weeks)
    return weeks, ((LIFT_NAME, steady), (LIFT_WINDOW_NAME, ~steady))


def _lift_saturation(mmm, channels: list[str], lift_dim: str):
    """The built ``mmm``'s saturation function ``f(x, **parameters)`` for lift tests on
    ``channels`` (one per entry of ``lift_dim``). In the effect coordinates the curve also needs
    each test's channel's reference input ``x0``, which PyMC-Marketing's lift functions cannot
    index, so it is given here per test."""
    from mmm_recovery.estimators.effect_saturation import EffectLogisticSaturation

    saturation = mmm.saturation
    if not isinstance(saturation, EffectLogisticSaturation):
        return saturation.function
    from pymc.dims import as_xtensor
    from pymc_marketing.mmm.transformers import logistic_saturation

    order = list(mmm.channel_columns)
    x0 = saturation.x0[[order.index(c) for c in channels]]

    def function(x, lam, effect):  # lam and effect have one value per test
        return (
            effect
            * logistic_saturation(x, lam)
            / logistic_saturation(as_xtensor(x0, dims=(lift_dim,)), lam)
        )

    return function


def add_lift_tests(mmm, lift_tests: pd.DataFrame) -> None:
    """Condition the built ``mmm`` on lift tests (:data:`~mmm_recovery.io.LIFT_TEST_COLUMNS`, in
    currency, and the optional :data:`~mmm_recovery.io.LIFT_TEST_WEEKS`), all on
    PyMC-Marketing's scaled data (spend over the channel's training max, revenue over the
    target's).

    * A steady-state test (no ``weeks``): ``delta_y ~ Normal(sat(x + delta_x) - sat(x), sigma)``
      with the saturation including its ``beta`` (likelihood :data:`LIFT_NAME`), as
      ``MMM.add_lift_test_measurements`` does (but without its calibration metadata and
      original-scale deterministic: the posterior is saved as inference data, not as a
      PyMC-Marketing model).
    * A test of ``w`` weeks: ``delta_y ~ Normal(mean lift over its weeks, sigma)``
      (:data:`LIFT_WINDOW_NAME`, :func:`_add_windowed_lift_tests`): the model's own adstock of a
      spend path held at ``x`` and then moved to ``x + delta_x`` for ``w`` weeks, saturated, less
      the steady state at ``x``, averaged over the ``w`` weeks. A short test on a slowly decaying
      channel measures less than the steady-state lift, and the model is compared with what the
      test measured, not with the steady state.
    """
    from pymc_marketing.mmm.lift_test import add_saturation_observations

    from mmm_recovery import io

    scales = mmm.get_scales_as_xarray()
    target_scale = float(scales["target_scale"].values)
    channel_scale = scales["channel_scale"].sel(channel=lift_tests["channel"].to_list()).values
    df = lift_tests.reset_index(drop=True).copy()
    for c in ("x", "delta_x"):
        df[c] = df[c].to_numpy(dtype=float) / channel_scale
    for c in ("delta_y", "sigma"):
        df[c] = df[c].to_numpy(dtype=float) / target_scale
    weeks, ((_, steady), (_, timed)) = _lift_likelihoods(df)
    if steady.any():
        rows = df.loc[steady, list(io.LIFT_TEST_COLUMNS)].reset_index(drop=True)
        with mmm.model:
            add_saturation_observations(
                rows,
                variable_mapping=mmm.saturation.variable_mapping,
                saturation_function=_lift_saturation(
                    mmm, rows["channel"].to_list(), f"_{LIFT_NAME}_dim"
                ),
                name=LIFT_NAME,
            )
    if timed.any():
        _add_windowed_lift_tests(
            mmm, df.loc[timed].reset_index(drop=True), weeks[timed].astype(int)
        )


def _add_windowed_lift_tests(mmm, df: pd.DataFrame, weeks: np.ndarray) -> None:
    """The likelihood :data:`LIFT_WINDOW_NAME` of lift tests of ``weeks`` weeks (``df`` on the
    scaled data, one row per test; :func:`add_lift_tests`).

    Each test's spend path is ``l_max`` weeks at ``x`` (steady state: the adstock window is full)
    then ``x + delta_x``; the model's adstock (PyMC-Marketing's own function with the test's
    channel's parameters) and saturation turn it into weekly contributions, and the model's lift
    is the mean over the test's weeks of the contribution less the one at steady state."""
    import pymc.dims as pmd
    from pymc.dims import as_xtensor

    name = LIFT_WINDOW_NAME
    lift_dim, week_dim = f"_{name}_dim", f"_{name}_week"
    model = mmm.model
    order = list(mmm.channel_columns)
    channels = df["channel"].to_list()
    index = {"channel": as_xtensor(np.array([order.index(c) for c in channels]), dims=(lift_dim,))}

    def parameters(component) -> dict[str, Any]:
        return {
            p: model[v].isel(index, missing_dims="ignore")
            for p, v in component.variable_mapping.items()
        }

    l_max, longest = int(mmm.adstock.l_max), int(weeks.max())
    x = df["x"].to_numpy(dtype=float)[:, None]
    after = x + df["delta_x"].to_numpy(dtype=float)[:, None]
    spend = np.where(np.arange(l_max + longest)[None, :] < l_max, x, after)
    adstocked = mmm.adstock.function(
        as_xtensor(spend, dims=(lift_dim, week_dim)), **parameters(mmm.adstock), dim=week_dim
    )
    saturation = _lift_saturation(mmm, channels, lift_dim)
    sat_params = parameters(mmm.saturation)
    before = saturation(adstocked.isel({week_dim: l_max - 1}), **sat_params)
    during = saturation(adstocked.isel({week_dim: slice(l_max, None)}), **sat_params)
    share = (np.arange(longest)[None, :] < weeks[:, None]) / weeks[:, None]  # 1/w in its weeks
    lift = ((during - before) * as_xtensor(share, dims=(lift_dim, week_dim))).sum(week_dim)
    with model:
        model.add_coord(lift_dim, length=len(df))
        mu = pmd.Deterministic(f"{name}_model_estimated_lift", lift)
        pmd.Normal(
            name,
            mu=mu,
            sigma=as_xtensor(df["sigma"].to_numpy(dtype=float), dims=(lift_dim,)),
            observed=as_xtensor(df["delta_y"].to_numpy(dtype=float), dims=(lift_dim,)),
        )


def posterior_lifts(
    idata: Any, lift_tests: pd.DataFrame, target_scale: float, hdi_level: float
) -> pd.DataFrame:
    """Each lift test (rows of ``lift_tests``, in order) beside the lift the fitted model says it
    should have measured: the posterior mean and ``hdi_level`` HDI of the model's lift
    (:func:`add_lift_tests`: steady state, or the mean over the test's weeks), in currency per
    week, and the measurement's z-score against the model, ``(delta_y - mean) / sqrt(sigma**2 +
    posterior variance)``: the test's own error and the model's uncertainty about its lift."""
    from mmm_recovery import io
    from mmm_recovery.results import estimate

    post = idata["posterior"]
    weeks, likelihoods = _lift_likelihoods(lift_tests)
    n = post.sizes["chain"] * post.sizes["draw"]
    draws = np.empty((n, len(lift_tests)))
    for name, rows in likelihoods:
        if rows.any():
            da = post[f"{name}_model_estimated_lift"].transpose("chain", "draw", ...)
            draws[:, rows] = np.asarray(da.values, dtype=float).reshape(n, -1) * target_scale
    summary = [estimate(draws[:, i], hdi_level, "hdi") for i in range(len(lift_tests))]
    out = lift_tests[list(io.LIFT_TEST_COLUMNS)].reset_index(drop=True).copy()
    out[io.LIFT_TEST_WEEKS] = weeks
    out["model_lift"] = [e["estimate"] for e in summary]
    out["model_lift_lower"] = [e["lower"] for e in summary]
    out["model_lift_upper"] = [e["upper"] for e in summary]
    spread = np.sqrt(out["sigma"].to_numpy() ** 2 + draws.var(axis=0))
    out["z"] = (out["delta_y"] - out["model_lift"]) / spread
    return out


@register
class BayesianMMM(Estimator):
    """PyMC-Marketing MMM (module docstring). Lookup name ``bayesian``."""

    name = "bayesian"
    Config = BayesianConfig

    @property
    def interval_level(self) -> float:
        return self.config.hdi_level

    def __init__(self, config=None, idata_path: Path | None = None):
        super().__init__(config)
        self.idata_path = idata_path

    @property
    def saturation_params(self) -> list[str]:
        """The saturation parameters in the saved posterior and in the convergence checks: for
        the logistic curve ``lam``, ``beta`` and ``effect``, sampled or derived."""
        if self.config.saturation == "hill":
            return list(HILL_PARAMS)
        return ["lam", "beta", "effect"]

    def frame(self, fit_input: FitInput) -> pd.DataFrame:
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
        if self.config.trend:
            x[TIME_INDEX] = np.arange(len(data)) / max(fit_input.n_train - 1, 1)
        return x

    def build(self, fit_input: FitInput):
        """The PyMC-Marketing ``MMM`` (unfitted), in the configured coordinates."""
        from pymc_marketing.mmm import MMM, GeometricAdstock, HillSaturation, LogisticSaturation

        cfg = self.config
        controls = [*fit_input.controls, *([TIME_INDEX] if cfg.trend else [])]
        model_config = model_config_from(cfg.priors)
        if cfg.saturation == "hill":
            saturation = HillSaturation()
        elif cfg.logistic_parametrization == "beta":
            saturation = LogisticSaturation()
        else:
            from mmm_recovery.estimators.effect_saturation import (
                EffectLogisticSaturation,
                reference_input,
            )

            x0 = reference_input(fit_input.data.iloc[: fit_input.n_train], fit_input.channels)
            beta_prior = model_config.pop("saturation_beta", None)
            saturation = EffectLogisticSaturation(
                x0, priors={"effect": beta_prior} if beta_prior is not None else None
            )
        mmm = MMM(
            date_column=fit_input.date,
            channel_columns=list(fit_input.channels),
            target_column=fit_input.target,
            control_columns=controls or None,
            yearly_seasonality=cfg.yearly_seasonality or None,
            adstock=GeometricAdstock(l_max=cfg.l_max, normalize=True),
            saturation=saturation,
            model_config=model_config or None,
        )
        if cfg.level_intercept:
            from mmm_recovery.estimators.effect_saturation import LevelIntercept

            # set on the built MMM: its saturation is the one it applies (with the final priors)
            mmm.model_config["intercept"] = LevelIntercept(
                mmm.model_config["intercept"], mmm.saturation
            )
        return mmm

    def fit(self, fit_input: FitInput, rng: np.random.Generator) -> EstimatorResult:
        cfg = self.config
        ensure_jax_devices(cfg.chains)
        check_fit_input(fit_input, l_max=cfg.l_max)
        t0 = time.perf_counter()
        mmm = self.build(fit_input)
        x = self.frame(fit_input)
        n_train = fit_input.n_train
        x_train, y_train = x.iloc[:n_train], fit_input.data[fit_input.target].iloc[:n_train]
        seeds = rng.integers(0, 2**31 - 1, size=3)

        mmm.build_model(x_train, y_train)
        n_lift = len(fit_input.lift_tests) if cfg.calibrate else 0
        if n_lift:
            add_lift_tests(mmm, fit_input.lift_tests)
        prior = mmm.sample_prior_predictive(
            x_train, y_train, samples=cfg.prior_predictive_draws, random_seed=int(seeds[0])
        )
        scales = mmm.get_scales_as_xarray()
        target_scale = float(scales["target_scale"].values)
        channel_scale = np.asarray(
            scales["channel_scale"].sel(channel=fit_input.channels).values, dtype=float
        )
        prior_y = np.asarray(prior["y"].values, dtype=float) * target_scale
        y_obs = y_train.to_numpy(dtype=float)
        span = y_obs.max() - y_obs.min()
        prior_share = float(
            np.mean((prior_y >= y_obs.min() - span) & (prior_y <= y_obs.max() + span))
        )

        sample_kwargs: dict[str, Any] = {
            "chains": cfg.chains,
            "draws": cfg.draws,
            "tune": cfg.tune,
            "target_accept": cfg.target_accept,
            "random_seed": int(seeds[1]),
            "nuts_sampler": cfg.sampler,
            "progressbar": False,
        }
        if cfg.sampler == "numpyro":
            sample_kwargs["nuts"] = {"chain_method": "parallel"}
        elif (
            cfg.sampler == "pymc"
        ):  # chains in parallel processes, one per core (as numpyro/nutpie do)
            sample_kwargs["cores"] = min(cfg.chains, os.cpu_count() or 1)
        t_sample = time.perf_counter()
        # PyMC-Marketing 1.3 recomputes the deterministics after sampling with PyMC's progress
        # bar on whatever progressbar says (ModelBuilder._sample_with_deterministics); outside a
        # notebook rich draws it on stdout, which a study worker's kernel records in 05_study.
        with contextlib.redirect_stdout(io.StringIO()):
            idata = mmm.fit(x_train, y_train, **sample_kwargs)
        sample_seconds = time.perf_counter() - t_sample

        if cfg.saturation == "logistic":
            from mmm_recovery.estimators.effect_saturation import reference_input

            x0 = getattr(mmm.saturation, "x0", None)  # set in the effect coordinates
            if x0 is None:
                x0 = reference_input(x_train, fit_input.channels)
            idata = with_logistic_views(idata, x0, fit_input.channels)
        # R-hat and ESS over the same quantities whatever the coordinates NUTS sampled in
        free = ["adstock_alpha", *[f"saturation_{p}" for p in self.saturation_params]]
        diag = convergence_diagnostics(
            idata,
            free + ["intercept_contribution", "y_sigma"]
            if "intercept_contribution" in idata["posterior"]
            else free,
            cfg.thresholds,
        )
        diag["prior_predictive_share_in_range"] = prior_share
        if n_lift:
            diag["lift_tests"] = n_lift
        diag["sampler"] = cfg.sampler
        total_draws = cfg.chains * cfg.draws
        timing = {
            "sample_seconds": sample_seconds,
            "min_ess_per_second": min(diag["min_ess_bulk"], diag["min_ess_tail"]) / sample_seconds
            if sample_seconds > 0
            else float("nan"),
        }
        diag["draws"] = total_draws

        post = idata["posterior"]
        total = post.sizes["chain"] * post.sizes["draw"]
        pick = np.sort(rng.choice(total, size=min(cfg.summary_draws, total), replace=False))
        annotate = None
        if cfg.prior_sensitivity:
            annotate = self._add_log_densities(idata, mmm, pick, diag)
        draws = self._channel_draws(idata, fit_input, channel_scale, target_scale, pick)
        channels = summarize_draws(draws, fit_input, cfg.hdi_level, "hdi", annotate=annotate)

        yhat = self._predict(mmm, x, n_train, target_scale, int(seeds[2]))
        y = fit_input.data[fit_input.target].to_numpy(dtype=float)
        fit_stats = {"in_sample": fit_metrics(y[:n_train], yhat[:n_train])}
        if fit_input.holdout_weeks:
            fit_stats["holdout"] = fit_metrics(y[n_train:], yhat[n_train:])
        if self.idata_path is not None and cfg.save_idata:
            from mmm_recovery.io import atomic_path

            with atomic_path(self.idata_path) as tmp:
                reproducible_idata(idata).to_netcdf(tmp, engine="h5netcdf")
        tables = {
            "fitted": pd.DataFrame(
                {
                    "date": fit_input.data[fit_input.date],
                    "y": y,
                    "yhat": yhat,
                    "split": np.where(np.arange(len(y)) < n_train, "train", "holdout"),
                }
            ),
            "decomposition": self._decomposition(idata, fit_input, yhat, target_scale),
        }
        if n_lift:
            tables["lift_tests"] = posterior_lifts(
                idata, fit_input.lift_tests, target_scale, cfg.hdi_level
            )
        result = EstimatorResult(
            estimator=self.name,
            channels=channels,
            fit=fit_stats,
            diagnostics=diag,
            interval={"level": cfg.hdi_level, "kind": "hdi"},
            runtime_seconds=time.perf_counter() - t0,
            timing=timing,
            tables=tables,
        )
        result.extras.update(mmm=mmm, idata=idata, prior=prior, summary_draws=pick)
        return result

    def _add_log_densities(self, idata, mmm, pick: np.ndarray, diag: dict[str, Any]):
        """Put the pointwise log likelihood (every observed variable: the target and any lift
        tests) and the declared priors' log densities (:func:`declared_log_prior`) in ``idata``;
        record the sensitivity threshold in ``diag``; return the annotator that adds each
        summarised quantity's power-scaling sensitivity, from the summary draws ``pick``. When
        the declared priors do not cover the model (:func:`declared_log_prior`) it returns None
        and ``diag["prior_sensitivity_skipped"]`` says why: a diagnostic never costs the fit."""
        import pymc as pm

        from mmm_recovery.sensitivity import power_scaling_sensitivity

        try:
            log_prior = declared_log_prior(mmm, idata["posterior"])
        except ValueError as exc:  # a diagnostic must not cost the fit: say why it is missing
            diag["prior_sensitivity_skipped"] = str(exc)
            return None
        log_lik = pm.compute_log_likelihood(
            idata, model=mmm.model, extend_inferencedata=False, progressbar=False
        )
        idata["log_likelihood"], idata["log_prior"] = log_lik, log_prior
        lp = per_draw_total(log_prior).ravel()[pick]
        ll = per_draw_total(log_lik).ravel()[pick]
        diag["prior_sensitivity_threshold"] = self.config.prior_sensitivity_threshold
        if not (np.isfinite(lp).all() and np.isfinite(ll).all()):
            diag["prior_sensitivity_skipped"] = "a log density is not finite in some draw"

        def annotate(quantities):
            return power_scaling_sensitivity(quantities, lp, ll)

        return annotate

    def _channel_draws(
        self, idata, fit_input: FitInput, channel_scale, target_scale, pick: np.ndarray
    ) -> dict[str, list[ChannelResponse]]:
        """Each channel's response at the posterior draws ``pick`` (flat chain-major indices),
        on the original scale."""
        cfg = self.config
        post = idata["posterior"]
        total = post.sizes["chain"] * post.sizes["draw"]

        def flat(name: str) -> np.ndarray:
            da = post[name].transpose("chain", "draw", "channel").sel(channel=fit_input.channels)
            return np.asarray(da.values).reshape(total, -1)[pick]

        alpha = flat("adstock_alpha")
        names = HILL_PARAMS if cfg.saturation == "hill" else ("lam", "beta")
        scaled = {p: flat(f"saturation_{p}") for p in names}
        orig = to_original_scale(cfg.saturation, scaled, channel_scale, target_scale)
        draws: dict[str, list[ChannelResponse]] = {}
        for i, c in enumerate(fit_input.channels):
            sat_params = [
                {k: float(orig[k][d, i]) for k in orig if k != "beta"} for d in range(len(pick))
            ]
            draws[c] = [
                ChannelResponse(
                    "geometric",
                    {"alpha": float(alpha[d, i])},
                    cfg.l_max,
                    True,
                    cfg.saturation,
                    sat_params[d],
                    float(orig["beta"][d, i]),
                )
                for d in range(len(pick))
            ]
        return draws

    @staticmethod
    def _decomposition(
        idata, fit_input: FitInput, yhat: np.ndarray, target_scale: float
    ) -> pd.DataFrame:
        """Posterior-mean weekly contribution of each channel (currency, training weeks) and the
        rest of the fitted mean (intercept, controls, trend, seasonality) as ``base``."""
        n_train = fit_input.n_train
        contrib = idata["posterior"]["channel_contribution"].mean(("chain", "draw"))
        contrib = (
            contrib.transpose("date", "channel").sel(channel=fit_input.channels).values
            * target_scale
        )
        out = pd.DataFrame({"date": fit_input.data[fit_input.date].iloc[:n_train].to_numpy()})
        out["base"] = yhat[:n_train] - contrib.sum(axis=1)
        for i, c in enumerate(fit_input.channels):
            out[c] = contrib[:, i]
        return out

    @staticmethod
    def _predict(mmm, x: pd.DataFrame, n_train: int, target_scale: float, seed: int) -> np.ndarray:
        """Posterior-mean prediction on the original scale for all weeks (holdout weeks carry over
        adstock from the training weeks)."""
        pp_train = mmm.sample_posterior_predictive(
            x.iloc[:n_train], extend_idata=False, random_seed=seed, progressbar=False
        )
        parts = [np.asarray(pp_train["y"].mean("sample").values, dtype=float)]
        if n_train < len(x):
            pp_hold = mmm.sample_posterior_predictive(
                x.iloc[n_train:],
                extend_idata=False,
                random_seed=seed,
                include_last_observations=True,
                progressbar=False,
            )
            parts.append(np.asarray(pp_hold["y"].mean("sample").values, dtype=float))
        return np.concatenate(parts) * target_scale  # "y" is on the max-scaled target
