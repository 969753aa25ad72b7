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
# # 02 · Fit one estimator (one scenario, replicate 0)
#
# Fits the estimator named by the `estimator` parameter (a registered estimator:
# `mmm_recovery.estimators.<name>`, settings `estimators.<name>` in the study YAML) to
# replicate 0 of one scenario and writes `data/<scenario>/fits/<estimator>/` in the common result
# format (`mmm_recovery.evaluation.showcase.fit_showcase`). The same sections follow for every
# estimator: workflow checks, fit, decomposition, and the recovered parameters against the answer
# key; then the estimator's own checks (`showcase()` of its sub-package).

# %% tags=["parameters"]
study = "studies/recovery.yaml"
scenario = "baseline"
estimator = "frequentist"

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators.registry import estimator_for
from mmm_recovery.evaluation.showcase import fit_showcase
from mmm_recovery.reporting import plots

spec = load_study(study)
result, dataset = fit_showcase(spec, scenario, estimator)
truth = dataset.truth
# wall times go to data/timing/ (machine-dependent), not into this notebook
print(f"converged: {result.converged}; failures: {result.diagnostics.get('failures') or 'none'}")

# %% [markdown]
# ## Workflow checks
# The estimator's own convergence diagnostics; a fit that misses a threshold is reported as not
# converged and kept.

# %%
pd.Series({k: v for k, v in result.diagnostics.items() if not isinstance(v, list | dict)})

# %% [markdown]
# ## Fit and decomposition
# In-sample and holdout fit (the holdout weeks are never seen by the fit), the fitted mean
# against the data, and each channel's estimated weekly contribution.

# %%
pd.DataFrame({k: v for k, v in result.fit.to_dict().items() if isinstance(v, dict)}).T

# %%
plots.fitted_vs_actual(result.tables["fitted"])

# %%
plots.estimated_decomposition(result.tables["decomposition"], list(result.channels))

# %% [markdown]
# ## Recovered parameters against the truth
# Each estimate with its interval and the true value. Parameters are compared only where the
# estimator's curve family is the truth's; the response curves compare every family.

# %%
plots.recovery_table(result.to_dict(), truth)

# %%
plots.interval_vs_truth({estimator: result.to_dict()}, truth, "roas")

# %%
plots.response_curves(
    truth, {estimator: {c: v.curve.to_dict() for c, v in result.channels.items()}}
)

# %% [markdown]
# ## The estimator's own checks

# %%
for heading, shown in estimator_for(spec, estimator).showcase(result, dataset):
    display(Markdown(f"### {heading}"))
    display(shown)
