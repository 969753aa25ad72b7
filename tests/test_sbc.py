"""Simulation-based calibration (:mod:`mmm_recovery.evaluation.sbc`): its uniformity test holds
its level and has power, its block is validated, and on a tiny design it passes the estimator's
own model and fails a deliberately wrong one (the negative control)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mmm_recovery.core import paths
from mmm_recovery.core.spec import SpecError, load_study
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.evaluation import sbc

#: the mis-scaled prior of the negative control: lam's prior mean 4x the one that drew the data


def test_uniformity_test_holds_its_level_and_detects_skewed_ranks():
    """Under uniform ranks the ECDF test's p-value is uniform (rejects at 5% about 5% of the
    time); ranks skewed like a posterior sitting too high are rejected almost always."""
    rng = np.random.default_rng(1)
    n, n_ranks = 100, 99
    ref = sbc.reference_statistics(n, 1000, rng)

    def p_value(ranks):
        stat = sbc.ecdf_statistic(sbc.randomised_pit(ranks, n_ranks, rng))
        return (1 + np.sum(ref <= stat)) / (1 + len(ref))

    null = np.array([p_value(rng.integers(0, n_ranks + 1, n)) for _ in range(400)])
    # 400 tests at level 0.05: 20 expected rejections, sd 4.4; three sd either side
    assert 7 <= np.sum(null < 0.05) <= 33
    skewed = [p_value(np.floor(rng.beta(1.0, 1.6, n) * (n_ranks + 1))) for _ in range(50)]
    assert np.mean(np.array(skewed) < 0.05) > 0.9


def test_randomised_pit_is_uniform_for_uniform_ranks():
    rng = np.random.default_rng(2)
    u = sbc.randomised_pit(rng.integers(0, 10, 20000), 9, rng)
    assert 0 < u.min() and u.max() < 1
    np.testing.assert_allclose(np.quantile(u, [0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.01)


def _study_with(tmp_path, sbc_block):
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["sbc"] = {**raw["sbc"], **sbc_block}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"scenario": "nope"}, "sbc.scenario: unknown scenario 'nope'"),
        ({"channels": ["tv", "radio"]}, r"sbc.channels: \['radio'\] not channels"),
        ({"channels": ["tv", "tv"]}, "channels must be distinct"),
        ({"estimator": "frequentist2"}, "sbc.estimator: 'frequentist2' is not in estimators"),
        ({"simulations": 1}, "sbc.simulations"),
        ({"alpha": 0.7}, "sbc.alpha"),
        ({"ranks": 5}, "sbc.ranks"),
        ({"n_weeks": 20}, "sbc.n_weeks"),
        ({"colour": 1}, "sbc.colour: unknown key"),
    ],
)
def test_a_bad_sbc_block_is_refused_naming_the_key(tmp_path, block, message):
    with pytest.raises(SpecError, match=message):
        load_study(_study_with(tmp_path, block))


def test_prior_draws_are_seeded_and_use_each_designs_data(smoke_study):
    """A draw depends only on its seed (parameters) and its design (the data it is drawn on)."""
    from mmm_recovery.estimators.bayesian import batched

    cfg = BayesianConfig.model_validate(smoke_study.estimators["bayesian"])
    scenario = smoke_study.scenario(smoke_study.sbc.scenario)
    inputs = [
        sbc.design_input(scenario, smoke_study.sbc, sbc.simulation_seeds(1, i)[0]) for i in (0, 1)
    ]
    mmms = [batched.build_model(cfg, fi, x0_shared=True) for fi in inputs]
    draw = sbc.PriorDraw(batched.build_model(cfg, inputs[0], x0_shared=True))
    a, again, other = draw(mmms[0], 7), draw(mmms[0], 7), draw(mmms[1], 7)
    for name in a:
        np.testing.assert_array_equal(a[name], again[name], err_msg=name)
    np.testing.assert_array_equal(a["saturation_lam"], other["saturation_lam"])
    assert not np.allclose(a["mu"], other["mu"])  # same parameters, other spend
    assert len(a[draw.observed]) == smoke_study.sbc.n_weeks


def test_the_real_model_passes_every_uniformity_test(smoke_study):
    """On the smoke study's tiny design, the estimator fitted with the priors that drew the data
    passes every uniformity test. Every simulation is kept, converged or not."""
    settings = smoke_study.sbc
    ranks, fits = sbc.run(smoke_study)
    good = sbc.metrics(ranks, fits, settings, smoke_study.study.base_seed)
    assert len(fits) == settings.simulations == good["simulations"]
    per_sim = ranks.groupby("simulation")["quantity"].count()
    assert len(per_sim) == settings.simulations and per_sim.nunique() == 1
    assert ranks["rank"].between(0, settings.ranks).all()
    assert {"log_likelihood", "intercept", "y_sigma", "roas[tv]", "saturation_beta[tv]"} <= set(
        ranks["quantity"]
    )
    assert good["failed"] == [], good["quantities"]
