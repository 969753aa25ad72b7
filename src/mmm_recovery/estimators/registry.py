"""Estimators by lookup name; a study YAML names them under ``estimators:``.

An estimator is one sub-package of :mod:`mmm_recovery.estimators` whose light ``__init__``
declares its settings (``Config``) and its class (``ESTIMATOR``, ``"module:Class"``); the study
spec finds the settings without importing the class (:mod:`mmm_recovery.core.plugins`), and
:func:`get` imports the class only when a fit is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mmm_recovery.core.plugins import (
    ESTIMATORS_PACKAGE,
    VARIANT_KEY,
    config_for,
    config_models,
    names,
    plugin,
    resolve,
    settings_model,
)

if TYPE_CHECKING:
    from mmm_recovery.core.spec import Study
    from mmm_recovery.estimators.base import Estimator

__all__ = [
    "VARIANT_KEY",
    "builtin_modules",
    "class_for",
    "config_for",
    "config_models",
    "estimator_for",
    "get",
    "names",
    "plugin",
    "resolve",
    "settings_model",
]


def builtin_modules() -> list[str]:
    """The module of every registered estimator's class (what a fit of each imports)."""
    return [plugin(name).ESTIMATOR.partition(":")[0] for name in names()]


def get(name: str) -> type[Estimator]:
    """The class of estimator ``name`` (importing its fitting code); KeyError if unknown."""
    module, _, attr = plugin(name).ESTIMATOR.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if getattr(cls, "name", None) != name:
        raise TypeError(
            f"{ESTIMATORS_PACKAGE}.{name}: ESTIMATOR {module}:{attr} has name "
            f"{getattr(cls, 'name', None)!r}; it must be the sub-package's name {name!r}"
        )
    return cls


def class_for(name: str, settings: dict[str, Any] | None) -> type[Estimator]:
    """The estimator class of the block ``name: settings`` (see :func:`resolve`)."""
    return get(resolve(name, settings)[0])


def estimator_for(study: Study, name: str, **kwargs: Any) -> Estimator:
    """An estimator instance configured from ``study.estimators[name]``; extra keyword arguments
    go to its constructor (e.g. ``artifacts_dir``)."""
    from mmm_recovery.core.spec import SpecError

    if name not in study.estimators:
        raise SpecError(
            f"{study.source}: estimators.{name}: not configured "
            f"(configured: {sorted(study.estimators)})"
        )
    settings = study.estimators[name]
    return class_for(name, settings)(config_for(name, settings), **kwargs)
