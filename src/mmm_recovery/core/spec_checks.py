"""Checks of a loaded study that span sections (:func:`check_study`, run by
:func:`~mmm_recovery.core.spec.load_study`): every estimator's settings (against the estimator's
own settings model, :mod:`~mmm_recovery.core.plugins`: no estimator code is imported), each scenario's weeks
against the holdout and the estimators' training minimum, bring-your-own dataset and scenario
names, and the scheduler's address."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from mmm_recovery.core import plugins as registry
from mmm_recovery.core.scenario import SpecError
from mmm_recovery.families import registry as families


def check_study(label: str, study: Any) -> None:
    """Raise :class:`SpecError` naming the file and key of the first problem found."""
    if not study.estimators:
        raise SpecError(
            f"{label}: estimators: names no estimator, so the study would fit nothing "
            f"(registered: {registry.names()})"
        )
    need, needed_by = 0, ""
    for name, settings in study.estimators.items():
        try:
            config = registry.config_for(name, settings)
        except KeyError:
            base = registry.resolve(name, settings)[0] if isinstance(settings, dict) else name
            raise SpecError(
                f"{label}: estimators.{name}: unknown estimator"
                + (f" {base!r}" if base != name else "")
                + f" (registered: {registry.names()}; a variant under another name says which "
                f"it configures with `{registry.VARIANT_KEY}: <registered name>`)"
            ) from None
        except ValidationError as exc:
            raise SpecError(format_errors(f"{label}: estimators.{name}", exc)) from None
        weeks = config.min_train_weeks()
        if weeks > need:
            need, needed_by = weeks, name
    holdout = study.study.holdout_weeks
    for scenario, spec in study.scenarios.items():
        if spec.n_weeks < need + holdout:
            raise SpecError(
                f"{label}: scenarios.{scenario}.n_weeks: {spec.n_weeks} weeks is too few: "
                f"study.holdout_weeks ({holdout}) + the {need} training weeks estimator "
                f"{needed_by!r} needs (its l_max and test window) = {need + holdout}"
            )
    if study.sbc is not None and study.sbc.estimator not in study.estimators:
        raise SpecError(
            f"{label}: sbc.estimator: {study.sbc.estimator!r} is not in estimators "
            f"({sorted(study.estimators)})"
        )
    for name in study.datasets:
        if not dataset_name_ok(name):
            raise SpecError(f"{label}: datasets.{name}: {DATASET_NAME_RULE}")
    for name in study.scenarios:
        problem = scenario_name_problem(name)
        if problem:
            raise SpecError(
                f"{label}: scenarios.{name[:60]}{'...' if len(name) > 60 else ''}: {problem}"
            )
    problem = scheduler_address_problem(study.study.scheduler)
    if problem:
        raise SpecError(f"{label}: study.scheduler: {problem}")


#: folders of the data root that are not scenarios (``data/<scenario>`` is a scenario's): a
#: scenario of one of these names would write into them, and DVC refuses the overlapping outputs
RESERVED_SCENARIO_NAMES = ("study", "sbc", "notebooks", "byod", "timing", "full", "refit")
#: the longest scenario name: it names a folder, DVC stages (``fit@<name>-<estimator>``) and
#: files, within file systems' 255-byte limit on one name
MAX_SCENARIO_NAME = 100


def scenario_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a scenario (reserved, or too long), or None."""
    if name in RESERVED_SCENARIO_NAMES:
        return (
            f"the name {name!r} is reserved: data/{name} holds the pipeline's own outputs "
            f"(reserved: {', '.join(RESERVED_SCENARIO_NAMES)})"
        )
    if len(name) > MAX_SCENARIO_NAME:
        return (
            f"a scenario name of {len(name)} characters is too long (at most "
            f"{MAX_SCENARIO_NAME}: it names folders, files and DVC stages)"
        )
    return None


def scheduler_address_problem(address: str) -> str | None:
    """Why ``address`` is not ``processes`` or a usable Dask address, or None: a ``tcp://`` or
    ``tls://`` address needs a host and a port (1-65535)."""
    from urllib.parse import urlsplit

    if address == "processes" or address.startswith("inproc://"):
        return None
    if not address.startswith(("tcp://", "tls://")):
        return f"must be 'processes' or a Dask address like tcp://host:port; got {address!r}"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        return f"{address!r}: the port is not a number from 1 to 65535"
    if not parts.hostname:
        return f"{address!r} names no host (write tcp://host:port)"
    if port is None or not 1 <= port <= 65535:
        return f"{address!r} names no port (write tcp://host:port, e.g. tcp://127.0.0.1:8786)"
    return None


#: the rule a bring-your-own dataset's name must follow (it names a folder under data/byod/)
DATASET_NAME_RULE = (
    "a dataset name must be letters, digits, '_' or '-', starting with a letter or digit "
    "(it names the folder data/byod/<name> and the DVC stage fit_byod@<name>)"
)


def dataset_name_ok(name: str) -> bool:
    """Whether ``name`` can name a dataset: no path separators, dots, spaces or a leading '-'."""
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) is not None


def format_errors(
    source: str,
    err: ValidationError,
    overrides: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
) -> str:
    """One line per validation error: the file, the dotted key (without union tags), the
    message and the value given.

    ``overrides`` (each scenario's own mapping, as written) and ``defaults`` let an error in a
    value that a scenario inherits name where it is written, ``defaults.<key>``, once for all the scenarios
    that inherit it, instead of once per scenario under a key the file does not have.
    """
    lines: list[str] = []
    for e in err.errors():
        loc = [p for p in e["loc"] if not (isinstance(p, str) and p in UNION_TAGS)]
        got = e.get("input")
        got_txt = "" if isinstance(got, dict) or e["type"] == "missing" else f" (got {got!r})"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        if overrides is not None and _inherited(loc, overrides, defaults or {}):
            line = f"{source}: defaults.{'.'.join(map(str, loc[2:]))}: {msg}{got_txt}"
            line += " (inherited by every scenario that does not set it)"
        else:
            line = f"{source}: {'.'.join(map(str, loc)) or '<top>'}: {msg}{got_txt}"
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


def _inherited(loc: list[Any], overrides: dict[str, Any], defaults: dict[str, Any]) -> bool:
    """Whether ``loc`` (``scenarios.<name>.<key>...``) is a value the scenario does not write
    and ``defaults`` does."""
    if len(loc) < 3 or loc[0] != "scenarios" or str(loc[1]) not in overrides:
        return False  # a design cell's value may come from its arm: its own key is named
    return not _has(overrides.get(str(loc[1])) or {}, loc[2:]) and _has(defaults, loc[2:])


def _has(node: Any, keys: list[Any]) -> bool:
    """Whether ``node`` holds the nested key path ``keys`` (list positions included)."""
    for key in keys:
        if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False
    return True


UNION_TAGS = {*families.adstock_names(), *families.saturation_names()}
