"""Lift tests in the Bayesian model: each measured lift is a Normal observation of the model's
lift (steady state, or the mean over a test's weeks), and the posterior of each test's lift."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.results import estimate

#: name of the lift-test likelihood in the model (PyMC-Marketing's default): steady-state tests
LIFT_NAME = "lift_measurements"


#: name of the likelihood of the tests of a given length (the ``weeks`` column)
LIFT_WINDOW_NAME = "lift_window_measurements"

#: the lift tests' numbers in the model, as data variables (shared, like the weekly data) named
#: ``<likelihood>_<field>``: a compiled model takes each dataset's tests as inputs. A steady-state
#: test's ``x`` and ``delta_x``, a timed test's spend path (``spend``), and every test's
#: ``sigma`` and measured ``delta_y`` (all on the scaled data).
LIFT_DATA = tuple(
    [f"{LIFT_NAME}_{f}" for f in ("x", "delta_x", "sigma", "delta_y")]
    + [f"{LIFT_WINDOW_NAME}_{f}" for f in ("spend", "sigma", "delta_y")]
)


def _lift_likelihoods(lift_tests: pd.DataFrame) -> tuple[np.ndarray, tuple[tuple[str, Any], ...]]:
    """Each lift test's weeks (NaN: steady state) and, per likelihood, its name and the mask of
    the tests it holds, in table order: steady-state tests in :data:`LIFT_NAME`, tests of a given
    length in :data:`LIFT_WINDOW_NAME`."""
    weeks = files.lift_test_weeks(lift_tests)
    steady = np.isnan(weeks)
    return weeks, ((LIFT_NAME, steady), (LIFT_WINDOW_NAME, ~steady))


def _lift_saturation(mmm, channels: list[str], lift_dim: str):
    """The built ``mmm``'s saturation function ``f(x, **parameters)`` for lift tests on
    ``channels`` (one per entry of ``lift_dim``). In the effect coordinates the curve also needs
    each test's channel's reference input ``x0``, which PyMC-Marketing's lift functions cannot
    index, so it is given here per test."""
    from mmm_recovery.estimators.bayesian.reparam import EffectLogisticSaturation

    saturation = mmm.saturation
    if not isinstance(saturation, EffectLogisticSaturation):
        return saturation.function
    from pymc.dims import as_xtensor
    from pymc_marketing.mmm.transformers import logistic_saturation

    order = list(mmm.channel_columns)
    index = as_xtensor(np.array([order.index(c) for c in channels]), dims=(lift_dim,))
    x0 = saturation.reference().isel(channel=index)

    def function(x, lam, effect):  # lam and effect have one value per test
        return effect * logistic_saturation(x, lam) / logistic_saturation(x0, lam)

    return function


def add_lift_tests(mmm, lift_tests: pd.DataFrame) -> None:
    """Condition the built ``mmm`` on lift tests (:data:`~mmm_recovery.core.files.LIFT_TEST_COLUMNS`, in
    currency, and the optional :data:`~mmm_recovery.core.files.LIFT_TEST_WEEKS`), all on
    PyMC-Marketing's scaled data (spend over the channel's training max, revenue over the
    target's).

    * A steady-state test (no ``weeks``): ``delta_y ~ Normal(sat(x + delta_x) - sat(x), sigma)``
      with the saturation including its ``beta`` (likelihood :data:`LIFT_NAME`), as
      ``MMM.add_lift_test_measurements`` does (but without its calibration metadata and
      original-scale deterministic: the posterior is saved as inference data, not as a
      PyMC-Marketing model).
    * A test of ``w`` weeks: ``delta_y ~ Normal(mean lift over its weeks, sigma)``
      (:data:`LIFT_WINDOW_NAME`, :func:`_add_windowed_lift_tests`): the model's own adstock of a
      spend path held at ``x`` and then moved to ``x + delta_x`` for ``w`` weeks, saturated, less
      the steady state at ``x``, averaged over the ``w`` weeks. A short test on a slowly decaying
      channel measures less than the steady-state lift, and the model is compared with what the
      test measured, not with the steady state.
    """
    scales = mmm.get_scales_as_xarray()
    target_scale = float(scales["target_scale"].values)
    channel_scale = scales["channel_scale"].sel(channel=lift_tests["channel"].to_list()).values
    df = lift_tests.reset_index(drop=True).copy()
    for c in ("x", "delta_x"):
        df[c] = df[c].to_numpy(dtype=float) / channel_scale
    for c in ("delta_y", "sigma"):
        df[c] = df[c].to_numpy(dtype=float) / target_scale
    weeks, ((_, steady), (_, timed)) = _lift_likelihoods(df)
    if steady.any():
        _add_steady_lift_tests(mmm, df.loc[steady].reset_index(drop=True))
    if timed.any():
        _add_windowed_lift_tests(
            mmm, df.loc[timed].reset_index(drop=True), weeks[timed].astype(int)
        )


def _data(name: str, values: np.ndarray, dims: tuple[str, ...]) -> Any:
    """A data variable of the current model (its dimensions added as coordinates of its
    lengths where they are new)."""
    import pymc as pm
    import pymc.dims as pmd

    model = pm.modelcontext(None)
    for dim, length in zip(dims, np.shape(values), strict=True):
        if dim not in model.coords:
            model.add_coord(dim, length=length)
    return pmd.Data(name, np.asarray(values, dtype=float), dims=dims)


def _add_steady_lift_tests(mmm, df: pd.DataFrame) -> None:
    """The likelihood :data:`LIFT_NAME` of steady-state lift tests (``df`` on the scaled data,
    one row per test; :func:`add_lift_tests`): ``delta_y ~ Normal(sat(x + delta_x) - sat(x),
    sigma)`` with the saturation including its ``beta``, as PyMC-Marketing's
    ``add_saturation_observations`` builds it, with the tests' numbers as data variables
    (:data:`LIFT_DATA`)."""
    import pymc.dims as pmd
    from pymc.dims import as_xtensor

    name = LIFT_NAME
    lift_dim = f"_{name}_dim"
    model = mmm.model
    order = list(mmm.channel_columns)
    channels = df["channel"].to_list()
    index = {"channel": as_xtensor(np.array([order.index(c) for c in channels]), dims=(lift_dim,))}
    with model:
        x, delta_x, sigma, delta_y = (
            _data(f"{name}_{f}", df[f].to_numpy(dtype=float), (lift_dim,))
            for f in ("x", "delta_x", "sigma", "delta_y")
        )
    saturation = _lift_saturation(mmm, channels, lift_dim)
    params = {
        p: model[v].isel(index, missing_dims="ignore")
        for p, v in mmm.saturation.variable_mapping.items()
    }
    lift = saturation(x + delta_x, **params) - saturation(x, **params)
    with model:
        mu = pmd.Deterministic(f"{name}_model_estimated_lift", lift)
        pmd.Normal(name, mu=mu, sigma=sigma, observed=delta_y)


def _add_windowed_lift_tests(mmm, df: pd.DataFrame, weeks: np.ndarray) -> None:
    """The likelihood :data:`LIFT_WINDOW_NAME` of lift tests of ``weeks`` weeks (``df`` on the
    scaled data, one row per test; :func:`add_lift_tests`).

    Each test's spend path is ``l_max`` weeks at ``x`` (steady state: the adstock window is full)
    then ``x + delta_x``; the model's adstock (PyMC-Marketing's own function with the test's
    channel's parameters) and saturation turn it into weekly contributions, and the model's lift
    is the mean over the test's weeks of the contribution less the one at steady state."""
    import pymc.dims as pmd
    from pymc.dims import as_xtensor

    name = LIFT_WINDOW_NAME
    lift_dim, week_dim = f"_{name}_dim", f"_{name}_week"
    model = mmm.model
    order = list(mmm.channel_columns)
    channels = df["channel"].to_list()
    index = {"channel": as_xtensor(np.array([order.index(c) for c in channels]), dims=(lift_dim,))}

    def parameters(component) -> dict[str, Any]:
        return {
            p: model[v].isel(index, missing_dims="ignore")
            for p, v in component.variable_mapping.items()
        }

    l_max, longest = int(mmm.adstock.l_max), int(weeks.max())
    x = df["x"].to_numpy(dtype=float)[:, None]
    after = x + df["delta_x"].to_numpy(dtype=float)[:, None]
    spend = np.where(np.arange(l_max + longest)[None, :] < l_max, x, after)
    with model:
        spend_data = _data(f"{name}_spend", spend, (lift_dim, week_dim))
        sigma = _data(f"{name}_sigma", df["sigma"].to_numpy(dtype=float), (lift_dim,))
        delta_y = _data(f"{name}_delta_y", df["delta_y"].to_numpy(dtype=float), (lift_dim,))
    adstocked = mmm.adstock.function(spend_data, **parameters(mmm.adstock), dim=week_dim)
    saturation = _lift_saturation(mmm, channels, lift_dim)
    sat_params = parameters(mmm.saturation)
    before = saturation(adstocked.isel({week_dim: l_max - 1}), **sat_params)
    during = saturation(adstocked.isel({week_dim: slice(l_max, None)}), **sat_params)
    share = (np.arange(longest)[None, :] < weeks[:, None]) / weeks[:, None]  # 1/w in its weeks
    lift = ((during - before) * as_xtensor(share, dims=(lift_dim, week_dim))).sum(week_dim)
    with model:
        mu = pmd.Deterministic(f"{name}_model_estimated_lift", lift)
        pmd.Normal(name, mu=mu, sigma=sigma, observed=delta_y)


def posterior_lifts(
    idata: Any, lift_tests: pd.DataFrame, target_scale: float, hdi_level: float
) -> pd.DataFrame:
    """Each lift test (rows of ``lift_tests``, in order) beside the lift the fitted model says it
    should have measured: the posterior mean and ``hdi_level`` HDI of the model's lift
    (:func:`add_lift_tests`: steady state, or the mean over the test's weeks), in currency per
    week, and the measurement's z-score against the model, ``(delta_y - mean) / sqrt(sigma**2 +
    posterior variance)``: the test's own error and the model's uncertainty about its lift."""

    post = idata["posterior"]
    weeks, likelihoods = _lift_likelihoods(lift_tests)
    n = post.sizes["chain"] * post.sizes["draw"]
    draws = np.empty((n, len(lift_tests)))
    for name, rows in likelihoods:
        if rows.any():
            da = post[f"{name}_model_estimated_lift"].transpose("chain", "draw", ...)
            draws[:, rows] = np.asarray(da.values, dtype=float).reshape(n, -1) * target_scale
    summary = [estimate(draws[:, i], hdi_level, "hdi") for i in range(len(lift_tests))]
    out = lift_tests[list(files.LIFT_TEST_COLUMNS)].reset_index(drop=True).copy()
    out[files.LIFT_TEST_WEEKS] = weeks
    out["model_lift"] = [e["estimate"] for e in summary]
    out["model_lift_lower"] = [e["lower"] for e in summary]
    out["model_lift_upper"] = [e["upper"] for e in summary]
    spread = np.sqrt(out["sigma"].to_numpy() ** 2 + draws.var(axis=0))
    out["z"] = (out["delta_y"] - out["model_lift"]) / spread
    return out
