"""The Bayesian estimator's fit, compiled once per worker process.

``pm.sample`` (PyMC-Marketing's ``MMM.fit``) compiles the model, NumPyro's warm-up and sampling
loops, and every post-processing graph (prior and posterior predictive, log likelihood,
deterministics) afresh for every dataset, which is most of a study fit's cost. Here one model
structure (the same settings, weeks, channels, controls and lift tests) is compiled once per
process with its data as inputs (:mod:`~mmm_recovery.estimators.bayesian.batched`'s
``graph_replace`` + ``get_jaxified_graph``, the adstock lowered as gather + matmul,
:mod:`~mmm_recovery.estimators.bayesian.gather_conv`) and every later dataset of that structure
reuses it:

* NUTS: NumPyro's kernel (``numpyro.infer.hmc.hmc``), the same windowed step-size and diagonal
  mass-matrix adaptation, target acceptance, warm-up and draw counts as ``pm.sample`` with
  NumPyro; the chains start at PyMC's jittered initial points (same seeds). The adaptation
  starts from a diagonal inverse mass matrix at the posterior's scale (:func:`.nuts.laplace`:
  the marginal variances of the Laplace approximation at the posterior mode, found by damped
  Newton steps on the same compiled potential) instead of the identity, where the first warm-up window otherwise
  spends most of the warm-up's gradients; where that fails (a mode not found, a Hessian not
  positive definite) it starts from the identity, as NumPyro does, and says so.
* The draws: constrained values and deterministics from the jaxified graph of the model's
  value variables, the log likelihood (pointwise, every observed variable) and the prediction
  ``mu`` over every week (training and holdout, the holdout carrying over the training weeks'
  adstock) from compiled graphs; the prior predictive from PyMC's forward sampler compiled once
  on the template's shared data, which takes each dataset's values (``set_value``).

The result is the inference data ``pm.sample`` returns (the same groups, names, dimensions and
sampler statistics), so the workflow checks read it unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmm_recovery.core.results import FitInput, check_fit_input
from mmm_recovery.estimators.bayesian import nuts
from mmm_recovery.estimators.bayesian.batched import (
    DATA_VARIABLES,
    STAT_NAMES,
    X0_NAME,
    pymc_jax_seed,
    shared_inputs,
)
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.estimators.bayesian.model import TIME_INDEX, build_mmm, design_frame

#: the per-week data variables (set to every week's values for the prediction)
WEEKLY = ("channel_data", "target_data", "control_data", "dayofyear")


def build(cfg: BayesianConfig, fit_input: FitInput) -> Any:
    """The built PyMC-Marketing ``MMM`` of one dataset as the estimator builds it (lift tests
    included when ``cfg.calibrate``), with the effect coordinates' reference input as a shared
    variable (:data:`~mmm_recovery.estimators.bayesian.batched.X0_NAME`)."""
    import pytensor

    from mmm_recovery.estimators.bayesian.lift import add_lift_tests

    check_fit_input(fit_input, l_max=cfg.l_max)
    mmm = build_mmm(cfg, fit_input)
    if hasattr(mmm.saturation, "x0"):
        mmm.saturation.x0_variable = pytensor.shared(np.asarray(mmm.saturation.x0), name=X0_NAME)
    x = design_frame(cfg, fit_input)
    n = fit_input.n_train
    x_train, y_train = x.iloc[:n], fit_input.data[fit_input.target].iloc[:n]
    mmm.build_model(x_train, y_train)
    mmm._fit_data_group = mmm.create_fit_data(x_train, y_train)  # as MMM.fit keeps it
    if cfg.calibrate and len(fit_input.lift_tests):
        add_lift_tests(mmm, fit_input.lift_tests)
    return mmm


def structure_key(cfg: BayesianConfig, fit_input: FitInput) -> str:
    """What decides the compiled model: the settings, the training weeks, the channels and
    controls, and each lift test's channel and length (its numbers are data,
    :data:`~mmm_recovery.estimators.bayesian.lift.LIFT_DATA`)."""
    from mmm_recovery.core.files import lift_test_weeks

    lift = None
    if cfg.calibrate and len(fit_input.lift_tests):
        tests = fit_input.lift_tests
        lift = list(zip(tests["channel"], map(str, lift_test_weeks(tests)), strict=True))
    parts = {
        "settings": cfg.model_dump(mode="json"),
        "weeks": fit_input.n_train,
        "channels": list(fit_input.channels),
        "controls": list(fit_input.controls),
        "lift": lift,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def data_variables(mmm: Any) -> dict[str, Any]:
    """The model's per-dataset data variables (shared), by name: PyMC-Marketing's
    :data:`~mmm_recovery.estimators.bayesian.batched.DATA_VARIABLES` and the effect
    coordinates' reference input and the lift tests' numbers. (:func:`~mmm_recovery.estimators.bayesian.batched.shared_inputs`
    finds the same from the graph, at the cost of building the log density: the compiled model
    checks they agree.)"""
    from mmm_recovery.estimators.bayesian.lift import LIFT_DATA

    found = {n: mmm.model[n] for n in DATA_VARIABLES if n in mmm.model.named_vars}
    x0 = getattr(mmm.saturation, "x0_variable", None)
    if x0 is not None:
        found[X0_NAME] = x0
    found.update({n: mmm.model[n] for n in LIFT_DATA if n in mmm.model.named_vars})
    return found


def data_values(mmm: Any) -> dict[str, np.ndarray]:
    """The values of :func:`data_variables`."""
    return {n: np.asarray(v.get_value()) for n, v in data_variables(mmm).items()}


def weekly_data(cfg: BayesianConfig, fit_input: FitInput, mmm: Any) -> dict[str, np.ndarray]:
    """The per-week data of every week (training and holdout), as the model holds the training
    weeks': raw spend, the design's controls (:func:`design_frame`), day of year, target. Its
    training rows are checked equal to the model's own."""
    import pandas as pd

    x = design_frame(cfg, fit_input)
    controls = [*fit_input.controls, *([TIME_INDEX] if cfg.trend else [])]
    full = {
        "channel_data": x[list(fit_input.channels)].to_numpy(dtype=float),
        "target_data": fit_input.data[fit_input.target].to_numpy(dtype=float),
        "control_data": x[controls].to_numpy(dtype=float) if controls else None,
        "dayofyear": pd.to_datetime(x[fit_input.date]).dt.dayofyear.to_numpy(),
    }
    own = data_values(mmm)
    out = {}
    for name in WEEKLY:
        if name not in own:
            continue
        value = np.asarray(full[name], dtype=own[name].dtype)
        if not np.array_equal(value[: fit_input.n_train], own[name]):
            raise RuntimeError(f"{name}: the training weeks differ from the model's own data")
        out[name] = value
    return out


@dataclass
class Compiled:
    """One model structure compiled with its data as inputs (module docstring)."""

    mmm: Any  # the template: the first dataset's built MMM
    data_names: list[str]
    value_names: list[str]
    output_names: list[str]
    keep: list[str]
    observed: list[str]
    logp: Any
    values: Any
    loglik: Any
    mu: Any
    laplace: Any
    run: Any
    initial_point: Any
    forward: Any
    prior_names: list[str]
    rngs: list[Any]
    constants: dict[str, np.ndarray]  # shared values the graph holds as constants
    target: str  # the observed target's name


_CACHE: dict[str, Compiled] = {}


def compiled_for(cfg: BayesianConfig, fit_input: FitInput, mmm: Any) -> Compiled:
    """The compiled model of ``fit_input``'s structure (:func:`structure_key`): from this
    process's cache, else compiled from a template model of its own (built like ``mmm``, and
    never handed out: each fit sets the template's data to its own). Either way ``mmm``'s
    other shared values (e.g. its dimensions' lengths) are checked equal to the template's:
    the compiled graph holds the template's as constants."""
    key = structure_key(cfg, fit_input)
    if key not in _CACHE:
        _CACHE[key] = _compile(cfg, build(cfg, fit_input))
    c = _CACHE[key]
    own = _constants(mmm, list(c.constants))
    for name, value in c.constants.items():
        if not np.array_equal(own[name], value):
            raise RuntimeError(
                f"shared variable {name!r} is {own[name]} in this dataset's model and {value} in "
                "the compiled one: it is a constant of the compiled graph, so the structure key "
                "must cover it"
            )
    return c


def _constants(mmm: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The values of the model's shared variables ``names`` that are not data: PyMC's
    dimension lengths, or named variables."""
    model = mmm.model
    out = {}
    for name in names:
        var = model.dim_lengths.get(name, model.named_vars.get(name))
        if var is None or not hasattr(var, "get_value"):
            raise RuntimeError(f"shared variable {name!r} of the compiled graph is not the model's")
        out[name] = np.asarray(var.get_value())
    return out


def _compile(cfg: BayesianConfig, mmm: Any) -> Compiled:
    import jax
    from pymc.initial_point import make_initial_point_fn
    from pymc.sampling.forward import compile_forward_sampling_function
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.replace import graph_replace
    from pytensor.graph.traversal import graph_inputs
    from pytensor.tensor.random.type import RandomGeneratorType

    from mmm_recovery.estimators.bayesian.gather_conv import gather_convolution

    model = mmm.model
    shared = shared_inputs(model)
    if {v.name for v in shared} != set(data_variables(mmm)):
        raise RuntimeError(
            f"the model's shared inputs {sorted(v.name for v in shared)} are not its data "
            f"variables {sorted(data_variables(mmm))}"
        )
    inputs = [v.type(name=v.name) for v in shared]
    replace = dict(zip(shared, inputs, strict=True))
    value_vars = list(model.value_vars)
    outputs = list(model.unobserved_value_vars)
    mu_var = model["mu"]
    observed = list(model.observed_RVs)
    graph = [model.logp(), *outputs, mu_var, *model.logp(vars=observed, sum=False)]
    inputs_names = {v.name for v in shared}
    constants = [
        str(v.name)
        for v in graph_inputs(graph)
        if isinstance(v, SharedVariable)
        and not isinstance(v.type, RandomGeneratorType)
        and v.name not in inputs_names
    ]
    (logp,) = graph_replace([model.logp()], replace, strict=False)
    outs = graph_replace(outputs, replace, strict=False)
    (mu,) = graph_replace(model.replace_rvs_by_values([mu_var]), replace, strict=False)
    pointwise = graph_replace(model.logp(vars=observed, sum=False), replace, strict=False)
    args = [*value_vars, *inputs]
    with gather_convolution():
        logp_fn = get_jaxified_graph(inputs=args, outputs=[logp])
        values_fn = get_jaxified_graph(inputs=args, outputs=outs)
        mu_fn = get_jaxified_graph(inputs=args, outputs=[mu])
        loglik_fn = get_jaxified_graph(inputs=args, outputs=pointwise)
    n_values = len(value_vars)

    def per_draw(fn: Any) -> Any:
        """``fn`` over a leading draw axis of the values, the data shared."""
        return jax.jit(jax.vmap(fn, in_axes=(*([0] * n_values), *([None] * len(inputs)))))

    def mean_mu(*a: Any) -> Any:
        return jax.vmap(mu_fn, in_axes=(*([0] * n_values), *([None] * len(inputs))))(*a)[0].mean(0)

    prior_names = [v.name for v in (*model.free_RVs, *model.deterministics, *observed)]
    forward, _ = compile_forward_sampling_function(
        outputs=[model[n] for n in prior_names],
        vars_in_trace=[],
        basic_rvs=model.basic_RVs,
        model=model,
    )
    keep = [v.name for v in (*model.free_RVs, *model.deterministics)]
    return Compiled(
        mmm=mmm,
        data_names=[v.name for v in shared],
        value_names=[v.name for v in value_vars],
        output_names=[v.name for v in outputs],
        keep=keep,
        observed=[v.name for v in observed],
        logp=logp_fn,
        values=per_draw(values_fn),
        loglik=per_draw(loglik_fn),
        mu=jax.jit(mean_mu),
        laplace=nuts.laplace(logp_fn),
        run=nuts.sampler(logp_fn, cfg),
        initial_point=make_initial_point_fn(
            model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
        ),
        forward=forward,
        prior_names=prior_names,
        rngs=[v for v in forward.get_shared() if isinstance(v.type, RandomGeneratorType)],
        constants=_constants(mmm, constants),
        target=str(mmm.output_var),
    )


@dataclass
class Sampled:
    """One dataset's fit by the compiled model: its built ``MMM``, the inference data (posterior,
    sample statistics, pointwise log likelihood, observed and constant data), the prior
    predictive draws of the target and the posterior mean of ``mu`` over every week (both on
    the max-scaled target), whether the adaptation started from the Laplace scales, the
    seconds NUTS took, and whether this fit compiled its structure (then those seconds include
    the compilation)."""

    mmm: Any
    idata: Any
    prior_y: np.ndarray
    mu: np.ndarray
    warm_start: bool
    sample_seconds: float
    compiled: bool  # this fit compiled its structure (sample_seconds include the compile)


def sample(cfg: BayesianConfig, fit_input: FitInput, prior_seed: int, nuts_seed: int) -> Sampled:
    """Fit ``fit_input`` with the compiled model of its structure. ``prior_seed`` seeds the
    prior predictive draws, ``nuts_seed`` plays ``pm.sample``'s ``random_seed`` (initial points
    and chain keys)."""
    import time

    import jax
    import jax.numpy as jnp
    from pymc.pytensorf import reseed_rngs
    from pymc.util import _get_seeds_per_chain

    mmm = build(cfg, fit_input)
    first = structure_key(cfg, fit_input) not in _CACHE
    c = compiled_for(cfg, fit_input, mmm)
    own = data_values(mmm)
    if sorted(own) != sorted(c.data_names):
        raise RuntimeError(f"data variables {sorted(own)} differ from {sorted(c.data_names)}")
    for name, var in data_variables(c.mmm).items():  # the template's PyMC functions read these
        var.set_value(own[name])
    data = [jnp.asarray(own[n]) for n in c.data_names]

    reseed_rngs(c.rngs, prior_seed)
    prior_draws = [c.forward() for _ in range(cfg.prior_predictive_draws)]
    prior = {
        n: np.stack([np.asarray(d[i]) for d in prior_draws]) for i, n in enumerate(c.prior_names)
    }

    t0 = time.perf_counter()
    jax_seed = pymc_jax_seed(nuts_seed, cfg.chains)
    z0 = [_initial_point(c, int(s), data) for s in _get_seeds_per_chain(jax_seed, cfg.chains)]
    start = [jnp.asarray(np.stack([z[i] for z in z0])) for i in range(len(c.value_names))]
    inverse_mass, ok = c.laplace([a[0] for a in start], data)
    key = jax.random.PRNGKey(jax_seed)
    keys = jax.random.split(key, cfg.chains) if cfg.chains > 1 else key[None]
    inverse_mass = jnp.broadcast_to(inverse_mass, (cfg.chains, inverse_mass.size))
    z, stats = c.run(keys, start, inverse_mass, data)
    z = [np.asarray(a) for a in z]
    seconds = time.perf_counter() - t0

    flat = [a.reshape(-1, *a.shape[2:]) for a in z]
    values = [np.asarray(v) for v in c.values(*flat, *data)]
    loglik = [np.asarray(v) for v in c.loglik(*flat, *data)]
    weekly = weekly_data(cfg, fit_input, mmm)
    full = [jnp.asarray(weekly.get(n, own[n])) for n in c.data_names]
    mu = np.asarray(c.mu(*flat, *full))
    idata = _inference_data(c, mmm, values, [np.asarray(s) for s in stats], loglik, cfg.chains)
    _add_prior(idata, mmm, prior, c.observed)
    fit_data = mmm.create_fit_data_group()  # the training data, as MMM.fit stores it
    if fit_data is not None:
        idata["/fit_data"] = fit_data
    mmm.idata = idata
    return Sampled(mmm, idata, prior[c.target], mu, bool(ok), seconds, first)


def _add_prior(idata: Any, mmm: Any, prior: dict[str, np.ndarray], observed: list[str]) -> None:
    """The prior draws as ``MMM.sample_prior_predictive`` leaves them in the inference data:
    groups ``prior`` (parameters, deterministics) and ``prior_predictive`` (observed), one
    chain."""
    from arviz import from_dict
    from pymc.backends.arviz import coords_and_dims_for_inferencedata

    coords, dims = coords_and_dims_for_inferencedata(mmm.model)
    groups = {
        "prior": {n: a[None] for n, a in prior.items() if n not in observed},
        "prior_predictive": {n: a[None] for n, a in prior.items() if n in observed},
    }
    tree = from_dict(data=groups, coords=coords, dims=dims, sample_dims=["chain", "draw"])
    for name in groups:
        idata[f"/{name}"] = tree[name].to_dataset()


def _initial_point(c: Compiled, seed: int, data: list[Any]) -> list[np.ndarray]:
    """PyMC's jittered initial point for one chain (``_init_jitter``: redrawn with a new seed
    while the log density is not finite, at most 10 times; then an error, as PyMC's)."""
    rng = np.random.default_rng(seed)
    for _ in range(11):
        point = c.initial_point(seed)
        values = [np.asarray(point[n]) for n in c.value_names]
        if np.isfinite(float(c.logp(*values, *data)[0])):
            return values
        seed = int(rng.integers(2**30, dtype=np.int64))
    bad = [n for n, v in zip(c.value_names, values, strict=True) if not np.all(np.isfinite(v))]
    raise ValueError(
        "no jittered initial point with a finite log density in 11 tries "
        f"(non-finite values: {bad or 'none; the density itself is not finite'})"
    )


def _inference_data(
    c: Compiled,
    mmm: Any,
    values: list[np.ndarray],
    stats: list[np.ndarray],
    loglik: list[np.ndarray],
    chains: int,
) -> Any:
    """The draws as ``pm.sample`` returns them (chain, draw, *dims), with the pointwise log
    likelihood of every observed variable."""
    from arviz import from_dict
    from pymc.backends.arviz import (
        coords_and_dims_for_inferencedata,
        find_constants,
        find_observations,
    )

    def split(a: np.ndarray) -> np.ndarray:
        return a.reshape(chains, -1, *a.shape[1:])

    model = mmm.model
    keep = set(c.keep)
    posterior = {n: split(a) for n, a in zip(c.output_names, values, strict=True) if n in keep}
    sample_stats = {n: a for n, a in zip(STAT_NAMES, stats, strict=True)}
    sample_stats["tree_depth"] = np.log2(sample_stats["n_steps"]).astype(int) + 1
    groups: dict[str, Any] = {
        "posterior": posterior,
        "sample_stats": sample_stats,
        "log_likelihood": {n: split(a) for n, a in zip(c.observed, loglik, strict=True)},
    }
    for name, found in (
        ("observed_data", find_observations(model)),
        ("constant_data", find_constants(model)),
    ):
        if found is not None:
            groups[name] = found
    coords, dims = coords_and_dims_for_inferencedata(model)
    return from_dict(data=groups, coords=coords, dims=dims, sample_dims=["chain", "draw"])
