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
# parameter from the estimator's **own** prior, draw the data from its **own** model, fit, and
# record the rank of each true value among the posterior draws. If the sampler, the
# reparametrisations (effect and level coordinates, with their Jacobians), the scaling and the
# likelihood are right, the ranks are uniform. The design (weeks, channels, spend process, number
# of simulations) is the study file's `sbc:` block; `mmm_recovery.evaluation.sbc` runs it with the
# batched sampler and writes `reports/metrics/sbc.json` (DVC metrics), `sbc_ranks.csv` and
# `sbc_fits.csv`.

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
display(
    Markdown(
        f"{metrics['simulations']} simulations; {metrics['converged']} met every convergence "
        f"threshold and {metrics['divergent_fits']} had divergent transitions. Every simulation is "
        "kept in the ranks, converged or not."
    )
)

# %% [markdown]
# ## Verdicts
#
# One ECDF uniformity test per quantity (on the randomised PIT `(rank + U) / (ranks + 1)`); a
# quantity fails if its p-value is below the family-wise level over the number of quantities
# (Bonferroni).

# %%
sbc_plots.verdict_table(metrics)

# %%
display(
    Markdown(
        "**Every quantity passes.**"
        if not metrics["failed"]
        else f"**Failed: {', '.join(metrics['failed'])}.**"
    )
)

# %% [markdown]
# ## ECDF differences and rank histograms
#
# A calibrated quantity's curve stays inside its grey band (simultaneous, level 1 - alpha) with
# probability 1 - alpha. A curve above zero in the middle means the truth ranks low: the posterior
# sits too high; a U-shaped histogram means intervals that are too narrow, a hump too wide.

# %%
sbc_plots.ecdf_differences(ranks, metrics, spec.study.base_seed)

# %%
sbc_plots.rank_histograms(ranks, metrics)

# %% [markdown]
# ## Diagnostics of every fit

# %%
fits.describe().T.round(3)
