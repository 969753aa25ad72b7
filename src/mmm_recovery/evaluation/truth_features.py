"""Coverage and error against the truth's features: the random-truth arm's smooth meta-model.

Each replicate of a random-truth arm draws its own truth
(:mod:`mmm_recovery.simulation.truth_draw`), so a fit's channel has a decay, a half-saturation
point, a ROAS and a spend share of its own. :func:`slopes` regresses a 0/1 coverage (logistic,
Firth) or a log absolute error (least squares) on those features, each standardised (slope per
sd of the feature, all features in one model), with SEs clustered by replicate, and traces each
feature's curve: the fitted coverage (or geometric-mean absolute error) across the feature's
observed range, the other features at their means, with a delta-method interval.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from mmm_recovery.evaluation import metamodel

#: feature -> transform: the truth's features (``truths.csv`` columns) and their scale
FEATURES = {
    "alpha": "identity",
    "half_saturation": "log",
    "roas": "log",
    "spend_share": "identity",
}
#: points of each feature's curve, across its observed 5%-95% range
CURVE_POINTS = 5
COLUMNS = ["feature", "kind", "x", "estimate", "se", "lower", "upper", "scale"]
COLUMNS += ["marginal", "marginal_se", "n_rows", "n_clusters", "note"]


def slopes(
    rows: pd.DataFrame,
    features: dict[str, str],
    response: str,
    kind: Literal["binomial", "log"],
    cluster: str = "replicate",
    level: float = 0.95,
    floor: float = 1e-6,
) -> pd.DataFrame:
    """Slopes per sd of each feature and each feature's curve (module docstring).

    Rows ``kind == "slope"``: ``estimate`` on the link scale per sd of the (transformed)
    feature; for ``binomial``, ``marginal`` is the average derivative of the coverage per sd
    (``mean p (1 - p)`` times the slope; its SE treats that mean as known). Rows ``kind ==
    "curve"``: ``x`` on the feature's own scale, ``estimate`` the fitted coverage or geometric-
    mean absolute error there. Features constant in the rows, and rows with a missing value, are
    left out (``note``)."""
    keep = [f for f in features if f in rows and rows[f].notna().any()]
    d = rows.dropna(subset=[response, *keep]).reset_index(drop=True)
    note = "" if len(d) == len(rows) else f"{len(rows) - len(d)} rows with a missing value left out"
    if d.empty or not keep:
        return pd.DataFrame(columns=COLUMNS)
    y, _ = metamodel._outcome(d[response].to_numpy(dtype=float), kind, floor, response)
    z, centre, scale, used = {}, {}, {}, []
    for f in keep:
        v = _transform(d[f].to_numpy(dtype=float), features[f])
        sd = float(np.std(v))
        if not sd > 0:
            continue
        centre[f], scale[f] = float(np.mean(v)), sd
        z[f] = (v - centre[f]) / sd
        used.append(f)
    x = np.column_stack([np.ones(len(d)), *(z[f] for f in used)])
    fit = metamodel._firth(x, y, response) if kind == "binomial" else metamodel._ols(x, y)
    codes, uniques = pd.factorize(d[cluster])
    cov, why = metamodel._cluster_cov(x, fit, codes, len(uniques), ols=kind == "log")
    g = len(uniques)
    tq = stats.t.ppf(0.5 + level / 2, g - 1) if g > 1 else math.nan
    common = {"n_rows": len(d), "n_clusters": g, "note": why or note}
    link = "logit" if kind == "binomial" else "log"
    weight = float(np.mean(special.expit(x @ fit.beta) * (1 - special.expit(x @ fit.beta))))
    out = []
    for j, f in enumerate(used, start=1):
        b, se = float(fit.beta[j]), float(math.sqrt(cov[j, j]))
        rec = {"feature": f, "kind": "slope", "x": math.nan, "estimate": b, "se": se}
        rec |= {"lower": b - tq * se, "upper": b + tq * se, "scale": link}
        if kind == "binomial":
            rec |= {"marginal": weight * b, "marginal_se": weight * se}
        out.append(rec | common)
        lo, hi = np.quantile(_transform(d[f].to_numpy(dtype=float), features[f]), [0.05, 0.95])
        for v in np.linspace(lo, hi, CURVE_POINTS):
            row = np.zeros(len(fit.beta))
            row[0], row[j] = 1.0, (v - centre[f]) / scale[f]
            eta, s = float(row @ fit.beta), float(math.sqrt(row @ cov @ row))
            inv = special.expit if kind == "binomial" else np.exp
            out.append(
                {
                    "feature": f,
                    "kind": "curve",
                    "x": float(np.exp(v)) if features[f] == "log" else float(v),
                    "estimate": float(inv(eta)),
                    "se": s,
                    "lower": float(inv(eta - tq * s)),
                    "upper": float(inv(eta + tq * s)),
                    "scale": "probability" if kind == "binomial" else "ratio",
                }
                | common
            )
    return pd.DataFrame(out).reindex(columns=COLUMNS)


def _transform(v: np.ndarray, how: str) -> np.ndarray:
    if how == "log":
        return np.log(np.clip(v, 1e-12, None))
    return v
