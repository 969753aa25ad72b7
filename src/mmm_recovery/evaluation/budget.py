"""Budget allocation on a response model, and the regret of following an estimated model.

Each channel's response is the steady-state weekly revenue at a constant weekly spend (adstock
built up), as in :meth:`mmm_recovery.core.response.ChannelResponse.steady_state`. An estimated model is
read from its results' ``curve`` (estimate on a spend grid: the fitted curve for the frequentist
model, the posterior expected curve for the Bayesian one), interpolated monotonically (PCHIP), so
any estimator that writes the common result format can be optimised the same way.

Allocation: maximise the sum of channel responses subject to the total weekly budget being fixed
(budget-neutral) and each channel within ``[1 - f, 1 + f] x`` its current weekly spend, solved with
SciPy's SLSQP using analytic gradients.

Regret (all on the TRUE response): ``true(true optimum) - true(recommended)``, in currency per
week, and as a share of the lift the true optimum achieves over the current allocation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import minimize

from mmm_recovery.core.response import ChannelResponse


@dataclass(frozen=True)
class Curve:
    """A channel response ``f(spend)`` and its derivative, in currency per week."""

    value: Callable[[np.ndarray | float], np.ndarray]
    slope: Callable[[np.ndarray | float], np.ndarray]

    @classmethod
    def from_response(cls, r: ChannelResponse) -> Curve:
        return cls(r.steady_state, r.marginal)

    @classmethod
    def from_grid(cls, spend: np.ndarray, response: np.ndarray) -> Curve:
        """Monotone cubic interpolation of a curve given on a spend grid (extrapolated linearly
        beyond the grid by PCHIP's end polynomials, which the ±bounds normally avoid)."""
        p = PchipInterpolator(
            np.asarray(spend, dtype=float), np.asarray(response, dtype=float), extrapolate=True
        )
        return cls(p, p.derivative())


def optimise(
    curves: Mapping[str, Curve], current: Mapping[str, float], bound: float = 0.3
) -> dict[str, float]:
    """Budget-neutral allocation maximising total response, each channel within ±``bound`` of current.

    Parameters
    ----------
    curves : mapping channel -> Curve
    current : mapping channel -> current weekly spend (currency)
    bound : float
        Relative per-channel bound (0.3 = ±30%).

    Returns
    -------
    dict channel -> recommended weekly spend (currency); sums to the current total.
    """
    names = list(current)
    x0 = np.array([current[c] for c in names], dtype=float)
    total = x0.sum()
    # optimise over u = x / x0 (all ~1) and revenue / r0: a well-conditioned problem for SLSQP
    r0 = max(sum(abs(float(curves[c].value(x0[i]))) for i, c in enumerate(names)), 1.0)
    active = x0 > 0

    def alloc(u):
        return np.where(active, u * x0, 0.0)

    def neg(u):
        x = alloc(u)
        return -sum(float(curves[c].value(x[i])) for i, c in enumerate(names)) / r0

    def grad(u):
        x = alloc(u)
        return -np.array([float(curves[c].slope(x[i])) for i, c in enumerate(names)]) * x0 / r0

    res = minimize(
        neg,
        np.ones_like(x0),
        jac=grad,
        method="SLSQP",
        bounds=[(1 - bound, 1 + bound) if a else (1.0, 1.0) for a in active],
        constraints=[
            {
                "type": "eq",
                "fun": lambda u: (alloc(u).sum() - total) / total,
                "jac": lambda u: x0 / total,
            }
        ],
        options={"maxiter": 1000, "ftol": 1e-14},
    )
    if not res.success:
        raise RuntimeError(f"budget optimisation did not converge: {res.message}")
    x = alloc(np.clip(res.x, 1 - bound, 1 + bound))
    return {c: float(x[i]) for i, c in enumerate(names)}


def total_response(curves: Mapping[str, Curve], allocation: Mapping[str, float]) -> float:
    return float(sum(float(curves[c].value(s)) for c, s in allocation.items()))


def regret(
    true_curves: Mapping[str, Curve],
    model_curves: Mapping[str, Curve],
    current: Mapping[str, float],
    bound: float = 0.3,
) -> dict[str, Any]:
    """Recommended vs true-optimal allocation, both evaluated on the true response.

    Returns the allocations, true weekly revenue of current / recommended / optimal allocations,
    ``regret`` (currency per week) and ``regret_share_of_lift`` (regret / (optimal - current);
    NaN when the optimum gives no lift) and the model's own predicted lift.
    """
    recommended = optimise(model_curves, current, bound)
    optimal = optimise(true_curves, current, bound)
    r_cur = total_response(true_curves, current)
    r_rec = total_response(true_curves, recommended)
    r_opt = max(
        total_response(true_curves, optimal), r_rec
    )  # the optimum is never worse than any point
    lift = r_opt - r_cur
    return {
        "current": dict(current),
        "recommended": recommended,
        "optimal": optimal,
        "true_revenue_current": r_cur,
        "true_revenue_recommended": r_rec,
        "true_revenue_optimal": r_opt,
        "regret": r_opt - r_rec,
        "regret_share_of_lift": (r_opt - r_rec) / lift
        if lift > 1e-9 * max(abs(r_opt), 1.0)
        else float("nan"),
        "true_lift_of_recommendation": r_rec - r_cur,
        "predicted_lift": total_response(model_curves, recommended)
        - total_response(model_curves, current),
    }


def curves_from_result(result: Mapping[str, Any]) -> dict[str, Curve]:
    """An estimator's curves (common result format) as interpolated :class:`Curve` objects."""
    return {
        c: Curve.from_grid(v["curve"]["spend"], v["curve"]["estimate"])
        for c, v in result["channels"].items()
    }


def curves_from_truth(truth: Mapping[str, Any]) -> dict[str, Curve]:
    """The true response of each channel (exact, from its parameters)."""
    return {
        c: Curve.from_response(ChannelResponse.from_dict(t)) for c, t in truth["channels"].items()
    }
