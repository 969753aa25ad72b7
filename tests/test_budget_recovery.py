"""Budget optimisation, regret, and the recovery metrics, against hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_recovery.core.response import ChannelResponse
from mmm_recovery.evaluation import budget, score


def _resp(lam, beta, alpha=0.0):
    return ChannelResponse("geometric", {"alpha": alpha}, 4, True, "logistic", {"lam": lam}, beta)


def test_optimum_equalises_marginal_returns_and_keeps_the_budget():
    curves = {
        "a": budget.Curve.from_response(_resp(3e-4, 100.0)),
        "b": budget.Curve.from_response(_resp(5e-5, 80.0)),
    }
    current = {"a": 10000.0, "b": 10000.0}
    alloc = budget.optimise(curves, current, bound=0.5)
    assert sum(alloc.values()) == pytest.approx(20000.0)
    slopes = [float(curves[c].slope(alloc[c])) for c in alloc]
    interior = all(5000 + 1 < alloc[c] < 15000 - 1 for c in alloc)
    assert interior and slopes[0] == pytest.approx(slopes[1], rel=1e-4)


def test_bounds_are_respected_when_binding():
    curves = {
        "a": budget.Curve.from_response(_resp(1e-5, 1000.0)),
        "b": budget.Curve.from_response(_resp(1e-3, 1.0)),
    }
    alloc = budget.optimise(curves, {"a": 100.0, "b": 100.0}, bound=0.3)
    assert alloc["a"] == pytest.approx(130.0) and alloc["b"] == pytest.approx(70.0)


def test_regret_is_zero_for_the_true_model_and_positive_for_a_wrong_one():
    truth = {"a": _resp(1e-4, 100.0), "b": _resp(5e-5, 80.0)}
    true_curves = {c: budget.Curve.from_response(r) for c, r in truth.items()}
    current = {"a": 8000.0, "b": 12000.0}
    exact = budget.regret(true_curves, true_curves, current, 0.3)
    assert exact["regret"] == pytest.approx(0.0, abs=1e-6)
    assert exact["true_revenue_optimal"] >= exact["true_revenue_current"]
    wrong = {
        "a": budget.Curve.from_response(_resp(1e-5, 10.0)),
        "b": budget.Curve.from_response(_resp(5e-5, 500.0)),
    }
    bad = budget.regret(true_curves, wrong, current, 0.3)
    assert bad["regret"] > 0 and 0 < bad["regret_share_of_lift"]
    # grid-interpolated truth gives (almost) the same advice as the exact truth
    grid = np.linspace(0, 30000, 61)
    interp = {c: budget.Curve.from_grid(grid, r.steady_state(grid)) for c, r in truth.items()}
    assert (
        budget.regret(true_curves, interp, current, 0.3)["regret"]
        < 1e-3 * exact["true_revenue_optimal"]
    )


def test_clopper_pearson_hand_values():
    assert score.clopper_pearson(0, 10)[0] == 0.0
    assert score.clopper_pearson(10, 10)[1] == 1.0
    lo, hi = score.clopper_pearson(5, 10)
    assert lo == pytest.approx(0.187086, abs=1e-5) and hi == pytest.approx(0.812914, abs=1e-5)


def test_curve_error_hand_value():
    s = np.linspace(0, 10, 11)
    assert score.curve_error(s, 1.1 * s, s, 10.0) == pytest.approx(0.1)
    assert score.curve_error(s, s, s, 10.0) == 0.0
    # only the observed range counts
    est = np.where(s > 5, 100.0, s)
    assert score.curve_error(s, est, s, 5.0) == pytest.approx(0.0)


def _result(family="logistic", alpha=0.5, lo=0.4, hi=0.6):
    grid = [0.0, 1.0, 2.0]
    e = {"estimate": 1.0, "lower": 0.9, "upper": 1.1}
    return {
        "channels": {
            "tv": {
                "adstock": {
                    "family": "geometric",
                    "params": {"alpha": {"estimate": alpha, "lower": lo, "upper": hi}},
                },
                "saturation": {
                    "family": family,
                    "params": {"lam": e} if family == "logistic" else {"slope": e, "kappa": e},
                },
                "beta": e,
                "roas": e,
                "mroas": e,
                "contribution_share": e,
                "curve": {"spend": grid, "estimate": [0.0, 1.0, 2.0]},
            }
        },
        "diagnostics": {"converged": True},
    }


def _truth(alpha=0.55):
    return {
        "channels": {
            "tv": {
                "adstock": {"family": "geometric", "alpha": alpha},
                "saturation": {"family": "logistic", "lam": 1.2},
                "beta": 1.0,
                "roas": 1.0,
                "mroas": 2.0,
                "contribution_share": 1.0,
                "curve": {"spend": [0.0, 1.0, 2.0], "response": [0.0, 1.0, 2.0]},
            }
        }
    }


def test_compare_rows_and_family_rules():
    rows = score.compare(_result(), _truth(), {"tv": 2.0}).set_index("quantity")
    assert rows.loc["adstock.alpha", "error"] == pytest.approx(-0.05)
    assert rows.loc["adstock.alpha", "covered"] == 1.0
    assert rows.loc["saturation.lam", "covered"] == 0.0  # [0.9, 1.1] misses 1.2
    assert rows.loc["mroas", "rel_error"] == pytest.approx(-0.5)
    assert rows.loc["curve_error", "estimate"] == 0.0
    hill = score.compare(_result("hill"), _truth(), {"tv": 2.0})
    assert not hill["quantity"].str.startswith("saturation").any() and "beta" not in set(
        hill["quantity"]
    )


def test_aggregate_bias_rmse_coverage():
    rows = []
    for r, alpha in enumerate([0.5, 0.6, 0.7, 0.8]):
        c = score.compare(
            _result(alpha=alpha, lo=alpha - 0.05, hi=alpha + 0.05), _truth(0.55), {"tv": 2.0}
        )
        rows.append(c.assign(scenario="s", estimator="e", replicate=r))
    agg = (
        score.aggregate(pd.concat(rows))
        .set_index(["channel", "quantity"])
        .loc[("all", "adstock.alpha")]
    )
    errs = np.array([-0.05, 0.05, 0.15, 0.25])
    assert agg["bias"] == pytest.approx(errs.mean())
    assert agg["rmse"] == pytest.approx(np.sqrt((errs**2).mean()))
    assert agg["coverage"] == pytest.approx(0.5)  # 0.5 and 0.6 cover 0.55
    assert (agg["coverage_lo"], agg["coverage_hi"]) == pytest.approx(score.clopper_pearson(2, 4))
    # every aggregate carries its Monte Carlo standard error
    n = len(errs)
    assert agg["bias_se"] == pytest.approx(errs.std(ddof=1) / np.sqrt(n))
    assert agg["mean_abs_rel_error_se"] == pytest.approx(
        np.abs(errs / 0.55).std(ddof=1) / np.sqrt(n)
    )
    assert agg["coverage_se"] == pytest.approx(np.sqrt(0.5 * 0.5 / n))
    mse_se = (errs**2).std(ddof=1) / np.sqrt(n)
    assert agg["rmse_se"] == pytest.approx(mse_se / (2 * np.sqrt((errs**2).mean())))


def _s_curve(k: float, n: float = 4.0, beta: float = 100.0) -> budget.Curve:
    """An S-shaped (Hill, slope ``n``) response: convex below ``k``, so the budget problem has
    local optima."""

    def value(x):
        x = np.asarray(x, dtype=float)
        return beta * x**n / (k**n + x**n)

    def slope(x):
        x = np.asarray(x, dtype=float)
        return beta * n * k**n * x ** (n - 1) / (k**n + x**n) ** 2

    return budget.Curve(value, slope)


def test_several_starts_find_the_optimum_one_start_misses_and_say_so():
    """Three identical S-curves at the same spend: the current allocation is a stationary point
    (SLSQP from it stays there); moving budget into two channels earns more. The multi-start
    search finds that and reports the starts that ended worse."""
    curves = {c: _s_curve(100.0) for c in "abc"}
    current = dict.fromkeys("abc", 60.0)
    alloc, search = budget.optimise_starts(curves, current, 0.5)
    assert sum(alloc.values()) == pytest.approx(180.0)
    assert budget.total_response(curves, alloc) > 1.2 * budget.total_response(curves, current)
    assert search["starts"] == 7 and search["converged"] >= 1 and search["worse"] >= 1


def test_optimism_is_curve_bias_plus_curse_plus_regret():
    truth = {"a": _resp(1e-4, 100.0), "b": _resp(5e-5, 80.0)}
    true_curves = {c: budget.Curve.from_response(r) for c, r in truth.items()}
    wrong = {
        "a": budget.Curve.from_response(_resp(2e-5, 150.0)),
        "b": budget.Curve.from_response(_resp(5e-5, 300.0)),
    }
    r = budget.regret(true_curves, wrong, {"a": 8000.0, "b": 12000.0}, 0.3)
    optimism = r["predicted_lift"] - r["true_lift_of_recommendation"]
    parts = r["curve_bias_at_optimum"] + r["optimizer_curse"] + r["regret"]
    assert optimism == pytest.approx(parts, rel=1e-9)
    assert r["optimizer_curse"] >= 0 and r["regret"] > 0 and not r["optimum_beaten"]
    at = budget.regret_at(true_curves, wrong, {"a": 8000.0, "b": 12000.0}, (0.1, 0.5))
    assert set(at) == {"0.1", "0.5"}
    assert at["0.1"]["regret"] <= at["0.5"]["regret"]  # a wider box lets bad curves do more harm
