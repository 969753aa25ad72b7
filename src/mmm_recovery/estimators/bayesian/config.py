"""Settings of the Bayesian estimator (``estimators.bayesian`` in a study YAML) and its priors.

The saturation families it offers are the registered families that have a PyMC-Marketing
component (:mod:`mmm_recovery.families`); their parameters name the ``saturation_<p>`` priors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mmm_recovery.estimators.base import EstimatorConfig
from mmm_recovery.estimators.bayesian.distributions import PYMC_DISTRIBUTIONS
from mmm_recovery.families import registry as families


def pymc_saturations() -> list[str]:
    """The registered saturation families PyMC-Marketing can sample (in registration order)."""
    return [
        name
        for name in families.saturation_names()
        if type(families.saturation(name)).pymc_component
        is not families.SaturationFamily.pymc_component
    ]


if TYPE_CHECKING:
    SaturationName = str
else:
    SaturationName = Literal[tuple(pymc_saturations())]


#: Intercept priors the level coordinates support (a location family): family -> its location
#: parameter (``LevelIntercept``); the location must be given for Cauchy, which has no default
LEVEL_LOCATION = {"Normal": "mu", "StudentT": "mu", "Laplace": "mu", "Cauchy": "alpha"}


def level_unsupported(distribution: str, parameters: Mapping[str, object]) -> str | None:
    """Why an intercept prior (a PyMC distribution name and its parameters) cannot be moved with
    the level, or None if it can."""
    location = LEVEL_LOCATION.get(distribution)
    if location is None:
        supported = ", ".join(f"{k} (location {v})" for k, v in LEVEL_LOCATION.items())
        return f"intercept prior {distribution} is not a location family ({supported})"
    if distribution == "Cauchy" and location not in parameters:
        return "intercept prior Cauchy needs its location alpha"
    return None


def numeric_parameters(prior: Any) -> bool:
    """Whether every parameter of a PyMC-Marketing ``Prior`` is a number (not a nested prior)."""
    return all(isinstance(v, int | float) for v in prior.parameters.values())


#: Prior keys of the study YAML (PyMC-Marketing ``model_config`` keys, plus ``likelihood_sigma``):
#: ``saturation_<p>`` for every parameter of every saturation family (and ``beta``)
PRIOR_KEYS = (
    "adstock_alpha",
    *dict.fromkeys(
        f"saturation_{p}"
        for name in pymc_saturations()
        for p in (*families.saturation(name).parameters, "beta")
    ),
    "intercept",
    "gamma_control",
    "gamma_fourier",
    "likelihood_sigma",
)


def pymc_prior_problem(distribution: str, parameters: Mapping[str, object]) -> str | None:
    """Why PyMC cannot build ``distribution(**parameters)``, or None: the name must be a PyMC
    distribution and every parameter one it names (PyMC passes unknown keywords on, so a typo
    such as ``sgima`` would otherwise be dropped without a word and the default used). Checked
    against :data:`~.distributions.PYMC_DISTRIBUTIONS`, so a study file validates without
    importing PyMC."""
    named = PYMC_DISTRIBUTIONS.get(distribution)
    if named is None:
        return (
            f"distribution {distribution!r} is not a PyMC distribution (e.g. Normal, HalfNormal, "
            "Gamma, Beta; names are case-sensitive)"
        )
    unknown = [p for p in parameters if p not in named]
    if unknown:
        return f"{distribution} has no parameter {', '.join(unknown)}; its parameters: {', '.join(named)}"
    bad = [p for p in POSITIVE_PARAMETERS.get(distribution, ()) if _not_positive(parameters.get(p))]
    if bad:
        got = ", ".join(f"{p}={parameters[p]!r}" for p in bad)
        return f"{distribution} needs {' and '.join(bad)} > 0 (got {got})"
    return None


#: parameters that must be positive, per distribution (scales, shapes, rates, degrees of freedom;
#: PyMC would build such a prior and fail, or draw from an impossible one, only at fit time)
POSITIVE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "Normal": ("sigma", "tau"),
    "HalfNormal": ("sigma", "tau"),
    "TruncatedNormal": ("sigma", "tau"),
    "LogNormal": ("sigma", "tau"),
    "StudentT": ("nu", "sigma", "lam"),
    "HalfStudentT": ("nu", "sigma", "lam"),
    "Laplace": ("b",),
    "Cauchy": ("beta",),
    "HalfCauchy": ("beta",),
    "Exponential": ("lam", "scale"),
    "Gamma": ("alpha", "beta", "mu", "sigma"),
    "InverseGamma": ("alpha", "beta", "mu", "sigma"),
    "Beta": ("alpha", "beta", "mu", "sigma", "nu"),
    "Weibull": ("alpha", "beta"),
}


def _not_positive(value: object) -> bool:
    return isinstance(value, int | float) and not value > 0


class PriorSpec(EstimatorConfig):
    """A prior: a PyMC distribution name and its parameters (numbers)."""

    distribution: str = Field(description="PyMC distribution name, e.g. Beta, Gamma, HalfNormal.")
    parameters: dict[str, float] = Field(default_factory=dict, description="Keyword parameters.")

    @model_validator(mode="after")
    def _known_to_pymc(self) -> PriorSpec:
        problem = pymc_prior_problem(self.distribution, self.parameters)
        if problem:
            raise ValueError(problem)
        return self


class Thresholds(EstimatorConfig):
    """Convergence thresholds; a fit missing any of them is reported ``converged: false``."""

    max_rhat: float = Field(
        1.01, gt=1.0, description="Maximum R-hat over parameters. Default 1.01."
    )
    min_ess: float = Field(400.0, gt=0.0, description="Minimum bulk and tail ESS. Default 400.")
    max_divergences: int = Field(0, ge=0, description="Maximum divergent transitions. Default 0.")
    min_bfmi: float = Field(0.3, ge=0.0, description="Minimum E-BFMI over chains. Default 0.3.")


class BayesianConfig(EstimatorConfig):
    """Settings of the Bayesian estimator (``estimators.bayesian`` in a study YAML)."""

    #: what the reports say of this estimator (markdown)
    description: ClassVar[str] = (
        "**Bayesian** (`bayesian`, PyMC-Marketing): PyMC-Marketing's `MMM`: geometric adstock, "
        "logistic saturation, yearly seasonality, the controls and a 0-1 time index, Gaussian "
        "likelihood; NUTS via NumPyro. PyMC-Marketing scales each channel by its maximum $m_c$ "
        "and the target by its maximum $m_y$, so its parameters are mapped back: $\\lambda = "
        "\\lambda_s / m_c$, $\\kappa = \\kappa_s m_c$, $\\beta = \\beta_s m_y$ (tested against PyMC- "
        "Marketing's own functions). The logistic curve $\\beta_s \\tanh(\\lambda_s x / 2)$ is "
        "sampled as $\\lambda_s$ and its effect $e_s = \\beta_s \\tanh(\\lambda_s x_0 / 2)$ at the "
        "channel's mean scaled spend $x_0$, with $\\beta_s = e_s / \\tanh(\\lambda_s x_0 / 2)$ "
        "derived: the data pin the contribution at typical spend, not the asymptote, so "
        "$\\log\\lambda_s$ and $\\log\\beta_s$ correlate down to $-0.99$ a posteriori while "
        "$\\lambda_s$ and $e_s$ do not, and NUTS needs fewer leapfrog steps per draw. Likewise the "
        "intercept $a$ is sampled through the level $\\ell = a + \\sum_c e_{s,c}$, with $a = \\ell - "
        "\\sum_c e_{s,c}$ derived: the data pin the mean of the target, not how it splits between "
        "the baseline and an always-on channel (posterior correlation of $a$ and search's $e_s$ "
        "about $-0.9$). Both are exact changes of variables (the prior of $(\\lambda_s, \\beta_s)$ "
        "carried over with its Jacobian; the prior of $a$ moved with the level, unit Jacobian), "
        "so the model and its priors are PyMC-Marketing's; only the sampler's geometry changes. "
        "Priors are set on that scaled data (below): PyMC-Marketing's defaults for the adstock "
        "decay and the logistic $\\lambda_s$, and priors on the target's scale for the channel "
        "effect, intercept, controls, Fourier terms and noise, chosen by the prior predictive "
        "check (PyMC-Marketing's sd-2 defaults put most prior draws outside the plausible range "
        "of the target); every fit records the share of prior predictive draws within that range. "
        "With `fit_path: compiled` (the default) each worker compiles the model once per data "
        "shape, with the data as inputs, and samples with NumPyro's NUTS kernel and its windowed adaptation of the step size and a "
        "diagonal mass matrix, as `pm.sample` does; the adaptation starts from the Laplace "
        "approximation's marginal variances at the posterior mode (damped Newton on the same "
        "compiled log density) instead of the identity, so the first warm-up window does not "
        "spend most of the warm-up's gradients finding the scales, and every fit records which "
        "start it had (`adaptation_start`: `laplace`, or `identity` where no mode with a positive "
        "definite Hessian was found). The warm-up and draw counts, target acceptance and "
        "thresholds are unchanged; the fitted prediction is the posterior mean of the model's "
        "mean, every week. (`fit_path: pymc-marketing` samples with PyMC-Marketing's `fit` from "
        "the identity and predicts with the mean of posterior predictive draws.) "
        "A fit is `converged` only if R-hat, bulk/tail ESS, divergences and E-BFMI meet the "
        "thresholds below; otherwise it is kept and flagged."
    )
    #: the one line the model card says of this estimator (markdown)
    summary: ClassVar[str] = (
        "PyMC-Marketing 1.3 `MMM` (geometric adstock, logistic saturation), NUTS via NumPyro, "
        "HDI intervals, convergence checks recorded for every fit."
    )
    #: where the settings hold the interval level (the contract tests set it)
    level_setting: ClassVar[tuple[str, ...]] = ("hdi_level",)

    l_max: int = Field(12, ge=1, le=104, description="Adstock weights. Default 12.")
    saturation: SaturationName = Field("logistic", description="Default logistic.")
    logistic_parametrization: Literal["effect", "beta"] = Field(
        "effect",
        description="Coordinates NUTS samples the logistic curve beta * tanh(lam * x / 2) in; "
        "the model and its priors (saturation_lam, saturation_beta) are the same either way. "
        "`effect`: lam and the curve's value at the channel's mean training spend, with the "
        "Jacobian, so the prior on (lam, beta) is unchanged; `beta`: lam and beta "
        "(PyMC-Marketing's LogisticSaturation), whose posterior correlation reaches -0.99 and "
        "costs NUTS longer trajectories. Default effect.",
    )
    intercept_parametrization: Literal["auto", "level", "intercept"] = Field(
        "auto",
        description="Coordinates NUTS samples the intercept in; the model and its prior "
        "(priors.intercept) are the same either way. `level`: intercept + the sum of the "
        "channels' effects at their mean spend (a shift with unit Jacobian, the prior's location "
        "moved by the same sum), which removes the ridge between the baseline and an always-on "
        "channel; needs the logistic saturation in the effect coordinates and a Normal, "
        "StudentT, Laplace or Cauchy intercept prior. `intercept`: PyMC-Marketing's own. "
        "`auto` (default): level where it applies, else intercept.",
    )
    calibrate: bool = Field(
        True,
        description="Condition on the data's lift tests, if it has any: each measured lift is a "
        "Normal observation, with its standard error, of the model's lift: the steady-state "
        "response difference beta * (sat(x + delta_x) - sat(x)) (PyMC-Marketing's lift-test "
        "likelihood), or for a test of a given length (weeks) the mean change over its weeks "
        "from steady state, through the model's adstock. false ignores them. Default true.",
    )
    yearly_seasonality: int = Field(2, ge=0, le=10, description="Fourier order. Default 2.")
    trend: bool = Field(True, description="Add a 0-1 time-index control. Default true.")
    priors: dict[str, PriorSpec] = Field(
        default_factory=dict,
        description="Prior per parameter, on PyMC-Marketing's max-scaled data: "
        + ", ".join(PRIOR_KEYS)
        + ". A key left out keeps PyMC-Marketing's default (likelihood_sigma: the sd of the "
        "Normal likelihood).",
    )

    @field_validator("priors")
    @classmethod
    def _known_prior_keys(
        cls, v: dict[str, PriorSpec], info: ValidationInfo
    ) -> dict[str, PriorSpec]:
        unknown = sorted(set(v) - set(PRIOR_KEYS))
        if unknown:
            raise ValueError(f"unknown prior key(s) {unknown}; known: {list(PRIOR_KEYS)}")
        family = cast(str, info.data.get("saturation"))
        if family not in pymc_saturations():  # the saturation itself was refused: one error
            return v
        own = {f"saturation_{p}" for p in (*families.saturation(family).parameters, "beta")}
        other = {k for k in PRIOR_KEYS if k.startswith("saturation_")} - own
        wrong = sorted(set(v) & other)
        if wrong:
            raise ValueError(f"{wrong} are not parameters of the {family} saturation")
        return v

    def _level_blocker(self) -> str | None:
        """Why the level coordinates cannot apply to this configuration, or None if they can
        (no intercept prior: PyMC-Marketing's default ``Normal(0, 2)``)."""
        if self.saturation != "logistic" or self.logistic_parametrization != "effect":
            return (
                "it needs saturation: logistic with logistic_parametrization: effect (got "
                f"saturation: {self.saturation}, logistic_parametrization: "
                f"{self.logistic_parametrization})"
            )
        prior = self.priors.get("intercept")
        return None if prior is None else level_unsupported(prior.distribution, prior.parameters)

    @model_validator(mode="after")
    def _level_needs_effect_coordinates(self) -> BayesianConfig:
        why = self._level_blocker() if self.intercept_parametrization == "level" else None
        if why:
            raise ValueError(
                f"intercept_parametrization: level: {why}; use intercept_parametrization: intercept"
            )
        return self

    sampler: Literal["numpyro", "nutpie", "pymc"] = Field(
        "numpyro", description="NUTS implementation. Default numpyro."
    )
    fit_path: Literal["compiled", "pymc-marketing"] = Field(
        "compiled",
        description="How one dataset is fitted with the numpyro sampler. `compiled` (default): "
        "the model compiled once per worker process with its data as inputs, the adstock as "
        "gather + matmul, NumPyro's same adaptation started from the Laplace approximation's "
        "scales instead of the identity, and the predictions and log densities from compiled "
        "graphs (estimators/bayesian/compiled.py). `pymc-marketing`: PyMC-Marketing's "
        "MMM.fit (pm.sample) and its predictive sampling, compiled for every fit: the path "
        "the compiled one is measured against (scripts/study_rate.py). The nutpie and pymc "
        "samplers always take this path.",
    )
    chains: int = Field(4, ge=1, le=16, description="Chains. Default 4.")
    draws: int = Field(1000, ge=10, description="Draws per chain. Default 1000.")
    tune: int = Field(1000, ge=10, description="Tuning steps per chain. Default 1000.")
    target_accept: float = Field(
        0.9, gt=0.5, lt=1.0, description="NUTS target acceptance. Default 0.9."
    )
    batch_lanes: Literal["auto", "vectorize", "sequential"] = Field(
        "auto",
        description="How the batched sampler (a study's batch_size above 1) runs its datasets x "
        "chains: `vectorize`: all in lock-step under one jax.vmap (every NUTS step waits for "
        "the longest trajectory of the batch; fast where one step of many lanes costs about "
        "one step of one, as on a GPU); `sequential`: each lane its own NUTS loop, the lanes "
        "shared out over JAX's devices (on a CPU a vmapped step costs at least as much per "
        "lane as a lone one, so lock-step only loses). `auto` (default): vectorize on a GPU "
        "or TPU, sequential on a CPU. Either way each lane has the same seed and start.",
    )
    hdi_level: float = Field(
        0.94, gt=0.0, lt=1.0, description="HDI probability of reported intervals. Default 0.94."
    )
    summary_draws: int = Field(
        1000, ge=10, description="Posterior draws used for derived summaries. Default 1000."
    )
    prior_predictive_draws: int = Field(
        500, ge=10, description="Prior predictive draws. Default 500."
    )
    thresholds: Thresholds = Field(
        default_factory=cast("Callable[[], Thresholds]", Thresholds),
        description="Convergence thresholds.",
    )
    save_idata: bool = Field(
        True, description="Write the posterior as netCDF beside the results. Default true."
    )
    prior_sensitivity: bool = Field(
        True,
        description="Power-scaling sensitivity (Kallioinen et al. 2024, ArviZ psense) of every "
        "reported quantity to the prior and to the likelihood, from the summary draws: a "
        "warning, without the truth, that the prior is informative relative to the likelihood "
        "for that quantity. Adds the log prior and pointwise log likelihood groups to the saved "
        "posterior. Default true.",
    )
    prior_sensitivity_threshold: float = Field(
        0.05,
        gt=0.0,
        description="A quantity whose prior sensitivity reaches this is reported as "
        "prior-sensitive (a prior-data conflict if its likelihood sensitivity reaches it too, "
        "strong prior / weak likelihood if not). Default 0.05, the paper's and ArviZ's.",
    )

    @property
    def level_intercept(self) -> bool:
        """Whether NUTS samples the intercept as the level (``intercept_parametrization``;
        ``auto``: with the logistic effect coordinates and a supported intercept prior)."""
        if self.intercept_parametrization != "auto":
            return self.intercept_parametrization == "level"
        return self._level_blocker() is None

    def min_train_weeks(self) -> int:
        """The adstock window plus one week."""
        return self.l_max + 1
