"""The one calibration rule's verdicts on a study's metrics, for every report that states them
(:mod:`mmm_recovery.evaluation.calibration` holds the rule; this module counts the cells from
the metrics files and words the verdicts)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mmm_recovery.reporting.tables import StudyMetrics, fmt


def coverage_verdicts(m: StudyMetrics, quantity: str = "roas") -> pd.DataFrame:
    """Every coverage cell of ``quantity`` (scenario x nominal level: the estimator's own and
    each calibration level, channels pooled), counted from ``comparisons.csv`` and judged by the
    one calibration rule (:mod:`mmm_recovery.evaluation.calibration`): one family per estimator
    and quantity, Holm-adjusted together, so every report that states a cell's verdict states
    the same one. Columns: estimator, scenario, nominal, k, n, lo, hi (exact 95%), p_adjusted,
    verdict (under-covers, over-covers, not distinguishable from nominal, or channels differ:
    then no pooled verdict), shortfall (detectable at :data:`~.calibration.POWER`), channels
    (``tv 2/3, ...``) and words."""
    from mmm_recovery.evaluation import calibration as cal
    from mmm_recovery.evaluation.score import COVERED_AT

    comp = m.comparisons
    if not len(comp) or quantity not in set(comp["quantity"]):
        return pd.DataFrame()
    comp = comp[comp["quantity"] == quantity]
    extra = sorted(float(c[len(COVERED_AT) :]) for c in comp.columns if c.startswith(COVERED_AT))
    rows = []
    for est, ce in comp.groupby("estimator", sort=False):
        own = m.interval_level(est)
        levels = sorted({*extra, *([own] if own is not None else [])})
        cells = []
        for scen, cs in ce.groupby("scenario", sort=False):
            for nominal in levels:
                own_level = own is not None and math.isclose(nominal, own)
                col = "covered" if own_level else f"{COVERED_AT}{nominal:g}"
                if col not in cs.columns or not cs[col].notna().any():
                    continue
                counts = {
                    ch: (int(x.sum()), int(x.notna().sum()))
                    for ch, x in cs.groupby("channel", sort=False)[col]
                    if x.notna().any()
                }
                k = sum(k for k, _ in counts.values())
                n = sum(n for _, n in counts.values())
                cells.append((scen, nominal, k, n, counts))
        verdicts = cal.judge([(k, n, nominal) for _, nominal, k, n, _ in cells])
        differ = cal.holm(np.array([cal.heterogeneity_p(list(c[4].values())) for c in cells]))
        for (scen, _, _, _, counts), v, d in zip(cells, verdicts, differ, strict=True):
            split = bool(d <= cal.ALPHA)
            rows.append(
                {
                    "estimator": est,
                    "scenario": scen,
                    "nominal": v.nominal,
                    "k": v.k,
                    "n": v.n,
                    "lo": v.lo,
                    "hi": v.hi,
                    "p_adjusted": v.p_adjusted,
                    "verdict": cal.DIFFER if split else v.verdict,
                    "shortfall": v.shortfall,
                    "channels": cal.channel_counts(counts),
                    "words": (
                        f"{cal.DIFFER} ({cal.channel_counts(counts)}) at {v.nominal:g}"
                        if split
                        else v.words()
                    ),
                }
            )
    return pd.DataFrame(rows)


def calibration_verdict(m: StudyMetrics, quantity: str = "roas") -> str:
    """Per estimator, what the one calibration rule says of its ``quantity`` cells (every
    scenario and nominal level): how many under-cover, over-cover, cannot be told from nominal
    or pool channels that differ, the worst cell, and the largest shortfall the undecided cells
    could have missed."""
    from mmm_recovery.evaluation import calibration as cal

    v = coverage_verdicts(m, quantity)
    if v.empty:
        return f"No {quantity} intervals in these metrics."
    out = []
    for est, g in v.groupby("estimator", sort=False):
        under, over = g[g["verdict"] == cal.UNDER], g[g["verdict"] == cal.OVER]
        rest, differ = g[g["verdict"] == cal.NOMINAL], g[g["verdict"] == cal.DIFFER]
        text = (
            f"{est}: of {len(g)} cells, {len(under)} under-cover, {len(over)} over-cover, "
            f"{len(rest)} are not distinguishable from nominal"
        )
        if len(rest):
            text += f" (each could miss a shortfall up to {fmt(rest['shortfall'].max(), 2)})"
        text += f" and {len(differ)} pool channels that differ"
        if len(under):
            worst = under.loc[(under["k"] / under["n"] - under["nominal"]).idxmin()]
            text += f"; the worst, {worst['scenario']}, {worst['words']}"
        if len(differ):
            text += "; channels differ in " + "; ".join(
                f"{r.scenario} ({r.words[len(cal.DIFFER) + 2 :]}" for r in differ.itertuples()
            )
        out.append(text + ".")
    return (
        f"Calibration of {quantity} (exact binomial tests at nominal, Holm-adjusted over the "
        f"cells of each estimator, family-wise {fmt(cal.ALPHA, 2)} per estimator and quantity; "
        "intervals of one fit counted as independent): " + " ".join(out)
    )
