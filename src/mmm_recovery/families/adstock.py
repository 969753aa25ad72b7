"""Adstock families: geometric and Weibull (Robyn's CDF and PDF forms).

Each class is one family: its parameters, its YAML block (``spec``), its weights (the pure
functions in :mod:`mmm_recovery.core.transforms`) and, where PyMC-Marketing has it, its
PyMC-Marketing component. Defining a subclass with a ``name`` registers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mmm_recovery.core import transforms
from mmm_recovery.families.base import AdstockFamily, FamilySpec, Params

if TYPE_CHECKING:
    from pymc_marketing.mmm import AdstockTransformation


class GeometricAdstockSpec(FamilySpec):
    """Geometric adstock: weight ``alpha**k`` at lag ``k``."""

    family: Literal["geometric"] = Field("geometric", description="`geometric` (default).")
    alpha: float = Field(ge=0.0, lt=1.0, description="Weekly retention rate in [0, 1). No default.")
    l_max: int = Field(
        8, ge=1, le=104, description="Number of weights (lag 0 included). Default 8."
    )
    normalize: bool = Field(
        True, description="Weights sum to 1 (PyMC-Marketing's default). Default true."
    )

    @property
    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}


class WeibullAdstockSpec(FamilySpec):
    """Weibull adstock in Robyn's CDF or PDF form (see :func:`mmm_recovery.core.transforms.weibull_weights`)."""

    family: Literal["weibull_cdf", "weibull_pdf"] = Field(
        description="`weibull_cdf` or `weibull_pdf`."
    )
    shape: float = Field(gt=0.0, le=20.0, description="Weibull shape k > 0. No default.")
    scale: float = Field(gt=0.0, le=104.0, description="Weibull scale in weeks > 0. No default.")
    l_max: int = Field(8, ge=2, le=104, description="Number of weights. Default 8.")
    normalize: bool = Field(True, description="Weights sum to 1. Default true.")

    @property
    def params(self) -> dict[str, float]:
        return {"shape": self.shape, "scale": self.scale}


class GeometricAdstock(AdstockFamily):
    """``w_k = alpha**k``: a constant weekly retention rate ``alpha`` in [0, 1)."""

    name = "geometric"
    parameters = ("alpha",)
    spec = GeometricAdstockSpec

    def weights(self, params: Params, l_max: int, normalize: bool) -> np.ndarray:
        return transforms.geometric_weights(params["alpha"], l_max, normalize)

    def pymc_component(
        self, l_max: int, normalize: bool, priors: dict[str, Any] | None = None
    ) -> AdstockTransformation:
        from pymc_marketing.mmm import GeometricAdstock as PymcGeometric

        return PymcGeometric(l_max=l_max, normalize=normalize, priors=priors)


class _WeibullAdstock(AdstockFamily):
    """Robyn's Weibull adstock (``shape`` k, ``scale`` lambda in weeks)."""

    parameters = ("shape", "scale")
    spec = WeibullAdstockSpec
    kind: ClassVar[str]

    def weights(self, params: Params, l_max: int, normalize: bool) -> np.ndarray:
        return transforms.weibull_weights(
            params["shape"], params["scale"], l_max, self.kind, normalize
        )


class WeibullCdfAdstock(_WeibullAdstock):
    """A time-varying retention rate ``1 - F(k)`` (the Weibull survival function)."""

    name = "weibull_cdf"
    kind = "cdf"


class WeibullPdfAdstock(_WeibullAdstock):
    """The Weibull density over the window, min-max normalised: allows a delayed peak."""

    name = "weibull_pdf"
    kind = "pdf"
