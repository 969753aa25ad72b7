"""Bayesian MMM: PyMC-Marketing 1.3 ``MMM`` sampled with NUTS (NumPyro by default).

This module is the composition root: :mod:`.config` (settings, priors), :mod:`.model` (the
``MMM``), :mod:`.reparam` (effect and level coordinates), :mod:`.lift` (lift-test likelihoods),
:mod:`.diagnostics` (convergence, log densities) and :mod:`.posterior` (scale conversion and
summaries) do the work.

Model: ``pymc_marketing.mmm.MMM`` with ``GeometricAdstock(l_max, normalize=True)`` and the
logistic saturation ``beta * tanh(lam * x / 2)`` (``HillSaturation`` selectable), yearly Fourier
seasonality, the data's controls plus a 0-1 time index (PyMC-Marketing's MMM has no trend term).
The logistic curve is sampled as ``lam`` and its effect at the channel's mean spend
(:class:`~mmm_recovery.estimators.bayesian.reparam.EffectLogisticSaturation`, the default,
``logistic_parametrization: effect``) or as ``lam`` and ``beta`` (PyMC-Marketing's
``LogisticSaturation``, ``logistic_parametrization: beta``): the same curve, but ``lam`` and
``beta`` are strongly correlated a posteriori, which costs NUTS long trajectories.
With the effect coordinates, NUTS also samples the intercept as the level
``intercept + sum_c effect_c`` (:class:`~mmm_recovery.estimators.bayesian.reparam.LevelIntercept`,
``intercept_parametrization: level``), which removes the ridge between the baseline and an
always-on channel. Either way the model and its priors are the same (both are exact changes of
variables). Priors come from the study YAML (``estimators.bayesian.priors``, keys
:data:`~mmm_recovery.estimators.bayesian.config.PRIOR_KEYS`); a key left out keeps PyMC-Marketing's default on its scaled data:
``adstock_alpha ~ Beta(1, 3)`` (short carry-over a priori more likely, any decay possible),
``saturation_lam ~ Gamma(3, 1)`` (curvature within the max-scaled spend range),
``saturation_beta ~ HalfNormal(2)``, ``intercept ~ Normal(0, 2)``, ``gamma_control ~ Normal(0,
2)``, ``gamma_fourier ~ Laplace(0, 1)``, noise sd ``HalfNormal(2)``. The last five are loose for
a target scaled to (0, 1] (the prior predictive check shows it), so the default study sets them
to the target's scale (``studies/recovery.yaml`` gives the reasons).

Scale: PyMC-Marketing divides each channel and the target by their maxima over the training weeks
(``channel_scale``, ``target_scale``; controls are not scaled), so its ``saturation_lam``,
``kappa`` and ``saturation_beta`` (derived from ``saturation_effect`` in the effect coordinates)
are on scaled data. :func:`~mmm_recovery.estimators.bayesian.posterior.to_original_scale` converts them to the truth's units (``lam`` in
1/currency, ``kappa`` in currency, ``beta`` in currency per week); every reported quantity is
computed from the converted posterior draws.

Workflow checks recorded as metrics (never hidden): prior predictive coverage of the observed
range, divergences, max R-hat, min bulk/tail ESS, min BFMI; a fit that misses a threshold is
``converged: false`` in its results and kept.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core.estimates import Diagnostics, FitStats
from mmm_recovery.core.results import (
    EstimatorResult,
    FitInput,
    check_fit_input,
    fit_metrics,
    summarize_draws,
)
from mmm_recovery.estimators.base import Estimator, check_batch
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.estimators.bayesian.diagnostics import (
    add_log_densities,
    convergence_diagnostics,
)
from mmm_recovery.estimators.bayesian.lift import add_lift_tests, posterior_lifts
from mmm_recovery.estimators.bayesian.model import (
    build_mmm,
    design_frame,
    ensure_jax_devices,
    keep_generated_source_in_project,
    saturation_params,
)
from mmm_recovery.estimators.bayesian.posterior import (
    channel_draws,
    decomposition,
    predict,
    reproducible_idata,
    with_logistic_views,
)


def _prior_dataset(prior_y: np.ndarray) -> Any:
    """Prior predictive draws of the target (scaled, ``(draws, weeks)``) as
    ``sample_prior_predictive`` returns them (variable ``y``, dimensions sample and date)."""
    import xarray as xr

    return xr.Dataset({"y": (("sample", "date"), prior_y)})


def peek_seeds(rng: np.random.Generator) -> np.ndarray:
    """The three seeds :meth:`BayesianMMM.fit` draws first from ``rng`` (prior predictive, NUTS,
    posterior predictive), without advancing ``rng``."""
    return copy.deepcopy(rng).integers(0, 2**31 - 1, size=3)


#: the posterior (netCDF) a fit writes to its ``artifacts_dir``
IDATA_FILE = "posterior.nc"


class BayesianMMM(Estimator):
    """PyMC-Marketing MMM (module docstring). Lookup name ``bayesian``."""

    name = "bayesian"
    Config = BayesianConfig
    config: BayesianConfig

    @property
    def interval_level(self) -> float:
        return self.config.hdi_level

    @property
    def saturation_params(self) -> list[str]:
        """:func:`~mmm_recovery.estimators.bayesian.model.saturation_params` of this config."""
        return saturation_params(self.config)

    def frame(self, fit_input: FitInput) -> pd.DataFrame:
        """:func:`~mmm_recovery.estimators.bayesian.model.design_frame` of this config."""
        return design_frame(self.config, fit_input)

    def build(self, fit_input: FitInput):
        """:func:`~mmm_recovery.estimators.bayesian.model.build_mmm` of this config."""
        return build_mmm(self.config, fit_input)

    def fit(
        self,
        fit_input: FitInput,
        rng: np.random.Generator,
        posterior: Any = None,
        sample_seconds: float | None = None,
    ) -> EstimatorResult:
        """Fit one dataset. ``posterior`` (with the seconds it took, ``sample_seconds``) is the
        draws of :meth:`fit_batch`'s batched sampler for this dataset, which then take the place
        of NUTS; everything else is the same (the same random stream, checks and summaries)."""
        cfg = self.config
        ensure_jax_devices(cfg.chains)
        keep_generated_source_in_project()
        check_fit_input(fit_input, l_max=cfg.l_max)
        t0 = time.perf_counter()
        n_train = fit_input.n_train
        x = design_frame(cfg, fit_input)
        seeds = rng.integers(0, 2**31 - 1, size=3)  # peek_seeds() reads the same three
        n_lift = len(fit_input.lift_tests) if cfg.calibrate else 0
        diag: dict[str, Any] = {}
        compiled_now = False
        if posterior is None and cfg.sampler == "numpyro" and cfg.fit_path == "compiled":
            from mmm_recovery.estimators.bayesian import compiled

            sampled = compiled.sample(cfg, fit_input, int(seeds[0]), int(seeds[1]))
            mmm, idata, sample_seconds = sampled.mmm, sampled.idata, sampled.sample_seconds
            prior = _prior_dataset(sampled.prior_y)
            mu = sampled.mu
            diag["adaptation_start"] = "laplace" if sampled.warm_start else "identity"
            compiled_now = sampled.compiled
        else:
            mmm, idata, prior, seconds = self._fit_pymc_marketing(
                fit_input, x, [int(s) for s in seeds[:2]], posterior
            )
            sample_seconds = seconds if sample_seconds is None else sample_seconds
            mu = None
            # NumPyro's adaptation (the batched sampler's too) starts from the identity
            by_numpyro = cfg.sampler == "numpyro" or posterior is not None
            diag["adaptation_start"] = "identity" if by_numpyro else f"{cfg.sampler}'s own"
        scales = mmm.get_scales_as_xarray()
        target_scale = float(scales["target_scale"].values)
        channel_scale = np.asarray(
            scales["channel_scale"].sel(channel=fit_input.channels).values, dtype=float
        )
        prior_y = np.asarray(prior["y"].transpose("sample", ...).values, dtype=float)
        prior_y = prior_y * target_scale
        y_obs = fit_input.data[fit_input.target].to_numpy(dtype=float)[:n_train]
        span = y_obs.max() - y_obs.min()
        prior_share = float(
            np.mean((prior_y >= y_obs.min() - span) & (prior_y <= y_obs.max() + span))
        )
        x_train = x.iloc[:n_train]

        if cfg.saturation == "logistic":
            from mmm_recovery.estimators.bayesian.reparam import reference_input

            x0 = getattr(mmm.saturation, "x0", None)  # set in the effect coordinates
            if x0 is None:
                x0 = reference_input(x_train, fit_input.channels)
            idata = with_logistic_views(idata, x0, fit_input.channels)
        # R-hat and ESS over the same quantities whatever the coordinates NUTS sampled in
        free = ["adstock_alpha", *[f"saturation_{p}" for p in saturation_params(cfg)]]
        diag |= convergence_diagnostics(
            idata,
            free + ["intercept_contribution", "y_sigma"]
            if "intercept_contribution" in idata["posterior"]
            else free,
            cfg.thresholds,
        )
        diag["prior_predictive_share_in_range"] = prior_share
        if n_lift:
            diag["lift_tests"] = n_lift
        # the batched draws come from NumPyro's NUTS whatever per-dataset sampler is configured
        diag["sampler"] = cfg.sampler if posterior is None else "numpyro-batched"
        total_draws = cfg.chains * cfg.draws
        timing = {
            # the first fit of a data shape in a process compiles it: its seconds include that
            "compiled_model": compiled_now,
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
            annotate = add_log_densities(idata, mmm, pick, diag, cfg.prior_sensitivity_threshold)
        draws = channel_draws(cfg, idata, fit_input, channel_scale, target_scale, pick)
        channels = summarize_draws(draws, fit_input, cfg.hdi_level, "hdi", annotate=annotate)

        if mu is None:
            yhat = predict(mmm, x, n_train, target_scale, int(seeds[2]))
        else:  # the posterior mean of mu: what the predictive draws' mean estimates
            yhat = mu * target_scale
        y = fit_input.data[fit_input.target].to_numpy(dtype=float)
        fit_stats = FitStats(
            in_sample=fit_metrics(y[:n_train], yhat[:n_train]),
            holdout=fit_metrics(y[n_train:], yhat[n_train:]) if fit_input.holdout_weeks else None,
        )
        if self.artifacts_dir is not None and cfg.save_idata:
            from mmm_recovery.core.files import atomic_path

            with atomic_path(self.artifacts_dir / IDATA_FILE) as tmp:
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
            "decomposition": decomposition(idata, fit_input, yhat, target_scale),
        }
        if n_lift:
            tables["lift_tests"] = posterior_lifts(
                idata, fit_input.lift_tests, target_scale, cfg.hdi_level
            )
        result = EstimatorResult(
            estimator=self.name,
            channels=channels,
            fit=fit_stats,
            diagnostics=Diagnostics.from_dict(diag),
            interval={"level": cfg.hdi_level, "kind": "hdi"},
            runtime_seconds=time.perf_counter() - t0,
            timing=timing,
            tables=tables,
        )
        result.extras.update(mmm=mmm, idata=idata, prior=prior, summary_draws=pick)
        return result

    def _fit_pymc_marketing(
        self, fit_input: FitInput, x: pd.DataFrame, seeds: list[int], posterior: Any
    ) -> tuple[Any, Any, Any, float]:
        """PyMC-Marketing's own fit (``fit_path: pymc-marketing``, or another sampler, or the
        batched sampler's ``posterior``): the built ``MMM``, its inference data, the prior
        predictive (seeded by ``seeds[0]``) and the seconds sampling took (NUTS seeded by
        ``seeds[1]``)."""
        cfg = self.config
        mmm = build_mmm(cfg, fit_input)
        n_train = fit_input.n_train
        x_train, y_train = x.iloc[:n_train], fit_input.data[fit_input.target].iloc[:n_train]
        mmm.build_model(x_train, y_train)
        if cfg.calibrate and len(fit_input.lift_tests):
            add_lift_tests(mmm, fit_input.lift_tests)
        prior = mmm.sample_prior_predictive(
            x_train, y_train, samples=cfg.prior_predictive_draws, random_seed=seeds[0]
        )
        sample_kwargs: dict[str, Any] = {
            "chains": cfg.chains,
            "draws": cfg.draws,
            "tune": cfg.tune,
            "target_accept": cfg.target_accept,
            "random_seed": seeds[1],
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
        # notebook rich draws it on stdout, which a study worker's kernel records in 04_study.
        if posterior is not None:  # PyMC-Marketing's sampling step returns the batched draws
            mmm._fit_mcmc = lambda _kwargs: posterior
        with contextlib.redirect_stdout(io.StringIO()):
            idata = mmm.fit(x_train, y_train, **sample_kwargs)
        return mmm, idata, prior, time.perf_counter() - t_sample

    def iter_fit_batch(
        self, fit_inputs: list[FitInput], rngs: list[np.random.Generator]
    ) -> Iterator[EstimatorResult]:
        """Fit many datasets of the same shape with one batched NUTS call
        (:mod:`~mmm_recovery.estimators.bayesian.batched`: the model compiled once, every dataset
        x chain in one jitted call); dataset ``k``'s result is :meth:`fit` of it with ``rngs[k]``,
        its draws coming from the batched sampler (seeded as :meth:`fit` seeds NUTS), yielded as
        soon as it is summarised. Datasets with lift tests are refused there: fit them with
        :meth:`fit`."""
        from mmm_recovery.estimators.bayesian import batched

        check_batch(fit_inputs, rngs)
        ensure_jax_devices(self.config.chains)
        keep_generated_source_in_project()
        seeds = [int(peek_seeds(rng)[1]) for rng in rngs]
        t0 = time.perf_counter()
        posteriors, _ = batched.sample(self.config, fit_inputs, seeds)
        share = (time.perf_counter() - t0) / max(len(fit_inputs), 1)
        # fit() builds each model afresh (well under a second): the sampler's models carry the
        # effect coordinates' reference input as a shared variable, which PyMC's posterior
        # predictive would take for changed data; the fresh one has it as a constant, as in
        # the per-dataset path
        for fi, rng, post in zip(fit_inputs, rngs, posteriors, strict=True):
            yield self.fit(fi, rng, posterior=post, sample_seconds=share)

    def showcase(self, result: EstimatorResult, dataset: Any) -> list[tuple[str, Any]]:
        """:func:`mmm_recovery.estimators.bayesian.showcase.showcase`."""
        from mmm_recovery.estimators.bayesian.showcase import showcase

        return showcase(result, dataset, self.config.hdi_level)
