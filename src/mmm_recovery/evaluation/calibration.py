"""One rule for "are these intervals calibrated?", used wherever a report says so.

A coverage cell is ``k`` of ``n`` intervals that contain the truth at a nominal level. The rule:

* each cell gets its exact (Clopper-Pearson) 95% interval, never of width 0 at 0/n or n/n, and
  an exact two-sided binomial test of ``coverage = nominal``;
* the cells a report states together (one estimator's cells of one quantity: every scenario and
  nominal level) are one family: their p-values are adjusted by Holm's step-down method, so the
  chance of calling any calibrated cell of the family miscalibrated is at most ``alpha``
  (:data:`ALPHA`);
* a rejected cell *under-covers* or *over-covers*; any other cell is *not distinguishable from
  nominal*, and the words say what shortfall the cell could have missed: the smallest shortfall
  below nominal that the exact test at the family's per-cell level (Bonferroni's, which Holm
  never exceeds) detects with probability :data:`POWER`;
* a cell that pools channels whose coverages differ (Cochran's Q across the channels with fits
  as blocks, :func:`cochran_q`, Holm-adjusted over the family's cells, at ``alpha``) gets no
  verdict of its own (:data:`DIFFER`): its channels' counts are stated instead.

A cell that pools channels is tested at its effective number of intervals
(:mod:`mmm_recovery.evaluation.performance`): intervals of one fit are correlated, so they are
not counted as independent trials. One channel's cell counts its intervals (one per fit).
Nothing here reads files: callers pass counts from the metrics files.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from mmm_recovery.evaluation.score import clopper_pearson

#: the family-wise error rate of one report's calibration verdicts
ALPHA = 0.05
#: the power at which :func:`detectable_shortfall` is stated
POWER = 0.8

UNDER, OVER, NOMINAL = "under-covers", "over-covers", "not distinguishable from nominal"
#: the verdict of a cell whose channels' coverages differ: none of its own
DIFFER = "channels differ"


def interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of ``k / n`` (``(nan, nan)`` when n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    return clopper_pearson(k, n, level)


def exact_p(k: int, n: int, nominal: float) -> float:
    """Two-sided exact binomial p-value of ``k`` of ``n`` against coverage ``nominal``."""
    return float(stats.binomtest(k, n, nominal).pvalue) if n > 0 else math.nan


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if not m:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _rejects(n: int, nominal: float, alpha: float) -> np.ndarray:
    """The counts ``k`` in 0..n that the exact two-sided test at ``alpha`` rejects (SciPy's
    ``binomtest`` p-value: the probability of every count no likelier than ``k``)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, nominal)
    order = np.sort(pmf)
    tail = np.cumsum(order)  # tail[i]: the mass of the i + 1 least likely counts
    below = np.searchsorted(order, pmf * (1 + 1e-7), side="right")
    return np.minimum(tail[below - 1], 1.0) <= alpha


@functools.lru_cache(maxsize=4096)
def detectable_shortfall(n: int, nominal: float, alpha: float, power: float = POWER) -> float:
    """The smallest shortfall ``d`` (coverage ``nominal - d``) that the exact test at ``alpha``
    rejects with probability >= ``power`` with ``n`` intervals, to 0.001 (``nominal`` itself
    when even coverage 0 is not detected so often; NaN when n = 0)."""
    if n <= 0:
        return math.nan
    reject = _rejects(n, nominal, alpha)
    ks = np.arange(n + 1)

    def detected(d: float) -> bool:
        return bool(stats.binom.pmf(ks, n, nominal - d)[reject].sum() >= power)

    if not detected(math.floor(nominal * 1000) / 1000):
        return float(nominal)
    lo, hi = 0, int(math.floor(nominal * 1000))  # thousandths: lo not detected, hi detected
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if detected(mid / 1000) else (mid, hi)
    return hi / 1000


@dataclass(frozen=True)
class Verdict:
    """One cell's verdict under the rule (module docstring)."""

    k: int
    n: int
    nominal: float
    lo: float
    hi: float
    p: float
    p_adjusted: float
    verdict: str
    #: the shortfall the cell detects with probability :data:`POWER` (its family's level)
    shortfall: float

    @property
    def coverage(self) -> float:
        return self.k / self.n if self.n else math.nan

    def words(self, digits: int = 2) -> str:
        """E.g. ``under-covers: 12/20 = 0.60 [0.39, 0.78] at 0.9`` or ``not distinguishable
        from nominal (15/15 = 1.00 [0.80, 1.00] at 0.94); could miss a shortfall up to 0.37``."""
        if not self.n:
            return "no intervals"
        cell = (
            f"{self.k}/{self.n} = {self.coverage:.{digits}f} "
            f"[{self.lo:.{digits}f}, {self.hi:.{digits}f}] at {self.nominal:g}"
        )
        if self.verdict != NOMINAL:
            return f"{self.verdict}: {cell}"
        return f"{self.verdict} ({cell}); could miss a shortfall up to {self.shortfall:.2f}"


def judge(
    cells: list[tuple[int, int, float]], alpha: float = ALPHA, power: float = POWER
) -> list[Verdict]:
    """Verdicts for one family of cells ``(k, n, nominal)``, Holm-adjusted together."""
    p = np.array([exact_p(k, n, nom) for k, n, nom in cells])
    adjusted = holm(p)
    m = int(np.sum(~np.isnan(p)))
    out = []
    for (k, n, nom), pv, pa in zip(cells, p, adjusted, strict=True):
        lo, hi = interval(k, n)
        if n and pa <= alpha:
            verdict = UNDER if k / n < nom else OVER
        else:
            verdict = NOMINAL
        shortfall = detectable_shortfall(n, nom, alpha / max(m, 1), power)
        out.append(Verdict(k, n, nom, lo, hi, float(pv), float(pa), verdict, shortfall))
    return out


def channel_counts(counts: dict[str, tuple[int, int]]) -> str:
    """``tv 2/3, ooh 3/3, ...``"""
    return ", ".join(f"{c} {k}/{n}" for c, (k, n) in counts.items())


def cochran_q(blocks: pd.DataFrame) -> float:
    """p-value of Cochran's Q test that the columns (channels) of a 0/1 table whose rows are
    fits (blocks) have the same coverage, allowing for a fit's channels to be correlated; rows
    with a missing value are dropped. NaN below two columns, two rows, or with no variation."""
    x = blocks.dropna().to_numpy(dtype=float)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 2:
        return math.nan
    c = x.shape[1]
    col, row = x.sum(axis=0), x.sum(axis=1)
    total = x.sum()
    denom = c * total - (row**2).sum()
    if denom <= 0:
        return math.nan
    q = (c - 1) * (c * (col**2).sum() - total**2) / denom
    return float(stats.chi2.sf(q, c - 1))
