"""Adstock families: geometric and Weibull (Robyn's CDF and PDF forms).

Each class is one family: its parameters, its YAML block (``spec``), its weights (the pure
functions in :mod:`mmm_recovery.families.transforms`) and, where PyMC-Marketing has it, its
PyMC-Marketing component. Defining a subclass with a ``name`` registers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mmm_recovery.families import transforms
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
    """Weibull adstock in Robyn's CDF or PDF form (see :func:`mmm_recovery.families.transforms.weibull_weights`)."""

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
    description = "**Geometric**: $w_k = \\alpha^k$ with retention $\\alpha \\in [0, 1)$."
    examples = ({"alpha": 0.5}, {"alpha": 0.1}, {"alpha": 0.9})
    hand_case = ({"alpha": 0.5}, 4, False, (1.0, 0.5, 0.25, 0.125))  # alpha**k

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
    pymc_arg_names = {"shape": "k", "scale": "lam"}
    kind: ClassVar[str]

    def weights(self, params: Params, l_max: int, normalize: bool) -> np.ndarray:
        return transforms.weibull_weights(
            params["shape"], params["scale"], l_max, self.kind, normalize
        )


class WeibullCdfAdstock(_WeibullAdstock):
    """A time-varying retention rate ``1 - F(k)`` (the Weibull survival function)."""

    name = "weibull_cdf"
    kind = "cdf"
    description = (
        "**Weibull, CDF form** (as in Robyn): $w_0 = 1$ and "
        "$w_k = \\prod_{i=1}^{k} (1 - F(i; \\text{shape}, \\text{scale}))$, a time-varying "
        "retention."
    )
    examples = ({"shape": 1.5, "scale": 3.0}, {"shape": 0.7, "scale": 1.0})
    # w_0 = 1, w_k = prod_{i<=k} S(i), S(i) = exp(-(i/2)**2): exponents 0, -1/4, -5/4, -14/4
    hand_case = (
        {"shape": 2.0, "scale": 2.0},
        4,
        False,
        tuple(float(v) for v in np.exp([0.0, -0.25, -1.25, -3.5])),
    )


class WeibullPdfAdstock(_WeibullAdstock):
    """The Weibull density over the window, min-max normalised: allows a delayed peak."""

    name = "weibull_pdf"
    kind = "pdf"
    description = (
        "**Weibull, PDF form** (as in Robyn): the min-max-normalised Weibull density at "
        "$k = 1..L$, which allows a delayed peak."
    )
    examples = ({"shape": 2.0, "scale": 3.0}, {"shape": 4.0, "scale": 6.0})
    # the density at t = 1..6 is proportional to g(t) = t exp(-t**2 / 9), min-max normalised:
    # its peak (t = 2) is 1, its minimum (t = 6) is 0
    hand_case = (
        {"shape": 2.0, "scale": 3.0},
        6,
        False,
        tuple(
            float(t * np.exp(-(t**2) / 9) - 6 * np.exp(-4.0))
            / float(2 * np.exp(-4 / 9) - 6 * np.exp(-4.0))
            for t in (1, 2, 3, 4, 5, 6)
        ),
    )
