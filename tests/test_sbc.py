"""Simulation-based calibration (:mod:`mmm_recovery.evaluation.sbc`): its uniformity test holds
its level and has the power the study file claims, its block is validated, a deliberately
miscalibrated posterior at the study's N fails it, and on a tiny design the study's own fit
function passes it, resumes from its records and writes the same bytes twice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import bdtr

from mmm_recovery.core import files, paths
from mmm_recovery.core.sbc_spec import SBCPower
from mmm_recovery.core.spec import SpecError, load_study
from mmm_recovery.evaluation import sbc, sbc_draw, sbc_metrics
from mmm_recovery.evaluation.sbc_uniformity import (
    ECDFTest,
    misspecified_ranks,
    power,
    randomised_pit,
)


def _direct_statistic(u: np.ndarray) -> float:
    """Säilynoja et al.'s statistic computed point by point (no table)."""
    n = len(u)
    z = np.arange(1, n) / n
    counts = np.searchsorted(np.sort(u), z, side="right")
    lower = bdtr(counts, n, z)
    upper = np.where(counts > 0, 1.0 - bdtr(np.maximum(counts - 1, 0), n, z), 1.0)
    return float(np.min(2.0 * np.minimum(lower, upper)))


def test_tabulated_statistic_equals_the_direct_one():
    rng = np.random.default_rng(0)
    test = ECDFTest(50, 100, 1)
    u = rng.random((20, 50)) ** np.linspace(0.5, 2.0, 20)[:, None]  # uniform and skewed rows
    np.testing.assert_allclose(test.statistics(u), [_direct_statistic(r) for r in u], rtol=1e-12)


def test_uniformity_test_holds_its_level_and_detects_skewed_ranks():
    """Under uniform ranks the p-value rejects at 5% about 5% of the time; ranks skewed like a
    posterior sitting too high are rejected almost always."""
    rng = np.random.default_rng(1)
    n, n_ranks = 100, 99
    test = ECDFTest(n, 2000, 3)
    null = test.p_values(test.statistics(randomised_pit(rng.integers(0, 100, (400, n)), 99, rng)))
    # 400 tests at level 0.05: 20 expected rejections, sd 4.4; three sd either side
    assert 7 <= np.sum(null < 0.05) <= 33
    skewed = np.floor(rng.beta(1.0, 1.6, (50, n)) * (n_ranks + 1))
    p = test.p_values(test.statistics(randomised_pit(skewed, n_ranks, rng)))
    assert np.mean(p < 0.05) > 0.9


def test_power_grows_with_the_number_of_simulations():
    """The simulated power against a too-narrow posterior rises with N, and a calibrated
    posterior is rejected at about the test's level."""
    rng = np.random.default_rng(2)
    small, big = ECDFTest(50, 2000, 1), ECDFTest(400, 2000, 1)
    p_small = power(small, 99, 0.01, rng, narrow=0.2, repeats=400)[0]
    p_big = power(big, 99, 0.01, rng, narrow=0.2, repeats=400)[0]
    size, se = power(big, 99, 0.05, rng, repeats=1000)
    assert p_small < p_big
    assert abs(size - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 1000)
    assert se > 0


def test_randomised_pit_is_uniform_for_uniform_ranks():
    rng = np.random.default_rng(2)
    u = randomised_pit(rng.integers(0, 10, 20000), 9, rng)
    assert 0 < u.min() and u.max() < 1
    np.testing.assert_allclose(np.quantile(u, [0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.01)


def _study_with(tmp_path, sbc_block, arm_block=None):
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["sbc"] = {**raw["sbc"], **sbc_block}
    if arm_block is not None:
        raw["sbc"]["arms"]["study"] = {**raw["sbc"]["arms"]["study"], **arm_block}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


@pytest.mark.parametrize(
    ("block", "arm", "message"),
    [
        ({"scenario": "nope"}, None, "sbc.scenario: unknown scenario 'nope'"),
        ({}, {"channels": ["tv", "radio"]}, r"sbc.arms.study.channels: \['radio'\] not channels"),
        ({}, {"channels": ["tv", "tv"]}, "channels must be distinct"),
        (
            {},
            {"lift_tests": [{"channel": "ooh", "spend_change": -1, "standard_error": 0.1}]},
            "sbc.arms.study: .*ooh",
        ),
        ({"estimator": "frequentist2"}, None, "sbc.estimator: 'frequentist2' is not in estimators"),
        ({"simulations": 1}, None, "sbc.simulations"),
        ({"alpha": 0.7}, None, "sbc.alpha"),
        ({"ranks": 5}, None, "sbc.ranks"),
        ({}, {"n_weeks": 20}, "sbc.arms.study.n_weeks"),
        ({"follow_up": ["radio"]}, None, r"sbc.follow_up: \['radio'\]"),
        ({"arms": {}}, None, "sbc.arms"),
        ({"colour": 1}, None, "sbc.colour: unknown key"),
    ],
)
def test_a_bad_sbc_block_is_refused_naming_the_key(tmp_path, block, arm, message):
    with pytest.raises(SpecError, match=message):
        load_study(_study_with(tmp_path, block, arm))


def _planted_ranks(settings, n, quantities, rng, narrow=None, bias=None):
    """Rank tables of one arm: every quantity calibrated except ``narrow`` (posterior sd
    ``settings.power.narrow`` too small) and ``bias`` (``settings.power.bias`` sd off)."""
    rows = []
    for q in quantities:
        kw = {}
        if q == narrow:
            kw["narrow"] = settings.power.narrow
        if q == bias:
            kw["bias"] = settings.power.bias
        r = misspecified_ranks(rng, (n,), settings.ranks, **kw)
        rows.append(
            pd.DataFrame(
                {
                    "arm": "study",
                    "simulation": np.arange(n),
                    "quantity": q,
                    "rank": r,
                    "truth": rng.standard_normal(n),
                    "posterior_mean": 0.0,
                    "posterior_sd": 0.5,
                    "converged": True,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_negative_control_a_too_narrow_posterior_fails_at_the_study_n(default_study):
    """At the default study's N and number of quantities, the check flags a posterior 20% too
    narrow and one 0.3 sd off in most runs (its stated power), and calibrated quantities hold the
    family-wise level."""
    settings = default_study.sbc.model_copy(update={"power": SBCPower(repeats=100)})
    n, names = settings.simulations, [f"q{k}" for k in range(33)]
    fits = pd.DataFrame({"arm": "study", "simulation": range(n), "converged": True})
    fits["divergences"] = 0
    decisions = pd.DataFrame(columns=list(sbc.DECISION_COLUMNS))
    rng = np.random.default_rng(11)
    caught_narrow = caught_bias = false_alarms = 0
    runs = 20
    for k in range(runs):
        ranks = _planted_ranks(settings, n, names, rng, narrow="q0", bias="q1")
        arm = sbc_metrics.arm_metrics(ranks, fits, decisions, settings, "study", seed=k)
        caught_narrow += "q0" in arm["failed"]
        caught_bias += "q1" in arm["failed"]
        false_alarms += bool(set(arm["failed"]) - {"q0", "q1"})
    # stated power >= 0.8 at this N: 20 runs catch >= 12 with probability > 0.99
    assert caught_narrow >= 12 and caught_bias >= 12, (caught_narrow, caught_bias)
    # family-wise level 0.05 over 31 calibrated quantities: <= 4 of 20 with probability > 0.98
    assert false_alarms <= 4


def test_committed_sbc_metrics_state_a_met_power():
    """The committed ``sbc.json`` runs at least the powered N in every arm, with each quantity's
    verdict, contraction and the p-value's Monte Carlo error at the threshold below 10%."""
    m = files.read_json(paths.REPORTS / "metrics" / sbc.METRICS_FILE)
    for arm, block in m["arms"].items():
        assert block["power"]["met"], (arm, block["power"])
        assert block["p_value_relative_error"] < 0.1
        for q in block["quantities"].values():
            assert {"verdict", "contraction", "weak_test", "p_value"} <= set(q)


def test_prior_draws_are_seeded_and_use_each_designs_data(smoke_study):
    """A draw depends only on its seed (parameters) and its design (the data it is drawn on)."""
    from mmm_recovery.estimators import registry

    cfg = registry.config_for("bayesian", smoke_study.estimators["bayesian"])
    designs = [
        sbc_draw.design_input(smoke_study, "study", sbc_draw.simulation_seeds(1, i)[0])
        for i in (0, 1)
    ]
    a, again = sbc_draw.draw(cfg, designs[0], 7), sbc_draw.draw(cfg, designs[0], 7)
    other = sbc_draw.draw(cfg, designs[1], 7)
    for name in a.values:
        np.testing.assert_array_equal(a.values[name], again.values[name], err_msg=name)
    np.testing.assert_array_equal(a.values["saturation_lam"], other.values["saturation_lam"])
    assert not np.allclose(a.values["mu"], other.values["mu"])  # same parameters, other spend
    assert len(a.y) == smoke_study.sbc.arms["study"].n_weeks
    target = a.fit_input.data[a.fit_input.target].to_numpy()
    np.testing.assert_allclose(target, a.y * a.target_scale)
