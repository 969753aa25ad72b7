"""NumPyro's NUTS for the compiled Bayesian path (:mod:`.compiled`): the chains of one dataset
in one compiled call, and the adaptation's starting scales from the Laplace approximation.

Both take the jaxified log density ``logp_fn(*values, *data)`` of a model structure and return
functions compiled on their first call and reused for every dataset of that structure (the
data are arguments, not constants).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmm_recovery.estimators.bayesian.config import BayesianConfig


def laplace(logp_fn: Any, iterations: int = 200, tolerance: float = 1e-6) -> Any:
    """A jitted ``laplace(z, data) -> (variances, ok)``: the diagonal of the inverse Hessian of
    the potential at its minimum, the Laplace approximation's marginal variances in the
    sampler's (unconstrained, flattened) coordinates. The minimum is found from ``z`` by damped
    Newton steps (Levenberg-Marquardt: a step that does not lower the potential is refused and
    the damping raised) until the largest gradient component is below ``tolerance``, at most
    ``iterations``; ``ok`` is false, and the variances one, where it is not or the Hessian there
    is not positive definite."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    def run(z: Any, data: Any) -> Any:
        flat, unravel = ravel_pytree(list(z))
        eye = jnp.eye(flat.size)

        def f(x: Any) -> Any:
            return -logp_fn(*unravel(x), *data)[0]

        value_and_grad, hess = jax.value_and_grad(f), jax.hessian(f)

        def searching(carry: Any) -> Any:
            i, _, _, g, _ = carry
            return (i < iterations) & ~(jnp.max(jnp.abs(g)) < tolerance)

        def newton(carry: Any) -> Any:
            i, x, fx, g, damping = carry
            trial = x + jnp.linalg.solve(hess(x) + damping * eye, -g)
            ft, gt = value_and_grad(trial)
            better = jnp.isfinite(ft) & (ft < fx)
            return (
                i + 1,
                jnp.where(better, trial, x),
                jnp.where(better, ft, fx),
                jnp.where(better, gt, g),
                jnp.where(better, damping / 3.0, damping * 4.0),
            )

        f0, g0 = value_and_grad(flat)
        _, x, _, g, _ = jax.lax.while_loop(searching, newton, (0, flat, f0, g0, 1.0))
        chol = jnp.linalg.cholesky(hess(x))
        var = jnp.diag(jax.scipy.linalg.cho_solve((chol, True), eye))
        ok = (jnp.max(jnp.abs(g)) < tolerance) & jnp.all(jnp.isfinite(var)) & jnp.all(var > 0)
        return jnp.where(ok, var, jnp.ones_like(var)), ok

    return jax.jit(run)


def chain(logp_fn: Any, cfg: BayesianConfig) -> Any:
    """``one_chain(key, z0, inverse_mass, data) -> (draws, stats)``: one NUTS chain of
    NumPyro's kernel (``numpyro.infer.hmc.hmc``) on the log density ``logp_fn`` with ``data``:
    ``cfg.tune`` warm-up iterations of its windowed step-size and diagonal mass-matrix
    adaptation (started from ``inverse_mass``; None: the identity), then ``cfg.draws`` draws
    (unconstrained) with the sampler statistics of
    :data:`~mmm_recovery.estimators.bayesian.batched.STAT_NAMES`."""
    import jax
    from numpyro.infer.hmc import hmc

    def potential_fn_gen(*data: Any) -> Any:
        def potential(z: Any) -> Any:
            return -logp_fn(*z, *data)[0]

        return potential

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def one_chain(key: Any, z0: Any, inverse_mass: Any, data: Any) -> Any:
        key, _ = jax.random.split(key)  # as numpyro.infer.HMC.init splits a chain's key
        state = init_kernel(
            z0,
            num_warmup=cfg.tune,
            inverse_mass_matrix=inverse_mass,
            target_accept_prob=cfg.target_accept,
            adapt_step_size=True,
            adapt_mass_matrix=True,
            dense_mass=False,
            model_args=data,
            rng_key=key,
        )

        def step(state: Any, _: Any) -> Any:
            state = sample_kernel(state, model_args=data)
            stats = (
                state.diverging,
                state.num_steps,
                state.energy,
                state.potential_energy,
                state.adapt_state.step_size,
                state.accept_prob,
            )
            return state, (state.z, stats)

        state = jax.lax.fori_loop(
            0, cfg.tune, lambda _, s: sample_kernel(s, model_args=data), state
        )
        return jax.lax.scan(step, state, None, length=cfg.draws)[1]

    return one_chain


def sampler(logp_fn: Any, cfg: BayesianConfig) -> Any:
    """A ``run(keys, z0, inverse_mass, data) -> (draws, stats)`` for ``cfg.chains`` chains of
    :func:`chain`, shared out over JAX's CPU devices (one per core, the chains of a device one
    after the other), compiled on its first call and reused for every dataset of the
    structure."""
    import os

    import jax
    import jax.numpy as jnp

    one_chain = chain(logp_fn, cfg)

    devices = jax.local_devices()
    n_dev = max(1, min(len(devices), cfg.chains, os.cpu_count() or 1))
    while cfg.chains % n_dev:
        n_dev -= 1
    per = cfg.chains // n_dev

    def device_lanes(keys: Any, z0: Any, inverse_mass: Any, data: Any) -> Any:
        def lane(args: Any) -> Any:
            key, start, mass = args
            return one_chain(key, start, mass, data)

        return jax.lax.map(lane, (keys, z0, inverse_mass))

    mapped = jax.pmap(device_lanes, in_axes=(0, 0, 0, None), devices=devices[:n_dev])

    def run(keys: Any, z0: Any, inverse_mass: Any, data: Any) -> Any:
        def shard(a: Any) -> Any:
            return jnp.asarray(a).reshape(n_dev, per, *np.shape(a)[1:])

        out = mapped(shard(keys), [shard(a) for a in z0], shard(inverse_mass), list(data))
        return jax.tree_util.tree_map(lambda a: a.reshape(cfg.chains, *a.shape[2:]), out)

    return run
