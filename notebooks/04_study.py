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
# # 04 · The parameter-recovery study
#
# Every estimator on every replicate of every scenario of the study; each fit is compared with its
# truth and its budget advice is scored on the true response. Fits run in parallel (local
# processes or a Dask cluster, `study.scheduler`), each written atomically to
# `data/study/<scenario>/rep_<NNN>/<estimator>.json`, so an interrupted run resumes where it
# stopped. Aggregates (bias, RMSE, coverage with exact binomial CI, interval width, regret,
# runtime, failures, non-converged fits) go to `reports/metrics/` (DVC metrics and plots).

# %% tags=["parameters"]
study = "studies/recovery.yaml"
metrics_dir = "reports/metrics"
data_root = "data"  # records go to <data_root>/study/ (the full study keeps its own)

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators.registry import estimator_for
from mmm_recovery.evaluation.study import run_study, write_outputs
from mmm_recovery.reporting import plots

spec = load_study(study)
root = paths.resolve(data_root)
# progress lines (fits done / total, fits per minute, time left) go to stderr: shown while this
# runs, in Jupyter and on the stage's console, and left out of the saved notebook (same bytes)
run_study(spec, data_root=root)
metrics = write_outputs(spec, paths.resolve(metrics_dir), root)
fits = pd.read_csv(paths.resolve(metrics_dir) / "fits.csv")
fits.groupby(["scenario", "estimator"])[["converged", "regret", "holdout_mape"]].mean()

# %% [markdown]
# Wall times per fit are machine-dependent, so they are kept out of the DVC outputs (which must be
# the same bytes on every run): `mmm_recovery.evaluation.study.runtime_table(spec)` reads them from
# `data/timing/`.

# %% [markdown]
# ## Failures and non-converged fits (kept, never dropped)

# %%
failed = fits[(fits["status"] != "ok") | (~fits["converged"].astype(bool))]
display(
    Markdown(
        f"{int((fits['status'] != 'ok').sum())} of {len(fits)} fits failed and "
        f"{int(((fits['status'] == 'ok') & ~fits['converged'].astype(bool)).sum())} did not "
        "converge; every one is counted in the metrics."
    )
)
failed

# %% [markdown]
# ## Coverage of the intervals

# %%
coverage = pd.read_csv(paths.resolve(metrics_dir) / "coverage.csv")
nominal = {name: estimator_for(spec, name).interval_level for name in spec.estimators}
NO_RESULTS = Markdown("**No fit succeeded**: nothing to show (the table above says why).")
plots.coverage_by_scenario(coverage, "adstock.alpha", nominal) if len(coverage) else NO_RESULTS

# %%
plots.coverage_by_scenario(coverage, "roas", nominal) if len(coverage) else NO_RESULTS

# %% [markdown]
# ## Bias and error by scenario

# %%
bias = pd.read_csv(paths.resolve(metrics_dir) / "bias.csv")
plots.error_by_scenario(bias, "adstock.alpha", "bias") if len(bias) else NO_RESULTS

# %%
plots.error_by_scenario(bias, "roas", "mean_abs_rel_error") if len(bias) else NO_RESULTS

# %%
plots.error_by_scenario(bias, "curve_error", "bias") if len(bias) else NO_RESULTS

# %%
bias.pivot_table(
    index=["scenario", "quantity"], columns="estimator", values=["bias", "rmse"]
).round(4)
