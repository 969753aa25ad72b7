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
# stopped. A fit whose record the repository holds (`records/`, by fingerprint: the same
# scenario, settings, seeds and code) is restored from it byte for byte instead of refitted, so
# on a fresh clone this stage re-aggregates the committed fits and refits only what a change
# made stale. Every fit's comparison with its truth and the score of its advice go to
# `reports/metrics/comparisons.csv` and `fits.csv`; the `aggregate` stage computes every
# aggregate from them (`mmm_recovery.evaluation.aggregate`), so a change to the aggregation or
# the reports refits nothing. The reports show the aggregates.

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
from mmm_recovery.evaluation.study import run_study, write_record_tables

spec = load_study(study)
root = paths.resolve(data_root)
# progress lines (fits done / total, fits per minute, time left) go to stderr: shown while this
# runs, in Jupyter and on the stage's console, and left out of the saved notebook (same bytes)
run_study(spec, data_root=root)
write_record_tables(spec, paths.resolve(metrics_dir), root)
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
missing = int((fits["status"] == "missing").sum())  # no record of the current inputs
display(
    Markdown(
        f"{int((fits['status'] == 'failed').sum())} of {len(fits)} fits failed, "
        + (f"{missing} have no record (not fitted yet, or overwritten), " if missing else "")
        + f"{int(((fits['status'] == 'ok') & ~fits['converged'].astype(bool)).sum())} did not "
        "converge; every one is counted in the metrics."
    )
)
failed
