# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Fit the Bayesian MMM (PyMC-Marketing + NUTS)
#
# PyMC-Marketing's `MMM` with geometric adstock and logistic saturation, yearly seasonality,
# the controls and a 0-1 time index, sampled with NUTS (sampler, chains, draws and priors from
# `estimators.bayesian` in the study YAML; code in `mmm_recovery.estimators.bayesian`). The
# logistic curve is sampled as its steepness `lam` and its `effect` at the channel's mean spend
# (`logistic_parametrization: effect`); its asymptote `beta` is derived. The
# workflow checks (prior predictive, divergences, R-hat, ESS, BFMI) are recorded in the results;
# a fit that misses a threshold is flagged `converged: false`, never dropped. Posteriors are
# mapped from PyMC-Marketing's max-scaled data to the truth's currency units before comparison.

# %% tags=["parameters"]
study = "studies/recovery.yaml"
scenario = "baseline"

# %%
# %matplotlib inline
import numpy as np
import pandas as pd
from IPython.display import display

from mmm_recovery import paths, plots
from mmm_recovery.fitting import estimator_dir, fit_dataset
from mmm_recovery.simulate import SimulatedDataset
from mmm_recovery.spec import load_study

spec = load_study(study)
dataset = SimulatedDataset.load(paths.replicate_dir(scenario, 0))
out_dir = estimator_dir(scenario, "bayesian")
result = fit_dataset(
    spec, scenario, 0, "bayesian", dataset=dataset, idata_path=out_dir / "posterior.nc"
)
result.save(out_dir)
idata, truth = result.extras["idata"], dataset.truth
channels = list(truth["channel_names"])
# wall times go to data/timing/ (machine-dependent), not into this notebook
print(f"converged: {result.converged}; failures: {result.diagnostics['failures'] or 'none'}")

# %% [markdown]
# ## Workflow checks

# %%
pd.Series({k: v for k, v in result.diagnostics.items() if not isinstance(v, list | dict)})

# %%
prior_y = np.asarray(result.extras["prior"]["y"].transpose("sample", "date").values) * float(
    result.extras["mmm"].get_scales_as_xarray()["target_scale"].values
)
train = dataset.data.iloc[: len(dataset.data) - spec.study.holdout_weeks]
plots.prior_predictive(prior_y, train["date"], train["y"].to_numpy())

# %%
alpha = (
    idata["posterior"]["adstock_alpha"]
    .transpose("chain", "draw", "channel")
    .sel(channel=channels)
    .values
)
plots.trace_rank(alpha, channels, "adstock_alpha")

# %% [markdown]
# The logistic curve's parameters on PyMC-Marketing's scaled data: `lam` and `effect` (sampled)
# and the asymptote `beta` (derived); with `logistic_parametrization: beta`, `beta` is sampled
# and `effect` derived.

# %%
for name in ("saturation_lam", "saturation_effect", "saturation_beta"):
    if name in idata["posterior"]:
        draws = idata["posterior"][name].transpose("chain", "draw", "channel").sel(channel=channels)
        display(plots.trace_rank(draws.values, channels, name))

# %% [markdown]
# ## Posterior against the truth
# Adstock decay is comparable directly. Saturation `lam` is shown on the truth's scale
# (1/currency) after the scale mapping; it is compared with the truth only where the truth is
# logistic too.

# %%
plots.posterior_vs_truth(
    {c: alpha[..., i].ravel() for i, c in enumerate(channels)},
    {c: truth["channels"][c]["adstock"].get("alpha") for c in channels},
    "adstock alpha: posterior vs truth",
)

# %%
plots.recovery_table(result.to_dict(), truth)

# %%
plots.interval_vs_truth({"bayesian": result.to_dict()}, truth, "roas")

# %%
plots.response_curves(truth, {"bayesian": {c: v["curve"] for c, v in result.channels.items()}})

# %% [markdown]
# ## Lift tests: what the model says each test should have measured
# With lift tests (`lift_tests` in the scenario), each measurement beside the posterior of the
# model's lift over the same test (steady state, or the mean over the test's `weeks`; currency
# per week, 94% HDI), the answer key's true lift, and the measurement's z-score against the
# model.

# %%
if "lift_tests" in result.tables:
    display(
        result.tables["lift_tests"].assign(true_lift=[t["delta_y"] for t in truth["lift_tests"]])
    )
elif len(dataset.lift_tests):
    print("lift tests not used: estimators.bayesian.calibrate is false")
else:
    print(f"scenario {scenario!r} has no lift tests")

# %% [markdown]
# ## Does the prior decide? Power-scaling sensitivity
# How far each estimate would move if the prior, or the likelihood, were made slightly stronger
# or weaker (Kallioinen et al. 2024; `mmm_recovery.sensitivity`), computed from the same draws as
# the summaries, without refitting and without the truth. A prior sensitivity at or above the
# threshold says the prior is informative relative to the likelihood for that estimate: it would
# move with the prior (compare the errors in the recovery table above). It does not say the
# prior is wrong.

# %%
if "prior_sensitivity_threshold" in result.diagnostics:
    from mmm_recovery.sensitivity import sensitivity_table

    display(sensitivity_table(result.channels, result.diagnostics["prior_sensitivity_threshold"]))

# %% [markdown]
# ## Fit and decomposition

# %%
pd.DataFrame(result.fit).T

# %%
plots.fitted_vs_actual(result.tables["fitted"])

# %%
plots.estimated_decomposition(result.tables["decomposition"], channels)
