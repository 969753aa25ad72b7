"""A deliberately straightforward, loop-based version of the frequentist objective, in the style of
the seed notebook (Python ``for t in range(...)`` adstock, scikit-learn ``Ridge`` refit).

It computes the same model as :class:`mmm_recovery.estimators.frequentist.objective.Objective` one candidate
at a time and exists for two reasons only: it is the test oracle for the vectorised objective,
and the baseline of ``scripts/bench_frequentist.py``. Do not use it for fitting.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge

from mmm_recovery.families import registry as families


def loop_adstock(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``out[t] = sum_k weights[k] * x[t - k]`` with explicit Python loops."""
    out = np.zeros(len(x))
    for t in range(len(x)):
        for k in range(len(weights)):
            if t - k >= 0:
                out[t] += weights[k] * x[t - k]
    return out


def reference_losses(obj, h: np.ndarray, rows: np.ndarray | None = None) -> tuple[float, float]:
    """(NRMSE, DECOMP.RSSD) of one hyperparameter vector ``h``, computed the slow way."""
    rows = obj.rows if rows is None else rows
    p = obj.decode(h)
    n_ch = obj.n_channels
    range_rows = obj.train_rows_for_range
    media = []
    for c in range(n_ch):
        ad_params = {k: p[k][0, c] for k in p if k not in ("slope", "gamma", "lambda")}
        w = families.adstock_weights(obj.family, ad_params, obj.l_max, obj.normalize)[:, 0]
        ad = loop_adstock(obj.spend[:, c], w)
        lo, hi = ad[range_rows].min(), ad[range_rows].max()
        kappa = lo + p["gamma"][0, c] * (hi - lo)
        slope = p["slope"][0, c]
        media.append(np.array([a**slope / (a**slope + kappa**slope) if a > 0 else 0.0 for a in ad]))
    design = np.column_stack([*media, obj.other])[rows]
    y = obj.y[rows]
    n = len(rows)
    sd = design.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    active = list(range(design.shape[1]))
    while True:  # refit without media columns whose coefficient is negative
        model = Ridge(alpha=n * float(p["lambda"][0])).fit(design[:, active] / sd[active], y)
        coef = np.zeros(design.shape[1])
        coef[active] = model.coef_ / sd[active]
        neg = [j for j in active if j < n_ch and coef[j] < 0]
        if not neg:
            break
        active = [j for j in active if j not in neg]
    yhat = model.intercept_ + design @ coef
    nrmse = np.sqrt(np.mean((y - yhat) ** 2)) / (y.max() - y.min())
    effect = np.array([coef[c] * design[:, c].sum() for c in range(n_ch)])
    share = effect / effect.sum() if effect.sum() > 0 else np.zeros(n_ch)
    spend = obj.spend[rows].sum(axis=0)
    rssd = np.sqrt(np.sum((share - spend / spend.sum()) ** 2))
    return float(nrmse), float(rssd)
