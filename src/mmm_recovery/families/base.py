"""What an adstock or saturation family is: the contract every family class fulfils.

A family is one class (see :mod:`.adstock`, :mod:`.saturation` and :mod:`.exponential`, the
worked example of ``docs/extending.md``). Subclassing :class:`AdstockFamily` or
:class:`SaturationFamily` with a ``name`` in a module of this package registers it: the study
spec's ``family:`` unions, the response model, the estimators and the reports all look families up
in :mod:`.registry` (which imports every module of the package), so a new family is one class.
The class carries what the contract tests in ``tests/test_families.py`` run it on (``examples``,
a hand-computed ``hand_case``) and the sentence the reports print about it (``description``).
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
    the order they are reported), ``spec`` (the pydantic model of its YAML block),
    ``description`` (markdown for the reports: the weights' formula), ``examples``
    (representative parameter sets, two or more), ``hand_case`` (``(params, l_max, normalize,
    weights at lag 0..l_max-1)`` computed by hand) and ``pymc_arg_names`` (a parameter's name in
    its PyMC-Marketing component, where it differs).
    """

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    spec: ClassVar[type[FamilySpec]]
    description: ClassVar[str]
    examples: ClassVar[tuple[dict[str, float], ...]]
    hand_case: ClassVar[tuple[dict[str, float], int, bool, tuple[float, ...]]]
    pymc_arg_names: ClassVar[dict[str, str]] = {}

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
    maps parameters fitted on spend divided by ``channel_scale`` to the currency scale. Class
    attributes as :class:`AdstockFamily`'s; ``examples`` are in units where ``x`` is of order 1
    and ``hand_case`` is ``(params, x, f(x))``.
    """

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    spec: ClassVar[type[FamilySpec]]
    description: ClassVar[str]
    examples: ClassVar[tuple[dict[str, float], ...]]
    hand_case: ClassVar[tuple[dict[str, float], tuple[float, ...], tuple[float, ...]]]
    pymc_arg_names: ClassVar[dict[str, str]] = {}

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
