"""Simulation-based calibration (SBC) of the Bayesian estimator (Talts et al. 2018; Modrák et
al. 2023).

Scenario recovery asks whether the estimator finds one truth; SBC asks whether its inference is
calibrated at all. For each simulation ``i`` (the study's ``sbc:`` block,
:class:`~mmm_recovery.core.sbc_spec.SBCSettings`):

1. spend and controls come from the project's simulator (the block's scenario, cut to its weeks
   and channels); the response is not the scenario's;
2. every parameter, and then the target, is drawn from the estimator's own PyMC-Marketing model
   on that design (its forward graph: the prior, then the likelihood), on the model's scaled
   target;
3. the estimator fits the drawn target with the batched sampler
   (:mod:`~mmm_recovery.estimators.bayesian.batched`), in its own coordinates and with its own
   priors and sampler settings. The target scale is held at the one the draw was made on, so the
   fitted model is the model that generated the data (PyMC-Marketing divides the target by its
   maximum, a data-dependent choice outside what SBC checks);
4. each test quantity's rank among ``ranks`` evenly thinned posterior draws is recorded.

If the sampler, the reparametrisations (effect and level coordinates and their Jacobians), the
scaling and the likelihood are right, every quantity's rank is uniform on ``0..ranks``.

Test quantities: per channel the adstock decay, every sampled saturation parameter, ``beta``
(derived in the effect coordinates), the channel's ROAS and contribution share on the simulated
data; the intercept, the noise sd and the log-likelihood of the data (data-dependent, as Modrák
et al. advise). Uniformity test: the ECDF test of Säilynoja et al. (2022) on the randomised PIT
``(rank + U) / (ranks + 1)``, its p-value calibrated by ``reference_draws`` uniform samples of the
same size; a quantity fails if its p-value is below ``alpha`` over the number of quantities
(Bonferroni). Every simulation is kept, converged or not, and its diagnostics recorded.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.special import bdtr

from mmm_recovery.core.results import FitInput
from mmm_recovery.core.sbc_spec import SBCSettings
from mmm_recovery.simulation.simulate import simulate

#: columns of the ranks table (one row per simulation x quantity)
RANK_COLUMNS = ("simulation", "quantity", "rank", "truth", "posterior_mean", "converged")


def simulation_seeds(base_seed: int, i: int) -> tuple[np.random.Generator, int, int]:
    """Simulation ``i``'s design Generator, prior-draw seed and sampler seed (independent
    streams of ``SeedSequence([base_seed, crc32("sbc"), i])``)."""
    design, prior, sampler = np.random.SeedSequence([base_seed, zlib.crc32(b"sbc"), i]).spawn(3)
    return (
        np.random.default_rng(design),
        int(prior.generate_state(1)[0]),
        int(sampler.generate_state(1)[0] % 2**30),
    )


def design_input(scenario_spec: Any, settings: SBCSettings, rng: np.random.Generator) -> FitInput:
    """One simulation's design: spend and controls simulated by the project's simulator (its
    target is a placeholder, replaced by the model's draw); every week is fitted."""
    ds = simulate(settings.design_spec(scenario_spec), rng)
    return FitInput.from_simulated(ds, 0)


class PriorDraw:
    """The estimator's model's forward graph (prior, deterministics, likelihood), compiled once
    on a template dataset; :meth:`__call__` draws on another dataset's data (same shapes)."""

    def __init__(self, mmm: Any) -> None:
        from pymc.sampling.forward import compile_forward_sampling_function
        from pytensor.tensor.random.type import RandomGeneratorType

        from mmm_recovery.estimators.bayesian import batched

        model = mmm.model
        self.names = [v.name for v in (*model.free_RVs, *model.deterministics, *model.observed_RVs)]
        self.fn, _ = compile_forward_sampling_function(
            outputs=[model[n] for n in self.names],
            vars_in_trace=[],
            basic_rvs=model.basic_RVs,
            model=model,
        )
        self.rngs = [v for v in self.fn.get_shared() if isinstance(v.type, RandomGeneratorType)]
        self.shared = {v.name: v for v in batched.shared_inputs(model)}
        self.observed = model.observed_RVs[0].name
        #: the sampled parameters with one value per channel
        self.channel_vars = [
            v.name
            for v in model.free_RVs
            if tuple(model.named_vars_to_dims.get(v.name, ())) == ("channel",)
        ]

    def __call__(self, mmm: Any, seed: int) -> dict[str, np.ndarray]:
        """One draw of every variable, on ``mmm``'s data (its shared variables)."""
        from pymc.pytensorf import reseed_rngs

        from mmm_recovery.estimators.bayesian import batched

        own = {v.name: v for v in batched.shared_inputs(mmm.model)}
        for name, var in self.shared.items():
            var.set_value(own[name].get_value())
        reseed_rngs(self.rngs, seed)
        return {n: np.asarray(v) for n, v in zip(self.names, self.fn(), strict=True)}


@dataclass
class Design:
    """What the test quantities need of one simulation besides the parameters."""

    channels: list[str]
    channel_vars: list[str]  # the model's per-channel parameters
    spend: np.ndarray  # (weeks, channels), currency
    target_scale: float
    x0: np.ndarray  # the effect coordinates' reference input (scaled spend), or empty
    y: np.ndarray  # the drawn target, scaled


def test_quantities(draws: dict[str, np.ndarray], design: Design) -> dict[str, np.ndarray]:
    """Every test quantity of draws ``draws`` (name -> array with a leading draw axis): per
    channel ``<parameter>[<channel>]``, ``roas[<channel>]`` and ``contribution_share[<channel>]``;
    ``intercept``, ``y_sigma`` and ``log_likelihood``."""
    from scipy.stats import norm

    from mmm_recovery.estimators.bayesian.reparam import beta_from_effect

    per_channel = {name: draws[name] for name in design.channel_vars}
    if "saturation_effect" in per_channel:
        per_channel["saturation_beta"] = beta_from_effect(
            per_channel["saturation_lam"], per_channel["saturation_effect"], design.x0
        )
    contrib = draws["channel_contribution"]  # (S, weeks, channels), scaled target
    totals = contrib.sum(axis=1)
    roas = totals * design.target_scale / design.spend.sum(axis=0)
    share = totals / totals.sum(axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {}
    for j, c in enumerate(design.channels):
        for name in sorted(per_channel):
            out[f"{name}[{c}]"] = per_channel[name][:, j]
        out[f"roas[{c}]"] = roas[:, j]
        out[f"contribution_share[{c}]"] = share[:, j]
    out["intercept"] = draws["intercept_contribution"].reshape(len(contrib), -1)[:, 0]
    sigma = draws["y_sigma"].reshape(len(contrib))
    out["y_sigma"] = sigma
    out["log_likelihood"] = norm.logpdf(design.y[None, :], draws["mu"], sigma[:, None]).sum(axis=1)
    return out


def thinned(posterior: Any, names: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """``n`` draws evenly spaced over all chains' draws (chain after chain), per variable."""
    out = {}
    for name in names:
        a = np.asarray(posterior[name].values)
        flat = a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])
        if n > len(flat):
            raise ValueError(f"sbc.ranks {n} exceeds the {len(flat)} posterior draws of a fit")
        out[name] = flat[np.round(np.linspace(0, len(flat) - 1, n)).astype(int)]
    return out


def run(
    study: Any,
    settings: SBCSettings | None = None,
    fit_config: Any = None,
    simulations: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the SBC of ``study``'s ``sbc:`` block (or ``settings``): the ranks table
    (:data:`RANK_COLUMNS`) and one row of diagnostics per simulation.

    ``fit_config``: the estimator settings the fits use, if not those that drew the data (a
    negative control: a deliberately wrong model must fail). ``simulations``: which indices
    (default all)."""
    from mmm_recovery.estimators.bayesian import batched
    from mmm_recovery.estimators.bayesian.config import BayesianConfig
    from mmm_recovery.estimators.bayesian.model import (
        ensure_jax_devices,
        keep_generated_source_in_project,
    )

    settings = settings or study.sbc
    if settings is None:
        raise ValueError(f"{study.source or 'study'}: has no sbc: block")
    from mmm_recovery.estimators import registry

    cfg = cast(
        BayesianConfig,
        registry.config_for(settings.estimator, study.estimators[settings.estimator]),
    )
    fit_cfg = cfg if fit_config is None else fit_config
    ensure_jax_devices(fit_cfg.chains)
    keep_generated_source_in_project()
    scenario = study.scenario(settings.scenario)
    todo = list(range(settings.simulations) if simulations is None else simulations)
    prior: PriorDraw | None = None
    ranks, fits = [], []
    for start in range(0, len(todo), settings.batch_size):
        batch = todo[start : start + settings.batch_size]
        seeds = [simulation_seeds(study.study.base_seed, i) for i in batch]
        inputs = [design_input(scenario, settings, s[0]) for s in seeds]
        if prior is None:
            prior = PriorDraw(batched.build_model(cfg, inputs[0], x0_shared=True))
        mmms = [batched.build_model(fit_cfg, fi, x0_shared=True) for fi in inputs]
        truths, designs = [], []
        for fi, mmm, (_, prior_seed, _) in zip(inputs, mmms, seeds, strict=True):
            truth = prior(mmm, prior_seed)
            own = {v.name: v for v in batched.shared_inputs(mmm.model)}
            scale = float(own["target_scale"].get_value())
            y = truth[prior.observed]
            own["target_data"].set_value(np.asarray(y * scale, dtype=own["target_data"].dtype))
            x0 = own[batched.X0_NAME].get_value() if batched.X0_NAME in own else np.empty(0)
            spend = fi.data[fi.channels].to_numpy(dtype=float)
            designs.append(
                Design(list(fi.channels), prior.channel_vars, spend, scale, np.asarray(x0), y)
            )
            truths.append(truth)
        posteriors, _ = batched.sample(fit_cfg, inputs, [s[2] for s in seeds], mmms=mmms)
        for i, truth, design, post in zip(batch, truths, designs, posteriors, strict=True):
            fit = _diagnostics(post, fit_cfg, mmms[0].model)
            names = [n for n in truth if n in post["posterior"].data_vars]
            draws = thinned(post["posterior"], names, settings.ranks)
            q_draws = test_quantities(draws, design)
            q_true = test_quantities({k: v[None] for k, v in truth.items()}, design)
            fits.append({"simulation": i, **fit})
            for name, values in q_draws.items():
                ranks.append(
                    {
                        "simulation": i,
                        "quantity": name,
                        "rank": int(np.sum(values < q_true[name][0])),
                        "truth": float(q_true[name][0]),
                        "posterior_mean": float(np.mean(values)),
                        "converged": fit["converged"],
                    }
                )
        if progress is not None:
            progress(start + len(batch), len(todo))
    return pd.DataFrame(ranks, columns=list(RANK_COLUMNS)), pd.DataFrame(fits)


def _diagnostics(idata: Any, cfg: Any, model: Any) -> dict[str, Any]:
    from mmm_recovery.estimators.bayesian.diagnostics import convergence_diagnostics

    names = [v.name for v in model.free_RVs]
    d = convergence_diagnostics(idata, names, cfg.thresholds)
    keep = ("converged", "divergences", "max_rhat", "min_ess_bulk", "min_ess_tail", "min_bfmi")
    return {k: d[k] for k in keep if k in d}


# ------------------------------------------------------------------------- uniformity test


def randomised_pit(ranks: np.ndarray, n_ranks: int, rng: np.random.Generator) -> np.ndarray:
    """``(rank + U) / (n_ranks + 1)``: uniform on (0, 1) exactly when the ranks are uniform on
    ``0..n_ranks``."""
    ranks = np.asarray(ranks, dtype=float)
    return (ranks + rng.random(ranks.shape)) / (n_ranks + 1)


def ecdf_statistic(u: np.ndarray) -> float:
    """Säilynoja et al.'s (2022) statistic: the smallest two-sided binomial tail probability of
    the ECDF of ``u`` at the points ``i / n`` (small when the ECDF strays from uniform)."""
    n = len(u)
    z = np.arange(1, n) / n
    counts = np.searchsorted(np.sort(u), z, side="right")
    lower = bdtr(counts, n, z)
    upper = np.where(counts > 0, 1.0 - bdtr(np.maximum(counts - 1, 0), n, z), 1.0)  # P(X >= k)
    return float(np.min(2.0 * np.minimum(lower, upper)))


def reference_statistics(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`ecdf_statistic` of ``draws`` uniform samples of size ``n`` (its null distribution)."""
    return np.array([ecdf_statistic(rng.random(n)) for _ in range(draws)])


def uniformity(ranks: pd.DataFrame, settings: SBCSettings, seed: int) -> pd.DataFrame:
    """Per quantity: simulations, converged ones, the ECDF test's p-value, the Bonferroni
    threshold, the verdict (``uniform`` or ``not uniform``) and the mean rank over ``ranks``
    (0.5 if centred; above it the truth lies high in the posterior: the fit underestimates)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(b"sbc-test")]))
    quantities = list(dict.fromkeys(ranks["quantity"]))
    threshold = settings.alpha / max(len(quantities), 1)
    refs: dict[int, np.ndarray] = {}
    rows = []
    for name in quantities:
        sub = ranks[ranks["quantity"] == name]
        n = len(sub)
        if n not in refs:
            refs[n] = reference_statistics(n, settings.reference_draws, rng)
        stat = ecdf_statistic(randomised_pit(sub["rank"].to_numpy(), settings.ranks, rng))
        p = (1 + np.sum(refs[n] <= stat)) / (1 + len(refs[n]))
        rows.append(
            {
                "quantity": name,
                "simulations": n,
                "converged": int(sub["converged"].sum()),
                "p_value": float(p),
                "threshold": threshold,
                "verdict": "uniform" if p >= threshold else "not uniform",
                "mean_rank_share": float(sub["rank"].mean() / settings.ranks),
            }
        )
    return pd.DataFrame(rows)


def metrics(ranks: pd.DataFrame, fits: pd.DataFrame, settings: SBCSettings, seed: int) -> dict:
    """``sbc.json``: the design, the simulation and convergence counts, and each quantity's test."""
    table = uniformity(ranks, settings, seed)
    return {
        "design": settings.model_dump(),
        "simulations": int(len(fits)),
        "converged": int(fits["converged"].sum()) if len(fits) else 0,
        "divergent_fits": int((fits["divergences"] > 0).sum()) if len(fits) else 0,
        "test": "ECDF (Saeilynoja et al. 2022) on the randomised PIT, Bonferroni over quantities",
        "family_alpha": settings.alpha,
        "failed": [r["quantity"] for r in table.to_dict("records") if r["verdict"] != "uniform"],
        "quantities": {r.pop("quantity"): r for r in table.to_dict("records")},
    }


#: files the ``sbc`` stage writes into the metrics folder
RANKS_FILE, FITS_FILE, METRICS_FILE = "sbc_ranks.csv", "sbc_fits.csv", "sbc.json"


def write_outputs(study: Any, metrics_dir: Path, **run_kwargs: Any) -> dict[str, Any]:
    """Run the study's SBC and write its ranks, its fits' diagnostics and ``sbc.json`` into
    ``metrics_dir`` (each file atomically); return the metrics."""
    from mmm_recovery.core import files

    ranks, fits = run(study, **run_kwargs)
    settings = run_kwargs.get("settings") or study.sbc
    out = metrics(ranks, fits, settings, study.study.base_seed)
    files.write_csv(Path(metrics_dir) / RANKS_FILE, ranks)
    files.write_csv(Path(metrics_dir) / FITS_FILE, fits)
    files.write_json(Path(metrics_dir) / METRICS_FILE, out)
    return out
