"""Study specification: ``studies/*.yaml`` -> frozen, validated models.

A study file is the single home of every number the pipeline uses. Its top-level keys:

``study``
    :class:`StudySettings` (name, base seed, replicates, ...).
``defaults``
    A partial scenario, deep-merged under every scenario (a scenario's own keys win; a channel
    set to ``null`` in a scenario is removed from it; a block that changes ``family`` replaces
    the default block).
``scenarios``
    ``name -> ScenarioSpec``: the data-generating process of each scenario.
``estimators``
    ``name -> settings`` for each registered estimator to run (validated by that estimator).

Every model forbids unknown keys and checks ranges; :func:`load_study` turns a validation
failure into a :class:`SpecError` naming the file and the dotted key, e.g.
``studies/x.yaml: scenarios.baseline.channels.tv.adstock.alpha: Input should be less than 1
(got 1.2)``. Parameters are in absolute units (currency, weeks), never relative to a dataset's
observed range, so all replicates of a scenario share one truth.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from mmm_recovery.core import design, paths
from mmm_recovery.core.dataset_spec import CsvDatasetSpec, MeasuredLiftTest
from mmm_recovery.core.design import Aim, Arm, Design, Planning
from mmm_recovery.core.merge import UniqueKeyLoader, deep_merge
from mmm_recovery.core.sbc_spec import SBCSettings
from mmm_recovery.core.scenario import (
    ChannelConfounding,
    ChannelSpec,
    CompetitorSpec,
    DemandShockSpec,
    EventSpec,
    Frozen,
    LiftTestSpec,
    NoiseSpec,
    ScenarioSpec,
    SpecError,
)
from mmm_recovery.core.spec_checks import check_study, format_errors
from mmm_recovery.core.stability_spec import SeedStability
from mmm_recovery.core.truth_design import RandomTruthSpec
from mmm_recovery.families import registry as families

__all__ = [
    "SpecError",
    "ChannelSpec",
    "NoiseSpec",
    "CompetitorSpec",
    "EventSpec",
    "ScenarioSpec",
    "StudySettings",
    "Study",
    "load_study",
    "deep_merge",
    "CsvDatasetSpec",
    "MeasuredLiftTest",
]


# ----------------------------------------------------------------------------- study
class StudySettings(Frozen):
    """Study-wide settings."""

    name: str = Field(description="Study name (shown in reports and progress bars). No default.")
    base_seed: int = Field(ge=0, description="Root of every random draw. No default.")
    replicates: int = Field(
        1, ge=1, le=10000, description="Datasets simulated per scenario. Default 1."
    )
    holdout_weeks: int = Field(
        13, ge=0, le=104, description="Final weeks held out for out-of-sample checks. Default 13."
    )
    budget_bound: float = Field(
        0.3,
        gt=0.0,
        lt=1.0,
        description="Budget optimisation: each channel within +-this share of current spend. Default 0.3.",
    )
    regret_bounds: tuple[float, ...] = Field(
        (),
        max_length=9,
        description="Further bounds (each strictly between 0 and 1, increasing) at which every "
        "fit's budget advice is also scored: the regret with each channel within +-this share "
        "of current spend, beside budget_bound. Default none.",
    )
    scheduler: str = Field(
        "processes",
        description="Study execution: `processes` (local pool) or a Dask scheduler address `tcp://host:port`. "
        "The env var MMM_RECOVERY_SCHEDULER overrides it. Default processes.",
    )
    fit_attempts: int = Field(
        3,
        ge=1,
        le=100,
        description="Runs a failing fit gets: a fit that raised is recorded as failed (and "
        "counted as a failure in the metrics) and tried again by the next run of the study, "
        "until it has failed this many times. Default 3.",
    )
    scheduler_timeout_s: float = Field(
        30.0,
        gt=0.0,
        le=3600.0,
        description="Seconds a Dask scheduler has to answer before the study stops with an "
        "error naming its address (an address that accepts connections and never answers "
        "would otherwise hang the study). Default 30.",
    )
    workers: int = Field(
        2, ge=1, le=256, description="Worker processes for `processes`. Default 2."
    )
    batch_size: int = Field(
        1,
        ge=1,
        le=1024,
        description="Datasets of one scenario an estimator with its own batched fit (the "
        "Bayesian one) fits in one call; each still gets its own record. 1: one at a time (the "
        "per-dataset path). Default 1.",
    )
    calibration_levels: tuple[float, ...] = Field(
        (),
        max_length=19,
        description="Nominal levels (strictly between 0 and 1, increasing) at which every "
        "estimator also reports its intervals (of its own kind), for calibration curves: "
        "empirical coverage against nominal. The estimator's own level is always included. "
        "Default none.",
    )

    seed_stability: SeedStability | None = Field(
        None,
        description="Refit a fixed subset of datasets with further estimator seeds: each "
        "estimator's seed-to-seed spread beside its error (see SeedStability). Default none.",
    )

    @model_validator(mode="after")
    def _check_levels(self) -> StudySettings:
        for key in ("calibration_levels", "regret_bounds"):
            levels = getattr(self, key)
            if any(not 0.0 < x < 1.0 for x in levels) or list(levels) != sorted(set(levels)):
                raise ValueError(
                    f"{key} must be increasing and strictly between 0 and 1; got {list(levels)}"
                )
        return self

    @model_validator(mode="after")
    def _check_scheduler(self) -> StudySettings:
        if self.scheduler != "processes" and not self.scheduler.startswith(
            ("tcp://", "tls://", "inproc://")
        ):
            raise ValueError(
                f"scheduler must be 'processes' or a Dask address like tcp://host:port; got {self.scheduler!r}"
            )
        return self


class Study(Frozen):
    """A validated study: settings, scenarios (defaults merged in) and estimator settings."""

    study: StudySettings = Field(description="Study-wide settings.")
    scenarios: dict[str, ScenarioSpec] = Field(
        min_length=1, description="Scenario name -> ScenarioSpec."
    )
    estimators: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Estimator name -> its settings (validated by the estimator).",
    )
    datasets: dict[str, CsvDatasetSpec] = Field(
        default_factory=dict,
        description="Bring-your-own data: name -> CSV dataset (no ground truth).",
    )
    sbc: SBCSettings | None = Field(
        None, description="Simulation-based calibration of the Bayesian estimator (optional)."
    )
    design: Design | None = Field(
        None,
        description="The designed arms (see Design): their cells are scenarios too. Default none.",
    )
    source: Path | None = Field(
        None, description="File the study was read from (set by load_study)."
    )

    @model_validator(mode="after")
    def _check_names(self) -> Study:
        for name in self.scenarios:
            if not name.replace("-", "_").isidentifier():
                raise ValueError(f"scenario name {name!r} must be letters, digits, '_' or '-'")
        if self.sbc is not None:
            self.sbc.check(self.scenarios)
        if self.study.seed_stability is not None:
            self.study.seed_stability.check(self.scenarios, self.study.replicates)
        return self

    def scenario(self, name: str) -> ScenarioSpec:
        """The scenario called ``name``; a clear error lists the known names otherwise."""
        try:
            return self.scenarios[name]
        except KeyError:
            raise SpecError(
                f"{self.source or 'study'}: unknown scenario {name!r}; known: {sorted(self.scenarios)}"
            ) from None

    @property
    def cells(self) -> dict[str, tuple[str, dict[str, str]]]:
        """The design's cells: scenario name -> (arm, {factor: level}); empty without a design."""
        return self.design.cells() if self.design else {}

    def replicates_of(self, scenario: str) -> int:
        """Replicates of ``scenario``: its arm's derived count for a design cell, else
        ``study.replicates``."""
        self.scenario(scenario)
        if scenario in self.cells and self.design is not None:
            arm = self.cells[scenario][0]
            return self.design.arms[arm].replicates(self.design.planning, arm)
        return self.study.replicates

    def seed_sequence(self, scenario: str, replicate: int) -> np.random.SeedSequence:
        """The seed of one (scenario, replicate): ``[base_seed, replicate]``, the same for every
        scenario, so replicate r of every scenario shares its random numbers, stream by stream
        (common random numbers: :mod:`mmm_recovery.simulation.streams`)."""
        n = self.replicates_of(scenario)
        if not 0 <= replicate < n:
            raise SpecError(f"replicate {replicate} of {scenario} out of range 0..{n - 1}")
        return np.random.SeedSequence([self.study.base_seed, replicate])

    def estimator_rng(
        self, scenario: str, replicate: int, estimator: str, seed: int = 0
    ) -> np.random.Generator:
        """The Generator of a fit of one (scenario, replicate): independent of the simulation's
        draws, and the same for every estimator and every scenario at that replicate, so
        estimator variants fitted to one dataset (and a dataset's cells) share their optimizer
        or sampler seed; ``seed`` above 0 gives a further independent stream
        (``study.seed_stability``). ``estimator`` is checked, not hashed."""
        if estimator not in self.estimators:
            raise SpecError(f"{self.source or 'study'}: unknown estimator {estimator!r}")
        seq = self.seed_sequence(scenario, replicate)
        more = [seed] if seed else []
        return np.random.default_rng(
            np.random.SeedSequence([*cast("list[int]", seq.entropy), zlib.crc32(b"fit"), *more])
        )

    def dataset_rng(self, dataset: str, estimator: str) -> np.random.Generator:
        """The Generator of one estimator's fit of a bring-your-own dataset."""
        if dataset not in self.datasets:
            raise SpecError(
                f"{self.source or 'study'}: unknown dataset {dataset!r}; known: {sorted(self.datasets)}"
            )
        keys = [
            self.study.base_seed,
            zlib.crc32(f"dataset:{dataset}".encode()),
            zlib.crc32(estimator.encode()),
        ]
        return np.random.default_rng(np.random.SeedSequence(keys))

    def rng(self, scenario: str, replicate: int, stream: int = 0) -> np.random.Generator:
        """A Generator for one (scenario, replicate): the ``stream``-th child of
        :meth:`seed_sequence` (0 = the simulation; other streams for auxiliary draws such as the
        example CSV's extra columns). Estimators use :meth:`estimator_rng` instead."""
        seq = self.seed_sequence(scenario, replicate)
        return np.random.default_rng(seq.spawn(stream + 1)[stream])


def _read(file: Path, label: str, seen: tuple[Path, ...]) -> dict[str, Any]:
    """A study file's mapping; with ``extends: <study file>`` (relative to the project root),
    that file's mapping with this one deep-merged over it (:func:`deep_merge`: keys here win,
    ``null`` removes one), so a larger study restates only what it changes."""
    if file.is_dir():
        found = ", ".join(sorted(f.name for f in file.glob("*.yaml"))) or "none"
        raise SpecError(f"{label}: is a folder; name a study file in it (YAML files: {found})")
    if not file.is_file():
        raise SpecError(f"{label}: study file not found")
    try:
        raw = yaml.load(file.read_text(), Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise SpecError(f"{label}: not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{label}: cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(
            f"{label}: top level must be a mapping with keys study, defaults, scenarios, estimators"
        )
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    base = paths.resolve(str(parent))
    if base in (*seen, file):
        raise SpecError(f"{label}: extends: {parent} extends this file again (a cycle)")
    try:
        return deep_merge(_read(base, f"{parent} (extended by {label})", (*seen, file)), raw)
    except SpecError as exc:
        msg = str(exc) if str(exc).startswith(str(parent)) else f"{label}: {exc}"
        raise SpecError(msg) from None


def load_study(path: str | Path = paths.DEFAULT_STUDY) -> Study:
    """Read and validate a study YAML (relative paths are relative to the project root).

    Raises
    ------
    SpecError
        Naming the file and the dotted key of every problem found.
    """
    file = paths.resolve(path)
    try:
        label = str(file.relative_to(paths.ROOT))
    except ValueError:
        label = str(file)
    raw = _read(file, label, ())
    allowed = ("study", "defaults", "scenarios", "estimators", "datasets", "sbc", "design")
    unknown = set(raw) - set(allowed)
    if unknown:
        raise SpecError(
            f"{label}: {sorted(unknown)[0]}: unknown key (allowed: {', '.join(allowed)})"
        )
    defaults = raw.get("defaults") or {}
    scenarios = raw.get("scenarios")
    design_spec = design.parse(label, raw.get("design"))
    scenarios = scenarios if scenarios is not None or design_spec is None else {}
    if not isinstance(scenarios, dict) or not (scenarios or design_spec):
        raise SpecError(f"{label}: scenarios: must be a non-empty mapping of name -> scenario")
    if not isinstance(defaults, dict):
        raise SpecError(f"{label}: defaults: must be a mapping")
    merged = {}
    for name, override in scenarios.items():
        if override is not None and not isinstance(override, dict):
            raise SpecError(f"{label}: scenarios.{name}: must be a mapping")
        try:
            merged[str(name)] = deep_merge(defaults, override or {}, f"scenarios.{name}.")
        except SpecError as exc:
            raise SpecError(f"{label}: {exc}") from None
    if design_spec is not None:
        cells = design.expand(label, design_spec, defaults)
        clash = sorted(set(cells) & set(merged))
        if clash:
            raise SpecError(f"{label}: scenarios.{clash[0]}: also a design cell's name")
        merged |= cells
    payload = {
        "design": design_spec,
        "study": raw.get("study"),
        "scenarios": merged,
        "estimators": raw.get("estimators") or {},
        "datasets": raw.get("datasets") or {},
        "sbc": raw.get("sbc"),
    }
    try:
        study = Study.model_validate({**payload, "source": file})
    except ValidationError as exc:
        written = {str(k): v for k, v in scenarios.items() if isinstance(v, dict)}
        raise SpecError(format_errors(label, exc, written, defaults)) from None
    check_study(label, study)
    return study


SCHEMA_MODELS: tuple[type[BaseModel], ...] = (
    Study,
    StudySettings,
    ScenarioSpec,
    CsvDatasetSpec,
    SBCSettings,
    SeedStability,
    ChannelSpec,
    *families.adstock_specs(),
    *families.saturation_specs(),
    NoiseSpec,
    CompetitorSpec,
    EventSpec,
    LiftTestSpec,
    DemandShockSpec,
    ChannelConfounding,
    RandomTruthSpec,
    MeasuredLiftTest,
    Design,
    Planning,
    Arm,
    Aim,
)
