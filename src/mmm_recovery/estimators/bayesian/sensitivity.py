"""Power-scaling sensitivity of posterior quantities to the prior and to the likelihood.

How much would a posterior summary move if the prior (or the likelihood) were made slightly
stronger or weaker? Kallioinen et al. (2024) answer without refitting: raise the prior to a power
``alpha`` near 1, reweight the posterior draws by ``p(theta)^(alpha - 1)`` (Pareto-smoothed
importance sampling) and measure how far each quantity's distribution moves (the cumulative
Jensen-Shannon distance divided by ``|log2 alpha|``, averaged over ``alpha = 0.99`` and
``1.01``). ArviZ
(``arviz_stats.psense``) computes it; this module feeds it any per-draw quantity, e.g. a
channel's ROAS on the original currency scale, with the draws' log prior and log likelihood.

Reading (``arviz_stats.psense_summary``'s, with the paper's default threshold 0.05):

* prior and likelihood sensitivity both >= threshold: *prior-data conflict*;
* prior sensitivity > threshold > likelihood sensitivity: *strong prior / weak likelihood*;
* otherwise: no sign that the prior is informative relative to the likelihood.

A high prior sensitivity says the prior is informative *relative to the likelihood* for that
quantity: the estimate would move if the prior changed. It does not say the prior is wrong (a
well-chosen informative prior is flagged too), and a quantity the data barely inform along a
direction where the prior is flat is not flagged.

The values are Monte Carlo estimates from the draws given; ``scripts/psense_subsets.py``
measures how much they vary between random subsets of one posterior (README).

Reference: Kallioinen, Paananen, Bürkner, Vehtari, *Detecting and diagnosing prior and
likelihood sensitivity with power-scaling*, Stat Comput 34, 57 (2024),
https://doi.org/10.1007/s11222-023-10366-5
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmm_recovery.core.sensitivity import LIKELIHOOD_KEY, PRIOR_KEY


def power_scaling_sensitivity(
    quantities: Mapping[str, np.ndarray],
    log_prior: np.ndarray,
    log_likelihood: np.ndarray,
    alphas: tuple[float, float] = (0.99, 1.01),
) -> dict[str, dict[str, float]]:
    """Prior and likelihood power-scaling sensitivity of each quantity.

    Parameters
    ----------
    quantities : mapping name -> array (D,)
        Per-draw values of each quantity, any scale (the distance is scale-free).
    log_prior, log_likelihood : array (D,)
        Per draw: the log density of the prior (the joint prior, in the coordinates it is
        declared in) and of the likelihood (summed over observations), up to constants.
    alphas : (lower, upper)
        The powers around 1 the derivative is taken between.

    Returns
    -------
    ``name -> {"prior_sensitivity": float, "likelihood_sensitivity": float}``; NaN for a
    quantity that is not finite in every draw or is constant, and for every quantity when a log
    density is not finite in every draw (the importance weights are then undefined).
    """
    import xarray as xr
    from arviz_stats import psense

    lp = np.asarray(log_prior, dtype=float).ravel()
    ll = np.asarray(log_likelihood, dtype=float).ravel()
    n = lp.size
    if ll.size != n:
        raise ValueError(f"log_prior has {n} draws, log_likelihood {ll.size}")
    nan = {PRIOR_KEY: float("nan"), LIKELIHOOD_KEY: float("nan")}
    if not (np.isfinite(lp).all() and np.isfinite(ll).all()):
        return {name: dict(nan) for name in quantities}  # importance weights undefined
    usable = {}
    for name, values in quantities.items():
        v = np.asarray(values, dtype=float).ravel()
        if v.size != n:
            raise ValueError(f"quantity {name!r} has {v.size} draws, log_prior {n}")
        if np.isfinite(v).all() and np.ptp(v) > 0:
            usable[name] = v
    out = {name: dict(nan) for name in quantities}
    if not usable:
        return out
    dims = ("chain", "draw")
    names = {name: f"q{i}" for i, name in enumerate(usable)}  # any name is a valid variable
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({names[k]: (dims, v[None]) for k, v in usable.items()}),
            "log_prior": xr.Dataset({"log_prior": (dims, lp[None])}),
            "log_likelihood": xr.Dataset({"log_likelihood": (dims, ll[None])}),
        }
    )
    for key, group in ((PRIOR_KEY, "prior"), (LIKELIHOOD_KEY, "likelihood")):
        res = psense(tree, group=group, alphas=alphas, sample_dims=list(dims))
        for name, var in names.items():
            out[name][key] = float(res[var].values)
    return out
