"""Pure, vectorised adstock and saturation transforms (numpy only; no I/O, no priors).

The family classes in :mod:`mmm_recovery.families` call these; code that holds a family *name*
looks the family up in :mod:`mmm_recovery.families.registry` instead of branching on it.

Conventions
-----------
* Time is axis 0 of a spend array ``x`` of shape ``(T,)`` or ``(T, C)`` (weeks x channels).
* Adstock weights have shape ``(..., L, C)`` (``L`` = ``l_max`` lags, lag 0 first); leading
  dimensions are a batch of parameter sets, so one call evaluates many candidates at once.
* Adstock is a causal convolution: ``y[t, c] = sum_{k=0}^{L-1} w[k, c] * x[t - k, c]`` with
  ``x[t] = 0`` before the first week ("no history"), exactly as PyMC-Marketing's
  ``ConvMode.After`` and Robyn's adstock.
* Units are those of the input: these functions never rescale. Saturation parameters are in the
  units of the (adstocked) spend that is passed in, so a parameter fitted on max-scaled spend
  must be converted before it is compared with one on the currency scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "convolve_adstock",
    "geometric_weights",
    "geometric_adstock",
    "weibull_weights",
    "weibull_adstock",
    "robyn_weibull_scale",
    "logistic_saturation",
    "hill_saturation",
    "fourier_features",
]


def _as_channels(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim != 2:
        raise ValueError(f"spend must have shape (T,) or (T, C); got {x.shape}")
    return x, False


def convolve_adstock(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Apply per-channel adstock weights to spend, for one or a batch of weight sets.

    Parameters
    ----------
    x : array, shape (T,) or (T, C)
        Spend per week (any unit; the output has the same unit).
    weights : array, shape (L,), (L, C) or (B..., L, C)
        Lag weights, lag 0 first. A leading batch shape evaluates several weight sets at once.

    Returns
    -------
    array, shape (B..., T, C) (or (T,) for 1-D ``x`` with 1-D ``weights``)
        Adstocked spend.
    """
    x2, squeeze = _as_channels(x)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        w = w[:, None]
    n_lags = w.shape[-2]
    padded = np.concatenate([np.zeros((n_lags - 1, x2.shape[1])), x2], axis=0)
    # windows[t, c, j] = x[t - (L - 1) + j, c]  ->  reversed weights give lag order.
    windows = sliding_window_view(padded, n_lags, axis=0)
    out = np.einsum("tcj,...jc->...tc", windows, w[..., ::-1, :], optimize=True)
    if squeeze and out.ndim == 2:
        return out[:, 0]
    return out


def geometric_weights(alpha: np.ndarray | float, l_max: int, normalize: bool = False) -> np.ndarray:
    """Geometric (exponential) decay weights ``alpha**k`` for ``k = 0..l_max-1``.

    Parameters
    ----------
    alpha : float or array of shape (..., C)
        Retention rate per week, in [0, 1).
    l_max : int
        Number of lags (including lag 0).
    normalize : bool
        Divide by the sum of the weights so they add to 1 (PyMC-Marketing's default); then
        adstocked spend keeps the unit and long-run level of spend. Robyn does not normalise.

    Returns
    -------
    array, shape (..., l_max, C)
    """
    a = np.atleast_1d(np.asarray(alpha, dtype=float))
    lags = np.arange(l_max, dtype=float)[:, None]
    w = a[..., None, :] ** lags
    if normalize:
        w = w / w.sum(axis=-2, keepdims=True)
    return w


def geometric_adstock(
    x: np.ndarray, alpha: np.ndarray | float, l_max: int, normalize: bool = False
) -> np.ndarray:
    """Geometric adstock of spend ``x`` (see :func:`geometric_weights`, :func:`convolve_adstock`)."""
    return convolve_adstock(x, geometric_weights(alpha, l_max, normalize))


def _weibull_cdf(t: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return -np.expm1(-((t / scale) ** shape))


def _weibull_pdf(t: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = t / scale
    return (shape / scale) * z ** (shape - 1.0) * np.exp(-(z**shape))


def weibull_weights(
    shape: np.ndarray | float,
    scale: np.ndarray | float,
    l_max: int,
    kind: str = "cdf",
    normalize: bool = False,
) -> np.ndarray:
    """Weibull adstock weights, as Robyn defines them (scale in weeks).

    * ``kind="cdf"``: ``w_0 = 1`` and ``w_k = prod_{i=1..k} (1 - F(i))`` for ``k = 1..l_max-1``,
      where ``F`` is the Weibull CDF: a time-varying retention rate.
    * ``kind="pdf"``: the Weibull density at ``k = 1..l_max``, min-max normalised over the window
      (so the peak weight is 1 and the smallest is 0): allows a delayed peak.

    Robyn writes ``scale`` as a quantile in [0, 1] of the window; :func:`robyn_weibull_scale`
    converts it to weeks. PyMC-Marketing's ``lam`` is this ``scale`` and its ``k`` is ``shape``.

    Parameters
    ----------
    shape, scale : float or array of shape (..., C)
        Weibull shape (> 0) and scale (> 0, weeks).
    l_max : int
        Number of weights.
    kind : {"cdf", "pdf"}
    normalize : bool
        Divide by the sum so the weights add to 1.

    Returns
    -------
    array, shape (..., l_max, C)
    """
    k = np.atleast_1d(np.asarray(shape, dtype=float))[..., None, :]
    lam = np.atleast_1d(np.asarray(scale, dtype=float))[..., None, :]
    if kind == "cdf":
        t = np.arange(1, l_max, dtype=float)[:, None]
        survival = 1.0 - _weibull_cdf(t, k, lam)
        lag0 = np.ones(survival.shape[:-2] + (1, survival.shape[-1]))
        w = np.cumprod(np.concatenate([lag0, survival], axis=-2), axis=-2)
    elif kind == "pdf":
        t = np.arange(1, l_max + 1, dtype=float)[:, None]
        dens = _weibull_pdf(t, k, lam)
        lo = dens.min(axis=-2, keepdims=True)
        hi = dens.max(axis=-2, keepdims=True)
        w = (dens - lo) / np.where(hi > lo, hi - lo, 1.0)
    else:
        raise ValueError(f"Weibull kind must be 'cdf' or 'pdf'; got {kind!r}")
    if normalize:
        w = w / w.sum(axis=-2, keepdims=True)
    return w


def weibull_adstock(
    x: np.ndarray,
    shape: np.ndarray | float,
    scale: np.ndarray | float,
    l_max: int,
    kind: str = "cdf",
    normalize: bool = False,
) -> np.ndarray:
    """Weibull adstock of spend ``x`` (see :func:`weibull_weights`)."""
    return convolve_adstock(x, weibull_weights(shape, scale, l_max, kind, normalize))


def robyn_weibull_scale(scale_quantile: float, l_max: int) -> float:
    """Robyn's relative Weibull scale (a quantile of ``1..l_max``) in weeks, rounded as Robyn does."""
    return float(np.round(1.0 + scale_quantile * (l_max - 1)))


def logistic_saturation(x: np.ndarray, lam: np.ndarray | float) -> np.ndarray:
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))`` = ``tanh(lam x / 2)``.

    ``lam`` is in 1 / (unit of ``x``); the output is in [0, 1) for ``x >= 0``.
    """
    return np.tanh(0.5 * np.asarray(lam, dtype=float) * np.asarray(x, dtype=float))


def hill_saturation(
    x: np.ndarray, slope: np.ndarray | float, kappa: np.ndarray | float
) -> np.ndarray:
    """Hill saturation ``x**a / (x**a + g**a)`` with ``a`` = slope and ``g`` = kappa (half-saturation,
    in the unit of ``x``). Evaluated as ``1 / (1 + (g/x)**a)`` for stability; 0 at ``x = 0``."""
    x = np.asarray(x, dtype=float)
    a = np.asarray(slope, dtype=float)
    g = np.asarray(kappa, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        out = 1.0 / (1.0 + np.exp(a * (np.log(g) - np.log(np.where(x > 0, x, 1.0)))))
    return np.where(x > 0, out, 0.0)


def fourier_features(dates: pd.DatetimeIndex, order: int) -> np.ndarray:
    """Yearly Fourier terms ``[sin(2 pi k d/365.25), cos(...)]`` for k = 1..order, d = day of year.
    Shape (T, 2*order), columns sin_1, cos_1, sin_2, cos_2, ..."""
    day = np.asarray(dates.day_of_year, dtype=float)
    cols = []
    for k in range(1, order + 1):
        cols += [np.sin(2 * np.pi * k * day / 365.25), np.cos(2 * np.pi * k * day / 365.25)]
    return np.column_stack(cols) if cols else np.zeros((len(dates), 0))
