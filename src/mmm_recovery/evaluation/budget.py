"""Budget allocation on a response model, and the regret of following an estimated model.

Each channel's response is the steady-state weekly revenue at a constant weekly spend (adstock
built up), as in :meth:`mmm_recovery.core.response.ChannelResponse.steady_state`. An estimated model is
read from its results' ``curve`` (estimate on a spend grid: the fitted curve for the frequentist
model, the posterior expected curve for the Bayesian one), interpolated monotonically (PCHIP), so
any estimator that writes the common result format can be optimised the same way.

Allocation: maximise the sum of channel responses subject to the total weekly budget being fixed
(budget-neutral) and each channel within ``[1 - f, 1 + f] x`` its current weekly spend, solved with
SciPy's SLSQP using analytic gradients from several starts (:func:`starts`: the current
allocation and, per channel, that channel moved up and down by half the bound): an S-shaped
(Hill) response has local optima, and one start can stop in one of them. The best start wins;
how many starts ended worse is reported, never hidden.

Regret (all on the TRUE response): ``true(true optimum) - true(recommended)``, in currency per
week, as a share of the lift the true optimum achieves over the current allocation and as a share
of the current revenue. It is not clamped at 0: a recommendation that beats the multi-start
optimum is flagged (``optimum_beaten``) and its regret is negative.

The lift an estimator predicts for its own advice minus the lift it truly earns (its
*optimism*, ``M(rec) - M(cur) - (T(rec) - T(cur))`` with ``M`` the model's and ``T`` the true
weekly revenue) is the sum of three parts, exactly:

* ``curve_bias_at_optimum``: the same difference at an allocation the estimator did not select,
  the true optimum, ``M(opt) - M(cur) - (T(opt) - T(cur))``: curves that are wrong anyway;
* ``optimizer_curse``: ``M(rec) - M(opt)``, what the model believes it gains by choosing its own
  allocation over the true optimum (>= 0 when its search finds its own optimum): the selection
  of the allocation where its curves are most optimistic;
* ``regret``: ``T(opt) - T(rec)``, what that choice truly loses.
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


#: relative tolerance (of the revenue at the current allocation) within which two starts agree
START_TOLERANCE = 1e-6


def starts(current: np.ndarray, bound: float) -> list[np.ndarray]:
    """Starting points in ``u = spend / current`` (all on the budget where the bounds allow):
    the current allocation and, per active channel, that channel at ``1 +- bound / 2`` with the
    other active channels rescaled to keep the total."""
    x0 = np.asarray(current, dtype=float)
    active = x0 > 0
    total = x0.sum()
    out = [np.ones_like(x0)]
    for i in np.flatnonzero(active):
        rest = total - x0[i]
        if rest <= 0:
            continue
        for h in (bound / 2, -bound / 2):
            u = np.ones_like(x0)
            u[i] = 1 + h
            u[active & (np.arange(len(x0)) != i)] = 1 - h * x0[i] / rest
            out.append(np.clip(u, 1 - bound, 1 + bound))
    return out


def optimise_starts(
    curves: Mapping[str, Curve], current: Mapping[str, float], bound: float = 0.3
) -> tuple[dict[str, float], dict[str, int]]:
    """:func:`optimise` with its search report: the best allocation over :func:`starts`, and
    ``starts`` (tried), ``converged`` (SLSQP succeeded) and ``worse`` (converged to a total
    response below the best by more than :data:`START_TOLERANCE`: a local optimum)."""
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

    results = []
    for u0 in starts(x0, bound):
        res = minimize(
            neg,
            u0,
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
        if res.success:
            u = np.clip(res.x, 1 - bound, 1 + bound)
            results.append((neg(u), u))
    if not results:
        raise RuntimeError("budget optimisation did not converge from any start")
    best_value, best = min(results, key=lambda t: t[0])
    worse = sum(v > best_value + START_TOLERANCE for v, _ in results)
    x = alloc(best)
    report = {"starts": len(starts(x0, bound)), "converged": len(results), "worse": int(worse)}
    return {c: float(x[i]) for i, c in enumerate(names)}, report


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
    dict channel -> recommended weekly spend (currency); sums to the current total. The best of
    several starts (:func:`optimise_starts`).
    """
    return optimise_starts(curves, current, bound)[0]


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
    ``regret`` (currency per week; negative, and ``optimum_beaten``, when the recommendation
    beats the multi-start optimum), ``regret_share_of_lift`` (regret / (optimal - current); NaN
    when the optimum gives no lift), ``regret_share_of_revenue`` (regret / current revenue), the
    model's own predicted lift, ``curve_bias_at_optimum`` and ``optimizer_curse`` (module
    docstring: optimism = curve bias + curse + regret), and each optimisation's search report (``optimum_search``,
    ``recommendation_search``: :func:`optimise_starts`).
    """
    recommended, rec_search = optimise_starts(model_curves, current, bound)
    optimal, opt_search = optimise_starts(true_curves, current, bound)
    r_cur = total_response(true_curves, current)
    r_rec = total_response(true_curves, recommended)
    r_opt = total_response(true_curves, optimal)
    lift = r_opt - r_cur
    m_cur = total_response(model_curves, current)
    predicted = total_response(model_curves, recommended) - m_cur
    true_lift = r_rec - r_cur
    bias_at_optimum = (total_response(model_curves, optimal) - m_cur) - lift
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
        "regret_share_of_revenue": (r_opt - r_rec) / r_cur if r_cur > 0 else float("nan"),
        "optimum_beaten": bool(r_rec > r_opt + START_TOLERANCE * max(abs(r_cur), 1.0)),
        "true_lift_of_recommendation": true_lift,
        "predicted_lift": predicted,
        "curve_bias_at_optimum": bias_at_optimum,
        "optimizer_curse": total_response(model_curves, recommended)
        - total_response(model_curves, optimal),
        "optimum_search": opt_search,
        "recommendation_search": rec_search,
    }


def regret_at(
    true_curves: Mapping[str, Curve],
    model_curves: Mapping[str, Curve],
    current: Mapping[str, float],
    bounds: tuple[float, ...],
) -> dict[str, dict[str, float]]:
    """The regret of the advice at each further bound (``"0.1" -> {regret,
    regret_share_of_lift, regret_share_of_revenue, true_lift_of_recommendation}``)."""
    keys = (
        "regret",
        "regret_share_of_lift",
        "regret_share_of_revenue",
        "true_lift_of_recommendation",
    )
    out = {}
    for b in bounds:
        r = regret(true_curves, model_curves, current, b)
        out[f"{b:g}"] = {k: r[k] for k in keys}
    return out


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
