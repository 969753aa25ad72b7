"""Power-scaling sensitivity in the common result format: the keys an estimator adds to a
quantity's estimate (:mod:`mmm_recovery.core.results`), the reading of the two values
(:func:`diagnosis`) and one fit's table of them (:func:`sensitivity_table`). An estimator computes
them (the Bayesian one: :mod:`mmm_recovery.estimators.bayesian.sensitivity`); scoring and the
reports read them here."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: keys added to a quantity's summary (:func:`mmm_recovery.core.results.channel_estimates`)
PRIOR_KEY = "prior_sensitivity"
LIKELIHOOD_KEY = "likelihood_sensitivity"


def diagnosis(prior: float | None, likelihood: float | None, threshold: float) -> str:
    """The reading of a quantity's two sensitivities (module docstring; the same inequalities as
    ``arviz_stats.psense_summary``): ``"prior-data conflict"``, ``"strong prior / weak
    likelihood"``, ``""`` otherwise; ``"not computed"`` when either value is missing (NaN, or
    ``None`` as a reloaded ``results.json`` has it)."""
    p, lik = (float("nan") if v is None else float(v) for v in (prior, likelihood))
    if not (np.isfinite(p) and np.isfinite(lik)):
        return "not computed"
    if p >= threshold and lik >= threshold:
        return "prior-data conflict"
    if p > threshold > lik:
        return "strong prior / weak likelihood"
    return ""


def sensitivity_table(
    channels: Mapping[str, Mapping], threshold: float, quantities: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """One fit's sensitivities as a table: channel x quantity rows with the estimate, both
    sensitivities and the :func:`diagnosis`. ``channels`` is a result's ``channels`` mapping
    (:mod:`mmm_recovery.core.results`); a quantity is a key of it (``roas``, ``beta``, ...) or
    ``adstock.<param>`` / ``saturation.<param>``; by default ROAS, then every adstock and
    saturation parameter the result has, then ``beta``."""
    rows = []
    for ch, est in channels.items():
        names = quantities or (
            "roas",
            *(f"adstock.{k}" for k in est["adstock"]["params"]),
            *(f"saturation.{k}" for k in est["saturation"]["params"]),
            "beta",
        )
        for q in names:
            group, _, param = q.partition(".")
            e = est[group]["params"][param] if param else est[q]
            p, lik = e.get(PRIOR_KEY, float("nan")), e.get(LIKELIHOOD_KEY, float("nan"))
            rows.append(
                {
                    "channel": ch,
                    "quantity": q,
                    "estimate": e["estimate"],
                    PRIOR_KEY: p,
                    LIKELIHOOD_KEY: lik,
                    "diagnosis": diagnosis(p, lik, threshold),
                }
            )
    return pd.DataFrame(rows)
