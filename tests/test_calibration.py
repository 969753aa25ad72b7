"""The one calibration rule (:mod:`mmm_recovery.evaluation.calibration`) on planted intervals:
synthetic records whose true coverage is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mmm_recovery.evaluation import calibration as cal


def planted(rng: np.random.Generator, n: int, true_coverage: float) -> int:
    """How many of ``n`` planted intervals cover the truth when each does with probability
    ``true_coverage``."""
    return int((rng.uniform(size=n) < true_coverage).sum())


def planted_records(rng, fits: int, coverage: dict[str, float], nominal: float = 0.9):
    """Study metrics of ``fits`` fits of one estimator on one scenario whose interval for each
    channel covers the truth with probability ``coverage[channel]`` (a fit's channels drawn
    independently), as the reports read them (``calibration.csv`` computed by
    :mod:`mmm_recovery.evaluation.performance`)."""
    import pandas as pd

    from mmm_recovery.evaluation import performance
    from mmm_recovery.reporting.tables import StudyMetrics

    rows = []
    for rep in range(fits):
        for ch, p in coverage.items():
            hit = rng.uniform() < p
            err = rng.normal()
            rows.append(
                {
                    "scenario": "s",
                    "replicate": rep,
                    "estimator": "e",
                    "quantity": "roas",
                    "channel": ch,
                    "truth": 1.0,
                    "estimate": 1.0 + err,
                    "error": err,
                    "rel_error": err,
                    "lower": 1.0 + err - (3.0 if hit else -0.5),
                    "upper": 1.0 + err + (3.0 if hit else -0.4),
                    "width": 6.0 if hit else 0.1,
                    "covered": float(hit),
                }
            )
    comp = pd.DataFrame(rows)
    cal_table = performance.calibration(comp, {"e": nominal})
    study = {"s": {"e": {"interval_level": nominal}}}
    return StudyMetrics(study, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), comp, cal_table)


def _pooled_verdict(m):
    from mmm_recovery.reporting.verdicts import coverage_verdicts

    v = coverage_verdicts(m, "roas")
    return v[v["scenario"] == "all"].iloc[0]


def test_intervals_that_cover_80_percent_at_nominal_90_under_cover():
    """100 fits x 5 channels of intervals that truly cover 0.80 at nominal 0.90, through the
    reports' path (performance.calibration, then verdicts.coverage_verdicts): "under-covers"
    nearly always; the channels agree in truth, so Cochran's Q splits them at about its level."""
    rng = np.random.default_rng(0)
    verdicts = [
        _pooled_verdict(planted_records(rng, 100, dict.fromkeys("abcde", 0.80)))["verdict"]
        for _ in range(40)
    ]
    split = verdicts.count(cal.DIFFER)
    assert verdicts.count(cal.UNDER) + split == len(verdicts)
    assert split / len(verdicts) <= cal.ALPHA + 3 * math.sqrt(cal.ALPHA * 0.95 / len(verdicts))
    # one channel's 100 intervals: called as often as the exact test's power says
    calls = [cal.judge([(planted(rng, 100, 0.80), 100, 0.90)])[0].verdict for _ in range(300)]
    reject = np.array([cal.exact_p(k, 100, 0.9) <= cal.ALPHA for k in range(101)])
    power = stats.binom.pmf(np.arange(101), 100, 0.80)[reject].sum()
    rate = calls.count(cal.UNDER) / len(calls)
    assert abs(rate - power) < 3 * math.sqrt(power * (1 - power) / len(calls))
    assert cal.OVER not in calls


def test_intervals_at_nominal_through_the_reports_path_state_their_power():
    rng = np.random.default_rng(3)
    v = _pooled_verdict(planted_records(rng, 100, dict.fromkeys("abcde", 0.90)))
    assert v["verdict"] in (cal.NOMINAL, cal.DIFFER)
    if v["verdict"] == cal.NOMINAL:
        assert "could miss a shortfall up to" in v["words"] and 0 < v["shortfall"] < 0.1


def test_the_rejection_region_is_scipy_s():
    for n, nominal in [(15, 0.94), (100, 0.9), (37, 0.5)]:
        exact = [cal.exact_p(k, n, nominal) <= cal.ALPHA for k in range(n + 1)]
        np.testing.assert_array_equal(cal._rejects(n, nominal, cal.ALPHA), exact)


def test_intervals_at_nominal_are_not_distinguishable_and_say_what_they_could_miss():
    rng = np.random.default_rng(1)
    verdicts = [cal.judge([(planted(rng, 100, 0.90), 100, 0.90)])[0] for _ in range(400)]
    wrong = sum(v.verdict != cal.NOMINAL for v in verdicts) / len(verdicts)
    assert wrong < 0.05 + 3 * math.sqrt(0.05 * 0.95 / len(verdicts))
    v = next(v for v in verdicts if v.verdict == cal.NOMINAL)
    # the stated shortfall is detected with probability >= POWER, a smaller one is not
    d = v.shortfall
    reject = np.array([cal.exact_p(k, 100, 0.9) <= cal.ALPHA for k in range(101)])
    power = lambda s: stats.binom.pmf(np.arange(101), 100, 0.9 - s)[reject].sum()  # noqa: E731
    assert power(d) >= cal.POWER > power(d - 0.002)
    assert "could miss a shortfall up to" in v.words()


def test_a_full_cell_has_an_exact_interval_of_nonzero_width():
    v = cal.judge([(15, 15, 0.94)])[0]
    assert v.hi == 1.0 and 0.7 < v.lo < 1.0
    assert v.verdict == cal.NOMINAL and v.shortfall > 0.2
    lo, hi = cal.interval(0, 15)
    assert lo == 0.0 and hi > 0.1


def test_holm_controls_the_family_and_is_monotone():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.2])
    adj = cal.holm(p)
    np.testing.assert_allclose(adj[[0, 2, 1, 4]], [0.04, 0.09, 0.09, 0.2])
    assert math.isnan(adj[3])
    # 20 calibrated cells: rarely any called miscalibrated
    rng = np.random.default_rng(2)
    any_called = np.mean(
        [
            any(
                v.verdict != cal.NOMINAL
                for v in cal.judge([(planted(rng, 60, 0.9), 60, 0.9) for _ in range(20)])
            )
            for _ in range(100)
        ]
    )
    assert any_called <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 100)


def test_over_coverage_is_named():
    assert cal.judge([(100, 100, 0.5)])[0].verdict == cal.OVER


def test_channels_that_differ_get_no_pooled_verdict():
    """A channel-heterogeneous set (the issue's frequentist ROAS: search far below the rest) is
    not reported as one pooled verdict: its channels' counts are stated instead."""
    rng = np.random.default_rng(4)
    coverage = {"tv": 0.6, "ooh": 0.87, "print": 0.67, "facebook": 0.83, "search": 0.33}
    v = _pooled_verdict(planted_records(rng, 30, coverage))
    assert v["verdict"] == cal.DIFFER and v["words"].startswith(f"{cal.DIFFER} (tv ")
    same = _pooled_verdict(planted_records(rng, 30, dict.fromkeys(coverage, 0.9)))
    assert same["verdict"] != cal.DIFFER or same["p_adjusted"] > 0  # may split at its level


def test_cochran_q_is_the_textbook_statistic():
    import pandas as pd

    x = pd.DataFrame([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 0], [1, 0, 0]])
    col, row, n, c = x.sum(0), x.sum(1), x.to_numpy().sum(), 3
    q = (c - 1) * (c * (col**2).sum() - n**2) / (c * n - (row**2).sum())
    assert cal.cochran_q(x) == pytest.approx(stats.chi2.sf(q, c - 1))
    assert math.isnan(cal.cochran_q(x.iloc[:, :1]))


@pytest.mark.parametrize(("k", "n"), [(0, 0), (3, 0)])
def test_no_intervals(k, n):
    v = cal.judge([(k, n, 0.9)])[0]
    assert v.words() == "no intervals" and math.isnan(v.lo)
