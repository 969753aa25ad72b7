"""The Bayesian estimator's own checks in the showcase notebook: the prior predictive check,
rank plots of the sampled parameters, the decay's posterior against the truth, lift tests, and
the power-scaling prior sensitivity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core.results import EstimatorResult
from mmm_recovery.estimators.bayesian import plots


def showcase(result: EstimatorResult, dataset: Any, hdi_level: float) -> list[tuple[str, Any]]:
    idata, truth = result.extras["idata"], dataset.truth
    channels = list(truth["channel_names"])
    n_train = result.tables["fitted"]["split"].eq("train").sum()
    scale = float(result.extras["mmm"].get_scales_as_xarray()["target_scale"].values)
    prior_y = np.asarray(result.extras["prior"]["y"].transpose("sample", "date").values) * scale
    train = dataset.data.iloc[:n_train]
    out: list[tuple[str, Any]] = [
        (
            "Prior predictive check: draws of the target before seeing the data",
            plots.prior_predictive(prior_y, train["date"], train["y"].to_numpy()),
        )
    ]

    def draws(name: str) -> np.ndarray:
        da = idata["posterior"][name].transpose("chain", "draw", "channel")
        return da.sel(channel=channels).values

    alpha = draws("adstock_alpha")
    out.append(("Rank plots: adstock decay", plots.trace_rank(alpha, channels, "adstock_alpha")))
    for name in ("saturation_lam", "saturation_effect", "saturation_beta"):
        if name in idata["posterior"]:
            out.append(
                (
                    f"Rank plots: {name} on PyMC-Marketing's scaled data (sampled, or derived "
                    "from the sampled coordinates)",
                    plots.trace_rank(draws(name), channels, name),
                )
            )
    out.append(
        (
            "Adstock decay: posterior against the truth",
            plots.posterior_vs_truth(
                {c: alpha[..., i].ravel() for i, c in enumerate(channels)},
                {c: truth["channels"][c]["adstock"].get("alpha") for c in channels},
                "adstock alpha: posterior vs truth",
            ),
        )
    )
    if "lift_tests" in result.tables:
        out.append(
            (
                f"Lift tests: each measurement beside the posterior of the model's lift over the "
                f"same test ({hdi_level:.0%} HDI) and the answer key's true lift",
                result.tables["lift_tests"].assign(
                    true_lift=[t["delta_y"] for t in truth["lift_tests"]]
                ),
            )
        )
    if "prior_sensitivity_threshold" in result.diagnostics:
        from mmm_recovery.core.sensitivity import sensitivity_table

        out.append(
            (
                "Does the prior decide? Power-scaling sensitivity of each estimate",
                sensitivity_table(
                    {c: e.to_dict() for c, e in result.channels.items()},
                    result.diagnostics["prior_sensitivity_threshold"],
                ),
            )
        )
    elif "prior_sensitivity_skipped" in result.diagnostics:
        out.append(
            (
                "Prior sensitivity skipped",
                pd.Series({"reason": result.diagnostics["prior_sensitivity_skipped"]}),
            )
        )
    return out
