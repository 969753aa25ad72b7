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
# # 06 · Is the Bayesian inference calibrated? Simulation-based calibration
#
# The recovery study asks whether the estimator finds the truth of a scenario. Simulation-based
# calibration (SBC; Talts et al. 2018, Modrák et al. 2023) asks a sharper question: draw every
# parameter from the estimator's **own** prior, draw the data (and each lift test's measurement)
# from its **own** model, fit with the **study's own fit function**, and record the rank of each
# true value among the posterior draws. If the sampler, the reparametrisations (effect and level
# coordinates, with their Jacobians), the scaling and the likelihoods are right, the ranks are
# uniform. The designs are the study file's `sbc:` arms (the study's design, and the same with
# lift tests through both lift likelihoods); `mmm_recovery.evaluation.sbc` runs them, one record
# per simulation under `data/sbc/` (a rerun fits only what is missing), and writes
# `reports/metrics/sbc.json` (DVC metrics), `sbc_ranks.csv`, `sbc_fits.csv` and
# `sbc_decisions.csv`.

# %% tags=["parameters"]
study = "studies/recovery.yaml"
metrics_dir = "reports/metrics"

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation import sbc
from mmm_recovery.reporting import sbc_plots

spec = load_study(study)
metrics = sbc.write_outputs(spec, paths.resolve(metrics_dir))
ranks = pd.read_csv(paths.resolve(metrics_dir) / sbc.RANKS_FILE)
fits = pd.read_csv(paths.resolve(metrics_dir) / sbc.FITS_FILE)
display(Markdown(sbc_plots.summary(metrics)))

# %% [markdown]
# ## Power of the test actually run
#
# The test's power per quantity at its Bonferroni threshold, simulated against a posterior whose
# sd is too narrow and one that is biased (`mmm_recovery.evaluation.sbc_uniformity.power`), and
# the Monte Carlo relative error of a p-value at the threshold (from the reference draws).

# %%
sbc_plots.power_table(metrics)

# %% [markdown]
# ## Verdicts
#
# One ECDF uniformity test per quantity (on the randomised PIT `(rank + U) / (ranks + 1)`); a
# quantity fails if its p-value is below the family-wise level over the arm's number of
# quantities (Bonferroni). Contraction `1 - posterior variance / prior variance` beside each: a
# quantity the data barely inform is a weak test (its ranks stay uniform whatever the likelihood).

# %%
for arm in metrics["arms"]:
    display(Markdown(f"### Arm `{arm}`"))
    display(sbc_plots.verdict_table(metrics, arm))

# %% [markdown]
# ## Is the budget advice calibrated?
#
# Under the prior, the Bayesian fit's predicted lift for its own advice is an unbiased estimate of
# the lift it truly earns: the mean difference should be 0 and the slope of true on predicted
# lift 1, within their standard errors.

# %%
sbc_plots.decision_table(metrics)

# %% [markdown]
# ## ECDF differences and rank histograms
#
# A calibrated quantity's curve stays inside its grey band (simultaneous, level 1 - alpha) with
# probability 1 - alpha. A curve above zero in the middle means the truth ranks low: the posterior
# sits too high; a U-shaped histogram means intervals that are too narrow, a hump too wide.

# %%
for arm in metrics["arms"]:
    display(sbc_plots.ecdf_differences(ranks, metrics, arm, spec.study.base_seed))

# %%
for arm in metrics["arms"]:
    display(sbc_plots.rank_histograms(ranks, metrics, arm))

# %% [markdown]
# ## Diagnostics of every fit

# %%
fits.groupby("arm").describe().T.round(3)
