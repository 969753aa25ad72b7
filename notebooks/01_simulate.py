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
# # 01 · Simulate: synthetic weekly MMM data with a known answer key
#
# One scenario of the study: every replicate's dataset (`data.csv`), its answer key
# (`truth.json`: adstock/saturation parameters, beta, ROAS, marginal ROAS, response curves) and
# the true weekly decomposition (`truth_weekly.csv`), all on the original currency scale, under
# `data/<scenario>/simulated/rep_<NNN>/`. The numbers come from the study YAML; the code from
# `mmm_recovery.simulation.simulate`.

# %% tags=["parameters"]
study = "studies/recovery.yaml"
scenario = "baseline"

# %%
# %matplotlib inline
from IPython.display import display

from mmm_recovery.core.spec import load_study
from mmm_recovery.reporting import plots
from mmm_recovery.simulation.simulate import simulate_scenario

spec = load_study(study)
datasets = simulate_scenario(spec, scenario)
first = datasets[0]
print(f"{len(datasets)} replicate(s) of {scenario!r}, {first.truth['n_weeks']} weeks each")

# %% [markdown]
# ## The answer key of replicate 0
# Spend and contribution shares, ROAS (contribution / spend over the data window) and marginal
# ROAS (slope of the steady-state response at the mean weekly spend).

# %%
plots.truth_table(first.truth)

# %% [markdown]
# ## Lift tests
# The experiments the estimators are given with the data (`lift_tests.csv`; none unless the
# scenario declares `lift_tests`), beside their true lifts from the answer key: the lift over the
# test's weeks (`true_delta_y`; the steady-state lift for a test without `weeks`) and, for a test
# of a given length, the steady-state lift it falls short of.

# %%
if len(first.lift_tests):
    true_tests = first.truth["lift_tests"]
    display(
        first.lift_tests.assign(
            weeks=[t.get("weeks") for t in true_tests],
            true_delta_y=[t["delta_y"] for t in true_tests],
            true_steady_state_delta_y=[
                t.get("steady_state_delta_y", t["delta_y"]) for t in true_tests
            ],
        )
    )
else:
    print(f"scenario {scenario!r} has no lift tests")

# %% [markdown]
# ## True adstock kernels and steady-state response curves

# %%
plots.adstock_kernels(first.truth)

# %%
plots.response_curves(first.truth)

# %% [markdown]
# ## Spend, target and the true decomposition (replicate 0)

# %%
plots.spend_and_target(first.data, first.truth)

# %%
plots.decomposition(first.weekly, first.truth)
