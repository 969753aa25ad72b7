"""The compiled fit path of the Bayesian estimator (:mod:`mmm_recovery.estimators.bayesian.compiled`)
and the adstock as gather + matmul (:mod:`~mmm_recovery.estimators.bayesian.gather_conv`)."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_recovery.core.results import FitInput
from mmm_recovery.estimators.bayesian import compiled
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.estimators.bayesian.estimator import BayesianMMM
from mmm_recovery.simulation.simulate import simulate

#: gather + matmul equals XLA's convolution to this (absolute, on values of order one)
CONV_ATOL = 1e-12
#: the compiled log density equals each dataset's own PyMC log density to this (relative)
LOGP_RTOL = 1e-9


def _inputs(study, scenario="base", replicates=(0, 1)):
    return [
        FitInput.from_simulated(
            simulate(study.scenario(scenario), study.rng(scenario, r)), study.study.holdout_weeks
        )
        for r in replicates
    ]


@pytest.mark.parametrize("full", [False, True], ids=["valid", "full"])
def test_gather_convolution_equals_xla_convolution_in_value_and_gradient(full):
    import jax
    import jax.numpy as jnp

    from mmm_recovery.estimators.bayesian.gather_conv import convolve

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    mode = "full" if full else "valid"
    for n, k in [(30, 12), (12, 12), (208, 8), (5, 1)]:
        x, w = jnp.asarray(rng.normal(size=n)), jnp.asarray(rng.uniform(size=k))
        np.testing.assert_allclose(
            convolve(x, w, full), jnp.convolve(x, w, mode=mode), rtol=0, atol=CONV_ATOL
        )
        cot = jnp.asarray(rng.normal(size=jnp.convolve(x, w, mode=mode).shape))

        def ours_loss(x, w, cot=cot):
            return jnp.sum(convolve(x, w, full) * cot)

        def xla_loss(x, w, cot=cot):
            return jnp.sum(jnp.convolve(x, w, mode=mode) * cot)

        ours = jax.grad(ours_loss, (0, 1))(x, w)
        xla = jax.grad(xla_loss, (0, 1))(x, w)
        for a, b in zip(ours, xla, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=CONV_ATOL)


def test_the_switch_changes_only_how_pytensor_lowers_the_adstock():
    """PyMC-Marketing's geometric adstock of a (weeks, channels) spend lowered to JAX with and
    without the switch: the same values and gradients; outside the switch PyTensor's own
    lowering is used (its jaxpr has a convolution, the switched one none)."""
    import jax
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pymc_marketing.mmm.transformers import geometric_adstock
    from pytensor.xtensor import as_xtensor

    from mmm_recovery.estimators.bayesian.gather_conv import gather_convolution

    x = pt.matrix("x")
    alpha = pt.vector("alpha")
    y = geometric_adstock(
        as_xtensor(x, dims=("date", "channel")),
        as_xtensor(alpha, dims=("channel",)),
        l_max=8,
        normalize=True,
        dim="date",
    )
    out = (y.values**2).sum()
    own = get_jaxified_graph(inputs=[x, alpha], outputs=[out])
    with gather_convolution():
        switched = get_jaxified_graph(inputs=[x, alpha], outputs=[out])
    rng = np.random.default_rng(1)
    xv, av = rng.uniform(size=(52, 3)), np.array([0.2, 0.5, 0.8])
    np.testing.assert_allclose(switched(xv, av)[0], own(xv, av)[0], rtol=1e-12)
    g_own = jax.grad(lambda a: own(xv, a)[0])(av)
    g_switched = jax.grad(lambda a: switched(xv, a)[0])(av)
    np.testing.assert_allclose(g_switched, g_own, rtol=1e-12)
    assert "conv_general_dilated" in str(jax.make_jaxpr(lambda a: own(xv, a)[0])(av))
    assert "conv_general_dilated" not in str(jax.make_jaxpr(lambda a: switched(xv, a)[0])(av))


@pytest.mark.parametrize("scenario", ["base", "hill_truth"])
def test_one_structure_compiles_once_and_takes_each_datasets_data(smoke_study, scenario):
    """Two replicates of one scenario (hill_truth: with a lift test, whose numbers differ)
    share one compiled model; at jittered points its log density fed each dataset's data equals
    that dataset's own PyMC log density; a dataset of another length gets its own."""
    cfg = BayesianConfig.model_validate(smoke_study.estimators["bayesian"])
    compiled._CACHE.clear()
    fis = _inputs(smoke_study, scenario)
    built = [compiled.build(cfg, fi) for fi in fis]
    cs = [compiled.compiled_for(cfg, fi, m) for fi, m in zip(fis, built, strict=True)]
    assert cs[0] is cs[1] and len(compiled._CACHE) == 1
    c = cs[0]
    rng = np.random.default_rng(3)
    for mmm in built:
        own = compiled.data_values(mmm)
        data = [own[n] for n in c.data_names]
        logp = mmm.model.compile_logp()
        start = compiled._initial_point(c, 7, data)
        for _ in range(3):
            point = {
                n: np.asarray(v) + rng.normal(0.0, 0.3, np.shape(v))
                for n, v in zip(c.value_names, start, strict=True)
            }
            got = float(c.logp(*(point[n] for n in c.value_names), *data)[0])
            assert got == pytest.approx(float(logp(point)), rel=LOGP_RTOL)
    if scenario != "base":
        assert len(fis[0].lift_tests) and not fis[0].lift_tests.equals(fis[1].lift_tests)
        return
    shorter = FitInput.from_simulated(
        simulate(smoke_study.scenario("base"), smoke_study.rng("base", 0)),
        smoke_study.study.holdout_weeks + 4,
    )
    assert compiled.structure_key(cfg, shorter) != compiled.structure_key(cfg, fis[0])
    lifted = _inputs(smoke_study, "hill_truth", (0,))[0]
    assert compiled.structure_key(cfg, lifted) != compiled.structure_key(cfg, fis[0])


def test_the_laplace_start_finds_the_mode_and_positive_variances(smoke_study):
    import jax.numpy as jnp

    cfg = BayesianConfig.model_validate(smoke_study.estimators["bayesian"])
    fi = _inputs(smoke_study, replicates=(0,))[0]
    mmm = compiled.build(cfg, fi)
    c = compiled.compiled_for(cfg, fi, mmm)
    own = compiled.data_values(mmm)
    data = [jnp.asarray(own[n]) for n in c.data_names]
    start = [jnp.asarray(v) for v in compiled._initial_point(c, 5, data)]
    var, ok = c.laplace(start, data)
    assert bool(ok)
    assert np.all(np.isfinite(var)) and np.all(np.asarray(var) > 0)
    assert not np.allclose(var, 1.0)  # not the identity it falls back to


def test_compiled_fit_is_reproducible_and_reports_its_start(smoke_study):
    """The same dataset and seed give the same draws from a warm cache and after recompiling,
    and the fit records how its adaptation started."""
    fi = _inputs(smoke_study, replicates=(0,))[0]
    est = BayesianMMM(smoke_study.estimators["bayesian"])
    assert est.config.fit_path == "compiled"

    def draws():
        r = est.fit(fi, smoke_study.estimator_rng("base", 0, "bayesian"))
        post = r.extras["idata"]["posterior"]
        return r, np.asarray(post["adstock_alpha"].values)

    first, a = draws()
    _, b = draws()
    compiled._CACHE.clear()
    _, c = draws()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert first.diagnostics["adaptation_start"] in ("laplace", "identity")
    assert first.diagnostics["sampler"] == "numpyro"
    assert {"posterior", "sample_stats", "log_likelihood", "log_prior"} <= set(
        first.extras["idata"].children
    )
