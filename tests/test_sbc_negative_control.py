"""The negative control of the simulation-based calibration through real fits: fitted with a
wrong prior, the check fails (the real model's pass is in tests/test_sbc_study_path.py). A module
of its own so that the two SBC runs can take the two processes of `make test`."""

from __future__ import annotations

import pandas as pd

from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.evaluation import sbc, sbc_draw, sbc_metrics

#: lam's prior mis-scaled: mean 12 (Gamma(3, 0.25)) where the data were drawn with mean 3
WRONG_LAM_PRIOR = {"distribution": "Gamma", "parameters": {"alpha": 3.0, "beta": 0.25}}


def test_negative_control_fails_a_wrong_prior(smoke_study):
    """The study arm's design fitted with lam's prior mis-scaled (mean 4x) fails lam's uniformity
    test: the check can fail on real fits."""
    settings = smoke_study.sbc
    base = smoke_study.estimators["bayesian"]
    wrong = BayesianConfig.model_validate(
        {**base, "priors": {**base.get("priors", {}), "saturation_lam": WRONG_LAM_PRIOR}}
    )
    records = [
        {
            "status": "ok",
            "fingerprint": "wrong prior",
            **sbc_draw.simulate_one(smoke_study, "study", i, fit_config=wrong),
        }
        for i in range(settings.simulations)
    ]
    ranks, fits, decisions = sbc.tables(records)
    only = settings.model_copy(update={"arms": {"study": settings.arms["study"]}})
    bad = sbc_metrics.metrics(ranks, fits, decisions, only, smoke_study.study.base_seed)
    arm = bad["arms"]["study"]
    assert any(q.startswith("saturation_lam[") for q in arm["failed"]), arm["quantities"]
    # the wrong prior sits too high: the true lam ranks low in its posterior
    assert arm["quantities"]["saturation_lam[tv]"]["mean_rank_share"] < 0.5
    assert isinstance(ranks, pd.DataFrame) and len(fits) == settings.simulations
