"""The uniformity test of simulation-based calibration, its power, and contraction.

Test (Säilynoja, Bürkner & Vehtari 2022): the ranks ``0..R`` of ``n`` simulations become the
randomised PIT ``(rank + U) / (R + 1)``; the statistic is the smallest two-sided binomial tail
probability of their ECDF at the points ``k / n`` (:func:`statistics`); its p-value is the share
of ``reference_draws`` uniform samples of the same size whose statistic is as small or smaller
(:class:`ECDFTest`). The statistic depends on the ECDF's counts only, so it is a table lookup:
``2 min(P(X <= c), P(X >= c))`` for ``X ~ Binomial(n, k / n)``, tabulated once per ``n``.

Power (:func:`power`): the same test on ranks drawn from a posterior that is wrong by a known
amount. In standard units of the true posterior, the truth is ``z ~ N(0, 1)`` and the fitted
posterior is ``N(bias, (1 - narrow)^2)``, so a rank is ``Binomial(R, Phi((z - bias) / (1 -
narrow)))``. ``narrow = 0.2`` is a posterior sd 20% too small (nominal 90% intervals covering
81%); ``bias = 0.3`` shifts it by 0.3 posterior sd.

Contraction (:func:`contraction`): ``1 - mean posterior variance / prior variance`` (Schad,
Betancourt & Vasishth 2021). Near 0 the posterior is the prior, and the ranks are uniform
whatever the likelihood does: such a quantity is a weak test of the fit.
"""

from __future__ import annotations

import zlib
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
from scipy.special import bdtr
from scipy.stats import norm

#: rows of uniform samples handled at once when drawing reference statistics (memory: rows x n)
CHUNK = 4096


def randomised_pit(ranks: np.ndarray, n_ranks: int, rng: np.random.Generator) -> np.ndarray:
    """``(rank + U) / (n_ranks + 1)``: uniform on (0, 1) exactly when the ranks are uniform on
    ``0..n_ranks``."""
    ranks = np.asarray(ranks, dtype=float)
    return (ranks + rng.random(ranks.shape)) / (n_ranks + 1)


class ECDFTest:
    """The ECDF uniformity test at sample size ``n`` with ``reference_draws`` reference
    statistics drawn from ``seed`` (module docstring)."""

    def __init__(self, n: int, reference_draws: int, seed: int) -> None:
        if n < 2:
            raise ValueError(f"the ECDF test needs at least 2 simulations (got {n})")
        self.n = n
        self.reference_draws = reference_draws
        self.seed = seed

    @cached_property
    def _table(self) -> np.ndarray:
        """``(n - 1, n + 1)``: the statistic's term at point ``k / n`` for count ``c``."""
        n = self.n
        z = (np.arange(1, n) / n)[:, None]
        c = np.arange(n + 1)[None, :]
        lower = bdtr(c, n, z)
        upper = np.where(c > 0, 1.0 - bdtr(np.maximum(c - 1, 0), n, z), 1.0)
        return 2.0 * np.minimum(lower, upper)

    def statistics(self, u: np.ndarray) -> np.ndarray:
        """The statistic of each row of ``u`` (``(rows, n)`` values in (0, 1))."""
        u = np.atleast_2d(u)
        rows, n = u.shape
        if n != self.n:
            raise ValueError(f"samples of size {n} for a test of size {self.n}")
        bins = np.minimum((u * n).astype(np.int64), n - 1)  # u in [k/n, (k+1)/n) -> bin k
        offsets = (np.arange(rows) * n)[:, None]
        hist = np.bincount((bins + offsets).ravel(), minlength=rows * n).reshape(rows, n)
        counts = np.cumsum(hist, axis=1)[:, : n - 1]  # number of u < k/n, k = 1..n-1
        return self._table[np.arange(n - 1)[None, :], counts].min(axis=1)

    @cached_property
    def reference(self) -> np.ndarray:
        """The sorted statistics of ``reference_draws`` uniform samples of size ``n``."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, zlib.crc32(b"sbc-ref")]))
        out = [
            self.statistics(rng.random((min(CHUNK, self.reference_draws - start), self.n)))
            for start in range(0, self.reference_draws, CHUNK)
        ]
        return np.sort(np.concatenate(out))

    def p_values(self, stats: np.ndarray) -> np.ndarray:
        """``(1 + #reference <= stat) / (1 + reference_draws)`` per statistic."""
        below = np.searchsorted(self.reference, np.asarray(stats, dtype=float), side="right")
        return (1.0 + below) / (1.0 + self.reference_draws)

    def p_relative_error(self, threshold: float) -> float:
        """Monte Carlo relative standard error of a p-value at ``threshold``:
        ``sqrt((1 - t) / (t * reference_draws))``."""
        return float(np.sqrt((1.0 - threshold) / (threshold * self.reference_draws)))


@lru_cache(maxsize=8)
def ecdf_test(n: int, reference_draws: int, seed: int) -> ECDFTest:
    """:class:`ECDFTest` of these arguments, kept: its reference statistics are drawn once."""
    return ECDFTest(n, reference_draws, seed)


def misspecified_ranks(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    n_ranks: int,
    narrow: float = 0.0,
    bias: float = 0.0,
) -> np.ndarray:
    """Ranks among ``n_ranks`` posterior draws of a fit whose posterior is ``narrow`` too narrow
    (its sd times ``1 - narrow``) and shifted by ``bias`` posterior sd (module docstring)."""
    z = rng.standard_normal(shape)
    return rng.binomial(n_ranks, norm.cdf((z - bias) / (1.0 - narrow)))


def power(
    test: ECDFTest,
    n_ranks: int,
    threshold: float,
    rng: np.random.Generator,
    narrow: float = 0.0,
    bias: float = 0.0,
    repeats: int = 2000,
) -> tuple[float, float]:
    """The share of ``repeats`` simulated SBC runs of a posterior ``narrow`` too narrow and
    ``bias`` sd off in which ``test`` rejects at ``threshold``, and its Monte Carlo SE."""
    hits = 0
    for start in range(0, repeats, CHUNK):
        rows = min(CHUNK, repeats - start)
        ranks = misspecified_ranks(rng, (rows, test.n), n_ranks, narrow, bias)
        u = randomised_pit(ranks, n_ranks, rng)
        hits += int(np.sum(test.p_values(test.statistics(u)) < threshold))
    share = hits / repeats
    return share, float(np.sqrt(share * (1 - share) / repeats))


def contraction(ranks: pd.DataFrame) -> pd.Series:
    """Per quantity, ``1 - mean(posterior_sd^2) / var(truth)`` over the simulations (the truths
    are prior draws, so their variance is the prior's)."""
    g = ranks.groupby("quantity", sort=False)
    prior = g["truth"].var(ddof=1)
    posterior = g["posterior_sd"].apply(lambda s: float(np.mean(np.square(s))))
    return 1.0 - posterior / prior
