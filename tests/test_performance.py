"""The study's performance measures: cluster-robust MC-SE, effective counts, contrasts.

Criteria from their definitions (Morris, White & Crowther 2019; Korn & Graubard 1998), on
synthetic comparison rows whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_recovery.evaluation import performance as perf

CHANNELS = ("tv", "search")


def rows(rng: np.random.Generator, fits: int, scenarios=("a",), shared: float = 0.0):
    """Comparison rows of ``fits`` fits per scenario; ``shared``: the sd of an error common to
    a fit's channels (correlation between them)."""
    out = []
    for s in scenarios:
        for rep in range(fits):
            common = rng.normal(0, shared)
            for ch in CHANNELS:
                err = common + rng.normal(0, 1)
                out.append(
                    {
                        "scenario": s,
                        "replicate": rep,
                        "estimator": "e",
                        "quantity": "roas",
                        "channel": ch,
                        "truth": 1.0,
                        "estimate": 1.0 + err,
                        "error": err,
                        "rel_error": err,
                        "lower": 1.0 + err - 1.645,
                        "upper": 1.0 + err + 1.645,
                        "width": 3.29,
                        "covered": float(abs(err) <= 1.645),
                    }
                )
    return pd.DataFrame(out)


def _cell(table, scenario="a", channel="all"):
    return table[(table["scenario"] == scenario) & (table["channel"] == channel)].iloc[0]


def test_a_channel_average_se_is_the_se_of_the_fits_own_averages():
    d = rows(np.random.default_rng(1), 40, shared=2.0)
    t = perf.performance(d, {"e": 0.9})
    per_fit = d.groupby("replicate")["error"].mean()
    assert _cell(t)["bias"] == pytest.approx(per_fit.mean())
    assert _cell(t)["bias_se"] == pytest.approx(per_fit.std(ddof=1) / np.sqrt(40))
    one = d[d["channel"] == "tv"]["error"]
    assert _cell(t, channel="tv")["bias_se"] == pytest.approx(one.std(ddof=1) / np.sqrt(40))
    # correlated channels: the clustered SE exceeds the naive one that counts 80 trials
    assert _cell(t)["bias_se"] > d["error"].std(ddof=1) / np.sqrt(80)


def test_an_se_from_too_few_fits_is_not_estimable():
    d = rows(np.random.default_rng(2), perf.MIN_FITS - 1)
    t = perf.performance(d, {"e": 0.9})
    assert np.isnan(_cell(t)["bias_se"]) and np.isfinite(_cell(t)["bias"])
    # ... and a coverage interval is then as wide as one interval per fit allows
    assert _cell(t)["n_eff"] == perf.MIN_FITS - 1


def test_scenarios_pool_with_replicates_as_clusters():
    """Over scenarios, replicate r of every scenario shares its random numbers (common random
    numbers), so the pooled SE is that of the replicates' own scenario averages; a scenario
    effect is not Monte Carlo error, and a replicate effect shared by the scenarios is."""
    rng = np.random.default_rng(3)
    d = rows(rng, 10, scenarios=("a", "b"))
    d.loc[d["scenario"] == "b", "error"] += 5.0  # a scenario effect: not Monte Carlo error
    t = perf.performance(d, {"e": 0.9})
    a, b, both = _cell(t, "a"), _cell(t, "b"), _cell(t, "all")
    assert both["bias"] == pytest.approx((a["bias"] + b["bias"]) / 2)
    centred = d["error"] - d.groupby(["scenario", "channel"])["error"].transform("mean")
    per_rep = centred.groupby(d["replicate"]).mean()  # the replicate's average over strata
    assert both["bias_se"] == pytest.approx(per_rep.std(ddof=1) / np.sqrt(10))
    # a replicate effect common to both scenarios: the pooled SE counts it, where independent
    # strata would not
    shared = d.assign(error=d["error"] + 3.0 * rng.normal(size=10)[d["replicate"]])
    s = perf.performance(shared, {"e": 0.9})
    sa, sb, sboth = _cell(s, "a"), _cell(s, "b"), _cell(s, "all")
    assert sboth["bias_se"] > 1.2 * np.hypot(sa["bias_se"], sb["bias_se"]) / 2


def test_full_coverage_has_an_interval_of_nonzero_width():
    d = rows(np.random.default_rng(4), 15)
    d["covered"] = 1.0
    t = perf.performance(d, {"e": 0.9})
    for channel in ("tv", "all"):
        c = _cell(t, channel=channel)
        assert c["coverage"] == 1.0 and c["coverage_hi"] == 1.0
        assert c["coverage_lo"] < 0.9  # 15 of 15: consistent with 0.9, not with certainty


def test_bias_eliminated_coverage_separates_bias_from_width():
    d = rows(np.random.default_rng(5), 60)
    for c in ("estimate", "lower", "upper", "error", "rel_error"):
        d[c] += 3.0  # every interval shifted: bias, with honest widths
    d["covered"] = ((d["lower"] <= d["truth"]) & (d["truth"] <= d["upper"])).astype(float)
    c = _cell(perf.performance(d, {"e": 0.9}))
    assert c["coverage"] < 0.2 and c["coverage_be"] > 0.8
    assert c["se_ratio"] == pytest.approx(1.0, abs=0.25)  # width / (2 z) against the spread


def test_paired_contrast_se_is_the_se_of_the_paired_differences():
    rng = np.random.default_rng(6)
    a = rows(rng, 30)
    b = a.assign(estimator="f", rel_error=a["rel_error"] * 0.5 + rng.normal(0, 0.1, len(a)))
    fits = pd.DataFrame(columns=["scenario", "replicate", "estimator", "status"])
    c = perf.contrasts(pd.concat([a, b]), fits, ["e", "f"])
    row = c[(c["scenario"] == "all") & (c["measure"] == "abs_rel_error")].iloc[0]
    diff = (b["rel_error"].abs().to_numpy() - a["rel_error"].abs().to_numpy()).reshape(30, 2)
    per_fit = diff.mean(axis=1)
    assert row["estimator"] == "f" and row["versus"] == "e" and row["pairs"] == 30
    assert row["difference"] == pytest.approx(per_fit.mean())
    assert row["se"] == pytest.approx(per_fit.std(ddof=1) / np.sqrt(30))


def test_quantiles_need_enough_fits():
    assert np.isnan(perf.quantile(pd.Series(range(perf.MIN_FITS_QUANTILE - 1)), 0.9))
    assert np.isfinite(perf.quantile(pd.Series(range(perf.MIN_FITS_QUANTILE)), 0.9))
