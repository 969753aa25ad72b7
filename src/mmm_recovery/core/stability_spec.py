"""``study.seed_stability``: refit a fixed subset of the study's datasets with further estimator
seeds, to separate an estimator's seed-to-seed spread from its error against the truth
(:mod:`mmm_recovery.evaluation.stability`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from mmm_recovery.core.scenario import Frozen


class SeedStability(Frozen):
    """Seed stability: the first ``replicates`` datasets of each of ``scenarios``, each fitted
    by every estimator with ``seeds`` seeds (seed 0 is the study's own fit)."""

    scenarios: list[str] = Field(min_length=1, description="Scenarios refitted. No default.")
    replicates: int = Field(
        ge=1, description="Datasets of each scenario refitted (its first ones). No default."
    )
    seeds: int = Field(
        ge=2,
        le=100,
        description="Estimator seeds per dataset, the study's own included. No default.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> SeedStability:
        if len(set(self.scenarios)) != len(self.scenarios):
            raise ValueError(f"scenarios must be distinct (got {self.scenarios})")
        return self

    def check(self, scenarios: Mapping[str, Any], replicates: int) -> None:
        """Refuse a scenario the study lacks, or more datasets than it simulates."""
        unknown = [s for s in self.scenarios if s not in scenarios]
        if unknown:
            raise ValueError(
                f"study.seed_stability.scenarios: unknown scenario(s) {unknown}; known: "
                f"{sorted(scenarios)}"
            )
        if self.replicates > replicates:
            raise ValueError(
                f"study.seed_stability.replicates: {self.replicates} is more than the "
                f"study's replicates ({replicates})"
            )
