"""Draw one replicate's truth from a scenario's random-truth design distribution.

:func:`draw_truth` turns a scenario with a ``random_truth`` block
(:class:`~mmm_recovery.core.truth_design.RandomTruthSpec`) into an ordinary one-truth scenario:
every channel gets a geometric decay, a logistic ``lam`` from a half-saturation point, a ``beta``
from a steady-state ROAS at its mean spend, an on-week share, and a mean spend from Dirichlet
shares of the scenario's total average weekly spend (currency). The drawn values are the
dataset's answer key (``truth.json``), like any scenario's.
"""

from __future__ import annotations

import numpy as np

from mmm_recovery.core import files
from mmm_recovery.core.scenario import ScenarioSpec

#: tanh(x) = 1/2 at x = atanh(1/2): the logistic curve beta * tanh(lam * x / 2) is at half its
#: maximum where lam * x / 2 = atanh(1/2)
_HALF = float(np.arctanh(0.5))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, k: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), k))


def _stated(x: float) -> float:
    """``x`` at the answer key's precision (``files.TRUTH_SIGNIFICANT_DIGITS``): the truth the
    data are simulated from is the one ``truth.json`` states."""
    return float(files.round_significant(float(x), files.TRUTH_SIGNIFICANT_DIGITS))


def draw_truth(spec: ScenarioSpec, rng: np.random.Generator) -> ScenarioSpec:
    """``spec`` with every channel's parameters drawn from ``spec.random_truth`` (and that block
    removed); ``spec`` itself when it has none. Draws in a fixed order from ``rng``."""
    design = spec.random_truth
    if design is None:
        return spec
    names = spec.channel_names
    k = len(names)
    decay = rng.uniform(*design.decay, k)
    half = _log_uniform(rng, *design.half_saturation, k)
    roas = _log_uniform(rng, *design.roas, k)
    active = rng.uniform(*design.active_share, k)
    shares = rng.dirichlet(np.full(k, design.spend_concentration))
    total = sum(c.mean_spend * c.active_share for c in spec.channels.values())
    channels = {}
    for i, name in enumerate(names):
        ch = spec.channels[name]
        mean = _stated(shares[i] * total / active[i])  # mean weekly spend in active weeks
        lam = _stated(2.0 * _HALF / (half[i] * mean))
        beta = _stated(roas[i] * mean / np.tanh(lam * mean / 2.0))
        channels[name] = ch.model_copy(
            update={
                "mean_spend": mean,
                "active_share": _stated(active[i]),
                "adstock": ch.adstock.model_copy(update={"alpha": _stated(decay[i])}),
                "saturation": ch.saturation.model_copy(update={"lam": float(lam)}),
                "beta": beta,
            }
        )
    return spec.model_copy(update={"channels": channels, "random_truth": None})
