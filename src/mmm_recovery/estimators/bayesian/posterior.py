"""From PyMC-Marketing's posterior to the project's quantities: the scale conversion, both
coordinates of the logistic curve, each channel's response at the summary draws, the
decomposition, the posterior-mean prediction, and a byte-stable copy of the inference data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core.response import ChannelResponse
from mmm_recovery.core.results import FitInput
from mmm_recovery.estimators.bayesian.config import BayesianConfig
from mmm_recovery.families import registry as families


def to_original_scale(
    saturation: str,
    params: dict[str, np.ndarray],
    channel_scale: np.ndarray | float,
    target_scale: float,
) -> dict[str, np.ndarray]:
    """Saturation parameters fitted on max-scaled data -> the truth's currency units.

    PyMC-Marketing's channel contribution on the original scale is
    ``target_scale * beta_s * f(adstock(x) / channel_scale)``; adstock is linear, so the family's
    own map (:meth:`~mmm_recovery.families.base.SaturationFamily.to_currency`) converts ``f``'s
    parameters (logistic: ``lam = lam_s / channel_scale``; Hill: ``kappa = kappa_s *
    channel_scale``) and ``beta = beta_s * target_scale`` (currency per week).
    """
    family = families.saturation(saturation)
    out = {"beta": np.asarray(params["beta"]) * target_scale}
    out.update(family.to_currency({p: params[p] for p in family.parameters}, channel_scale))
    return out


def with_logistic_views(idata: Any, x0: np.ndarray, channels: list[str]) -> Any:
    """``idata`` with both coordinates of the logistic curve in its posterior: the derived
    ``saturation_beta`` when NUTS sampled ``saturation_effect``, the derived ``saturation_effect``
    (the curve's value at ``x0``) when it sampled ``saturation_beta``."""
    import xarray as xr

    from mmm_recovery.estimators.bayesian.reparam import beta_from_effect, effect_from_beta

    post = idata["posterior"].to_dataset()
    ref = xr.DataArray(np.asarray(x0, dtype=float), coords={"channel": list(channels)})
    lam = post["saturation_lam"]
    if "saturation_beta" not in post:
        beta = xr.apply_ufunc(beta_from_effect, lam, post["saturation_effect"], ref)
        post = post.assign(saturation_beta=beta)
    elif "saturation_effect" not in post:
        post = post.assign(
            saturation_effect=xr.apply_ufunc(effect_from_beta, lam, post["saturation_beta"], ref)
        )
    idata["posterior"] = post
    return idata


#: InferenceData attributes that record when/how long, not what: dropped before saving so the same
#: seed gives the same file
_VOLATILE_ATTRS = ("created_at", "sampling_time")


def _with_attrs(da: Any, attrs: dict) -> Any:
    out = da.copy(deep=False)
    out.attrs = attrs
    return out


def reproducible_idata(idata: Any) -> Any:
    """A copy of ``idata`` that is the same bytes on disk for the same draws: without wall-clock
    attributes (creation time, sampling time), and with every group's variables and coordinates
    in sorted order (PyMC builds some groups, e.g. ``prior``, from sets of names, so their order
    follows the process's string-hash seed)."""
    import xarray as xr

    def clean(attrs: dict) -> dict:
        return {k: attrs[k] for k in sorted(attrs) if k not in _VOLATILE_ATTRS}

    groups = {}
    for node in idata.subtree:
        ds = node.to_dataset(inherit=False)
        # plain variables (no attached coordinates), so the sorted order is the order written
        coords = {
            k: _with_attrs(ds.coords[k].variable, clean(ds.coords[k].attrs))
            for k in sorted(ds.coords)
        }
        data = {k: _with_attrs(ds[k].variable, clean(ds[k].attrs)) for k in sorted(ds.data_vars)}
        groups[node.path] = xr.Dataset(data, coords=coords, attrs=clean(ds.attrs))
    return type(idata).from_dict(groups)


def channel_draws(
    cfg: BayesianConfig, idata, fit_input: FitInput, channel_scale, target_scale, pick: np.ndarray
) -> dict[str, list[ChannelResponse]]:
    """Each channel's response at the posterior draws ``pick`` (flat chain-major indices),
    on the original scale."""
    post = idata["posterior"]
    total = post.sizes["chain"] * post.sizes["draw"]

    def flat(name: str) -> np.ndarray:
        da = post[name].transpose("chain", "draw", "channel").sel(channel=fit_input.channels)
        return np.asarray(da.values).reshape(total, -1)[pick]

    alpha = flat("adstock_alpha")
    names = (*families.saturation(cfg.saturation).parameters, "beta")
    scaled = {p: flat(f"saturation_{p}") for p in names}
    orig = to_original_scale(cfg.saturation, scaled, channel_scale, target_scale)
    draws: dict[str, list[ChannelResponse]] = {}
    for i, c in enumerate(fit_input.channels):
        sat_params = [
            {k: float(orig[k][d, i]) for k in orig if k != "beta"} for d in range(len(pick))
        ]
        draws[c] = [
            ChannelResponse(
                "geometric",
                {"alpha": float(alpha[d, i])},
                cfg.l_max,
                True,
                cfg.saturation,
                sat_params[d],
                float(orig["beta"][d, i]),
            )
            for d in range(len(pick))
        ]
    return draws


def decomposition(
    idata, fit_input: FitInput, yhat: np.ndarray, target_scale: float
) -> pd.DataFrame:
    """Posterior-mean weekly contribution of each channel (currency, training weeks) and the
    rest of the fitted mean (intercept, controls, trend, seasonality) as ``base``."""
    n_train = fit_input.n_train
    contrib = idata["posterior"]["channel_contribution"].mean(("chain", "draw"))
    contrib = (
        contrib.transpose("date", "channel").sel(channel=fit_input.channels).values * target_scale
    )
    out = pd.DataFrame({"date": fit_input.data[fit_input.date].iloc[:n_train].to_numpy()})
    out["base"] = yhat[:n_train] - contrib.sum(axis=1)
    for i, c in enumerate(fit_input.channels):
        out[c] = contrib[:, i]
    return out


def predict(mmm, x: pd.DataFrame, n_train: int, target_scale: float, seed: int) -> np.ndarray:
    """Posterior-mean prediction on the original scale for all weeks (holdout weeks carry over
    adstock from the training weeks)."""
    pp_train = mmm.sample_posterior_predictive(
        x.iloc[:n_train], extend_idata=False, random_seed=seed, progressbar=False
    )
    parts = [np.asarray(pp_train["y"].mean("sample").values, dtype=float)]
    if n_train < len(x):
        pp_hold = mmm.sample_posterior_predictive(
            x.iloc[n_train:],
            extend_idata=False,
            random_seed=seed,
            include_last_observations=True,
            progressbar=False,
        )
        parts.append(np.asarray(pp_hold["y"].mean("sample").values, dtype=float))
    return np.concatenate(parts) * target_scale  # "y" is on the max-scaled target
