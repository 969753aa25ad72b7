"""Every registered adstock and saturation family, looked up by name. Importing this module
imports every module of :mod:`mmm_recovery.families` (:func:`family_modules`), so a family in a
module of its own is registered with no edit here.

The study spec builds its ``family:`` unions from :func:`adstock_specs` and
:func:`saturation_specs`; the response model, the simulator, the estimators and the reports call
:func:`adstock` and :func:`saturation` (or the two dispatchers below) and never branch on a
family's name.
"""

from __future__ import annotations

import functools
import importlib
import operator
from typing import Any

import numpy as np

# importing the family modules registers their classes (in this order: the spec unions keep it;
# every further module of the package is imported below, by name)
from mmm_recovery.families import adstock as _adstock_module  # noqa: F401
from mmm_recovery.families import saturation as _saturation_module  # noqa: F401
from mmm_recovery.families.base import (
    _ADSTOCK,
    _SATURATION,
    AdstockFamily,
    FamilySpec,
    Params,
    SaturationFamily,
)

#: modules of the package that hold no family
NOT_FAMILY_MODULES = ("base", "registry", "transforms")


def family_modules() -> list[str]:
    """Every module of :mod:`mmm_recovery.families` that may define families: ``adstock`` and
    ``saturation`` first, then the others by name (a new family's own module included)."""
    import pkgutil

    import mmm_recovery.families as package

    found = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.ispkg)
    rest = [m for m in found if m not in (*NOT_FAMILY_MODULES, "adstock", "saturation")]
    return [f"{package.__name__}.{m}" for m in ("adstock", "saturation", *rest)]


for _module in family_modules():  # registers every family class (importlib: by name)
    importlib.import_module(_module)


__all__ = [
    "adstock",
    "saturation",
    "adstock_names",
    "saturation_names",
    "adstock_specs",
    "saturation_specs",
    "spec_union",
    "adstock_weights",
    "saturate",
]


def adstock_names() -> list[str]:
    return list(_ADSTOCK)


def saturation_names() -> list[str]:
    return list(_SATURATION)


def adstock(name: str) -> AdstockFamily:
    """The adstock family registered as ``name`` (a ValueError names the known ones)."""
    try:
        return _ADSTOCK[name]
    except KeyError:
        raise ValueError(
            f"unknown adstock family {name!r}; expected one of {adstock_names()}"
        ) from None


def saturation(name: str) -> SaturationFamily:
    """The saturation family registered as ``name`` (a ValueError names the known ones)."""
    try:
        return _SATURATION[name]
    except KeyError:
        raise ValueError(
            f"unknown saturation family {name!r}; expected one of {saturation_names()}"
        ) from None


def _specs(table: dict[str, Any]) -> tuple[type[FamilySpec], ...]:
    return tuple(dict.fromkeys(f.spec for f in table.values()))


def adstock_specs() -> tuple[type[FamilySpec], ...]:
    """The YAML block models of the adstock families, in registration order, each once."""
    return _specs(_ADSTOCK)


def saturation_specs() -> tuple[type[FamilySpec], ...]:
    return _specs(_SATURATION)


def spec_union(specs: tuple[type[FamilySpec], ...]) -> Any:
    """``A | B | ...`` of the given models (a tagged union on ``family`` for pydantic)."""
    return functools.reduce(operator.or_, specs)


def adstock_weights(family: str, params: Params, l_max: int, normalize: bool) -> np.ndarray:
    """Weights of an adstock family by name, shape ``(..., l_max, C)``."""
    return adstock(family).weights(params, l_max, normalize)


def saturate(family: str, x: np.ndarray, params: Params) -> np.ndarray:
    """A saturation family's curve by name at ``x``."""
    return saturation(family).apply(x, params)
