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


def test_intervals_that_cover_80_percent_at_nominal_90_under_cover():
    """100 fits x 5 channels of intervals that truly cover 0.80 at nominal 0.90."""
    rng = np.random.default_rng(0)
    words = [
        cal.pooled({c: (planted(rng, 100, 0.80), 100) for c in "abcde"}, 0.90) for _ in range(100)
    ]
    split = [w for w in words if w.startswith(cal.DIFFER)]
    assert all(w.startswith(cal.UNDER) for w in words if w not in split)
    # the channels agree in truth: the homogeneity test splits them at about its level
    assert len(split) / len(words) <= cal.ALPHA + 3 * math.sqrt(cal.ALPHA * 0.95 / len(words))
    # one channel's 100 intervals: called as often as the exact test's power says
    calls = [cal.judge([(planted(rng, 100, 0.80), 100, 0.90)])[0].verdict for _ in range(300)]
    reject = np.array([cal.exact_p(k, 100, 0.9) <= cal.ALPHA for k in range(101)])
    power = stats.binom.pmf(np.arange(101), 100, 0.80)[reject].sum()
    rate = calls.count(cal.UNDER) / len(calls)
    assert abs(rate - power) < 3 * math.sqrt(power * (1 - power) / len(calls))
    assert cal.OVER not in calls


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
    counts = {"tv": (18, 30), "ooh": (26, 30), "print": (20, 30), "facebook": (25, 30)}
    counts["search"] = (10, 30)
    words = cal.pooled(counts, 0.9)
    assert words == f"{cal.DIFFER} (tv 18/30, ooh 26/30, print 20/30, facebook 25/30, search 10/30)"
    same = {c: (27, 30) for c in counts}
    assert cal.pooled(same, 0.9).startswith(cal.NOMINAL)


@pytest.mark.parametrize(("k", "n"), [(0, 0), (3, 0)])
def test_no_intervals(k, n):
    v = cal.judge([(k, n, 0.9)])[0]
    assert v.words() == "no intervals" and math.isnan(v.lo)
