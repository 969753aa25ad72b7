"""What an adstock or saturation family is: the contract every family class fulfils.

A family is one class (see :mod:`.adstock` and :mod:`.saturation`). Subclassing
:class:`AdstockFamily` or :class:`SaturationFamily` with a ``name`` registers it: the study spec's
``family:`` unions, the response model, the estimators and the reports all look families up in
:mod:`.registry`, so a new family is one class (plus its tests; the contract tests in
``tests/test_families.py`` run over every registered family).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pymc_marketing.mmm import AdstockTransformation, SaturationTransformation

#: Parameters of one family: name -> scalar or array (a batch of parameter sets / draws).
Params = Mapping[str, Any]


class FamilySpec(BaseModel):
    """Base of a family's YAML block: frozen, unknown keys are errors, ``family`` is the tag."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    family: str

    @property
    def params(self) -> dict[str, float]:
        """The family's parameters (not ``family``, ``l_max`` or ``normalize``)."""
        raise NotImplementedError


_ADSTOCK: dict[str, AdstockFamily] = {}
_SATURATION: dict[str, SaturationFamily] = {}


def _register(table: dict[str, Any], cls: type) -> None:
    name = cls.__dict__.get("name")
    if not name:  # an abstract intermediate class
        return
    if name in table and type(table[name]) is not cls:
        raise ValueError(f"family name {name!r} is already registered by {type(table[name])}")
    table[name] = cls()


class AdstockFamily(ABC):
    """An adstock (carry-over) family: lag weights from its parameters.

    Class attributes: ``name`` (the ``family:`` tag in a study YAML), ``parameters`` (names, in
    the order they are reported) and ``spec`` (the pydantic model of its YAML block).
    """

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    spec: ClassVar[type[FamilySpec]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(_ADSTOCK, cls)

    @abstractmethod
    def weights(self, params: Params, l_max: int, normalize: bool) -> np.ndarray:
        """Lag weights, shape ``(..., l_max, C)``, lag 0 first (leading dims: a batch)."""

    def pymc_component(
        self, l_max: int, normalize: bool, priors: dict[str, Any] | None = None
    ) -> AdstockTransformation:
        """The PyMC-Marketing ``AdstockTransformation`` of this family (raises if it has none)."""
        raise NotImplementedError(f"adstock family {self.name!r} has no PyMC-Marketing component")


class SaturationFamily(ABC):
    """A saturation (diminishing returns) family ``f(x; params)`` with ``f(0) = 0``.

    Parameters are in the units of the (adstocked) spend ``x`` passed in; :meth:`to_currency`
    maps parameters fitted on spend divided by ``channel_scale`` to the currency scale.
    """

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    spec: ClassVar[type[FamilySpec]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(_SATURATION, cls)

    @abstractmethod
    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``f(x)`` elementwise (parameters broadcast against ``x``)."""

    @abstractmethod
    def derivative(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``df/dx`` elementwise, in 1 / (unit of ``x``)."""

    @abstractmethod
    def to_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        """Parameters fitted on ``x / channel_scale`` -> the same curve on ``x`` (currency)."""

    @abstractmethod
    def from_currency(self, params: Params, channel_scale: np.ndarray | float) -> dict[str, Any]:
        """Inverse of :meth:`to_currency`."""

    def pymc_component(self, priors: dict[str, Any] | None = None) -> SaturationTransformation:
        """The PyMC-Marketing ``SaturationTransformation`` of this family (raises if it has
        none). Its curve is ``beta * f(x)`` with ``beta`` the family's ``beta`` variable."""
        raise NotImplementedError(
            f"saturation family {self.name!r} has no PyMC-Marketing component"
        )
