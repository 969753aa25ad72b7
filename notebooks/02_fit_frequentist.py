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
# # 02 · Fit the frequentist (Robyn-style) MMM
#
# Nevergrad searches per-channel adstock (geometric `alpha`) and Hill saturation (`slope`,
# `gamma`) hyperparameters and the Ridge penalty; inside each evaluation a non-negative Ridge
# regression is solved in closed form. Model selection uses Robyn's two objectives (NRMSE and
# DECOMP.RSSD) and a documented Pareto rule; intervals come from a moving-block bootstrap.
# The settings are `estimators.frequentist` in the study YAML; the code is
# `mmm_recovery.estimators.frequentist`. This notebook fits replicate 0 of one scenario and
# writes `data/<scenario>/frequentist/` in the common result format.

# %% tags=["parameters"]
study = "studies/recovery.yaml"
scenario = "baseline"

# %%
# %matplotlib inline
import pandas as pd

from mmm_recovery import paths, plots
from mmm_recovery.fitting import estimator_dir, fit_dataset
from mmm_recovery.simulate import SimulatedDataset
from mmm_recovery.spec import load_study

spec = load_study(study)
dataset = SimulatedDataset.load(paths.replicate_dir(scenario, 0))
result = fit_dataset(spec, scenario, 0, "frequentist", dataset=dataset)
result.save(estimator_dir(scenario, "frequentist"))
evals = result.tables["evaluations"]
# wall times go to data/timing/ (machine-dependent), not into this notebook
print(f"{result.diagnostics['evaluations']} evaluations, converged: {result.converged}")

# %% [markdown]
# ## The search: Pareto front and convergence

# %%
plots.pareto_front(evals)

# %%
plots.convergence(evals)

# %% [markdown]
# ## Fit: in-sample, holdout and rolling-origin CV

# %%
pd.DataFrame({k: v for k, v in result.fit.items() if k != "cv"}).T

# %%
result.tables["cv"]

# %%
plots.fitted_vs_actual(result.tables["fitted"])

# %%
plots.estimated_decomposition(result.tables["decomposition"], list(result.channels))

# %% [markdown]
# ## Recovered parameters against the truth
# Point estimate (fit on the original data), bootstrap interval and the true value. The Hill
# saturation of this model and the truth's logistic saturation are different families, so
# saturation is compared through the response curves below, not parameter by parameter.

# %%
plots.recovery_table(result.to_dict(), dataset.truth)

# %%
plots.response_curves(
    dataset.truth, {"frequentist": {c: v["curve"] for c, v in result.channels.items()}}
)
