"""Power-scaling sensitivity on a conjugate normal model, where the prior's and the data's weights
in the posterior are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_recovery.core.sensitivity import LIKELIHOOD_KEY, PRIOR_KEY, diagnosis
from mmm_recovery.estimators.bayesian.sensitivity import power_scaling_sensitivity

THRESHOLD = 0.05


def _normal_model(prior_sd: float, n_obs: int, ybar: float, n_draws: int = 4000, seed: int = 0):
    """theta ~ N(0, prior_sd), y_i ~ N(theta, 1), i = 1..n_obs with mean ybar: exact posterior
    draws of theta, and each draw's log prior and log likelihood (up to constants)."""
    prec = 1.0 / prior_sd**2 + n_obs
    mean = n_obs * ybar / prec
    theta = np.random.default_rng(seed).normal(mean, prec**-0.5, n_draws)
    log_prior = -0.5 * theta**2 / prior_sd**2
    log_lik = -0.5 * n_obs * (theta - ybar) ** 2  # sum_i (y_i - theta)^2 up to a constant
    return theta, log_prior, log_lik


def test_a_vague_prior_leaves_the_data_in_charge():
    """Prior precision 1e-4 against the data's 50: scaling the prior moves nothing."""
    theta, lp, ll = _normal_model(prior_sd=100.0, n_obs=50, ybar=1.0)
    s = power_scaling_sensitivity({"theta": theta}, lp, ll)["theta"]
    assert s[PRIOR_KEY] < 0.01 < THRESHOLD <= s[LIKELIHOOD_KEY]
    assert diagnosis(s[PRIOR_KEY], s[LIKELIHOOD_KEY], THRESHOLD) == ""


def test_a_prior_as_strong_as_the_data_is_flagged():
    """Prior precision 25 against the data's 5, the data 4 prior sds away: prior-data conflict
    (both sensitivities high); and stronger than with the vague prior (ordering, not a cutoff)."""
    theta, lp, ll = _normal_model(prior_sd=0.2, n_obs=5, ybar=0.8)
    s = power_scaling_sensitivity({"theta": theta, "exp_theta": np.exp(theta)}, lp, ll)
    assert s["theta"][PRIOR_KEY] >= THRESHOLD and s["theta"][LIKELIHOOD_KEY] >= THRESHOLD
    assert diagnosis(s["theta"][PRIOR_KEY], s["theta"][LIKELIHOOD_KEY], THRESHOLD) == (
        "prior-data conflict"
    )
    # a derived quantity is judged on its own draws, and a monotone map of theta moves with it
    assert s["exp_theta"][PRIOR_KEY] >= THRESHOLD
    vague = power_scaling_sensitivity(
        {"theta": _normal_model(100.0, 5, 0.8)[0]}, *_normal_model(100.0, 5, 0.8)[1:]
    )
    assert vague["theta"][PRIOR_KEY] < s["theta"][PRIOR_KEY] / 5


def test_the_prior_and_likelihood_groups_are_not_swapped():
    """Swapping the two log densities swaps the two sensitivities."""
    theta, lp, ll = _normal_model(prior_sd=0.5, n_obs=2, ybar=0.3)
    a = power_scaling_sensitivity({"theta": theta}, lp, ll)["theta"]
    b = power_scaling_sensitivity({"theta": theta}, ll, lp)["theta"]
    assert a[PRIOR_KEY] == pytest.approx(b[LIKELIHOOD_KEY])
    assert a[LIKELIHOOD_KEY] == pytest.approx(b[PRIOR_KEY])
    assert a[PRIOR_KEY] != pytest.approx(a[LIKELIHOOD_KEY], rel=0.05)


def test_constant_or_missing_quantities_are_nan_and_bad_shapes_are_errors():
    theta, lp, ll = _normal_model(prior_sd=1.0, n_obs=10, ybar=0.5, n_draws=200)
    nan_draws = theta.copy()
    nan_draws[3] = np.nan
    s = power_scaling_sensitivity(
        {"const": np.full(200, 2.0), "nan": nan_draws, "theta": theta}, lp, ll
    )
    assert np.isnan(s["const"][PRIOR_KEY]) and np.isnan(s["nan"][LIKELIHOOD_KEY])
    assert np.isfinite(s["theta"][PRIOR_KEY])
    assert diagnosis(float("nan"), 0.1, THRESHOLD) == "not computed"
    with pytest.raises(ValueError, match="quantity 'short' has 10 draws"):
        power_scaling_sensitivity({"short": theta[:10]}, lp, ll)
    with pytest.raises(ValueError, match="log_likelihood 199"):
        power_scaling_sensitivity({"theta": theta}, lp, ll[:-1])
    bad = power_scaling_sensitivity({"theta": theta}, np.where(theta > 0, -np.inf, lp), ll)
    assert np.isnan(bad["theta"][PRIOR_KEY]) and np.isnan(bad["theta"][LIKELIHOOD_KEY])


def test_diagnosis_reading():
    assert diagnosis(0.01, 0.2, THRESHOLD) == ""
    assert diagnosis(0.08, 0.2, THRESHOLD) == "prior-data conflict"
    assert diagnosis(0.08, 0.01, THRESHOLD) == "strong prior / weak likelihood"
    assert diagnosis(0.05, 0.05, THRESHOLD) == "prior-data conflict"  # ArviZ's inequalities
    assert diagnosis(0.05, 0.01, THRESHOLD) == ""
    assert diagnosis(None, 0.2, THRESHOLD) == "not computed"  # null in a reloaded results.json


def test_channel_estimates_carry_the_annotation():
    """results.channel_estimates passes every quantity's draws to the annotator once and adds
    what it returns to that quantity's estimate; compare() copies it into the rows."""
    from mmm_recovery.core.response import ChannelResponse
    from mmm_recovery.core.results import channel_estimates
    from mmm_recovery.evaluation.score import compare

    rng = np.random.default_rng(1)
    draws = [
        ChannelResponse("geometric", {"alpha": a}, 4, True, "logistic", {"lam": 1e-4}, 500.0)
        for a in rng.uniform(0.2, 0.6, 30)
    ]
    spend = rng.uniform(0, 10000, 20)
    seen = []

    def annotate(q):
        seen.append(sorted(q))
        assert all(len(v) == 30 for v in q.values())
        return {"roas": {PRIOR_KEY: 0.07, LIKELIHOOD_KEY: 0.2}}

    est = channel_estimates(
        draws, spend, np.ones(30), np.linspace(0, 1e4, 5), 0.9, "hdi", annotate=annotate
    )
    assert len(seen) == 1 and {"roas", "adstock.alpha", "saturation.lam", "beta"} <= set(seen[0])
    assert est.roas.extra[PRIOR_KEY] == 0.07 and PRIOR_KEY not in est.mroas.extra
    truth_channel = {
        "adstock": {"family": "geometric", "alpha": 0.4},
        "saturation": {"family": "logistic", "lam": 1e-4},
        "beta": 500.0,
        "roas": 0.02,
        "mroas": 0.01,
        "contribution_share": 1.0,
        "curve": {"response": np.linspace(0, 400, 5)},
    }
    rows = compare(
        {"channels": {"tv": est.to_dict()}, "diagnostics": {"converged": True}},
        {"channels": {"tv": truth_channel}},
        {"tv": 1e4},
    ).set_index("quantity")
    assert rows.loc["roas", PRIOR_KEY] == 0.07 and rows.loc["roas", LIKELIHOOD_KEY] == 0.2
    assert np.isnan(rows.loc["mroas", PRIOR_KEY]) and np.isnan(rows.loc["curve_error", PRIOR_KEY])
