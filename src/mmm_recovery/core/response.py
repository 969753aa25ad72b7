"""A channel's response model: adstock -> saturation -> beta, on the original currency scale.

The same object describes the truth (built from a :class:`~mmm_recovery.core.scenario.ChannelSpec`) and
an estimate (built by an estimator from its fitted parameters), so the truth and every
estimator compute contributions, ROAS, marginal ROAS and response curves with one formula.

Definitions (all in currency):

* weekly contribution: ``beta * sat(adstock(spend))``;
* steady-state response to a constant weekly spend ``s``: ``beta * sat(s * sum(w))`` -- the
  weekly revenue once carry-over has built up (the curve budget allocation works on);
* ROAS over a period: total contribution / total spend;
* marginal ROAS at ``s``: d(steady-state response)/ds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmm_recovery.families import registry as families
from mmm_recovery.families import transforms


@dataclass(frozen=True)
class ChannelResponse:
    """Response model of one channel; parameters may be scalars or arrays of draws.

    Attributes
    ----------
    adstock_family : str
        A registered adstock family's name (:func:`mmm_recovery.families.registry.adstock_names`).
    adstock_params : dict
        That family's ``parameters`` (e.g. ``{"alpha"}``; a Weibull scale in weeks).
    l_max : int
        Number of adstock weights.
    normalize : bool
        Whether the adstock weights sum to 1.
    saturation_family : str
        A registered saturation family's name
        (:func:`mmm_recovery.families.registry.saturation_names`).
    saturation_params : dict
        That family's ``parameters`` on the scale of adstocked weekly spend in currency (e.g.
        ``{"lam"}`` in 1/currency, ``{"slope", "kappa"}`` with kappa in currency).
    beta : float
        Maximum weekly contribution, currency.
    """

    adstock_family: str
    adstock_params: dict[str, Any]
    l_max: int
    normalize: bool
    saturation_family: str
    saturation_params: dict[str, Any]
    beta: Any
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_spec(cls, ch: Any) -> ChannelResponse:
        """From a :class:`~mmm_recovery.core.scenario.ChannelSpec`."""
        return cls(
            adstock_family=ch.adstock.family,
            adstock_params=dict(ch.adstock.params),
            l_max=ch.adstock.l_max,
            normalize=ch.adstock.normalize,
            saturation_family=ch.saturation.family,
            saturation_params=dict(ch.saturation.params),
            beta=ch.beta,
        )

    def weights(self) -> np.ndarray:
        """Adstock weights, shape (l_max,) for scalar parameters."""
        w = families.adstock_weights(
            self.adstock_family, self.adstock_params, self.l_max, self.normalize
        )
        return w[..., 0] if w.shape[-1] == 1 else w

    def weight_sum(self) -> np.ndarray | float:
        return np.sum(self.weights(), axis=-1)

    def saturate(self, x: np.ndarray) -> np.ndarray:
        return families.saturate(self.saturation_family, x, self.saturation_params)

    def contribution(self, spend: np.ndarray) -> np.ndarray:
        """Weekly contribution (currency) of a weekly spend series (currency), shape (T,)."""
        adstocked = transforms.convolve_adstock(np.asarray(spend, dtype=float), self.weights())
        return np.asarray(self.beta) * self.saturate(adstocked)

    def steady_state(self, spend_level: np.ndarray | float) -> np.ndarray:
        """Weekly revenue (currency) at a constant weekly spend, once carry-over has built up."""
        return np.asarray(self.beta) * self.saturate(
            np.asarray(spend_level, dtype=float) * self.weight_sum()
        )

    def marginal(self, spend_level: np.ndarray | float) -> np.ndarray:
        """Marginal ROAS: derivative of :meth:`steady_state` with respect to weekly spend."""
        s = np.asarray(spend_level, dtype=float)
        k = self.weight_sum()
        x = s * k
        d = families.saturation(self.saturation_family).derivative(x, self.saturation_params)
        return np.asarray(self.beta) * d * k

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (scalars only)."""
        return {
            "adstock": {
                "family": self.adstock_family,
                "l_max": self.l_max,
                "normalize": self.normalize,
                **{k: float(v) for k, v in self.adstock_params.items()},
            },
            "saturation": {
                "family": self.saturation_family,
                **{k: float(v) for k, v in self.saturation_params.items()},
            },
            "beta": float(self.beta),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChannelResponse:
        ad = dict(d["adstock"])
        sat = dict(d["saturation"])
        fam_a, l_max, norm = ad.pop("family"), int(ad.pop("l_max")), bool(ad.pop("normalize"))
        fam_s = sat.pop("family")
        return cls(fam_a, ad, l_max, norm, fam_s, sat, d["beta"])


@dataclass(frozen=True)
class ResponseDraws:
    """Many draws of one channel's response (bootstrap replicates, posterior draws) computed
    together: the same formulas as :class:`ChannelResponse`, each parameter an array over the
    draws. Every draw must share the families, ``l_max`` and ``normalize``
    (:meth:`from_draws` returns None otherwise)."""

    first: ChannelResponse
    adstock_params: dict[str, np.ndarray]  # (D, 1) each: one channel
    saturation_params: dict[str, np.ndarray]
    beta: np.ndarray  # (D, 1)

    @classmethod
    def from_draws(cls, draws: Any) -> ResponseDraws | None:
        """From a sequence of scalar :class:`ChannelResponse`, or None where they differ in
        family, lag window or parameter names."""
        first = draws[0]

        def shape(d: ChannelResponse) -> tuple:
            return (
                d.adstock_family,
                d.l_max,
                d.normalize,
                d.saturation_family,
                tuple(d.adstock_params),
                tuple(d.saturation_params),
            )

        if any(shape(d) != shape(first) for d in draws):
            return None

        def column(values: list[Any]) -> np.ndarray:
            out = np.asarray(values, dtype=float)
            if out.shape != (len(draws),):
                raise ValueError(f"ResponseDraws needs one scalar per draw, got shape {out.shape}")
            return out[:, None]

        return cls(
            first,
            {k: column([d.adstock_params[k] for d in draws]) for k in first.adstock_params},
            {k: column([d.saturation_params[k] for d in draws]) for k in first.saturation_params},
            column([d.beta for d in draws]),
        )

    def _weights(self) -> np.ndarray:
        """Adstock weights, shape (D, l_max, 1)."""
        f = self.first
        return families.adstock_weights(f.adstock_family, self.adstock_params, f.l_max, f.normalize)

    def contribution(self, spend: np.ndarray) -> np.ndarray:
        """Weekly contribution (currency) of each draw, shape (D, T)."""
        x = transforms.convolve_adstock(np.asarray(spend, dtype=float)[:, None], self._weights())
        return self.beta * families.saturate(
            self.first.saturation_family, x[..., 0], self.saturation_params
        )

    def steady_state(self, spend_level: np.ndarray) -> np.ndarray:
        """Each draw's steady-state weekly revenue at every spend level, shape (D, G)."""
        k = self._weights().sum(axis=-2)  # (D, 1)
        x = np.asarray(spend_level, dtype=float)[None, :] * k
        return self.beta * families.saturate(
            self.first.saturation_family, x, self.saturation_params
        )

    def marginal(self, spend_level: float) -> np.ndarray:
        """Each draw's marginal ROAS at one weekly spend, shape (D,)."""
        k = self._weights().sum(axis=-2)
        family = families.saturation(self.first.saturation_family)
        d = family.derivative(float(spend_level) * k, self.saturation_params)
        return (self.beta * d * k)[:, 0]

    def quantities(
        self, spend: np.ndarray, media_totals: np.ndarray, mean_weekly: float
    ) -> dict[str, np.ndarray]:
        """Each draw's summarised quantities over a spend series (currency): total contribution,
        its share of ``media_totals`` (each draw's total over all channels), ROAS, marginal ROAS
        at ``mean_weekly``, ``beta`` and the parameters as ``adstock.<p>`` and
        ``saturation.<p>``: arrays of shape (D,)."""
        spend_total = float(np.sum(spend))
        c = self.contribution(spend).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(media_totals > 0, c / media_totals, np.nan)
        return {
            "contribution_total": c,
            "contribution_share": share,
            "roas": c / spend_total if spend_total > 0 else np.full_like(c, np.nan),
            "mroas": self.marginal(mean_weekly),
            "beta": self.beta[:, 0],
            **{f"adstock.{k}": v[:, 0] for k, v in self.adstock_params.items()},
            **{f"saturation.{k}": v[:, 0] for k, v in self.saturation_params.items()},
        }
