"""The study's answer per estimator, in words, for the first lines of the reports.

Where an estimator's intervals under-cover, over-cover or cannot be told from nominal at their
own level, by the one calibration rule (:func:`mmm_recovery.reporting.verdicts.coverage_verdicts`:
exact tests Holm-adjusted over all of the estimator's cells, the shortfall each undecided cell
could miss, channels that differ named instead of pooled); then how the error moves with each
factor the scenarios vary. A scenario's *factor* is the one key of the study file in which it
differs from the first scenario (the reference: ``n_weeks``, ``noise``, ``lift_tests``, ...); a
scenario that differs in more than one key is named, not grouped. Every number comes from the
metrics files; the factors and their levels from the study file.
"""

from __future__ import annotations

import math
from typing import Any

from mmm_recovery.core.spec import Study
from mmm_recovery.reporting.tables import StudyMetrics, fmt, fmt_with_se
from mmm_recovery.reporting.verdicts import coverage_verdicts

#: words for the factors a scenario can change
FACTOR_WORDS = {
    "n_weeks": "data length",
    "noise": "noise",
    "lift_tests": "lift tests",
    "spend_correlation": "spend correlation",
    "channels": "the channels' true response",
}


def factors(spec: Study) -> tuple[str, dict[str, list[str]]]:
    """The reference scenario, and factor -> scenarios that differ from it in that key only."""
    names = list(spec.scenarios)
    ref = spec.scenarios[names[0]].model_dump()
    out: dict[str, list[str]] = {}
    for name in names[1:]:
        d = spec.scenarios[name].model_dump()
        diff = [k for k in d if d[k] != ref[k]]
        out.setdefault(diff[0] if len(diff) == 1 else "other", []).append(name)
    return names[0], out


def level(spec: Study, scenario: str, factor: str) -> str:
    """A scenario's level of ``factor``, in words (its name where there is no short one)."""
    s = spec.scenarios[scenario]
    words = {
        "n_weeks": f"{s.n_weeks} weeks",
        "noise": f"SNR {fmt(s.noise.snr)}",
        "lift_tests": f"{len(s.lift_tests)} lift test(s)",
        "spend_correlation": f"spend correlation {fmt(s.spend_correlation)}",
    }
    short = words.get(factor)
    return f"{short} ({scenario})" if short else scenario


def _error(cells: dict[str, Any], scenario: str) -> str:
    """A scenario's mean |relative error| with its MC-SE, from its ``(cell, nominal)``."""
    c = cells.get(scenario, ({}, None))[0]
    return fmt_with_se(c.get("mean_abs_rel_error"), c.get("mean_abs_rel_error_se"), 2)


def calibration_sentence(m: StudyMetrics, estimator: str, quantity: str) -> str | None:
    """What the one rule says of ``estimator``'s ``quantity`` intervals at their own level, one
    clause per verdict (None without intervals)."""
    from mmm_recovery.evaluation import calibration as cal

    family = coverage_verdicts(m, quantity)
    level = m.interval_level(estimator)
    if family.empty or level is None:
        return None
    family = family[family["estimator"] == estimator]
    v = family[((family["nominal"] - level).abs() < 1e-9) & (family["scenario"] != "all")]
    if v.empty:
        return None
    parts = []
    for verdict in (cal.UNDER, cal.OVER):
        g = v[v["verdict"] == verdict]
        if len(g):
            parts.append(
                f"{verdict} in {len(g)} of {len(v)} scenarios: "
                + "; ".join(
                    f"{r.scenario} {fmt(r.coverage, 2)} [{fmt(r.lo, 2)}, {fmt(r.hi, 2)}]"
                    for r in g.itertuples()
                )
            )
    rest = v[v["verdict"] == cal.NOMINAL]
    if len(rest):
        parts.append(
            f"not distinguishable from nominal in {len(rest)} of {len(v)} scenarios (each could "
            f"miss a shortfall up to {fmt(rest['shortfall'].max(), 2)})"
        )
    differ = v[v["verdict"] == cal.DIFFER]
    if len(differ):
        parts.append(
            f"channels differ, so no pooled verdict, in {len(differ)} of {len(v)} scenarios: "
            + "; ".join(f"{r.scenario} ({r.channels})" for r in differ.itertuples())
        )
    return (
        f"{quantity} intervals (exact tests at nominal, Holm-adjusted over all {len(family)} "
        "cells of the estimator): " + "; ".join(parts)
    )


def answer(m: StudyMetrics, spec: Study, quantity: str = "roas") -> str:
    """One Markdown bullet per estimator (see the module docstring)."""
    if not m.study:
        return "The study has no results yet."
    ref, by_factor = factors(spec)
    lines = []
    for est in m.estimators:
        cells = {
            s: (v[est].get(quantity) or {}, v[est].get("interval_level"))
            for s, v in m.study.items()
            if est in v
        }
        sentence = calibration_sentence(m, est, quantity)
        if sentence is None:
            lines.append(f"- **{est}**: no {quantity} intervals.")
            continue
        nominal = m.interval_level(est) or math.nan
        text = f"- **{est}** ({100 * nominal:g}% intervals): {sentence}."
        moves = [
            f"{FACTOR_WORDS.get(f, f)}: "
            + ", ".join(f"{level(spec, s, f)} {_error(cells, s)}" for s in names if s in cells)
            for f, names in by_factor.items()
            if f != "other" and any(s in cells for s in names)
        ]
        if ref in cells:
            text += f" Mean |relative error| of {quantity}: {ref} {_error(cells, ref)}"
            text += ("; " + "; ".join(moves) if moves else "") + "."
        lines.append(text)
    return "\n".join(lines)
