"""The study's performance measures with Monte Carlo errors that respect its design (Morris,
White & Crowther 2019, "Using simulation studies to evaluate statistical methods", table 6).

Design. The independent unit is the **fit**: one estimator on one simulated dataset (a
scenario's replicate). A fit reports every channel, and its channels' errors move together, so
a cell that pools channels has fewer independent trials than estimates.

Cells. One row per scenario x estimator x quantity x channel. ``channel == "all"`` is the
average over the channels, each weighing the same (a stratified mean); ``scenario == "all"``
(:data:`ALL`) averages over the scenarios too. A pooled number always sits beside its
channels' numbers, never alone.

Monte Carlo SE of a mean. Each fit ``i``'s influence on the cell, with strata ``h`` the
scenario x channel groups (``n_h`` estimates, mean ``m_h``, weight ``1 / H``)::

    z_i = sum_h (x_ih - m_h) / (n_h H),      var = sum_s G_s / (G_s - 1) sum_{i in s} z_i^2

(``G_s`` fits of scenario ``s``): the cluster-robust ("sandwich") variance with fits as
clusters. Over scenarios (:data:`ALL`) the clusters are the replicates themselves (``z_r`` sums
the influences of replicate ``r``'s fits in every scenario, one group of ``G`` replicates):
replicate ``r`` of every scenario shares its random numbers, so its fits are not independent
(:mod:`mmm_recovery.simulation.streams`). For one channel of one scenario it is ``sd / sqrt(n)``; for a channel average it is
the SE of the fits' own channel averages, so correlated channels are not counted as independent
trials, and channel heterogeneity does not inflate it (channels are strata). Below
:data:`MIN_FITS` fits, or with a scenario of one fit, an SE is **not estimable** (NaN).

Coverage (a mean of 0/1). Its 95% interval is exact (Clopper-Pearson) at the effective number
of intervals (Korn & Graubard 1998): ``n_eff = p (1 - p) / se^2`` kept within [fits,
intervals]. A cell with one interval per fit (one channel) has independent intervals, so
``n_eff = n``. Where the SE is not estimable or every interval (or none) covers, ``n_eff`` is
the number of fits: as if a fit's channels were one interval, which is conservative. The
calibration verdicts (:mod:`.calibration`) are taken at ``n_eff``.

Further measures (per channel; a channel average pools them):

* **empirical SE** (sd of the errors; of the estimates when the truth is fixed; a channel
  average pools the strata's variances) and **model SE** (root mean square of each interval's
  implied SE, width / (2 z) at its nominal level), their ratio (1 = honest interval widths),
  with the empirical SE's MC-SE (:func:`_spread`);
* **bias-eliminated coverage**: each interval shifted by its cell's mean error (scaled for the
  few replicates a cell has, :func:`_bias_eliminated`). Coverage low here too means intervals
  too narrow; low raw but nominal bias-eliminated coverage means the misses come from bias,
  not width.

Paired contrasts (:func:`contrasts`): estimator A minus estimator B on the same datasets (the
study's common random numbers), per quantity and measure, with the same cluster-robust SE of
the paired differences (datasets as clusters).

Nothing here reads files: callers pass ``comparisons.csv`` and ``fits.csv`` as frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mmm_recovery.evaluation.score import COVERED_AT, clopper_pearson

#: the scenario (and channel) label of a cell averaged over scenarios (channels)
ALL = "all"
#: fewer fits than this: an SE (and so a clustered interval) is not estimable
MIN_FITS = 5
#: fewer fits than this: no median or 90th percentile is reported
MIN_FITS_QUANTILE = 20
#: the measures of :func:`contrasts` on a fit's channels, and on the fit as a whole
CHANNEL_MEASURES = ("abs_rel_error", "abs_error")
FIT_MEASURES = (
    "regret_share_of_lift",
    "regret",
    "regret_share_of_revenue",
    "optimizer_curse",
    "holdout_mape",
)

CELL_KEYS = ["scenario", "estimator", "quantity", "channel"]


def stratified_mean(df: pd.DataFrame, col: str) -> tuple[float, float, int, int]:
    """The stratified mean of ``df[col]`` over its scenario x channel strata (each weighing the
    same), its cluster-robust MC-SE with fits (scenario x replicate) as clusters (NaN when not
    estimable, module docstring), the number of fits and of values. NaN values do not count."""
    d = df.assign(_cell=0)
    r = cell_means(d, ["_cell"], [col])
    r = r[(r["scenario"] == ALL) & (r["channel"] == ALL)]
    if not len(r):
        return math.nan, math.nan, 0, 0
    row = r.iloc[0]
    return float(row[col]), float(row[f"{col}_se"]), int(row["fits"]), int(row["n"])


def cell_means(df: pd.DataFrame, keys: list[str], cols: list[str]) -> pd.DataFrame:
    """:func:`stratified_mean` of each of ``cols`` for every cell: per ``keys`` group, per
    scenario and over all scenarios (:data:`ALL`), per channel and over all channels. Columns:
    ``keys``, scenario, channel, then per column ``<col>`` and ``<col>_se``; ``fits`` and ``n``
    (the fits and values of the cell; of the first column where the columns differ)."""
    on = [*keys, "scenario", "channel"]
    out = None
    for col in cols:
        f = _one_mean(df, keys, col).rename(
            columns={"fits": f"{col}_fits", "n": f"{col}_n", "df": f"{col}_df"}
        )
        out = f if out is None else out.merge(f, on=on, how="outer")
    assert out is not None
    return out.assign(fits=out[f"{cols[0]}_fits"], n=out[f"{cols[0]}_n"])


def _one_mean(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    base = [*keys, "scenario", "channel"]
    d = df[[*base, "replicate", col]].dropna(subset=[col])
    d = d.assign(**{col: d[col].astype(float)})
    grp = d.groupby(base, sort=False)[col]
    d = d.assign(_dev=(d[col] - grp.transform("mean")) / grp.transform("size"))
    strata = grp.agg(["mean", "size"]).reset_index()
    out = []
    # rows that are already channel averages (channel ALL, e.g. per-fit measures) have no
    # channels to pool: the per-channel grouping is the average, not a second copy of it
    pooled = bool((d["channel"] == ALL).all())
    for by_scen, by_chan in ((True, True), (True, False), (False, True), (False, False)):
        if pooled and not by_chan:
            continue
        ck = [*keys, *(["scenario"] if by_scen else []), *(["channel"] if by_chan else [])]
        cells = strata.groupby(ck, sort=False).agg(
            mean=("mean", "mean"), H=("mean", "size"), n=("size", "sum")
        )
        # clusters: the replicate within a scenario; over scenarios, the replicate itself --
        # replicate r of every scenario shares its random numbers, so its fits are one cluster
        fk = list(dict.fromkeys([*ck, "scenario", "replicate"] if by_scen else [*ck, "replicate"]))
        z = d.groupby(fk, sort=False)["_dev"].sum().rename("z").reset_index()
        z = z.merge(cells["H"].reset_index(), on=ck)
        z["z2"] = (z["z"] / z["H"]) ** 2
        sk = list(dict.fromkeys([*ck, "scenario"])) if by_scen else ck
        per_s = z.groupby(sk, sort=False)["z2"].agg(["sum", "size"]).reset_index()
        g_s = per_s["size"].astype(float)
        per_s["v"] = np.where(g_s > 1, g_s / (g_s - 1).clip(lower=1) * per_s["sum"], np.nan)
        agg = per_s.groupby(ck, sort=False).agg(
            var=("v", lambda v: v.sum(min_count=len(v))),
            clusters=("size", "sum"),
            g_min=("size", "min"),
            groups=("size", "count"),
        )
        unique = d.drop_duplicates(list(dict.fromkeys([*ck, "scenario", "replicate"])))
        n_fits = unique.groupby(ck, sort=False).size()
        c = cells.join(agg).join(n_fits.rename("fits"))
        c["df"] = c["clusters"] - c["groups"]  # each group's clusters estimate its own mean
        estimable = (c["fits"] >= MIN_FITS) & (c["g_min"] >= 2)
        c[f"{col}_se"] = np.where(estimable, np.sqrt(c["var"]), np.nan)
        c = c.rename(columns={"mean": col}).reset_index()
        if not by_scen:
            c["scenario"] = ALL
        if not by_chan:
            c["channel"] = ALL
        out.append(c[[*base, col, f"{col}_se", "fits", "n", "df"]])
    return pd.concat(out, ignore_index=True)


def effective_n(p: float, se: float, fits: int, n: int) -> float:
    """The effective number of independent intervals of a coverage ``p`` (module docstring)."""
    if n == fits or n == 0:
        return float(n)
    if not math.isfinite(se) or se <= 0 or p <= 0 or p >= 1:
        return float(fits)
    return float(min(max(p * (1 - p) / se**2, fits), n))


def _coverage(means: pd.DataFrame, col: str, prefix: str = "coverage") -> pd.DataFrame:
    """Coverage columns of the 0/1 column ``col`` of :func:`cell_means`: the channel average,
    its cluster-robust SE, the exact 95% interval at the effective number of intervals, the
    number of intervals and ``n_eff``."""
    p, se = means[col].astype(float), means[f"{col}_se"].astype(float)
    fits, n = means[f"{col}_fits"], means[f"{col}_n"]
    n_eff = [effective_n(*args) for args in zip(p, se, fits, n, strict=True)]
    bounds = [_exact(a, b) for a, b in zip(p, n_eff, strict=True)]
    return pd.DataFrame(
        {
            prefix: p,
            f"{prefix}_se": se,
            f"{prefix}_lo": [b[0] for b in bounds],
            f"{prefix}_hi": [b[1] for b in bounds],
            f"{prefix}_n": n,
            f"{prefix}_n_eff": n_eff,
        },
        index=means.index,
    )


def _exact(p: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson at a possibly fractional count ``p n`` of ``n`` (Korn & Graubard)."""
    if not n or not math.isfinite(p):
        return math.nan, math.nan
    k = p * n
    if abs(k - round(k)) < 1e-9 and float(n).is_integer():
        return clopper_pearson(round(k), int(n), level)
    a = 1 - level
    lo = 0.0 if k <= 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k >= n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def _z(level: float) -> float:
    return float(stats.norm.ppf((1 + level) / 2))


STRATUM = ["estimator", "quantity", "scenario", "channel"]


def _spread(comp: pd.DataFrame, levels: Mapping[str, float]) -> pd.DataFrame:
    """Per cell: the empirical SE (root of the strata's mean error variance: pooled, so a
    stratum of few fits adds its variance unbiased rather than its downward-biased sd) and the
    model SE (root mean square of the intervals' implied SEs, width / (2 z) at the estimator's
    level, over the strata), their ratio, and the empirical SE's MC-SE (delta method, the
    strata's variances counted as independent: channels of one fit are not, so it is somewhat
    small for a channel average)."""
    z = comp["estimator"].map(lambda e: _z(levels[e]) if e in levels else math.nan)
    d = comp.assign(_implied2=(comp["width"].astype(float) / (2 * z)) ** 2)
    g = d.groupby(STRATUM, sort=False)
    st = pd.DataFrame(
        {
            "var": g["error"].var(ddof=1),
            "k": g["error"].count(),
            "mod2": g["_implied2"].mean(),
        }
    ).reset_index()
    # var(s^2) = 2 sigma^4 / (k - 1) for normal errors
    st["v"] = 2 * st["var"] ** 2 / (st["k"] - 1).where(st["k"] > 1)
    out = []
    for by_scen, by_chan in ((True, True), (True, False), (False, True), (False, False)):
        ck = [
            "estimator",
            "quantity",
            *(["scenario"] if by_scen else []),
            *(["channel"] if by_chan else []),
        ]
        c = st.groupby(ck, sort=False).agg(
            var=("var", "mean"),
            mod2=("mod2", "mean"),
            v=("v", lambda v: v.sum(min_count=len(v))),
            H=("var", "size"),
        )
        c["emp_se"] = np.sqrt(c["var"])
        c["model_se"] = np.sqrt(c["mod2"])
        c["se_ratio"] = (c["model_se"] / c["emp_se"]).replace([np.inf, -np.inf], np.nan)
        c["emp_se_se"] = np.sqrt(c["v"]) / c["H"] / (2 * c["emp_se"])
        c = c.reset_index()
        if not by_scen:
            c["scenario"] = ALL
        if not by_chan:
            c["channel"] = ALL
        out.append(c[[*STRATUM, "emp_se", "emp_se_se", "model_se", "se_ratio"]])
    return pd.concat(out, ignore_index=True)


def _bias_eliminated(df: pd.DataFrame) -> pd.Series:
    """Does each interval cover the truth once shifted by its stratum's mean error? The
    shifted error ``e - mean(e)`` of a stratum of ``k`` estimates has variance ``(k - 1) / k``
    of a fresh error's, so it is scaled by ``sqrt(k / (k - 1))`` first: with few replicates an
    honest interval would otherwise cover more than its level. NaN for a stratum of one."""
    g = df.groupby(STRATUM)["error"]
    err = df["error"].astype(float)
    k = g.transform("count").astype(float)
    shifted = (err - g.transform("mean").astype(float)) * np.sqrt(k / (k - 1)).where(k > 1)
    lo, hi, est = (df[c].astype(float) for c in ("lower", "upper", "estimate"))
    # covered when the truth, est - shifted error, lies in [lo, hi]
    out = ((lo - est <= -shifted) & (-shifted <= hi - est)).astype(float)
    return out.where(lo.notna() & hi.notna() & shifted.notna())


#: the means of :func:`performance`: (output name, comparison column)
MEANS = (
    ("bias", "error"),
    ("mean_rel_error", "rel_error"),
    ("mean_abs_rel_error", "abs_rel_error"),
    ("mean_width", "width"),
)


def performance(comparisons: pd.DataFrame, levels: Mapping[str, float]) -> pd.DataFrame:
    """Every cell's measures: one row per scenario x estimator x quantity x channel, with
    ``all`` rows for the averages (module docstring). Means with their cluster-robust MC-SE
    (bias, mean relative and absolute relative error, width; RMSE by the delta method), fits
    and estimates, coverage at the estimator's own level (``levels``) with its exact interval at
    ``n_eff``, bias-eliminated coverage, empirical and model SE."""
    if comparisons.empty:
        return pd.DataFrame(columns=[*CELL_KEYS, "n", "fits"])
    d = comparisons.assign(
        abs_rel_error=comparisons["rel_error"].abs(),
        sq_error=comparisons["error"].astype(float) ** 2,
        covered_be=_bias_eliminated(comparisons),
        covered=comparisons["covered"].astype(float),
    )
    cols = [c for _, c in MEANS]
    m = cell_means(d, ["estimator", "quantity"], [*cols, "sq_error", "covered", "covered_be"])
    out = m[CELL_KEYS + ["n", "fits"]].copy()
    for name, col in MEANS:
        out[name], out[f"{name}_se"] = m[col], m[f"{col}_se"]
    out["rmse"] = np.sqrt(m["sq_error"])
    out["rmse_se"] = m["sq_error_se"] / (2 * out["rmse"]).where(out["rmse"] > 0)
    cov = _coverage(m, "covered")
    cov = cov.rename(columns={"coverage_n": "n_intervals", "coverage_n_eff": "n_eff"})
    out = pd.concat([out, cov], axis=1)
    be = _coverage(m, "covered_be", "coverage_be")
    out = pd.concat([out, be.drop(columns=["coverage_be_n", "coverage_be_n_eff"])], axis=1)
    out = out.merge(_spread(d, levels), on=STRATUM, how="left")
    out.loc[out["fits"] < MIN_FITS, "emp_se_se"] = np.nan  # not estimable (module docstring)
    return _ordered(out, comparisons)


def _ordered(df: pd.DataFrame, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Rows in the comparisons' order of estimators, quantities, scenarios, channels; ``all``
    after the rest."""
    keys = []
    for k in CELL_KEYS:
        order = {v: i for i, v in enumerate(pd.unique(comparisons[k]))}
        keys.append(df[k].map(lambda v, o=order: o.get(v, len(o))))
    idx = np.lexsort(tuple(reversed([np.asarray(k) for k in keys])))
    return df.iloc[idx].reset_index(drop=True)


def calibration(comparisons: pd.DataFrame, levels: Mapping[str, float]) -> pd.DataFrame:
    """Coverage at every nominal level (each estimator's own and every ``covered@<level>``
    column), per cell as :func:`performance`, with its cluster-robust SE, exact interval at
    ``n_eff`` and counts."""
    columns = [*CELL_KEYS, "nominal", "coverage", "coverage_se", "coverage_lo", "coverage_hi"]
    columns += ["n_intervals", "n_eff"]
    at = {float(c[len(COVERED_AT) :]): c for c in comparisons.columns if c.startswith(COVERED_AT)}
    if comparisons.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    for est, g in comparisons.groupby("estimator", sort=False):
        cols = dict(at)
        if est in levels:
            cols[float(levels[est])] = "covered"
        for nominal, col in sorted(cols.items()):
            if not g[col].notna().any():
                continue
            gg = g.assign(_hit=g[col].astype(float))
            m = cell_means(gg, ["estimator", "quantity"], ["_hit"])
            cov = _coverage(m, "_hit")
            frames.append(pd.concat([m[CELL_KEYS], cov], axis=1).assign(nominal=nominal))
    if not frames:  # no estimator reports intervals
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    out = out.rename(columns={"coverage_n": "n_intervals", "coverage_n_eff": "n_eff"})
    out = _ordered(out, comparisons)
    return out[columns]


def contrasts(
    comparisons: pd.DataFrame,
    fits: pd.DataFrame,
    estimators: Sequence[str],
    levels: Sequence[float] = (),
) -> pd.DataFrame:
    """Paired differences, estimator minus ``versus`` (each later estimator of ``estimators``
    against each earlier one), on the datasets both fitted: per quantity, the absolute relative
    and absolute error (:data:`CHANNEL_MEASURES`) and coverage at each shared nominal level of
    ``levels`` (``covered@<level>`` columns), channel averages; per fit, :data:`FIT_MEASURES`
    (quantity ``fit``). Per scenario and over all (:data:`ALL`), with the cluster-robust SE of
    the paired differences (datasets as clusters), a t 95% interval on its degrees of freedom
    (``df``: paired datasets less one per scenario) and the number of paired datasets."""
    columns = ["scenario", "quantity", "measure", "estimator", "versus", "difference", "se"]
    columns += ["lo", "hi", "pairs", "df"]
    comp = comparisons.assign(
        abs_rel_error=comparisons["rel_error"].abs(), abs_error=comparisons["error"].abs()
    )
    measures = [m for m in (*CHANNEL_MEASURES, *(f"{COVERED_AT}{lv:g}" for lv in levels))]
    measures = [m for m in measures if m in comp]
    long = comp.melt(
        id_vars=["scenario", "replicate", "channel", "quantity", "estimator"],
        value_vars=measures,
        var_name="measure",
    )
    if len(fits):
        ok = fits[fits["status"] == "ok"].assign(channel=ALL, quantity="fit")
        present = [m for m in FIT_MEASURES if m in ok]
        long = pd.concat(
            [
                long,
                ok.melt(
                    id_vars=["scenario", "replicate", "channel", "quantity", "estimator"],
                    value_vars=present,
                    var_name="measure",
                ),
            ],
            ignore_index=True,
        )
    long = long.dropna(subset=["value"])
    on = ["scenario", "replicate", "channel", "quantity", "measure"]
    pairs = []
    for j, est in enumerate(estimators):
        for versus in estimators[:j]:
            a = long[long["estimator"] == est].drop(columns="estimator")
            b = long[long["estimator"] == versus].drop(columns="estimator")
            pair = a.merge(b, on=on, suffixes=("_a", "_b"))
            pairs.append(
                pair.assign(estimator=est, versus=versus, diff=pair["value_a"] - pair["value_b"])
            )
    if not pairs or not sum(len(p) for p in pairs):
        return pd.DataFrame(columns=columns)
    m = cell_means(
        pd.concat(pairs, ignore_index=True),
        ["estimator", "versus", "quantity", "measure"],
        ["diff"],
    )
    m = m[m["channel"] == ALL].drop_duplicates(
        ["estimator", "versus", "quantity", "measure", "scenario"]
    )
    out = m.rename(
        columns={"diff": "difference", "diff_se": "se", "fits": "pairs", "diff_df": "df"}
    )
    # a t interval: the SE is estimated from few clusters (df: pairs less one per scenario)
    t = stats.t.ppf(0.975, out["df"].where(out["df"] > 0))
    out = out.assign(lo=out["difference"] - t * out["se"], hi=out["difference"] + t * out["se"])
    return out[columns].reset_index(drop=True)


def rate(hits: pd.Series) -> dict[str, float]:
    """A share of independent fits (e.g. advice worse than the status quo): the share, its exact
    95% interval and the number of fits (NaN values do not count)."""
    v = hits.dropna().astype(bool)
    k, n = int(v.sum()), int(v.size)
    lo, hi = clopper_pearson(k, n)
    return {"rate": k / n if n else math.nan, "lo": lo, "hi": hi, "n": n}


def quantile(values: pd.Series, q: float) -> float:
    """The ``q`` quantile of the finite values, NaN below :data:`MIN_FITS_QUANTILE` of them."""
    v = values.astype(float)
    v = v[np.isfinite(v)]
    return float(v.quantile(q)) if len(v) >= MIN_FITS_QUANTILE else math.nan
