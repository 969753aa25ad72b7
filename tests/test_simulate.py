"""Simulator: determinism, truth consistency, and the answer key's definitions."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mmm_recovery.core.response import ChannelResponse
from mmm_recovery.simulation.simulate import SimulatedDataset, simulate, simulate_scenario


@pytest.mark.parametrize("scenario", ["base", "hill_truth"])
def test_same_seed_same_bytes(tmp_path, smoke_study, scenario):
    spec = smoke_study.scenario(scenario)
    a = simulate(spec, smoke_study.rng(scenario, 0)).save(tmp_path / "a")
    b = simulate(spec, smoke_study.rng(scenario, 0)).save(tmp_path / "b")
    c = simulate(spec, smoke_study.rng(scenario, 1)).save(tmp_path / "c")
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    assert (
        hashlib.sha256(a["data"].read_bytes()).digest()
        != hashlib.sha256(c["data"].read_bytes()).digest()
    )


@pytest.mark.parametrize(
    "scenario",
    [
        "baseline",
        "misspecification-weibull-hill",
        "core-w104-snr1_5-r08-search",
        "confounding-shock_control",
        "random_truth",
    ],
)
def test_truth_consistency(default_study, scenario):
    spec = default_study.scenario(scenario)
    ds = simulate(spec, default_study.rng(scenario, 0))
    w = ds.weekly
    contrib = w[[f"contribution_{c}" for c in spec.channel_names]].sum(axis=1)
    # sum of true contributions + base (+ controls) == noiseless target
    np.testing.assert_allclose(
        contrib + w["base"] + w["competitor_effect"] + w["event_effect"] + w["demand_shock_effect"],
        w["mu"],
        rtol=1e-12,
    )
    # contributions recomputed from the data's spend with the truth's parameters
    for c in spec.channel_names:
        r = ChannelResponse.from_dict(ds.truth["channels"][c])
        np.testing.assert_allclose(
            r.contribution(ds.data[c].to_numpy()), w[f"contribution_{c}"], rtol=1e-12
        )
        t = ds.truth["channels"][c]
        assert t["roas"] == pytest.approx(w[f"contribution_{c}"].sum() / ds.data[c].sum())
    shares = [ds.truth["channels"][c]["contribution_share"] for c in spec.channel_names]
    assert sum(shares) == pytest.approx(1.0)


def test_noise_level_matches_its_sd_or_snr(default_study, smoke_study):
    spec = default_study.scenario("baseline")
    ds = simulate(spec, default_study.rng("baseline", 0))
    resid = ds.data["y"] - ds.weekly["mu"]
    # 208 draws: the sample sd of the noise is within ~15% of its target with high probability
    assert resid.std(ddof=0) == pytest.approx(spec.noise.sd, rel=0.15)
    assert ds.truth["noise"]["snr"] == pytest.approx(ds.weekly["mu"].std(ddof=0) / spec.noise.sd)
    base = smoke_study.scenario("base")  # a study that sets the ratio instead
    ds = simulate(base, smoke_study.rng("base", 0))
    resid = ds.data["y"] - ds.weekly["mu"]
    assert ds.weekly["mu"].std(ddof=0) / resid.std(ddof=0) == pytest.approx(base.noise.snr, rel=0.2)


def test_spend_is_realistic(default_study):
    spec = default_study.scenario("baseline")
    ds = simulate(spec, default_study.rng("baseline", 0))
    for name, ch in spec.channels.items():
        x = ds.data[name].to_numpy()
        assert (x >= 0).all()
        on = x > 0
        if ch.active_share < 1:
            assert 0 < (~on).sum() < len(x), f"{name}: flighting should create some zero weeks"
            # on-share within +-0.2 of the target (bursty Markov chain, 208 weeks)
            assert on.mean() == pytest.approx(ch.active_share, abs=0.2)
        assert x[on].mean() == pytest.approx(ch.mean_spend, rel=0.35)


def test_correlation_scenario_correlates_spend(default_study):
    def mean_corr(name):
        spec = default_study.scenario(name)
        logs = []
        for r in range(default_study.replicates_of(name)):
            d = simulate(spec, default_study.rng(name, r)).data
            x = d[["facebook", "search"]].to_numpy()  # always-on(ish) channels
            x = np.log(x[(x > 0).all(axis=1)])
            logs.append(np.corrcoef(x.T)[0, 1])
        return np.mean(logs)

    assert mean_corr("core-w208-snr4-r08-none") > mean_corr("baseline") + 0.4


def test_truth_marginal_roas_is_curve_slope(default_study):
    mis = "misspecification-weibull-hill"
    ds = simulate(default_study.scenario(mis), default_study.rng(mis, 0))
    for c, t in ds.truth["channels"].items():
        r = ChannelResponse.from_dict(t)
        s, h = t["mean_weekly_spend"], 1e-2
        numeric = (r.steady_state(s + h) - r.steady_state(s - h)) / (2 * h)
        assert t["mroas"] == pytest.approx(float(numeric), rel=1e-6), c
        # curve grid is absolute (spec mean_spend), identical across replicates
    other = simulate(default_study.scenario(mis), default_study.rng(mis, 1)).truth
    for c in ds.truth["channels"]:
        for key in ("spend", "response"):
            np.testing.assert_array_equal(
                ds.truth["channels"][c]["curve"][key], other["channels"][c]["curve"][key]
            )


def test_simulate_scenario_writes_every_replicate(tmp_path, smoke_study):
    sets = simulate_scenario(smoke_study, "base", data_root=tmp_path)
    assert len(sets) == smoke_study.study.replicates
    for r in range(smoke_study.study.replicates):
        back = SimulatedDataset.load(tmp_path / "base" / "simulated" / f"rep_{r:03d}")
        np.testing.assert_allclose(back.data["y"], sets[r].data["y"])
    assert not list(tmp_path.rglob("*.tmp*")), "no temp files left behind"


def test_written_values_survive_last_bit_differences(tmp_path, default_study):
    """Simulated files hold currency to the cent and the competitor index to 6 decimals, so a
    machine whose floating-point results differ in the last bits (numpy's vectorised exp/log
    differ across CPU instruction sets) writes the same bytes: the data rounded after a
    perturbation of a few ulps is the data."""
    from mmm_recovery.core import files

    spec = default_study.scenario("baseline")
    ds = simulate(spec, default_study.rng("baseline", 0))
    currency = [files.TARGET_COLUMN, *spec.channel_names]
    decimals = {
        **dict.fromkeys(currency, files.CURRENCY_DECIMALS),
        "competitor": files.INDEX_DECIMALS,
    }
    for column, places in decimals.items():
        values = ds.data[column].to_numpy()
        np.testing.assert_array_equal(values, np.round(values, places), err_msg=column)
        for ulps in (-4, 4):
            nudged = values + ulps * np.spacing(values)
            np.testing.assert_array_equal(np.round(nudged, places), values, err_msg=column)
    weekly = ds.weekly.drop(columns=files.DATE_COLUMN).to_numpy()
    written = np.round(weekly, files.TRUTH_DECIMALS)
    for ulps in (-4, 4):
        nudged = np.round(weekly + ulps * np.spacing(weekly), files.TRUTH_DECIMALS)
        np.testing.assert_array_equal(nudged, written)


def test_answer_key_survives_last_bit_differences(default_study):
    """``truth.json`` holds its floats at ``files.TRUTH_SIGNIFICANT_DIGITS`` significant digits,
    so a few ulps' difference in the sums it is computed from does not change its bytes (exact
    zeros, such as the response at zero spend, are zero on any machine)."""
    from mmm_recovery.core import files

    digits = files.TRUTH_SIGNIFICANT_DIGITS
    lift = "core-w208-snr4-r0-search"
    ds = simulate(default_study.scenario(lift), default_study.rng(lift, 0))

    def floats(obj):
        if isinstance(obj, dict):
            return [f for v in obj.values() for f in floats(v)]
        if isinstance(obj, list):
            return [f for v in obj for f in floats(v)]
        return [obj] if isinstance(obj, float) and np.isfinite(obj) and obj != 0 else []

    values = np.array(floats(ds.truth))
    assert values.size > 200 and "lift_tests" in ds.truth
    assert files.round_significant(ds.truth, digits) == ds.truth
    for ulps in (-4, 4):
        nudged = values + ulps * np.spacing(values)
        assert files.round_significant(list(nudged), digits) == list(values)


def test_round_significant_keeps_structure_and_non_floats():
    from mmm_recovery.core import files

    obj = {"a": [1.23456789012, 2], "b": np.array([0.000123456789]), "c": float("nan"), "d": "x"}
    out = files.round_significant(obj, 4)
    assert out["a"] == [1.235, 2] and out["b"] == [0.0001235] and out["d"] == "x"
    assert np.isnan(out["c"]) and isinstance(out["a"][1], int)
