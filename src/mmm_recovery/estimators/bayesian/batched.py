"""Batched NUTS: one compiled PyMC-Marketing model, many datasets, one jitted call.

PyMC-Marketing builds one model per dataset, with the data in shared variables
(:data:`DATA_VARIABLES`) and, in the effect coordinates, each channel's reference input ``x0``
(:mod:`~mmm_recovery.estimators.bayesian.reparam`). Replacing those by symbolic inputs
(``graph_replace``) and jaxifying the graph gives one log density ``logp(values, data)`` for
every dataset of the same shape (weeks, channels, controls) and the same settings: evaluated on
a dataset's data it equals that dataset's own compiled PyMC log density (tested to 1e-9).

:func:`sample` runs NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc`` with
``potential_fn_gen``: the data are the kernel's model arguments) for ``K`` datasets x
``chains`` chains in one jitted call (the lanes under one ``jax.vmap`` on an accelerator, or
shared out over the CPU cores and run one after another on each: :func:`lane_layout`), every
chain with its own step-size and diagonal mass-matrix adaptation (NumPyro's windowed
adaptation, as in the per-dataset path, which samples with NumPyro too), jittered initial points drawn as PyMC draws them, and the same warm-up and
draw counts as the per-dataset path. The draws are mapped back to the model's constrained
variables and deterministics by the jaxified graph of ``model.unobserved_value_vars`` (one
dataset at a time, to bound memory) and returned per dataset as inference data with the
per-dataset path's groups, names, dimensions and sampler statistics, so the workflow checks
(:func:`~mmm_recovery.estimators.bayesian.diagnostics.convergence_diagnostics`) read them
unchanged.

Nothing here assumes a CPU: JAX runs the call on whatever device it sees (a GPU when one is
present). Scope: models without lift tests (datasets with tests can differ in how many tests
and of which kind, so their graphs differ); a dataset with lift tests is refused with a clear
error and goes to the per-dataset path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmm_recovery.core.results import FitInput, check_fit_input
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.estimators.bayesian.model import build_mmm, design_frame

#: PyMC-Marketing's per-dataset data (shared variables of its model)
DATA_VARIABLES = (
    "channel_data",
    "target_data",
    "control_data",
    "dayofyear",
    "channel_scale",
    "target_scale",
)
#: the reference input of the effect coordinates, made a shared variable for the batched graph
X0_NAME = "saturation_x0"
#: sampler statistics recorded per draw, under the names PyMC gives NumPyro's (``lp`` is NumPyro's
#: potential energy, as PyMC's NumPyro path records it)
STAT_NAMES = ("diverging", "n_steps", "energy", "lp", "step_size", "acceptance_rate")


def build_model(cfg: BayesianConfig, fit_input: FitInput, x0_shared: bool = False) -> Any:
    """The built PyMC-Marketing ``MMM`` of one dataset (its ``.model`` is the PyMC model), as the
    per-dataset path builds it; with ``x0_shared`` the effect coordinates' reference input is a
    shared variable named :data:`X0_NAME` instead of a constant (the same values)."""
    check_fit_input(fit_input, l_max=cfg.l_max)
    if len(fit_input.lift_tests) and cfg.calibrate:
        raise ValueError(
            "the batched sampler does not take lift tests (datasets' tests can differ in number "
            "and kind, and with them the model's graph); fit datasets with lift tests one at a "
            "time"
        )
    mmm = build_mmm(cfg, fit_input)
    if x0_shared and hasattr(mmm.saturation, "x0"):
        import pytensor

        mmm.saturation.x0_variable = pytensor.shared(np.asarray(mmm.saturation.x0), name=X0_NAME)
    x = design_frame(cfg, fit_input)
    n = fit_input.n_train
    mmm.build_model(x.iloc[:n], fit_input.data[fit_input.target].iloc[:n])
    return mmm


def shared_inputs(model: Any) -> list[Any]:
    """The model's per-dataset shared variables, in :data:`DATA_VARIABLES` order (then ``x0``,
    then the lift tests' :data:`~mmm_recovery.estimators.bayesian.lift.LIFT_DATA`)."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    found = {
        v.name: v
        for v in graph_inputs([model.logp(), *model.unobserved_value_vars])
        if isinstance(v, SharedVariable)
    }
    from mmm_recovery.estimators.bayesian.lift import LIFT_DATA

    return [found[n] for n in (*DATA_VARIABLES, X0_NAME, *LIFT_DATA) if n in found]


def _check_constant_shared(mmms: Sequence[Any], inputs: set[str]) -> None:
    """Every shared variable of the graph that is not an input must be the same in every
    dataset (else the batched graph would use the first dataset's value for all)."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    def others(m: Any) -> dict[str, np.ndarray]:
        graph = [m.model.logp(), *m.model.unobserved_value_vars]
        return {
            str(v.name): np.asarray(v.get_value())
            for v in graph_inputs(graph)
            if isinstance(v, SharedVariable) and v.name not in inputs
        }

    first = others(mmms[0])
    for k, m in enumerate(mmms[1:], start=1):
        for name, value in others(m).items():
            if name not in first or not np.array_equal(value, first[name]):
                raise ValueError(
                    f"dataset {k}: shared variable {name!r} differs from the first dataset's and "
                    "is not a batched input; these datasets cannot share one compiled model"
                )


@dataclass
class BatchedModel:
    """One model structure compiled with its data as inputs, and the data of ``K`` datasets.

    Attributes
    ----------
    mmms : list of PyMC-Marketing ``MMM``
        Each dataset's built model (the first one's graph is the one compiled).
    value_names : list of str
        The model's value variables (unconstrained), the order of the sampler's state.
    data_names : list of str
        The shared variables that became inputs, the order of ``data``.
    data : list of arrays
        Each input stacked over datasets: shape ``(K, *shape)``.
    initial_points : list of list of arrays
        Per dataset, per chain: PyMC's jittered initial point (one array per value variable).
    """

    mmms: list[Any]
    value_names: list[str]
    data_names: list[str]
    data: list[np.ndarray]
    logp_fn: Any
    values_fn: Any
    value_output_names: list[str]
    initial_points: list[list[list[np.ndarray]]]

    @property
    def n_datasets(self) -> int:
        return len(self.mmms)

    @property
    def template(self) -> Any:
        """The compiled model (the first dataset's): names, dimensions, transforms."""
        return self.mmms[0].model

    def logp(self, values: Sequence[Any], k: int) -> float:
        """The log density at ``values`` (one array per value variable) on dataset ``k``."""
        return float(self.logp_fn(*values, *(d[k] for d in self.data))[0])


def pymc_jax_seed(random_seed: int, chains: int) -> int:
    """The seed ``pm.sample(random_seed=..., nuts_sampler="numpyro")`` hands to its NumPyro
    path (initial points and chain keys), so a batched fit of one dataset starts where the
    per-dataset fit with the same seed does."""
    from pymc.util import _get_seeds_per_chain, get_random_generator

    first = int(get_random_generator(random_seed).spawn(chains)[0].integers(2**30))
    (seed,) = _get_seeds_per_chain(first, 1)
    return int(seed)


def compile_batched(
    cfg: BayesianConfig,
    fit_inputs: Sequence[FitInput],
    seeds: Sequence[int],
    mmms: Sequence[Any] | None = None,
) -> BatchedModel:
    """Build each dataset's model, compile the first one's graph once with the data as inputs
    (jaxified), and draw each dataset's jittered initial points (``cfg.chains`` per dataset) as
    ``pm.sample(random_seed=seeds[k])`` draws them. The datasets must share their shape.

    ``mmms``: the datasets' models already built by :func:`build_model` (``x0_shared=True``), whose
    shared variables hold the data to sample with (simulation-based calibration sets the
    target it drew there); built here from ``fit_inputs`` if None."""
    from pymc.sampling.jax import _get_batched_jittered_initial_points, get_jaxified_graph
    from pytensor.graph.replace import graph_replace

    from mmm_recovery.estimators.bayesian.gather_conv import gather_convolution

    if not fit_inputs:
        raise ValueError("compile_batched needs at least one dataset")
    if mmms is None:
        mmms = [build_model(cfg, fi, x0_shared=True) for fi in fit_inputs]
    elif len(mmms) != len(fit_inputs):
        raise ValueError(f"{len(mmms)} models for {len(fit_inputs)} datasets")
    mmms = list(mmms)
    template = mmms[0].model
    shared = shared_inputs(template)
    inputs = [v.type(name=v.name) for v in shared]
    replace = dict(zip(shared, inputs, strict=True))
    logp = graph_replace([template.logp()], replace, strict=False)
    values_out = graph_replace(list(template.unobserved_value_vars), replace, strict=False)
    value_vars = list(template.value_vars)
    with gather_convolution():  # the adstock as gather + matmul (.gather_conv)
        logp_fn = get_jaxified_graph(inputs=[*value_vars, *inputs], outputs=logp)
        values_fn = get_jaxified_graph(inputs=[*value_vars, *inputs], outputs=values_out)

    data: list[np.ndarray] = []
    own_shared = [{v.name: v for v in shared_inputs(m.model)} for m in mmms]
    for v in shared:
        per: list[np.ndarray] = []
        for k, by_name in enumerate(own_shared):
            value = np.asarray(by_name[v.name].get_value(), dtype=v.dtype)
            if per and value.shape != per[0].shape:
                raise ValueError(
                    f"dataset {k}: {v.name} has shape {value.shape}, the first dataset "
                    f"{per[0].shape}; batch only datasets of the same weeks, channels, controls"
                )
            per.append(value)
        data.append(np.stack(per))
    _check_constant_shared(mmms, {v.name for v in shared})

    initial_points = []
    for k, (m, seed) in enumerate(zip(mmms, seeds, strict=True)):
        own = [d[k] for d in data]

        def potential(x, own=own):
            return -logp_fn(*x, *own)[0]

        points = _get_batched_jittered_initial_points(
            model=m.model,
            chains=cfg.chains,
            initvals=None,
            random_seed=pymc_jax_seed(seed, cfg.chains),
            logp_fn=potential,
        )
        if cfg.chains == 1:
            points = [np.asarray(p)[None] for p in points]
        initial_points.append([[np.asarray(p[c]) for p in points] for c in range(cfg.chains)])
    return BatchedModel(
        mmms=mmms,
        value_names=[v.name for v in value_vars],
        data_names=[v.name for v in shared],
        data=data,
        logp_fn=logp_fn,
        values_fn=values_fn,
        value_output_names=[v.name for v in template.unobserved_value_vars],
        initial_points=initial_points,
    )


def lane_layout(cfg: BayesianConfig) -> str:
    """``cfg.batch_lanes``, with ``auto`` resolved for the device JAX runs on: ``vectorize`` on
    an accelerator, ``sequential`` on a CPU."""
    if cfg.batch_lanes != "auto":
        return cfg.batch_lanes
    import jax

    return "sequential" if jax.default_backend() == "cpu" else "vectorize"


def _sequential_lanes(one_chain: Any, args: Any) -> Any:
    """``one_chain`` over the leading axis of ``args`` without lock-step: the lanes are shared
    out over JAX's local devices (``pmap``) and each device runs its share one after the other
    (``lax.map``), all in one compiled call. Lanes are padded with copies of the last one to a
    multiple of the devices; the copies' results are dropped."""
    import jax
    import jax.numpy as jnp

    leaves, tree = jax.tree_util.tree_flatten(args)
    lanes = leaves[0].shape[0]
    devices = jax.local_devices()
    if devices[0].platform == "cpu":  # one device per core: more would only take turns
        devices = devices[: os.cpu_count() or 1]
    n_dev = min(len(devices), lanes)
    per = -(-lanes // n_dev)
    pad = n_dev * per - lanes

    def shard(a: Any) -> Any:
        a = jnp.asarray(a)
        if pad:
            a = jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)])
        return a.reshape(n_dev, per, *a.shape[1:])

    sharded = jax.tree_util.tree_unflatten(tree, [shard(a) for a in leaves])
    run = jax.pmap(lambda a: jax.lax.map(lambda lane: one_chain(*lane), a), devices=devices[:n_dev])
    out = run(sharded)
    return jax.tree_util.tree_map(lambda a: a.reshape(n_dev * per, *a.shape[2:])[:lanes], out)


def _run_chains(bm: BatchedModel, cfg: BayesianConfig, seeds: Sequence[int]) -> dict[str, Any]:
    """NUTS for every dataset x chain in one jitted, vmapped call: the draws (unconstrained,
    ``(K * chains, draws, ...)`` per value variable) and the sampler statistics."""
    import jax
    import jax.numpy as jnp

    from mmm_recovery.estimators.bayesian.nuts import chain

    nuts_chain = chain(bm.logp_fn, cfg)

    def one_chain(key, z0, data):  # NumPyro's default start: the identity mass matrix
        return nuts_chain(key, z0, None, data)

    per_dataset = []
    for seed in seeds:  # as PyMC's NumPyro path keys its chains
        key = jax.random.PRNGKey(pymc_jax_seed(seed, cfg.chains))
        per_dataset.append(jax.random.split(key, cfg.chains) if cfg.chains > 1 else key[None])
    keys = jnp.concatenate(per_dataset)
    z0 = [
        jnp.asarray(
            np.stack(
                [
                    bm.initial_points[k][c][i]
                    for k in range(bm.n_datasets)
                    for c in range(cfg.chains)
                ]
            )
        )
        for i in range(len(bm.value_names))
    ]
    data = [jnp.asarray(np.repeat(d, cfg.chains, axis=0)) for d in bm.data]
    if lane_layout(cfg) == "vectorize":
        z, stats = jax.jit(jax.vmap(one_chain))(keys, z0, data)
    else:
        z, stats = _sequential_lanes(one_chain, (keys, z0, data))
    # constrained values and deterministics, one dataset (its chains x draws) at a time
    per_draw = jax.vmap(bm.values_fn, in_axes=(*([0] * len(z)), *([None] * len(bm.data))))
    per_chain = jax.jit(jax.vmap(per_draw, in_axes=(*([0] * len(z)), *([None] * len(bm.data)))))
    chunks = []
    for k in range(bm.n_datasets):
        rows = slice(k * cfg.chains, (k + 1) * cfg.chains)
        chunks.append(
            [np.asarray(v) for v in per_chain(*(a[rows] for a in z), *(d[k] for d in bm.data))]
        )
    values = [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
    return {"values": values, "stats": [np.asarray(s) for s in stats]}


def sample(
    cfg: BayesianConfig,
    fit_inputs: Sequence[FitInput],
    seeds: Sequence[int],
    mmms: Sequence[Any] | None = None,
) -> tuple[list[Any], BatchedModel]:
    """Sample the posterior of every dataset in ``fit_inputs`` (same shape) in one call.

    ``seeds[k]`` plays the role of ``pm.sample``'s ``random_seed`` for dataset ``k`` (its initial
    points and chain keys). Returns one inference data per dataset, with the groups, names,
    dimensions and sampler statistics that ``pm.sample`` with NumPyro gives (``posterior``,
    ``sample_stats``, ``observed_data``, ``constant_data``), and the compiled model. ``mmms``: as
    in :func:`compile_batched`."""
    bm = compile_batched(cfg, fit_inputs, seeds, mmms)
    out = _run_chains(bm, cfg, seeds)
    return [_inference_data(bm, cfg, out, k) for k in range(bm.n_datasets)], bm


def _inference_data(bm: BatchedModel, cfg: BayesianConfig, out: dict[str, Any], k: int) -> Any:
    """Dataset ``k``'s draws as ``pm.sample`` would return them (chain, draw, *dims)."""
    from arviz import from_dict
    from pymc.backends.arviz import (
        coords_and_dims_for_inferencedata,
        find_constants,
        find_observations,
    )

    model = bm.mmms[k].model
    rows = slice(k * cfg.chains, (k + 1) * cfg.chains)
    keep = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    posterior = {
        name: arr[rows]
        for name, arr in zip(bm.value_output_names, out["values"], strict=True)
        if name in keep
    }
    stats = {name: arr[rows] for name, arr in zip(STAT_NAMES, out["stats"], strict=True)}
    stats["tree_depth"] = np.log2(stats["n_steps"]).astype(int) + 1
    groups = {"posterior": posterior, "sample_stats": stats}
    for name, found in (
        ("observed_data", find_observations(model)),
        ("constant_data", find_constants(model)),
    ):
        if found is not None:
            groups[name] = found
    coords, dims = coords_and_dims_for_inferencedata(model)
    return from_dict(data=groups, coords=coords, dims=dims, sample_dims=["chain", "draw"])
