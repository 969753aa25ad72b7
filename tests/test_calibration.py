"""Calibration curves: coverage at several nominal levels from the same fits, checked on
intervals that are calibrated (or miscalibrated) by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmm_recovery.core.results import estimate
from mmm_recovery.evaluation import score


def test_calibration_recovers_the_nominal_level_of_calibrated_intervals():
    """Intervals from draws of the very distribution the truth is drawn from are calibrated by
    construction: the estimate -> compare -> calibration chain must report every level's
    coverage within 3 binomial standard errors of nominal, and a too-narrow posterior must fall
    well below it (the check can fail)."""
    rng = np.random.default_rng(11)
    levels, own = (0.5, 0.8, 0.9), 0.94

    def rows(scale: float) -> pd.DataFrame:
        out = []
        for _ in range(600):
            truth = rng.normal()
            e = estimate(rng.normal(size=400) * scale, own, "hdi", levels=levels)
            lo, hi = e["lower"], e["upper"]
            out.append(
                {
                    "scenario": "s",
                    "estimator": "e",
                    "quantity": "q",
                    "covered": float(lo <= truth <= hi),
                    **{
                        f"{score.COVERED_AT}{k}": float(b[0] <= truth <= b[1])
                        for k, b in e["levels"].items()
                    },
                }
            )
        return pd.DataFrame(out)

    good = score.calibration(rows(1.0), {"e": own})
    assert list(good["nominal"]) == [*levels, own]
    z = (good["coverage"] - good["nominal"]) / np.sqrt(
        good["nominal"] * (1 - good["nominal"]) / 600
    )
    assert (z.abs() < 3).all(), good
    narrow = score.calibration(rows(0.5), {"e": own})
    assert (narrow["coverage"] < narrow["nominal"] - 0.1).all(), narrow
