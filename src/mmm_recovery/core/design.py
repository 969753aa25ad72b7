"""The study as a designed experiment: arms of factorial cells, replicates from a target precision.

A study file's ``design:`` block (ADEMP, Morris, White & Crowther 2019) declares *arms*. Each
arm states its aim, the factors it crosses (each level a partial scenario, deep-merged over the
study's ``defaults`` and the arm's ``base``) and the Monte Carlo SE its primary estimands must
reach. Every combination of levels is a cell, a scenario named ``<arm>-<level>-<level>...``;
the replicates of an arm's cells are derived from its aims' target MC-SE and the study's
planning values, never typed:

=================  =====================================================================
``of``             replicates per cell for a target MC-SE ``s`` and variance ``V``
=================  =====================================================================
``cell``           ``V / s^2``: one cell's own mean (coverage, bias)
``effect``         ``4 V / s^2 / cells``: a main effect, high-minus-low over all cells
``slope``          ``V / s^2 / cells``: a slope per sd of a truth's feature (random truths)
=================  =====================================================================

``V`` is ``p (1 - p)`` for a coverage at the planning coverage ``p``, else the planning sd
squared (of a relative error, or of a log absolute error). Cells of one replicate share their
random numbers (:mod:`mmm_recovery.simulation.streams`), so the derived counts are conservative
for paired contrasts. Each arm has at least :data:`MIN_REPLICATES`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, Literal, cast

from pydantic import Field, model_validator

from mmm_recovery.core.frozen import Frozen, SpecError
from mmm_recovery.core.merge import deep_merge

#: an arm's fewest replicates per cell: a Monte Carlo SE needs two
MIN_REPLICATES = 2


class Planning(Frozen):
    """Anticipated values of the performance measures, for the replicate counts (planning values
    from a pilot, like a trial's anticipated effect sizes)."""

    coverage: float = Field(
        0.75, gt=0.0, lt=1.0, description="Anticipated coverage of an interval. Default 0.75."
    )
    rel_error_sd: float = Field(
        0.3, gt=0.0, description="Anticipated sd of a relative error. Default 0.3."
    )
    log_abs_error_sd: float = Field(
        1.2, gt=0.0, description="Anticipated sd of a log absolute relative error. Default 1.2."
    )

    def variance(self, measure: str) -> float:
        """``V`` of :mod:`mmm_recovery.core.design` for ``measure``."""
        if measure == "coverage":
            return self.coverage * (1.0 - self.coverage)
        return (self.rel_error_sd if measure == "rel_error" else self.log_abs_error_sd) ** 2


class Aim(Frozen):
    """One aim of an arm: the estimand and the Monte Carlo SE it must reach."""

    measure: Literal["coverage", "rel_error", "log_abs_error"] = Field(
        description="Performance measure: interval coverage, mean relative error (bias), or "
        "the log absolute relative error. No default."
    )
    of: Literal["cell", "effect", "slope"] = Field(
        description="What the target is for: a cell's own value, a factor's main effect, or a "
        "slope against a truth's feature (module table). No default."
    )
    target_mcse: float = Field(gt=0.0, le=1.0, description="Target Monte Carlo SE. No default.")

    def replicates(self, planning: Planning, cells: int) -> int:
        """Replicates per cell this aim needs (module table)."""
        n = planning.variance(self.measure) / self.target_mcse**2
        n *= {"cell": 1.0, "effect": 4.0 / cells, "slope": 1.0 / cells}[self.of]
        return max(MIN_REPLICATES, math.ceil(n - 1e-9))


class Arm(Frozen):
    """One arm of the design: its aim, its factors and its cells' precision."""

    aim: str = Field(description="The question the arm answers (shown in the reports). No default.")
    aims: list[Aim] = Field(
        min_length=1, description="Primary estimands and their target MC-SE. No default."
    )
    base: dict[str, Any] = Field(
        default_factory=dict,
        description="A partial scenario merged over the study's defaults in every cell of the arm.",
    )
    factors: dict[str, dict[str, dict[str, Any] | None]] = Field(
        default_factory=dict,
        description="Factor -> level -> partial scenario (null or {} for the arm's base). The "
        "first level is the reference. Every combination is a cell. Default none (one cell).",
    )

    @model_validator(mode="after")
    def _levels(self) -> Arm:
        for factor, levels in self.factors.items():
            if not levels:
                raise ValueError(f"factor {factor!r} has no levels")
            for name in (factor, *levels):
                if not str(name).replace("_", "a").isalnum():
                    raise ValueError(f"factor or level name {name!r}: letters, digits and '_'")
        return self

    def cells(self, arm: str) -> dict[str, dict[str, str]]:
        """Cell name -> {factor: level}, in the order of the levels (the first cell is the
        reference). An arm without factors is one cell named after it."""
        if not self.factors:
            return {arm: {}}
        out = {}
        for combo in itertools.product(*(list(v) for v in self.factors.values())):
            out["-".join((arm, *combo))] = dict(zip(self.factors, combo, strict=True))
        return out

    def replicates(self, planning: Planning, arm: str) -> int:
        """Replicates per cell: the most any aim needs."""
        n_cells = len(self.cells(arm))
        return max(aim.replicates(planning, n_cells) for aim in self.aims)


class Design(Frozen):
    """The study's designed arms (``design:`` in a study file)."""

    planning: Planning = Field(
        default_factory=cast("Callable[[], Planning]", Planning),
        description="Planning values for the replicate counts.",
    )
    arms: dict[str, Arm] = Field(min_length=1, description="Arm name -> Arm. No default.")

    @model_validator(mode="after")
    def _names(self) -> Design:
        for name in self.arms:
            if not name.replace("_", "a").isalnum():
                raise ValueError(f"arm name {name!r}: letters, digits and '_'")
        return self

    def cells(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Every cell: name -> (arm, {factor: level})."""
        return {
            cell: (arm, levels)
            for arm, spec in self.arms.items()
            for cell, levels in spec.cells(arm).items()
        }


def _leaves(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out |= _leaves(value, f"{prefix}{key}.")
        else:
            out.add(f"{prefix}{key}")
    return out


def _check_single(label: str, arm: str, spec: Arm) -> None:
    """Two factors of an arm must not set one key: a cell would then change two things."""
    touched = {
        f: set().union(*(_leaves(v or {}) for v in lv.values())) for f, lv in spec.factors.items()
    }
    for (f1, k1), (f2, k2) in itertools.combinations(touched.items(), 2):
        both = sorted(k for k in k1 & k2 if not k.endswith(".family"))
        if both:
            raise SpecError(
                f"{label}: design.arms.{arm}: factors {f1!r} and {f2!r} both set {both[0]}: "
                "each factor must change its own settings"
            )


def expand(label: str, design: Design, defaults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every cell's scenario mapping (defaults, then the arm's base, then each factor's level in
    order), before validation. Raises :class:`SpecError` naming the file and arm."""
    out: dict[str, dict[str, Any]] = {}
    for arm, spec in design.arms.items():
        _check_single(label, arm, spec)
        base = deep_merge(defaults, spec.base, f"design.arms.{arm}.base.")
        for cell, levels in spec.cells(arm).items():
            merged = base
            for factor, level in levels.items():
                where = f"design.arms.{arm}.factors.{factor}.{level}."
                merged = deep_merge(merged, spec.factors[factor][level] or {}, where)
            out[cell] = merged
    return out


def parse(label: str, raw: Any) -> Design | None:
    """The ``design:`` block validated (None without one), errors naming the file."""
    if raw is None:
        return None
    try:
        return Design.model_validate(raw)
    except Exception as exc:  # pydantic's ValidationError: one line per problem
        lines = [
            f"{label}: design.{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in getattr(exc, "errors", lambda: [])()
        ] or [f"{label}: design: {exc}"]
        raise SpecError("\n".join(lines)) from None
