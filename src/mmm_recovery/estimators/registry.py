"""Estimators registered by lookup name; a study YAML names them under ``estimators:``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mmm_recovery.estimators.base import Estimator, EstimatorConfig

from mmm_recovery.estimators.base import REGISTERED as _REGISTRY


def builtin_modules() -> list[str]:
    """Every sub-package of :mod:`mmm_recovery.estimators`: an estimator is one sub-package whose
    ``__init__`` imports the module that registers it (heavy libraries are imported inside fit())."""
    import pkgutil

    import mmm_recovery.estimators as package

    return sorted(
        f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if m.ispkg
    )


def _load_builtins() -> None:
    for module in builtin_modules():
        importlib.import_module(module)


def names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> type[Estimator]:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown estimator {name!r}; registered: {sorted(_REGISTRY)}") from None


#: the settings key naming the registered estimator that a block under another name configures:
#: a *variant*, e.g. ``frequentist_nrmse: {<<: *frequentist, estimator: frequentist, objective:
#: nrmse}`` fits the frequentist estimator with other settings, as an estimator of its own
VARIANT_KEY = "estimator"


def resolve(name: str, settings: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The registered estimator that the block ``name: settings`` configures (its
    :data:`VARIANT_KEY`, else ``name``) and its settings without that key."""
    rest = dict(settings or {})
    base = rest.pop(VARIANT_KEY, name)
    if not isinstance(base, str):
        raise KeyError(f"{VARIANT_KEY}: {base!r} is not an estimator name")
    return base, rest


def class_for(name: str, settings: dict[str, Any] | None) -> type[Estimator]:
    """The estimator class of the block ``name: settings`` (see :func:`resolve`)."""
    return get(resolve(name, settings)[0])


def config_for(name: str, settings: dict[str, Any] | None) -> EstimatorConfig:
    """Validate ``settings`` with the config model of the estimator they configure (unknown keys
    are errors)."""
    base, rest = resolve(name, settings)
    return get(base).Config.model_validate(rest)


def config_models() -> list[type[BaseModel]]:
    """Every registered estimator's Config and the settings models nested in it (for the schema
    in ``studies/README.md``), in registration-name order."""
    import typing

    from pydantic import BaseModel

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
        walk(_REGISTRY[name].Config)
    return out
