"""Estimators as plugins of the study spec.

A study file's ``estimators.<name>`` block is validated against the settings model of the
estimator it configures, and core never imports an estimator's code to do it: an estimator is a
sub-package of ``mmm_recovery.estimators`` (:data:`ESTIMATORS_PACKAGE`), found here by name, whose
``__init__`` defines

* ``Config``: its settings, a pydantic model (an ``EstimatorConfig``) that imports no PyMC, JAX or
  optimizer, with ``min_train_weeks()``;
* ``ESTIMATOR``: ``"module:Class"`` of the class that fits, imported only when a fit is asked for
  (:func:`mmm_recovery.estimators.registry.get`).

So ``load_study`` checks every estimator block in the time it takes to import pydantic models,
and adding an estimator is one sub-package (``docs/extending.md``). A block under another name
configures a registered estimator through :data:`VARIANT_KEY` (a *variant*).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import typing
from types import ModuleType
from typing import Any

from pydantic import BaseModel

#: the package whose sub-packages are the estimators
ESTIMATORS_PACKAGE = "mmm_recovery.estimators"

#: the settings key naming the registered estimator that a block under another name configures:
#: a *variant*, e.g. ``frequentist_nrmse: {<<: *frequentist, estimator: frequentist, objective:
#: nrmse}`` fits the frequentist estimator with other settings, as an estimator of its own
VARIANT_KEY = "estimator"


def names() -> list[str]:
    """The registered estimators: every sub-package of :data:`ESTIMATORS_PACKAGE`, sorted."""
    spec = importlib.util.find_spec(ESTIMATORS_PACKAGE)
    where = list(spec.submodule_search_locations or []) if spec else []
    return sorted(m.name for m in pkgutil.iter_modules(where) if m.ispkg)


def plugin(name: str) -> ModuleType:
    """The sub-package of estimator ``name`` (its light ``__init__``: settings, no fitting code).
    KeyError naming the registered ones if there is none."""
    if name not in names():
        raise KeyError(f"unknown estimator {name!r}; registered: {names()}")
    module = importlib.import_module(f"{ESTIMATORS_PACKAGE}.{name}")
    for attr in ("Config", "ESTIMATOR"):
        if not hasattr(module, attr):
            raise TypeError(
                f"{module.__name__}: an estimator sub-package's __init__ must define {attr} "
                "(docs/extending.md)"
            )
    return module


def settings_model(name: str) -> type[Any]:
    """The settings model (``Config``) of estimator ``name``."""
    return plugin(name).Config


def resolve(name: str, settings: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The registered estimator that the block ``name: settings`` configures (its
    :data:`VARIANT_KEY`, else ``name``) and its settings without that key."""
    rest = dict(settings or {})
    base = rest.pop(VARIANT_KEY, name)
    if not isinstance(base, str):
        raise KeyError(f"{VARIANT_KEY}: {base!r} is not an estimator name")
    return base, rest


def config_for(name: str, settings: dict[str, Any] | None) -> Any:
    """Validate ``settings`` with the settings model of the estimator they configure (unknown
    keys are errors); KeyError for an unknown estimator, pydantic's ValidationError for bad
    settings."""
    base, rest = resolve(name, settings)
    return settings_model(base).model_validate(rest)


def config_models() -> list[type[BaseModel]]:
    """Every registered estimator's settings model and the models nested in it (for the schema
    in ``studies/README.md``), in registration-name order."""
    out: list[type[BaseModel]] = []

    def walk(model: type[BaseModel]) -> None:
        if model in out:
            return
        out.append(model)
        for field in model.model_fields.values():
            for t in (field.annotation, *typing.get_args(field.annotation)):
                for u in (t, *typing.get_args(t)):
                    if isinstance(u, type) and issubclass(u, BaseModel):
                        walk(u)

    for name in names():
        walk(settings_model(name))
    return out
