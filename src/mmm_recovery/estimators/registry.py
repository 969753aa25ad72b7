"""Estimators registered by lookup name; a study YAML names them under ``estimators:``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mmm_recovery.estimators.base import Estimator

_REGISTRY: dict[str, type[Estimator]] = {}


def register(cls: type[Estimator]) -> type[Estimator]:
    """Class decorator: register an estimator under ``cls.name``. A duplicate name raises."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(
            f"estimator name {name!r} is already registered by {_REGISTRY[name].__qualname__}"
        )
    _REGISTRY[name] = cls
    return cls


#: Modules that register the built-in estimators (heavy libraries are imported inside fit()).
BUILTIN_MODULES: tuple[str, ...] = (
    "mmm_recovery.estimators.frequentist",
    "mmm_recovery.estimators.bayesian",
)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
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


def config_for(name: str, settings: dict[str, Any] | None) -> BaseModel:
    """Validate ``settings`` with the estimator's own config model (unknown keys are errors)."""
    return get(name).Config.model_validate(settings or {})


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
