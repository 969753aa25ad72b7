"""What the study supports, in compact tables: every scenario pooled first (calibration per
estimator, paired contrasts between estimators), then per channel, each with its power; computed
from ``calibration.csv``, ``contrasts.csv`` and ``performance.csv``
(:mod:`mmm_recovery.evaluation.aggregate`), judged by the one calibration rule
(:mod:`mmm_recovery.reporting.verdicts`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mmm_recovery.reporting.tables import StudyMetrics, fmt
from mmm_recovery.reporting.verdicts import coverage_verdicts

#: the scenario label of every scenario pooled (:data:`mmm_recovery.evaluation.performance.ALL`)
ALL = "all"
#: the measures of the contrast table: (quantity, measure, what a reader calls it)
CONTRASTS = (
    ("roas", "abs_rel_error", "ROAS |relative error|"),
    ("mroas", "abs_rel_error", "mROAS |relative error|"),
    ("adstock.alpha", "abs_error", "adstock decay |error|"),
    ("curve_error", "abs_error", "response-curve error"),
    ("roas", "covered@0.9", "ROAS coverage at 0.9"),
    ("fit", "regret_share_of_lift", "regret (share of the optimum's lift)"),
)


def _num(x: object) -> float:
    """A metrics value as a float (NaN for a missing one: JSON writes NaN as null)."""
    return float(x) if isinstance(x, int | float) else math.nan


def interval_text(value: float, lo: float, hi: float, digits: int = 2) -> str:
    """``0.71 [0.63, 0.78]``"""
    value, lo, hi = _num(value), _num(lo), _num(hi)
    if not math.isfinite(value):
        return "n/a"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.{digits}f} (SE not estimable)"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def pooled_calibration(m: StudyMetrics, quantity: str = "roas") -> pd.DataFrame:
    """One row per estimator, one column per nominal level: coverage of ``quantity``'s
    intervals over every scenario and channel with its exact 95% interval and the verdict."""
    v = coverage_verdicts(m, quantity)
    if v.empty:
        return pd.DataFrame()
    v = v[v["scenario"] == ALL]
    rows = []
    for est, g in v.groupby("estimator", sort=False):
        row = {"estimator": est}
        for r in g.itertuples():
            text = interval_text(r.coverage, r.lo, r.hi)
            row[f"at {r.nominal:g}"] = f"{text}: {_short(r.verdict, r.shortfall)}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def _short(verdict: str, shortfall: float) -> str:
    from mmm_recovery.evaluation import calibration as cal

    if verdict == cal.NOMINAL:
        return f"nominal (could miss {shortfall:.2f})"
    return verdict


def contrast_family(m: StudyMetrics) -> pd.DataFrame:
    """The reported contrasts (:data:`CONTRASTS`, every pair, every scenario pooled) with a
    two-sided t p-value (on the contrast's ``df``) of a zero difference and its Holm adjustment over them all
    (``p_adjusted``): one family, so the chance of any false "differs" is at most
    :data:`~mmm_recovery.evaluation.calibration.ALPHA`."""
    from scipy import stats

    from mmm_recovery.evaluation import calibration as cal

    c = m.contrasts
    if c.empty:
        return pd.DataFrame()
    c = c[c["scenario"] == ALL]
    keep = pd.Series(False, index=c.index)
    for quantity, measure, _ in CONTRASTS:
        keep |= (c["quantity"] == quantity) & (c["measure"] == measure)
    c = c[keep].copy()
    df = c["df"] if "df" in c else pd.Series(np.inf, index=c.index)
    c["p"] = 2 * stats.t.sf(np.abs(c["difference"] / c["se"]), df.where(df > 0))
    c["p_adjusted"] = cal.holm(c["p"].to_numpy())
    c["differs"] = c["p_adjusted"] <= cal.ALPHA
    return c


def contrast_table(m: StudyMetrics) -> pd.DataFrame:
    """Paired differences between estimators on the same datasets, every scenario pooled
    (``contrasts.csv``): one row per measure of :data:`CONTRASTS`, one column per pair, each
    ``difference [95% interval]`` with ``*`` where the difference is nonzero after Holm's
    adjustment over the table (:func:`contrast_family`)."""
    c = contrast_family(m)
    if c.empty:
        return pd.DataFrame()
    pairs = list(dict.fromkeys(zip(c["estimator"], c["versus"], strict=True)))
    rows = []
    for quantity, measure, label in CONTRASTS:
        row = {"measure": label}
        for est, versus in pairs:
            r = c[
                (c["estimator"] == est)
                & (c["versus"] == versus)
                & (c["quantity"] == quantity)
                & (c["measure"] == measure)
            ]
            if r.empty:
                continue
            x = r.iloc[0]
            star = " *" if x["differs"] else ""
            row[f"{est} - {versus}"] = interval_text(x["difference"], x["lo"], x["hi"]) + star
        if len(row) > 1:
            row["pairs"] = fmt(int(c["pairs"].max()))
            rows.append(row)
    return pd.DataFrame(rows).fillna("")


def channel_table(m: StudyMetrics, quantity: str = "roas") -> pd.DataFrame:
    """Per estimator x channel, every scenario pooled (``performance.csv``): bias and mean
    |relative error| with their MC-SE, coverage at the estimator's level with its exact
    interval, bias-eliminated coverage, and model / empirical SE."""
    p = m.performance
    if p.empty:
        return pd.DataFrame()
    p = p[(p["scenario"] == ALL) & (p["quantity"] == quantity)]
    rows = []
    for r in p.itertuples():
        rows.append(
            {
                "estimator": r.estimator,
                "channel": r.channel,
                "fits": fmt(int(r.fits)),
                "rel. bias": _with_se(r.mean_rel_error, r.mean_rel_error_se),
                "mean |rel. error|": _with_se(r.mean_abs_rel_error, r.mean_abs_rel_error_se, ""),
                "coverage": interval_text(r.coverage, r.coverage_lo, r.coverage_hi),
                "bias-eliminated": fmt(r.coverage_be, 2),
                "model / emp. SE": fmt(r.se_ratio, 2),
            }
        )
    return pd.DataFrame(rows)


def _with_se(value: float, se: float, sign: str = "+") -> str:
    """``+0.072 (0.045)``; ``(n/e)`` where the MC-SE is not estimable (too few fits)."""
    value, se = _num(value), _num(se)
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:{sign}.3f}"
    return f"{text} ({se:.3f})" if math.isfinite(se) else f"{text} (n/e)"


def supported_findings(m: StudyMetrics) -> list[str]:
    """The claims the study supports, each a sentence with its interval: pooled calibration
    verdicts that reject nominal, and paired contrasts whose interval excludes 0."""
    from mmm_recovery.evaluation import calibration as cal

    out = []
    for quantity, name in (("roas", "ROAS"), ("adstock.alpha", "adstock decay")):
        v = coverage_verdicts(m, quantity)
        if v.empty:
            continue
        v = v[v["scenario"] == ALL]
        for est, g in v.groupby("estimator", sort=False):
            bad = g[g["verdict"] != cal.NOMINAL]
            if bad.empty:
                worst = g["shortfall"].max()
                out.append(
                    f"{est}'s {name} intervals are not distinguishable from nominal at any level "
                    f"({', '.join(f'{r.coverage:.2f} at {r.nominal:g}' for r in g.itertuples())}); "
                    f"the study could miss a shortfall up to {worst:.2f}."
                )
            else:
                out.append(
                    f"{est}'s {name} intervals: "
                    + "; ".join(f"{r.words}" for r in bad.itertuples())
                    + "."
                )
    c = contrast_family(m)
    if not c.empty:
        for quantity, measure, label in CONTRASTS:
            sel = c[(c["quantity"] == quantity) & (c["measure"] == measure)]
            for r in sel.itertuples():
                if not r.differs:
                    continue
                word = "lower" if r.difference < 0 else "higher"
                out.append(
                    f"{label}: {r.estimator} is {word} than {r.versus} by "
                    f"{abs(r.difference):.3f} (paired over {int(r.pairs)} datasets, 95% interval "
                    f"[{r.lo:.3f}, {r.hi:.3f}], Holm-adjusted p {r.p_adjusted:.2g} over "
                    f"{len(c)} contrasts)."
                )
    return out


def section(m: StudyMetrics, heading: str = "##") -> str:
    """The report section "What the study supports" as Markdown: the supported claims, then the
    pooled calibration, the paired contrasts and the per-channel ROAS table."""
    from mmm_recovery.evaluation import calibration as cal
    from mmm_recovery.evaluation.performance import MIN_FITS
    from mmm_recovery.reporting.tables import markdown

    claims = supported_findings(m)
    parts = [
        f"{heading} What the study supports",
        "",
        "Every scenario pooled, each scenario and channel weighing the same. A fit (one estimator "
        "on one simulated dataset) is the independent unit: Monte Carlo errors are clustered by "
        "fit, so a fit's correlated channels are not counted as independent trials, and are "
        f"not estimable below {MIN_FITS} fits. Calibration verdicts: exact binomial tests at "
        "nominal at the cell's effective number of intervals, Holm-adjusted over each "
        f"estimator's cells of a quantity (family-wise {cal.ALPHA:g}); where the channels' "
        "coverages differ (Cochran's Q) there is no pooled verdict. Contrasts: paired "
        "differences on the same datasets, Holm-adjusted over the table.",
        "",
        *(f"- {c}" for c in claims),
    ]
    for title, table in [
        ("Calibration of the ROAS intervals, every scenario pooled", pooled_calibration(m)),
        ("Calibration of the adstock-decay intervals", pooled_calibration(m, "adstock.alpha")),
        (
            "Paired contrasts (column: estimator minus versus; * nonzero after Holm)",
            contrast_table(m),
        ),
        (
            "ROAS per channel, every scenario pooled (relative bias and mean |relative error| "
            "with MC-SE; coverage at the estimator's level with its exact 95% interval; "
            "bias-eliminated coverage: each interval shifted by its cell's mean error; model / "
            "empirical SE: interval width against the estimates' spread)",
            channel_table(m),
        ),
        (
            "Budget advice, every scenario pooled (regret with MC-SE; harmful: advice that truly "
            "earns less than the current allocation, exact 95% interval; optimism: the lift the "
            "estimator predicts for its advice minus the lift it truly earns, per week, = curve "
            "bias at the true optimum (an allocation it did not select) + the optimizer's curse "
            "(what it believes its choice gains over the true optimum) + the regret; "
            "search: fits where a start of the true optimum's search ended worse, or the advice "
            "beat it)",
            decision_table(m),
        ),
    ]:
        if len(table):
            parts += ["", f"**{title}.**", "", markdown(table)]
    return "\n".join(parts)


def decision_table(m: StudyMetrics) -> pd.DataFrame:
    """Per estimator, every scenario pooled (``pooled.json``): the regret as a share of the
    optimum's lift and of revenue (MC-SE), harmful advice (advice that truly earns less than the
    current allocation) at each bound with its exact 95% interval, and the optimism of the
    advice (predicted minus true lift, currency per week) split into the curves' bias at the
    true optimum, the optimizer's curse and the regret (:mod:`~mmm_recovery.evaluation.budget`);
    fits where the optimum's search found a worse local
    optimum from some start, or the advice beat it."""
    rows = []
    for est, v in m.pooled.items():
        if est == "contrasts" or not isinstance(v, dict):
            continue
        row = {
            "estimator": est,
            "fits": fmt(v.get("fits")),
            "regret / lift": _with_se(
                v.get("regret_share_of_lift_mean", math.nan),
                v.get("regret_share_of_lift_mean_se", math.nan),
                "",
            ),
            "regret / revenue": _with_se(
                v.get("regret_share_of_revenue_mean", math.nan),
                v.get("regret_share_of_revenue_mean_se", math.nan),
                "",
            ),
            "harmful": interval_text(
                v.get("harmful_rate", math.nan),
                v.get("harmful_lo", math.nan),
                v.get("harmful_hi", math.nan),
            ),
        }
        for key in sorted(k for k in v if k.startswith("harmful_at_") and k.endswith("_rate")):
            b = key[len("harmful_at_") : -len("_rate")]
            row[f"harmful at +-{float(b):.0%}"] = interval_text(
                v[key], v.get(f"harmful_at_{b}_lo", math.nan), v.get(f"harmful_at_{b}_hi", math.nan)
            )
        for name, label in (
            ("lift_optimism", "optimism"),
            ("curve_bias_at_optimum", "curve bias"),
            ("optimizer_curse", "optimizer's curse"),
            ("regret", "regret"),
        ):
            mean, se = _num(v.get(f"{name}_mean")), _num(v.get(f"{name}_mean_se"))
            row[label] = (
                f"{mean:,.0f} ({se:,.0f})" if math.isfinite(mean) and math.isfinite(se) else "n/a"
            )
        row["search: worse start / beaten"] = (
            f"{v.get('optimum_starts_worse_fits', 'n/a')} / {v.get('optimum_beaten_fits', 'n/a')}"
        )
        rows.append(row)
    return pd.DataFrame(rows)
