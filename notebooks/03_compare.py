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
# # 03 · Compare every estimator's fit with the truth (one scenario, replicate 0)
#
# Reads the answer key and every configured estimator's results (common format, original currency scale)
# and shows, per channel: adstock decay error, response-curve error over the observed spend range,
# saturation parameters where the families match, contribution share, ROAS and marginal ROAS
# errors, and whether each interval contains the truth. Then the budget advice: each model's
# budget-neutral allocation (±`budget_bound` per channel) and what it would earn on the TRUE
# response, against the true optimum (regret). Code: `mmm_recovery.evaluation.score.score` (the
# one scoring the study uses too), written by `mmm_recovery.evaluation.showcase.compare_showcase`.

# %% tags=["parameters"]
study = "studies/recovery.yaml"
scenario = "baseline"

# %%
# %matplotlib inline
import pandas as pd

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation.showcase import compare_showcase
from mmm_recovery.reporting import plots
from mmm_recovery.simulation.simulate import SimulatedDataset

spec = load_study(study)
comparison, advice, results = compare_showcase(spec, scenario)
ds = SimulatedDataset.load(paths.replicate_dir(scenario, 0))
channels = ds.truth["channel_names"]
current = {c: float(ds.data[c].mean()) for c in channels}
pd.Series({name: r["diagnostics"]["converged"] for name, r in results.items()}, name="converged")

# %% [markdown]
# ## Errors against the truth

# %%
comparison.pivot_table(
    index=["channel", "quantity"], columns="estimator", values=["estimate", "truth", "covered"]
)

# %%
plots.response_curves(
    ds.truth,
    {name: {c: v["curve"] for c, v in r["channels"].items()} for name, r in results.items()},
)

# %%
plots.interval_vs_truth(results, ds.truth, "roas")

# %%
plots.interval_vs_truth(results, ds.truth, "mroas")

# %% [markdown]
# ## Budget advice and its regret on the true response

# %%
pd.DataFrame(
    {
        name: {
            **{f"spend.{c}": a["recommended"][c] for c in channels},
            **{
                k: a[k]
                for k in (
                    "true_revenue_current",
                    "true_revenue_recommended",
                    "true_revenue_optimal",
                    "regret",
                    "regret_share_of_lift",
                    "predicted_lift",
                    "true_lift_of_recommendation",
                )
            },
        }
        for name, a in advice.items()
    }
).assign(
    truth_optimal=pd.Series(
        {f"spend.{c}": next(iter(advice.values()))["optimal"][c] for c in channels}
    ),
    current=pd.Series({f"spend.{c}": current[c] for c in channels}),
)
