"""Workflow checks of a Bayesian fit: convergence (R-hat, ESS, divergences, BFMI, steps per
draw), and the declared priors' and the likelihood's log densities for the prior sensitivity."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from mmm_recovery.estimators.bayesian.config import Thresholds, numeric_parameters


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


def _declared_priors(mmm) -> list[tuple[Any, str, str]]:
    """``(prior, declared variable, sampled variable)`` for every prior of the built ``mmm``.

    The declared variable is the one the study declares the prior on: the logistic curve's
    ``beta``, the intercept, the likelihood's sigma. The sampled variable is the free variable
    NUTS sampled for it, which differs in the effect and level coordinates (``saturation_effect``
    for ``saturation_beta``, ``intercept_level`` for ``intercept_contribution``); this is the one
    place that maps the declared coordinates to the sampled ones."""
    from mmm_recovery.estimators.bayesian.reparam import LEVEL_NAME, EffectLogisticSaturation

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


@functools.lru_cache(maxsize=64)
def _log_density(distribution: str, parameters: tuple[tuple[str, float], ...], ndim: int) -> Any:
    """The elementwise log density of PyMC's ``distribution`` with ``parameters`` on an array
    of ``ndim`` dimensions, compiled once per process (``pm.logp(...).eval()`` compiles anew
    on every call)."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    x = pt.tensor("x", dtype="float64", shape=(None,) * ndim)
    dist = getattr(pm, distribution).dist(**dict(parameters))
    return pytensor.function([x], pm.logp(dist, x))


def declared_log_prior(mmm, posterior: Any) -> Any:
    """The log density of each declared prior (:func:`_declared_priors`) at every posterior draw:
    a dataset with one variable per prior, on the posterior variable's dimensions.

    These are the priors as written in the study YAML (PyMC-Marketing's defaults for keys it
    leaves out), on the scaled data; whatever coordinates NUTS sampled in, the model is the same,
    so this is the prior that :mod:`.sensitivity` power-scales. A prior whose
    parameters are not numbers (a hierarchical prior) or that has a transform is an error naming
    the variable, and so is a model whose free variables are not exactly those priors' sampled
    variables: a prior this function does not know would otherwise be left out silently."""
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
        params = tuple(sorted((k, float(v)) for k, v in prior.parameters.items()))
        logp = _log_density(prior.distribution, params, values.ndim)
        out[name] = xr.DataArray(
            np.asarray(logp(np.asarray(values.values, dtype=float)), dtype=float),
            coords=values.coords,
        )
    return xr.Dataset(out)


def per_draw_total(ds: Any) -> np.ndarray:
    """Sum of every variable of ``ds`` over all but its (chain, draw) dimensions:
    ``(chain, draw)`` array."""
    total: Any = 0.0
    for da in ds.data_vars.values():
        total = total + da.sum([d for d in da.dims if d not in ("chain", "draw")])
    return np.asarray(total.transpose("chain", "draw").values, dtype=float)


def add_log_densities(
    idata: Any, mmm: Any, pick: np.ndarray, diag: dict[str, Any], threshold: float
) -> Callable | None:
    """Put the pointwise log likelihood (every observed variable: the target and any lift
    tests) and the declared priors' log densities (:func:`declared_log_prior`) in ``idata``;
    record the sensitivity threshold in ``diag``; return the annotator that adds each
    summarised quantity's power-scaling sensitivity, from the summary draws ``pick``. When
    the declared priors do not cover the model (:func:`declared_log_prior`) it returns None
    and ``diag["prior_sensitivity_skipped"]`` says why: a diagnostic never costs the fit."""
    import pymc as pm

    from mmm_recovery.estimators.bayesian.sensitivity import power_scaling_sensitivity

    try:
        log_prior = declared_log_prior(mmm, idata["posterior"])
    except ValueError as exc:  # a diagnostic must not cost the fit: say why it is missing
        diag["prior_sensitivity_skipped"] = str(exc)
        return None
    if "log_likelihood" in idata.children:  # computed with the draws (the compiled path)
        log_lik = idata["log_likelihood"].to_dataset()
    else:
        log_lik = pm.compute_log_likelihood(
            idata, model=mmm.model, extend_inferencedata=False, progressbar=False
        )
    idata["log_likelihood"], idata["log_prior"] = log_lik, log_prior
    lp = per_draw_total(log_prior).ravel()[pick]
    ll = per_draw_total(log_lik).ravel()[pick]
    diag["prior_sensitivity_threshold"] = threshold
    if not (np.isfinite(lp).all() and np.isfinite(ll).all()):
        diag["prior_sensitivity_skipped"] = "a log density is not finite in some draw"

    def annotate(quantities):
        return power_scaling_sensitivity(quantities, lp, ll)

    return annotate
