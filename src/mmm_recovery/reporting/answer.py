"""The study's answer per estimator, in words, for the first lines of the reports.

Where an estimator's intervals are calibrated (empirical coverage within ``z`` Monte Carlo
standard errors of the nominal level, the SE taken at the nominal level:
``sqrt(nominal (1 - nominal) / n)``) and where they are not, by how much; then how the error
moves with each factor the scenarios vary. A scenario's *factor* is the one key of the study
file in which it differs from the first scenario (the reference: ``n_weeks``, ``noise``,
``lift_tests``, ...); a scenario that differs in more than one key is named, not grouped. Every
number comes from ``study.json``; the factors and their levels from the study file.
"""

from __future__ import annotations

import math
from typing import Any

from mmm_recovery.core.spec import Study
from mmm_recovery.reporting.tables import StudyMetrics, fmt, fmt_with_se

#: words for the factors a scenario can change
FACTOR_WORDS = {
    "n_weeks": "data length",
    "noise": "noise",
    "lift_tests": "lift tests",
    "spend_correlation": "spend correlation",
    "channels": "the channels' true response",
}


def calibration_z(cell: dict[str, Any], nominal: float) -> float:
    """(coverage - nominal) in units of the binomial SE at the nominal level."""
    n = cell.get("n_intervals") or 0
    if not n or cell.get("coverage") is None:
        return math.nan
    return (cell["coverage"] - nominal) / math.sqrt(nominal * (1 - nominal) / n)


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


def answer(m: StudyMetrics, spec: Study, quantity: str = "roas", z: float = 2.0) -> str:
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
        judged = {
            s: calibration_z(c, nom)
            for s, (c, nom) in cells.items()
            if nom and c.get("n_intervals")
        }
        if not judged:
            lines.append(f"- **{est}**: no {quantity} intervals.")
            continue
        off = {s: zs for s, zs in judged.items() if not abs(zs) <= z}
        nominal = next(nom for _, nom in cells.values() if nom)
        text = (
            f"- **{est}** ({100 * nominal:g}% intervals): {quantity} intervals calibrated "
            f"(coverage within {z:g} MC-SE of nominal) in {len(judged) - len(off)} of "
            f"{len(judged)} scenarios"
        )
        if off:
            text += "; not in " + "; ".join(
                f"{s} ({fmt(cells[s][0]['coverage'], 2)}, {zs:+.1f} SE, "
                f"n = {cells[s][0]['n_intervals']})"
                for s, zs in sorted(off.items(), key=lambda kv: kv[1])
            )
        text += "."

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
