"""The negative control of the simulation-based calibration: fitted with a wrong prior, the check
fails (the real model's pass is in tests/test_sbc.py). A module of its own so that the two SBC
runs can take the two processes of `make test`."""

from __future__ import annotations

from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.evaluation import sbc

#: lam's prior mis-scaled: mean 12 (Gamma(3, 0.25)) where the data were drawn with mean 3
WRONG_LAM_PRIOR = {"distribution": "Gamma", "parameters": {"alpha": 3.0, "beta": 0.25}}


def test_negative_control_fails_a_wrong_prior(smoke_study):
    """The same design fitted with lam's prior mis-scaled (mean 4x) fails lam's uniformity test:
    the check can fail (the real model's pass: tests/test_sbc.py)."""
    settings = smoke_study.sbc
    base = smoke_study.estimators["bayesian"]
    wrong = BayesianConfig.model_validate(
        {**base, "priors": {**base.get("priors", {}), "saturation_lam": WRONG_LAM_PRIOR}}
    )
    ranks_w, fits_w = sbc.run(smoke_study, fit_config=wrong)
    bad = sbc.metrics(ranks_w, fits_w, settings, smoke_study.study.base_seed)
    assert any(q.startswith("saturation_lam[") for q in bad["failed"]), bad["quantities"]
    # the wrong prior sits too high: the true lam ranks low in its posterior
    assert bad["quantities"]["saturation_lam[tv]"]["mean_rank_share"] < 0.5
