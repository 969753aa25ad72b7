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
# # 05 · Bring your own data
#
# One weekly CSV declared under `datasets:` in a study YAML (and listed in `studies/datasets.yaml`), validated (every problem named
# with its file, column and line) and fitted by every estimator of the study. There is **no
# ground truth** here: this notebook shows estimates, fit, decomposition, ROAS and budget advice,
# not recovery errors or regret. Code: `mmm_recovery.byod`.

# %% tags=["parameters"]
study = "studies/recovery.yaml"
dataset = "robyn_example"

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import display

from mmm_recovery import byod
from mmm_recovery.byod import index as byod_index
from mmm_recovery.core.spec import load_study
from mmm_recovery.reporting import plots

spec = load_study(study)
byod_index.check_entry(spec, dataset)  # DVC watches the CSV and study file the index names
out = byod.fit_all(spec, dataset)
fit_input, results = out["input"], out["results"]
print(
    f"{dataset}: {len(fit_input.data)} weeks, channels {fit_input.channels}, controls "
    f"{fit_input.controls}, {len(fit_input.lift_tests)} lift test(s)"
)
pd.Series({name: r.converged for name, r in results.items()}, name="converged")

# %% [markdown]
# ## Estimates (no ground truth)

# %%
rows = []
for name, r in results.items():
    for ch, v in r.channels.items():
        for q in (
            "roas",
            "mroas",
            "contribution_share",
            *(f"adstock.{p}" for p in v.adstock.params),
        ):
            rows.append(
                {"estimator": name, "channel": ch, "quantity": q, **v.quantity(q).to_dict()}
            )
pd.DataFrame(rows).pivot_table(
    index=["channel", "quantity"], columns="estimator", values="estimate"
)

# %%
pd.DataFrame(
    {
        name: {k: v["mape"] for k, v in r.fit.to_dict().items() if "mape" in v}
        for name, r in results.items()
    }
)

# %%
for r in results.values():
    display(plots.fitted_vs_actual(r.tables["fitted"]))
    display(plots.estimated_decomposition(r.tables["decomposition"], fit_input.channels))

# %% [markdown]
# ## Budget advice (no truth: the predicted lift is the model's own claim)

# %%
pd.DataFrame(
    {
        name: {**a["recommended"], "predicted lift / week": a["predicted_lift"]}
        for name, a in out["advice"].items()
    }
).assign(current=pd.Series(next(iter(out["advice"].values()))["current"]))
