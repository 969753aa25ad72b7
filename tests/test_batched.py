"""The batched Bayesian path (:mod:`mmm_recovery.estimators.bayesian.batched`): one compiled
model, many datasets. Its log density is each dataset's own, and its posterior is the per-dataset
path's (the oracle) within Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_recovery.core.results import FitInput
from mmm_recovery.estimators.bayesian import batched
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.estimators.bayesian.estimator import BayesianMMM
from mmm_recovery.simulation.simulate import simulate

#: the batched and the per-dataset log density agree to this (relative), at any point
LOGP_RTOL = 1e-9
#: posterior means of the two paths agree within this many Monte Carlo standard errors of their
#: difference (4: a false alarm about once in 16,000 comparisons if both are right)
MCSE_UNITS = 4.0

#: every coordinate system and saturation family the Bayesian estimator supports
COORDINATES = {
    "logistic-effect-level": {},
    "logistic-beta": {"logistic_parametrization": "beta", "intercept_parametrization": "intercept"},
    "logistic-effect-intercept": {"intercept_parametrization": "intercept"},
    "hill": {"saturation": "hill", "intercept_parametrization": "intercept"},
}


def _inputs(study, scenario="base", replicates=(0, 1)):
    return [
        FitInput.from_simulated(
            simulate(study.scenario(scenario), study.rng(scenario, r)), study.study.holdout_weeks
        )
        for r in replicates
    ]


@pytest.mark.parametrize("coords", list(COORDINATES), ids=list(COORDINATES))
def test_batched_logp_equals_each_datasets_own(smoke_study, coords):
    """At jittered points around each dataset's initial point, the one compiled log density fed
    dataset k's data equals the log density PyMC compiles for dataset k's own model."""
    cfg = BayesianConfig.model_validate(
        {**smoke_study.estimators["bayesian"], **COORDINATES[coords]}
    )
    fis = _inputs(smoke_study)
    bm = batched.compile_batched(cfg, fis, [11, 12])
    assert bm.n_datasets == 2
    checked = 0
    for k, fi in enumerate(fis):
        own = batched.build_model(cfg, fi).model
        logp = own.compile_logp()
        rng = np.random.default_rng(k)
        for _ in range(4):
            start = bm.initial_points[k][0]
            point = {
                name: np.asarray(v) + rng.normal(0.0, 0.5, np.shape(v))
                for name, v in zip(bm.value_names, start, strict=True)
            }
            expected = float(logp(point))
            got = bm.logp([point[n] for n in bm.value_names], k)
            assert got == pytest.approx(expected, rel=LOGP_RTOL), (coords, k)
            checked += 1
    # the datasets differ, so the same point has different densities: the data are inputs
    point = bm.initial_points[0][0]
    assert bm.logp(point, 0) != pytest.approx(bm.logp(point, 1), rel=1e-6)
    assert checked == 8


def test_batched_refuses_what_it_cannot_batch(smoke_study):
    cfg = BayesianConfig.model_validate(smoke_study.estimators["bayesian"])
    lifted = _inputs(smoke_study, "hill_truth", (0,))[0]
    assert len(lifted.lift_tests)
    with pytest.raises(ValueError, match="lift tests"):
        batched.compile_batched(cfg, [lifted], [1])
    base = _inputs(smoke_study, replicates=(0,))[0]
    shorter = FitInput.from_simulated(
        simulate(smoke_study.scenario("base"), smoke_study.rng("base", 1)),
        smoke_study.study.holdout_weeks + 2,
    )
    with pytest.raises(ValueError, match="channel_data has shape"):
        batched.compile_batched(cfg, [base, shorter], [1, 2])


def _roas_draws(idata, fi: FitInput) -> np.ndarray:
    """Per-draw ROAS of each channel over the training weeks, (chain, draw, channel), from the
    model's own channel contribution (scaled target) and the spend."""
    post = idata["posterior"]
    contrib = post["channel_contribution"].transpose("chain", "draw", "date", "channel")
    contrib = contrib.sel(channel=fi.channels).values.sum(axis=2)
    scale = float(idata["constant_data"]["target_scale"].values)
    spend = fi.data[fi.channels].iloc[: fi.n_train].to_numpy(dtype=float).sum(axis=0)
    return contrib * scale / spend


def test_batched_posterior_agrees_with_the_per_dataset_path(smoke_study):
    """Same dataset, same settings: every channel's decay, lam, beta and ROAS have the same
    posterior mean within MCSE_UNITS Monte Carlo standard errors, the fit reports the same kinds
    of diagnostics, and the saved inference data has the same groups."""
    import arviz as az

    scenario = "base"
    fi = _inputs(smoke_study, scenario, (0,))[0]
    est = BayesianMMM(smoke_study.estimators["bayesian"])
    single = est.fit(fi, smoke_study.estimator_rng(scenario, 0, "bayesian"))
    (batch,) = est.fit_batch([fi], [smoke_study.estimator_rng(scenario, 0, "bayesian")])

    assert sorted(batch.extras["idata"].children) == sorted(single.extras["idata"].children)
    assert set(batch.diagnostics) == set(single.diagnostics)
    assert batch.to_dict()["channels"].keys() == single.to_dict()["channels"].keys()

    def draws(result, name):
        post = result.extras["idata"]["posterior"]
        return post[name].transpose("chain", "draw", "channel").sel(channel=fi.channels).values

    quantities = {
        name: (draws(batch, f"{name}"), draws(single, f"{name}"))
        for name in ("adstock_alpha", "saturation_lam", "saturation_beta")
    }
    quantities["roas"] = (
        _roas_draws(batch.extras["idata"], fi),
        _roas_draws(single.extras["idata"], fi),
    )
    for name, (a, b) in quantities.items():
        for i, channel in enumerate(fi.channels):
            se = np.hypot(
                float(az.mcse(a[..., i], method="mean")), float(az.mcse(b[..., i], method="mean"))
            )
            diff = abs(a[..., i].mean() - b[..., i].mean())
            assert diff <= MCSE_UNITS * se, (
                f"{name}[{channel}]: {diff:.4g} > {MCSE_UNITS} x {se:.3g}"
            )


def _batched_study(tmp_path, batch_size: int):
    """The smoke study with the Bayesian estimator only, run in batches of ``batch_size``."""
    import yaml

    from mmm_recovery.core import paths
    from mmm_recovery.core.spec import load_study

    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["study"] |= {"batch_size": batch_size, "workers": 1}
    raw["estimators"] = {"bayesian": raw["estimators"]["bayesian"]}
    f = tmp_path / f"study_{batch_size}.yaml"
    f.write_text(yaml.safe_dump(raw))
    return load_study(f)


def test_study_batches_group_one_scenario_and_estimator(tmp_path):
    from mmm_recovery.evaluation.tasks import Task, batches, fingerprint, tasks

    study = _batched_study(tmp_path, 2)
    todo = tasks(study)
    groups = batches(study, todo)
    assert [len(g) for g in groups] == [2, 2]  # 2 scenarios x 2 replicates
    assert all(len({(t.scenario, t.estimator) for t in g}) == 1 for g in groups)
    # every task once; within a batch in the study's order (replicate by replicate)
    flat = [t for g in groups for t in g]
    assert sorted(flat, key=todo.index) == todo and len(flat) == len(todo)
    assert all(sorted(g, key=todo.index) == g for g in groups)
    # a resumed study batches only what is left
    resumed = batches(study, todo[1:])
    assert sorted((t for g in resumed for t in g), key=todo.index) == todo[1:]
    assert all(len({t.scenario for t in g}) == 1 and len(g) <= 2 for g in resumed)
    assert sorted(len(g) for g in resumed) == [1, 2]  # the first replicate's partner alone
    # batched fits are other draws: their records are not the per-dataset path's
    single = _batched_study(tmp_path, 1)
    assert batches(single, todo) == [[t] for t in todo]
    task = Task("base", 0, "bayesian")
    assert fingerprint(study, task) != fingerprint(single, task)


def test_batched_study_writes_a_record_per_dataset_and_resumes(tmp_path):
    """batch_size 2: base's two replicates are fitted in one call, each with its own record;
    hill_truth's datasets have lift tests, so its batch falls back to one fit at a time; a rerun
    does nothing."""
    from mmm_recovery.core import files
    from mmm_recovery.evaluation.study import run_study
    from mmm_recovery.evaluation.tasks import tasks

    study = _batched_study(tmp_path, 2)
    root = tmp_path / "data"
    ran = run_study(study, data_root=root, progress=False)
    assert len(ran) == 4 and all(r["status"] == "ok" for r in ran)
    paths_used = {
        (t.scenario, t.replicate): files.read_json(t.path(root))["path"] for t in tasks(study)
    }
    assert paths_used == {
        ("base", 0): "batched",
        ("base", 1): "batched",
        ("hill_truth", 0): "per-dataset",
        ("hill_truth", 1): "per-dataset",
    }
    assert run_study(study, data_root=root, progress=False) == []


@pytest.mark.parametrize("layout", ["vectorize", "sequential"])
def test_a_dataset_gets_the_same_posterior_alone_or_in_a_batch(smoke_study, layout):
    """Dataset 1 fitted alone (in this device's default lane layout) and as the second of a
    batch of two in either layout (same seed): the same posterior within Monte Carlo error, so
    each lane of the batch runs on its own data, initial points and keys (a mix-up of the order
    would fail: the datasets differ), and the two layouts sample the same posterior."""
    import arviz as az

    cfg = BayesianConfig.model_validate(smoke_study.estimators["bayesian"])
    fis = _inputs(smoke_study)
    (alone,), _ = batched.sample(cfg, fis[1:], [22])
    pair, _ = batched.sample(cfg.model_copy(update={"batch_lanes": layout}), fis, [21, 22])
    for name in ("adstock_alpha", "saturation_lam"):
        a = alone["posterior"][name].values
        b = pair[1]["posterior"][name].values
        for i in range(a.shape[-1]):
            se = np.hypot(
                float(az.mcse(a[..., i], method="mean")), float(az.mcse(b[..., i], method="mean"))
            )
            assert abs(a[..., i].mean() - b[..., i].mean()) <= MCSE_UNITS * se, (name, i)
    assert pair[1]["sample_stats"]["lp"].shape == alone["sample_stats"]["lp"].shape


@pytest.mark.parametrize("lanes", [1, 3, 5])
def test_sequential_lanes_keep_each_lanes_result_in_its_place(lanes):
    """The sequential layout shares lanes out over the devices (padding to a multiple of
    them): every lane's result comes back in its own place, as under ``jax.vmap``."""
    import jax
    import jax.numpy as jnp

    def one(key, x, data):
        return x * data[0] + jax.random.uniform(key), (x.sum(), data[1])

    keys = jax.random.split(jax.random.PRNGKey(0), lanes)
    x = jnp.arange(lanes * 2.0).reshape(lanes, 2)
    data = [jnp.arange(lanes) + 1.0, jnp.arange(lanes) * 10.0]
    got = batched._sequential_lanes(one, (keys, x, data))
    want = jax.vmap(one)(keys, x, data)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)
