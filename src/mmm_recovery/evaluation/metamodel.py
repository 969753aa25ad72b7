"""Meta-models of the study's factorial design (Morris, White & Crowther 2019, sec. 5.3): per
estimator, a regression of one performance measure on the design's factors, with standard errors
clustered by replicate, giving main effects and two-way interactions with intervals.

Rows. One row per (fit, channel): the factors' level labels, the response, the cluster (the
replicate: under common random numbers replicate ``r`` of every cell shares its random draws, so
its fits are correlated across cells) and the strata (channel). Rows without a response are
dropped and counted (``n_dropped``).

Design matrix. An intercept; each stratum as fixed-effect dummies (treatment coding, the first
sorted level the reference); each factor **effect-coded**. A two-level factor is one column,
``-0.5`` at its first (reference, "low") level and ``+0.5`` at its second, so its coefficient is
the high-minus-low difference on the link scale averaged over the other factors (balanced
design). A factor with ``L > 2`` levels has ``L - 1`` columns, one per non-reference level
``j``: ``1{level = j} - 1 / L`` ("simple coding"; for two levels the same +-0.5 column), so
``b_j`` is the ``j``-minus-reference difference on the link scale, averaged over the other
factors in a balanced design. The average marginal effect
(binomial) is always level ``j`` versus the reference. The reference is the first of a factor's
listed levels present in the rows; a factor with one level present is left out (no term). With
``interactions``, every product of two columns of different factors is a term. A column that is
constant, or a linear combination of the columns before it (intercept, strata, main effects,
interactions, in that order), is dropped: its row has NaN numbers and the reason in ``note``.

Models. ``binomial`` (a 0/1 response such as ``covered``): logistic regression by Firth's (1993)
penalised likelihood, whose estimates stay finite when a cell covers every time (separation);
Newton steps on the hat-adjusted score ``X' (y - p + h (1/2 - p))``. ``log`` (a positive
response such as an absolute error): OLS of ``log(max(response, floor))``, values below
``floor`` counted (``n_floored``); a coefficient is the log ratio of geometric mean responses,
``ratio = exp(estimate)``.

Uncertainty. The cluster-robust sandwich ``B (sum_g s_g s_g') B`` with ``B`` the inverse
information (``(X'X)^-1`` or ``(X'WX)^-1``) and ``s_g`` cluster ``g``'s summed score (the
modified score for Firth), scaled CR1-wise: ``G/(G-1) (N-1)/(N-K)`` for OLS, ``G/(G-1)`` for the
logit. Intervals and two-sided p-values use ``t`` with ``G - 1`` degrees of freedom. With one
cluster the SE is not estimable: NaN, with a note. The binomial average marginal effect of level
``j`` is ``mean_i [p_i(j) - p_i(ref)]`` on the probability scale, the factor set to ``j`` (or the
reference) in every row and its interactions recomputed from it; its SE by the delta method.

Nothing here reads files; nothing here refits an estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special, stats

#: the output columns, in order
COLUMNS = (
    "term",
    "kind",
    "estimate",
    "se",
    "lower",
    "upper",
    "df",
    "p",
    "scale",
    "ame",
    "ame_se",
    "ame_lower",
    "ame_upper",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "n_rows",
    "n_clusters",
    "n_dropped",
    "n_floored",
    "note",
)
#: Firth-Newton: the most iterations, the convergence tolerance on the largest step (logit
#: scale), the largest step allowed, and the most halvings of one step
MAX_ITER = 100
TOL = 1e-10
MAX_STEP = 5.0
MAX_HALVINGS = 30
#: a column whose residual on the columns before it is below this fraction of its norm is aliased
ALIAS_TOL = 1e-9
INTERCEPT = "(intercept)"
ONE_CLUSTER = "one cluster: SE not estimable"
NO_RESIDUAL_DF = "no residual degrees of freedom: SE not estimable"


@dataclass(frozen=True)
class Term:
    """One reported term: its name, ``main``/``interaction``, and for a main effect its factor
    and non-reference level (empty for an interaction)."""

    name: str
    kind: str
    factor: str = ""
    level: str = ""


@dataclass(frozen=True)
class Fit:
    """A fitted meta-model: coefficients (link scale), the bread of the sandwich (inverse
    information) and each row's score residual (``X' resid`` is the estimating equation)."""

    beta: np.ndarray
    bread: np.ndarray
    resid: np.ndarray


def factor_effects(
    rows: pd.DataFrame,
    factors: dict[str, list[str]],
    response: str,
    kind: Literal["binomial", "log"],
    cluster: str = "replicate",
    strata: tuple[str, ...] = ("channel",),
    interactions: bool = True,
    level: float = 0.95,
    floor: float = 1e-6,
) -> pd.DataFrame:
    """The factors' main effects (and two-way interactions) on ``response`` (module docstring).

    Parameters
    ----------
    rows
        One row per (fit, channel): a column per factor (level labels), ``response``,
        ``cluster`` and each of ``strata``.
    factors
        Factor -> its level labels, the first the reference ("low") level.
    response
        The response column: 0/1 for ``binomial``; a non-negative number (an absolute error,
        in its own units) for ``log``. NaN rows are dropped and counted.
    kind
        ``binomial``: Firth logistic regression (logit scale, plus the average marginal effect
        on the probability scale); ``log``: OLS of the log response (log-ratio scale).
    cluster
        The column whose values are the independent units (the common-random-numbers replicate).
    strata
        Columns entered as fixed-effect dummies, not reported.
    interactions
        Whether every two-way product of factor columns is a term.
    level
        The intervals' confidence level.
    floor
        ``log`` only: responses below it are raised to it before the log (same units).

    Returns
    -------
    pandas.DataFrame
        One row per term (:data:`COLUMNS`); estimates on the ``scale`` column's scale.
    """
    _check(rows, factors, response, kind, [cluster, *strata], level)
    present = rows[response].notna().to_numpy()
    d = rows.loc[present].reset_index(drop=True)
    if d.empty:
        raise ValueError(f"no row has a value of {response!r}")
    y, n_floored = _outcome(d[response].to_numpy(dtype=float), kind, floor, response)
    levels = _present_levels(d, factors)
    strata_levels = {s: sorted(d[s].astype(str).unique()) for s in strata}
    cols, terms = _columns(d, levels, strata_levels, interactions)
    kept, dropped = _independent(cols)
    x = np.column_stack([cols[name] for name in kept])
    codes, uniques = pd.factorize(d[cluster])
    if (codes < 0).any():
        raise ValueError(f"the cluster column {cluster!r} has missing values")
    fit = _firth(x, y, response) if kind == "binomial" else _ols(x, y)
    cov, why = _cluster_cov(x, fit, codes, len(uniques), ols=kind == "log")
    n_groups = len(uniques)
    tq = stats.t.ppf(0.5 + level / 2, n_groups - 1) if n_groups > 1 else math.nan
    common: dict[str, object] = {
        "scale": "logit" if kind == "binomial" else "log",
        "df": float(n_groups - 1) if n_groups > 1 else math.nan,
        "n_rows": len(d),
        "n_clusters": n_groups,
        "n_dropped": int((~present).sum()),
        "n_floored": n_floored,
    }

    def design(frame: pd.DataFrame) -> np.ndarray:
        """The kept design columns of ``frame`` (its factors set to counterfactual levels)."""
        c, _ = _columns(frame, levels, strata_levels, interactions)
        return np.column_stack([c[name] for name in kept])

    out = []
    for term in terms:
        rec: dict[str, object] = dict.fromkeys(COLUMNS, math.nan) | common
        rec |= {"term": term.name, "kind": term.kind, "note": dropped.get(term.name, why)}
        if term.name in kept:
            j = kept.index(term.name)
            rec |= _coefficient(fit.beta[j], cov[j, j], tq, n_groups - 1, kind == "log")
            if kind == "binomial" and term.kind == "main":
                rec |= _ame(d, term, levels[term.factor][0], design, fit.beta, cov, tq)
        out.append(rec)
    return pd.DataFrame(out, columns=list(COLUMNS))


def paired_vs_unpaired_se(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """The SE of a difference of two cells' means, paired and unpaired.

    Parameters
    ----------
    a, b
        A per-replicate measure (indexed by replicate, in the measure's units) in two cells;
        NaN values do not count.

    Returns
    -------
    tuple of float
        The paired SE of ``mean(a - b)`` over the replicates both have (``sd(a - b) / sqrt(n)``),
        and the unpaired SE ``sqrt(var(a) / n_a + var(b) / n_b)`` over all of each (ddof = 1);
        NaN where fewer than two values enter.
    """
    a, b = a.dropna(), b.dropna()
    for s in (a, b):
        if s.index.has_duplicates:
            raise ValueError("a per-replicate measure has one value per replicate")
    shared = a.index.intersection(b.index)
    diff = a.loc[shared].to_numpy(dtype=float) - b.loc[shared].to_numpy(dtype=float)
    paired = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan
    if len(a) < 2 or len(b) < 2:
        return paired, math.nan
    unpaired = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return paired, float(unpaired)


def _check(
    rows: pd.DataFrame,
    factors: dict[str, list[str]],
    response: str,
    kind: str,
    others: list[str],
    level: float,
) -> None:
    """Raise ValueError on a missing column, an unknown level label, kind or level."""
    if kind not in ("binomial", "log"):
        raise ValueError(f"kind must be 'binomial' or 'log', not {kind!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), not {level}")
    missing = [c for c in [*factors, response, *others] if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack the columns {missing}")
    for f, lv in factors.items():
        unknown = set(rows[f].astype(str).unique()) - {str(v) for v in lv}
        if unknown:
            raise ValueError(f"factor {f!r} has levels not listed in factors: {sorted(unknown)}")


def _outcome(y: np.ndarray, kind: str, floor: float, response: str) -> tuple[np.ndarray, int]:
    """The modelled outcome (0/1, or the log of the floored response) and the number floored."""
    if kind == "binomial":
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(f"{response!r} must be 0 or 1 for kind='binomial'")
        return y, 0
    if (y < 0).any() or not np.isfinite(y).all():
        raise ValueError(f"{response!r} must be finite and non-negative for kind='log'")
    return np.log(np.maximum(y, floor)), int((y < floor).sum())


def _present_levels(d: pd.DataFrame, factors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each factor's listed levels present in ``d`` (in the listed order); factors with fewer
    than two are left out."""
    out = {}
    for f, lv in factors.items():
        seen = set(d[f].astype(str).unique())
        here = [str(v) for v in lv if str(v) in seen]
        if len(here) > 1:
            out[f] = here
    return out


def _columns(
    d: pd.DataFrame,
    levels: dict[str, list[str]],
    strata_levels: dict[str, list[str]],
    interactions: bool,
) -> tuple[dict[str, np.ndarray], list[Term]]:
    """The candidate design columns by name (intercept, strata dummies, effect-coded factors,
    their two-way products) and the terms to report (module docstring)."""
    n = len(d)
    cols: dict[str, np.ndarray] = {INTERCEPT: np.ones(n)}
    for s, lv in strata_levels.items():
        v = d[s].astype(str).to_numpy()
        cols |= {f"{s}={x}": (v == x).astype(float) for x in lv[1:]}
    terms, by_factor = [], {}
    for f, lv in levels.items():
        v = d[f].astype(str).to_numpy()
        mine = {f"{f}:{x}": (v == x) - 1.0 / len(lv) for x in lv[1:]}
        cols |= mine
        by_factor[f] = list(mine)
        terms += [Term(name, "main", f, x) for name, x in zip(mine, lv[1:], strict=True)]
    if interactions:
        for f, g in combinations(by_factor, 2):
            for a in by_factor[f]:
                for b in by_factor[g]:
                    cols[f"{a} x {b}"] = cols[a] * cols[b]
                    terms.append(Term(f"{a} x {b}", "interaction"))
    return cols, terms


def _independent(cols: dict[str, np.ndarray]) -> tuple[list[str], dict[str, str]]:
    """The columns kept (each not constant nor a linear combination of those kept before it)
    and, for each dropped one, the reason."""
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for name, c in cols.items():
        if name != INTERCEPT and np.ptp(c) == 0:
            dropped[name] = "dropped: constant in these rows"
            continue
        if kept:
            a = np.column_stack([cols[k] for k in kept])
            coef = np.linalg.lstsq(a, c, rcond=None)[0]
            if np.linalg.norm(c - a @ coef) <= ALIAS_TOL * np.linalg.norm(c):
                scale = np.abs(coef).max()
                with_ = [k for k, b in zip(kept, coef, strict=True) if abs(b) > 1e-8 * scale]
                dropped[name] = "dropped: aliased with " + " + ".join(with_)
                continue
        kept.append(name)
    return kept, dropped


def _ols(x: np.ndarray, y: np.ndarray) -> Fit:
    """Least squares of ``y`` on ``x`` (full column rank)."""
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ (x.T @ y)
    return Fit(beta, bread, y - x @ beta)


def _firth_parts(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """At ``beta`` (logit scale): each row's modified score residual ``y - p + h (1/2 - p)``,
    the Fisher information ``X'WX`` and the penalised log-likelihood
    ``l(beta) + log det(X'WX) / 2``."""
    eta = x @ beta
    p = special.expit(eta)
    w = p * (1 - p)
    info = x.T @ (w[:, None] * x)
    h = w * np.einsum("ij,ij->i", x @ np.linalg.inv(info), x)
    loglik = -np.sum(np.logaddexp(0, -eta) * y + np.logaddexp(0, eta) * (1 - y))
    penalised = float(loglik + 0.5 * np.linalg.slogdet(info)[1])
    return y - p + h * (0.5 - p), info, penalised


def _firth(x: np.ndarray, y: np.ndarray, response: str) -> Fit:
    """Firth's penalised-likelihood logistic regression by Newton steps (Fisher information) on
    the modified score, each step at most :data:`MAX_STEP` and halved while the penalised
    likelihood falls; converged when the largest full step is below :data:`TOL`."""
    beta = np.zeros(x.shape[1])
    for _ in range(MAX_ITER):
        resid, info, pen = _firth_parts(x, y, beta)
        step = np.linalg.solve(info, x.T @ resid)
        if np.abs(step).max() < TOL:
            beta = beta + step
            resid, info, _ = _firth_parts(x, y, beta)
            return Fit(beta, np.linalg.inv(info), resid)
        step *= min(1.0, MAX_STEP / np.abs(step).max())
        for _ in range(MAX_HALVINGS):
            if _firth_parts(x, y, beta + step)[2] >= pen - 1e-9 * (1 + abs(pen)):
                break
            step /= 2
        beta = beta + step
    raise RuntimeError(
        f"Firth logistic regression of {response!r} did not converge in {MAX_ITER} iterations"
    )


def _cluster_cov(
    x: np.ndarray, fit: Fit, codes: np.ndarray, n_groups: int, ols: bool
) -> tuple[np.ndarray, str]:
    """The CR1 cluster-robust covariance of ``fit.beta`` (module docstring) and a note; all NaN
    with the reason where it is not estimable."""
    n, k = x.shape
    if n_groups < 2:
        return np.full((k, k), math.nan), ONE_CLUSTER
    if ols and n <= k:
        return np.full((k, k), math.nan), NO_RESIDUAL_DF
    scores = np.zeros((n_groups, k))
    np.add.at(scores, codes, x * fit.resid[:, None])
    c = n_groups / (n_groups - 1) * ((n - 1) / (n - k) if ols else 1.0)
    return c * fit.bread @ (scores.T @ scores) @ fit.bread, ""


def _coefficient(est: float, var: float, tq: float, df: int, log: bool) -> dict[str, float]:
    """A coefficient's estimate, SE, ``t`` interval and two-sided p-value (and with ``log``
    its ratio and interval exponentiated)."""
    se = math.sqrt(var) if var >= 0 else math.nan
    p = float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else math.nan
    out = {"estimate": est, "se": se, "lower": est - tq * se, "upper": est + tq * se, "p": p}
    if log:
        out |= {"ratio": math.exp(est)}
        out |= {"ratio_lower": math.exp(out["lower"]), "ratio_upper": math.exp(out["upper"])}
    return out


def _ame(
    d: pd.DataFrame,
    term: Term,
    reference: str,
    design: Callable[[pd.DataFrame], np.ndarray],
    beta: np.ndarray,
    cov: np.ndarray,
    tq: float,
) -> dict[str, float]:
    """The average marginal effect of ``term``'s level versus ``reference`` on the probability
    scale, its delta-method SE and ``t`` interval."""
    x_hi = design(d.assign(**{term.factor: term.level}))
    x_lo = design(d.assign(**{term.factor: reference}))
    p_hi, p_lo = special.expit(x_hi @ beta), special.expit(x_lo @ beta)
    ame = float(np.mean(p_hi - p_lo))
    grad = ((p_hi * (1 - p_hi))[:, None] * x_hi - (p_lo * (1 - p_lo))[:, None] * x_lo).mean(0)
    var = float(grad @ cov @ grad)
    se = math.sqrt(var) if var >= 0 else math.nan
    return {"ame": ame, "ame_se": se, "ame_lower": ame - tq * se, "ame_upper": ame + tq * se}
