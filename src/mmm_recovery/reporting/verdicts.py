"""The one calibration rule's verdicts on a study's metrics, for every report that states them
(:mod:`mmm_recovery.evaluation.calibration` holds the rule; this module counts the cells from
the metrics files and words the verdicts)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mmm_recovery.reporting.tables import StudyMetrics, fmt


def coverage_verdicts(m: StudyMetrics, quantity: str = "roas") -> pd.DataFrame:
    """Every channel-averaged coverage cell of ``quantity`` (each scenario and all scenarios
    together, at every nominal level: the estimator's own and each calibration level), read from
    ``calibration.csv`` and judged by the one calibration rule
    (:mod:`mmm_recovery.evaluation.calibration`) at the cell's effective number of intervals
    (:mod:`mmm_recovery.evaluation.performance`: a fit's channels are not independent trials):
    one family per estimator and quantity, Holm-adjusted together, so every report that states a
    cell's verdict states the same one. A cell whose channels' coverages differ (Cochran's Q over
    the fits, Holm-adjusted over the family) gets no pooled verdict. Columns: estimator,
    scenario, nominal, k, n (effective counts), coverage, lo, hi (exact 95% at ``n``),
    p_adjusted, verdict, shortfall (detectable at :data:`~.calibration.POWER`), channels
    (``tv 2/3, ...``) and words."""
    from mmm_recovery.evaluation import calibration as cal
    from mmm_recovery.evaluation.performance import ALL
    from mmm_recovery.evaluation.score import COVERED_AT

    c, comp = m.calibration, m.comparisons
    if not len(c) or "channel" not in c or quantity not in set(c["quantity"]):
        return pd.DataFrame()
    c = c[(c["quantity"] == quantity) & (c["channel"] == ALL)]
    comp = comp[comp["quantity"] == quantity]
    rows = []
    for est, ce in c.groupby("estimator", sort=False):
        own = m.interval_level(est)
        cells = []
        for r in ce.itertuples():
            own_level = own is not None and math.isclose(r.nominal, own)
            col = "covered" if own_level else f"{COVERED_AT}{r.nominal:g}"
            sub = comp[comp["estimator"] == est]
            if r.scenario != ALL:
                sub = sub[sub["scenario"] == r.scenario]
            blocks = sub.pivot_table(
                index=["scenario", "replicate"], columns="channel", values=col, sort=False
            )
            counts = {ch: (int(x.sum()), int(x.notna().sum())) for ch, x in blocks.items()}
            n = round(float(r.n_eff))
            k = round(float(r.coverage) * float(r.n_eff))
            cells.append((r, k, n, counts, cal.cochran_q(blocks)))
        verdicts = cal.judge([(k, n, r.nominal) for r, k, n, _, _ in cells])
        differ = cal.holm(np.array([q for *_, q in cells]))
        for (r, _, _, counts, _), v, d in zip(cells, verdicts, differ, strict=True):
            split = bool(d <= cal.ALPHA)
            where = "all scenarios" if r.scenario == ALL else r.scenario
            rows.append(
                {
                    "estimator": est,
                    "scenario": r.scenario,
                    "nominal": v.nominal,
                    "k": v.k,
                    "n": v.n,
                    "coverage": float(r.coverage),
                    "lo": float(r.coverage_lo),
                    "hi": float(r.coverage_hi),
                    "p_adjusted": v.p_adjusted,
                    "verdict": cal.DIFFER if split else v.verdict,
                    "shortfall": v.shortfall,
                    "channels": cal.channel_counts(counts),
                    "words": (
                        f"{cal.DIFFER} ({cal.channel_counts(counts)}) at {v.nominal:g}"
                        if split
                        else _words(v, r)
                    ),
                    "where": where,
                }
            )
    return pd.DataFrame(rows)


def _words(v, r) -> str:
    """``under-covers: 0.71 [0.63, 0.78] at 0.9 (150 intervals, 150 effective)``; a cell not
    distinguishable from nominal says what shortfall it could have missed."""
    from mmm_recovery.evaluation import calibration as cal

    if not v.n:
        return "no intervals"
    cell = (
        f"{r.coverage:.2f} [{r.coverage_lo:.2f}, {r.coverage_hi:.2f}] at {v.nominal:g} "
        f"({int(r.n_intervals)} intervals, {float(r.n_eff):.0f} effective)"
    )
    if v.verdict != cal.NOMINAL:
        return f"{v.verdict}: {cell}"
    return f"{v.verdict} ({cell}); could miss a shortfall up to {v.shortfall:.2f}"


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
            text += f"; the worst, {worst['where']}, {worst['words']}"
        if len(differ):
            text += "; channels differ in " + "; ".join(
                f"{r.where} ({r.words[len(cal.DIFFER) + 2 :]}" for r in differ.itertuples()
            )
        out.append(text + ".")
    return (
        f"Calibration of {quantity} (exact binomial tests at nominal, Holm-adjusted over the "
        f"cells of each estimator, family-wise {fmt(cal.ALPHA, 2)} per estimator and quantity; "
        "each cell at its effective number of intervals, since a fit's channels are "
        "correlated): " + " ".join(out)
    )
