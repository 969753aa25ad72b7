"""One SBC simulation's draw from the estimator's own model, and its test quantities.

The draw uses the model the study's fit compiles (:mod:`mmm_recovery.estimators.bayesian.compiled`:
the same PyMC-Marketing ``MMM``, priors, effect and level coordinates and lift-test likelihoods):
its forward graph draws every parameter, then the target and each lift test's measurement, on
the dataset's own spend, controls and lift-test designs. The target scale (PyMC-Marketing divides
the target by its training maximum, a data-dependent choice outside what SBC can check) is held at
the one the draw was made on while the study's fit runs (:func:`held_target_scale`), so the fitted
model is the model that generated the data.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mmm_recovery.core.response import ChannelResponse
from mmm_recovery.core.results import FitInput


@contextlib.contextmanager
def held_target_scale(scale: float) -> Iterator[None]:
    """Within the block every PyMC-Marketing ``MMM`` built scales its target by ``scale`` instead
    of its training maximum (its ``_compute_scales``, the one place the scale is set; PyMC-Marketing
    offers no fixed scale)."""
    import xarray as xr
    from pymc_marketing.mmm import MMM

    original = MMM._compute_scales

    def compute(self: Any) -> None:
        original(self)
        self.scalers["_target"] = xr.full_like(self.scalers["_target"], float(scale))

    MMM._compute_scales = compute  # type: ignore[method-assign]
    try:
        yield
    finally:
        MMM._compute_scales = original  # type: ignore[method-assign]


@dataclass
class Drawn:
    """One simulation's draw: the dataset to fit (target and lift measurements drawn), every
    model variable's value (scaled data), and what the test quantities need besides."""

    fit_input: FitInput
    values: dict[str, np.ndarray]
    target_scale: float  # currency per unit of the scaled target
    channel_scale: np.ndarray  # currency per unit of each channel's scaled spend
    x0: np.ndarray  # the effect coordinates' reference input (scaled spend), or empty
    y: np.ndarray  # the drawn target over the training weeks, scaled
    channel_vars: list[str]  # the model's sampled parameters with one value per channel


def draw(cfg: Any, design: FitInput, seed: int) -> Drawn:
    """Draw every variable of ``cfg``'s model on ``design``'s data (its target a placeholder whose
    training maximum becomes the held target scale) with PyMC's forward sampler seeded by
    ``seed``; return the dataset with the drawn target (currency) and lift measurements."""
    from pymc.pytensorf import reseed_rngs

    from mmm_recovery.estimators.bayesian import compiled
    from mmm_recovery.estimators.bayesian.batched import X0_NAME
    from mmm_recovery.estimators.bayesian.lift import _lift_likelihoods

    mmm = compiled.build(cfg, design)
    c = compiled.compiled_for(cfg, design, mmm)
    own = compiled.data_values(mmm)
    for name, var in compiled.data_variables(c.mmm).items():
        var.set_value(own[name])
    reseed_rngs(c.rngs, seed)
    values = {n: np.asarray(v) for n, v in zip(c.prior_names, c.forward(), strict=True)}
    scale = float(own["target_scale"])
    data = design.data.copy()
    data[design.target] = np.asarray(values[c.target], dtype=float) * scale
    tests = design.lift_tests.copy()
    if len(tests) and cfg.calibrate:
        _, likelihoods = _lift_likelihoods(tests)
        delta_y = tests["delta_y"].to_numpy(dtype=float).copy()
        for name, rows in likelihoods:
            if rows.any():
                delta_y[rows] = np.asarray(values[name], dtype=float) * scale
        tests["delta_y"] = delta_y
    return Drawn(
        fit_input=replace(design, data=data, lift_tests=tests),
        values=values,
        target_scale=scale,
        channel_scale=np.asarray(own["channel_scale"], dtype=float).ravel(),
        x0=np.asarray(own[X0_NAME], dtype=float) if X0_NAME in own else np.empty(0),
        y=np.asarray(values[c.target], dtype=float),
        channel_vars=[
            v.name
            for v in c.mmm.model.free_RVs
            if tuple(c.mmm.model.named_vars_to_dims.get(v.name, ())) == ("channel",)
        ],
    )


def quantities_of(draws: dict[str, np.ndarray], drawn: Drawn) -> dict[str, np.ndarray]:
    """Every test quantity of ``draws`` (variable -> array with a leading draw axis): per channel
    ``<parameter>[<channel>]`` for each sampled per-channel parameter and the derived ``beta``,
    ``roas[<channel>]`` and ``contribution_share[<channel>]``; each lift test's model lift
    ``lift[<channel>:<row>]`` (currency per week); ``intercept``, ``y_sigma`` and
    ``log_likelihood`` (of the target, data-dependent as Modrák et al. advise)."""
    from scipy.stats import norm

    from mmm_recovery.estimators.bayesian.lift import _lift_likelihoods
    from mmm_recovery.estimators.bayesian.reparam import beta_from_effect

    fi = drawn.fit_input
    per_channel = {name: draws[name] for name in drawn.channel_vars}
    if "saturation_effect" in per_channel and "saturation_beta" not in per_channel:
        per_channel["saturation_beta"] = beta_from_effect(
            per_channel["saturation_lam"], per_channel["saturation_effect"], drawn.x0
        )
    contrib = draws["channel_contribution"]  # (S, weeks, channels), scaled target
    n = len(contrib)
    totals = contrib.sum(axis=1)
    roas = totals * drawn.target_scale / fi.train[fi.channels].to_numpy(dtype=float).sum(axis=0)
    share = totals / totals.sum(axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {}
    for j, ch in enumerate(fi.channels):
        for name in sorted(per_channel):
            out[f"{name}[{ch}]"] = per_channel[name][:, j]
        out[f"roas[{ch}]"] = roas[:, j]
        out[f"contribution_share[{ch}]"] = share[:, j]
    if len(fi.lift_tests):
        _, likelihoods = _lift_likelihoods(fi.lift_tests)
        channels = fi.lift_tests["channel"].to_list()
        for name, rows in likelihoods:
            key = f"{name}_model_estimated_lift"
            if rows.any() and key in draws:
                lifts = draws[key].reshape(n, -1) * drawn.target_scale
                for k, row in enumerate(np.flatnonzero(rows)):
                    out[f"lift[{channels[row]}:{row}]"] = lifts[:, k]
    out["intercept"] = draws["intercept_contribution"].reshape(n, -1)[:, 0]
    sigma = draws["y_sigma"].reshape(n)
    out["y_sigma"] = sigma
    out["log_likelihood"] = norm.logpdf(drawn.y[None, :], draws["mu"], sigma[:, None]).sum(axis=1)
    return out


def true_curves(drawn: Drawn, cfg: Any) -> dict[str, dict[str, Any]]:
    """The drawn parameters as the truth's response model per channel (currency;
    :meth:`~mmm_recovery.core.response.ChannelResponse.to_dict`)."""
    from mmm_recovery.estimators.bayesian.posterior import to_original_scale
    from mmm_recovery.estimators.bayesian.reparam import beta_from_effect

    v = drawn.values
    lam = np.asarray(v["saturation_lam"], dtype=float)
    beta = (
        np.asarray(v["saturation_beta"], dtype=float)
        if "saturation_beta" in v
        else beta_from_effect(lam, np.asarray(v["saturation_effect"]), drawn.x0)
    )
    cur = to_original_scale(
        cfg.saturation, {"lam": lam, "beta": beta}, drawn.channel_scale, drawn.target_scale
    )
    alpha = np.asarray(v["adstock_alpha"], dtype=float)
    out = {}
    for j, ch in enumerate(drawn.fit_input.channels):
        r = ChannelResponse(
            "geometric",
            {"alpha": float(alpha[j])},
            cfg.l_max,
            True,
            cfg.saturation,
            {k: float(np.ravel(a)[j]) for k, a in cur.items() if k != "beta"},
            float(np.ravel(cur["beta"])[j]),
        )
        out[ch] = r.to_dict()
    return out


#: columns of the ranks table (one row per arm x simulation x quantity)
RANK_COLUMNS = (
    "arm",
    "simulation",
    "quantity",
    "rank",
    "truth",
    "posterior_mean",
    "posterior_sd",
    "converged",
)
#: columns of the fits table (one row per arm x simulation)
FIT_COLUMNS = (
    "arm",
    "simulation",
    "converged",
    "divergences",
    "max_rhat",
    "min_ess_bulk",
    "min_ess_tail",
    "min_bfmi",
)
#: columns of the decisions table: the fit's budget advice judged on the drawn truth (currency
#: per week)
DECISION_COLUMNS = (
    "arm",
    "simulation",
    "predicted_lift",
    "true_lift",
    "regret",
    "true_revenue_current",
)


def simulation_seeds(base_seed: int, i: int) -> tuple[np.random.Generator, int, int]:
    """Simulation ``i``'s design Generator, prior-draw seed and fit seed (independent streams of
    ``SeedSequence([base_seed, crc32("sbc"), i])``)."""
    design, prior, fit = np.random.SeedSequence([base_seed, zlib.crc32(b"sbc"), i]).spawn(3)
    return (
        np.random.default_rng(design),
        int(prior.generate_state(1)[0]),
        int(fit.generate_state(1)[0]),
    )


def design_input(study: Any, arm: str, rng: np.random.Generator) -> FitInput:
    """One simulation's design in arm ``arm``: spend, controls and lift-test designs simulated by
    the project's simulator (its target and measured lifts are placeholders, replaced by the
    model's draws); every week is fitted."""
    from mmm_recovery.simulation.simulate import simulate

    settings = study.sbc
    ds = simulate(settings.design_spec(study.scenario(settings.scenario), arm), rng)
    return FitInput.from_simulated(ds, 0)


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


def simulate_one(study: Any, arm: str, i: int, fit_config: Any = None) -> dict[str, Any]:
    """Simulation ``i`` of arm ``arm`` (module docstring): its rank rows, its fit's diagnostics
    and its decision row. ``fit_config``: the estimator settings the fit uses, if not the study's
    (a negative control: a deliberately wrong model must fail)."""
    from mmm_recovery.estimators import registry
    from mmm_recovery.evaluation import budget

    settings = study.sbc
    cfg = registry.config_for(settings.estimator, study.estimators[settings.estimator])
    design_rng, prior_seed, fit_seed = simulation_seeds(study.study.base_seed, i)
    drawn = draw(cfg, design_input(study, arm, design_rng), prior_seed)
    estimator = (
        registry.estimator_for(study, settings.estimator)
        if fit_config is None
        else registry.class_for(settings.estimator, study.estimators[settings.estimator])(
            fit_config
        )
    )
    with held_target_scale(drawn.target_scale):
        result = estimator.fit(drawn.fit_input, np.random.default_rng(fit_seed))
    post = result.extras["idata"]["posterior"]
    draws = thinned(post, [n for n in drawn.values if n in post.data_vars], settings.ranks)
    q_draws = quantities_of(draws, drawn)
    q_true = quantities_of({k: np.asarray(v)[None] for k, v in drawn.values.items()}, drawn)
    converged = bool(result.diagnostics.converged)
    ranks = [
        {
            "arm": arm,
            "simulation": i,
            "quantity": name,
            "rank": int(np.sum(values < q_true[name][0])),
            "truth": float(q_true[name][0]),
            "posterior_mean": float(np.mean(values)),
            "posterior_sd": float(np.std(values, ddof=1)),
            "converged": converged,
        }
        for name, values in q_draws.items()
    ]
    diag = result.diagnostics.to_dict()
    fit = {k: diag.get(k) for k in FIT_COLUMNS[2:]} | {"arm": arm, "simulation": i}
    fi = drawn.fit_input
    current = {c: float(fi.train[c].mean()) for c in fi.channels}
    truth = {"channels": true_curves(drawn, cfg)}
    advice = budget.regret(
        budget.curves_from_truth(truth),
        budget.curves_from_result(result.to_dict()),
        current,
        study.study.budget_bound,
    )
    decision = {
        "arm": arm,
        "simulation": i,
        "predicted_lift": advice["predicted_lift"],
        "true_lift": advice["true_lift_of_recommendation"],
        "regret": advice["regret"],
        "true_revenue_current": advice["true_revenue_current"],
    }
    return {"ranks": ranks, "fit": fit, "decision": decision}
