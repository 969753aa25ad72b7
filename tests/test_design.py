"""The study as a designed experiment: cells, derived replicates, common random numbers,
confounding, random truths, and one fit per shared dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from mmm_recovery.core import design, paths
from mmm_recovery.core.spec import SpecError, load_study
from mmm_recovery.simulation import simulate as sim
from mmm_recovery.simulation.simulate import simulate

CORE_REF = "core-w208-snr4-r0-none"


def _data(study, scenario, replicate=0):
    return simulate(study.scenario(scenario), study.rng(scenario, replicate))


def test_every_combination_of_levels_is_a_cell(default_study):
    arm = default_study.design.arms["core"]
    cells = arm.cells("core")
    assert len(cells) == math.prod(len(v) for v in arm.factors.values())
    assert next(iter(cells)) == CORE_REF  # the first levels: the reference cell
    assert default_study.cells["core-w104-snr1_5-r08-search"] == (
        "core",
        {"weeks": "w104", "noise": "snr1_5", "correlation": "r08", "lift": "search"},
    )
    high = default_study.scenario("core-w208-snr1_5-r0-none")
    assert high.noise.sd > default_study.scenario(CORE_REF).noise.sd


@pytest.mark.parametrize(
    ("aim", "cells", "expected"),
    [
        # V = p (1 - p) = 0.1875 at the planning coverage 0.75
        ({"measure": "coverage", "of": "cell", "target_mcse": 0.05}, 4, 75),
        ({"measure": "coverage", "of": "effect", "target_mcse": 0.05}, 16, 19),  # 4V/s^2/16
        ({"measure": "rel_error", "of": "cell", "target_mcse": 0.03}, 7, 100),  # 0.3^2/0.03^2
        ({"measure": "coverage", "of": "slope", "target_mcse": 0.5}, 1, design.MIN_REPLICATES),
    ],
)
def test_replicates_follow_from_the_target_precision(aim, cells, expected):
    assert design.Aim(**aim).replicates(design.Planning(), cells) == expected


def test_the_achieved_se_at_the_derived_replicates_meets_the_target():
    """The formula's promise, checked by its definition: a coverage main effect of a 2^4
    design at the derived replicates has SE 2 sqrt(V / N) <= the target."""
    plan = design.Planning()
    aim = design.Aim(measure="coverage", of="effect", target_mcse=0.04)
    n = 16 * aim.replicates(plan, 16)
    assert 2 * math.sqrt(plan.variance("coverage") / n) <= 0.04


def _with(raw_design, tmp_path):
    raw = yaml.safe_load(paths.DEFAULT_STUDY.read_text())
    raw["design"] = raw_design
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))  # order: levels, references
    return f


def test_two_factors_setting_one_key_are_refused(tmp_path):
    arm = {
        "aim": "x",
        "aims": [{"measure": "coverage", "of": "cell", "target_mcse": 0.2}],
        "factors": {
            "a": {"lo": {}, "hi": {"n_weeks": 104}},
            "b": {"lo": {}, "hi": {"n_weeks": 156}},
        },
    }
    with pytest.raises(SpecError, match=r"design.arms.x: factors 'a' and 'b' both set n_weeks"):
        load_study(_with({"arms": {"x": arm}}, tmp_path))


def test_a_bad_level_names_its_arm_and_key(tmp_path):
    arm = {
        "aim": "x",
        "aims": [{"measure": "coverage", "of": "cell", "target_mcse": 0.2}],
        "factors": {"a": {"lo": {}, "hi": {"noise": {"sd": -1.0}}}},
    }
    with pytest.raises(SpecError, match=r"scenarios.x-hi.noise.sd"):
        load_study(_with({"arms": {"x": arm}}, tmp_path))
    arm["aims"] = [{"measure": "coverage", "of": "cells", "target_mcse": 0.2}]
    with pytest.raises(SpecError, match=r"design.arms.x.aims.0.of"):
        load_study(_with({"arms": {"x": arm}}, tmp_path))


def test_cells_differing_only_in_noise_share_spend_and_noise_draws(default_study):
    """Common random numbers: the same spend, controls and noise shocks (scaled by the sd)."""
    lo, hi = _data(default_study, CORE_REF), _data(default_study, "core-w208-snr1_5-r0-none")
    for col in lo.data.columns.drop(["y"]):
        assert lo.data[col].equals(hi.data[col]), col
    eps_lo = (lo.data["y"] - lo.weekly["mu"]) / default_study.scenario(CORE_REF).noise.sd
    sd_hi = default_study.scenario("core-w208-snr1_5-r0-none").noise.sd
    eps_hi = (hi.data["y"] - hi.weekly["mu"]) / sd_hi
    np.testing.assert_allclose(eps_lo, eps_hi, atol=0.01 / 6000)  # to the cent
    # and another replicate draws other numbers
    other = _data(default_study, CORE_REF, 1)
    assert not other.data["tv"].equals(lo.data["tv"])


def test_a_shorter_cell_shares_its_first_weeks(default_study):
    long, short = _data(default_study, CORE_REF), _data(default_study, "core-w104-snr4-r0-none")
    for col in ("tv", "ooh", "search", "competitor", "event"):
        np.testing.assert_array_equal(short.data[col], long.data[col].iloc[:104], err_msg=col)


def test_a_lift_test_changes_no_other_draw(default_study):
    a, b = _data(default_study, CORE_REF), _data(default_study, "core-w208-snr4-r0-search")
    assert a.data.equals(b.data) and a.lift_tests.empty and len(b.lift_tests) == 1


def test_estimators_and_cells_share_the_fit_seed(default_study):
    seeds = {
        (s, e): default_study.estimator_rng(s, 0, e).integers(1 << 30)
        for s in (CORE_REF, "confounding-shock")
        for e in default_study.estimators
    }
    assert len(set(seeds.values())) == 1
    assert default_study.estimator_rng(CORE_REF, 1, "bayesian").integers(1 << 30) not in set(
        seeds.values()
    )


def _corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_confounded_spend_follows_demand(default_study):
    none = _data(default_study, "confounding-none")
    demand = _data(default_study, "confounding-search_demand")
    base = none.weekly["base"]
    assert _corr(demand.data["search"], base) > _corr(none.data["search"], base) + 0.3
    peaks = _data(default_study, "confounding-tv_peaks")
    season = none.weekly["seasonality"]
    high = season > season.median()
    on_share = lambda d: (d.data["tv"][high] > 0).mean() - (d.data["tv"][~high] > 0).mean()  # noqa: E731
    assert on_share(peaks) > on_share(none) + 0.2
    shock = _data(default_study, "confounding-shock")
    effect = shock.weekly["demand_shock_effect"]
    assert _corr(np.log(shock.data["search"]), effect) > 0.4
    assert "demand_index" not in shock.data and "demand_index" not in shock.truth["controls"]
    control = _data(default_study, "confounding-shock_control")
    assert control.truth["controls"][-1] == sim.DEMAND_INDEX
    assert _corr(control.data[sim.DEMAND_INDEX], effect) > 0.8
    assert control.data["search"].equals(shock.data["search"])  # the proxy draws its own stream


def test_random_truths_are_drawn_per_replicate_within_the_design(default_study):
    spec = default_study.scenario("random_truth")
    rt = spec.random_truth
    truths = [_data(default_study, "random_truth", r).truth for r in range(3)]
    alpha = [t["channels"]["tv"]["adstock"]["alpha"] for t in truths]
    assert alpha[0] != alpha[1]
    again = _data(default_study, "random_truth", 0).truth
    assert again == truths[0]
    for t in truths:
        for c in t["channel_names"]:
            ch = t["channels"][c]
            assert rt.decay[0] <= ch["adstock"]["alpha"] <= rt.decay[1]
    # the design distribution is not the Bayesian prior: uniform decay, not Beta(1, 3)
    prior = default_study.estimators["bayesian"]["priors"]["adstock_alpha"]["parameters"]
    assert (prior["alpha"], prior["beta"]) != (1.0, 1.0)


def test_half_saturation_and_roas_map_to_the_drawn_curve(default_study):
    from mmm_recovery.simulation.truth_draw import draw_truth

    spec = default_study.scenario("random_truth")
    drawn = draw_truth(spec, np.random.default_rng(3))
    rt = spec.random_truth
    for ch in drawn.channels.values():
        half = 2 * np.arctanh(0.5) / ch.saturation.lam / ch.mean_spend
        assert rt.half_saturation[0] * 0.999 <= half <= rt.half_saturation[1] * 1.001
        roas = ch.beta * np.tanh(ch.saturation.lam * ch.mean_spend / 2) / ch.mean_spend
        assert rt.roas[0] * 0.999 <= roas <= rt.roas[1] * 1.001
    avg = sum(c.mean_spend * c.active_share for c in drawn.channels.values())
    assert avg == pytest.approx(sum(c.mean_spend * c.active_share for c in spec.channels.values()))


def test_noise_sd_and_snr_are_exclusive(tmp_path):
    raw = yaml.safe_load(paths.DEFAULT_STUDY.read_text())
    raw["scenarios"]["baseline"] = {"noise": {"snr": 2.0}}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))  # order: levels, references
    with pytest.raises(SpecError, match="give snr .* or sd .* not both"):
        load_study(f)


def test_pairing_on_common_random_numbers_shrinks_the_contrasts_se():
    """On the committed study's own fits (``design_contrasts.csv``): a noisier core cell shares
    the reference cell's spend, controls and noise shocks (and whatever else its other factors
    leave alone), so its contrast's paired MC-SE is smaller than the SE the same fits would give
    unpaired -- for most contrasts, and in the median."""
    import pandas as pd

    c = pd.read_csv(paths.ROOT / "reports" / "metrics" / "design_contrasts.csv")
    noise = c[c["scenario"].str.contains("-snr1_5-") & (c["measure"] == "abs_rel_error")]
    noise = noise[noise["se"].notna() & noise["unpaired_se"].notna()]
    assert len(noise) >= 10
    assert (noise["se"] < noise["unpaired_se"]).mean() > 0.5
    assert (noise["unpaired_se"] / noise["se"]).median() > 1.0


def test_effects_cluster_on_replicates_only_when_there_are_enough():
    """Replicate clusters need enough replicates for a sandwich; with fewer, each fit is a
    cluster (conservative for within-replicate contrasts), and the table says which."""
    import pandas as pd

    from mmm_recovery.evaluation import design_analysis as da

    few = pd.DataFrame({"scenario": ["a", "b"] * 2, "replicate": [0, 0, 1, 1]})
    rows, cluster = da.cluster_column(few)
    assert cluster == "fit" and rows["fit"].nunique() == 4
    many = pd.DataFrame({"scenario": "a", "replicate": range(da.MIN_CLUSTERS)})
    assert da.cluster_column(many)[1] == "replicate"
