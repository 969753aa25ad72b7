# ---
# title: "Methodology: testing MMM estimators against a known truth"
# author: "mmm-recovery"
# format:
#   html:
#     embed-resources: true
#     toc: true
#     number-sections: true
#   typst:
#     toc: true
# execute:
#   echo: false
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

# %% tags=["parameters"]
study = "studies/recovery.yaml"
metrics_dir = "reports/metrics"
full_metrics_dir = ""  # the pipeline passes reports/metrics/full: the full study's answers lead

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators.registry import estimator_for
from mmm_recovery.evaluation import sbc
from mmm_recovery.reporting import (
    design_report,
    findings,
    narrative,
    plots,
    precision,
    sbc_plots,
    tables,
    verdicts,
)

spec = load_study(study)
m = tables.StudyMetrics.load(paths.resolve(metrics_dir))
fmt = tables.fmt


# %%
# the answers first: what the study supports (every scenario pooled, fit-clustered errors,
# paired contrasts) and the precision its design reached; the full study's where it has them
Markdown(precision.lead(spec, metrics_dir, full_metrics_dir or None))

# %% [markdown]
# ## Per scenario
#
# Each scenario's ROAS and adstock-decay intervals and errors, channel averages, from
# `reports/metrics/performance.csv` and `calibration.csv`. Each scenario has only
# the study's replicates: its coverage interval is wide, its verdict says what shortfall it
# could miss (its power), and its errors' Monte Carlo SE is n/e (not estimable) below the
# fits the clustering needs. The claims above, pooled over scenarios, are what the study
# supports.

# %%
nominal = {name: estimator_for(spec, name).interval_level for name in spec.estimators}
Markdown(findings.per_scenario(m, nominal))

# %% [markdown]
# ## Adstock: carry-over of spend
#
# Adstock spreads each week's spend over the following weeks with lag weights $w_k$,
# $k = 0, \dots, L-1$: $\tilde x_t = \sum_{k=0}^{L-1} w_k\, x_{t-k}$ (normalised so that
# $\sum_k w_k = 1$ unless stated). Code: `mmm_recovery.families` and
# `mmm_recovery.families.transforms` (tested equal to PyMC-Marketing 1.3's own functions). The
# registered families:

# %%
Markdown(narrative.family_descriptions("adstock"))

# %%
#| label: fig-kernels
#| fig-cap: "Adstock kernels of every registered family at its example parameters, normalised (code: mmm_recovery.reporting.plots.family_curves)."
plots.family_curves("adstock")

# %% [markdown]
# ## Saturation: diminishing returns
#
# A channel's weekly contribution is $\beta\, f(\tilde x_t)$; its steady-state response to a
# constant weekly spend $s$ is $\beta f(s \sum_k w_k)$, and its marginal ROAS at $s$ is the slope
# of that curve. The registered families:

# %%
Markdown(narrative.family_descriptions("saturation"))

# %%
#| label: fig-saturation
#| fig-cap: "Saturation curves of every registered family at its example parameters (code: mmm_recovery.reporting.plots.family_curves)."
plots.family_curves("saturation")

# %% [markdown]
# ## The estimators
#
# Each estimator block of the study, with the description its own class gives and its settings
# as the study sets them (code: `mmm_recovery.estimators.<name>`; a new estimator appears here
# with no edit to this report).

# %%
for heading, _, description, settings in narrative.estimator_sections(spec):
    display(Markdown(f"### {heading}\n\n{description}"))
    display(tables.show(settings))

# %% [markdown]
# ## Calibration with lift tests
#
# A scenario may give the estimators lift tests, as an analyst would bring experiments: channel
# $c$'s weekly spend moved from $x$ (its mean weekly spend) by $\Delta x$ ($\Delta x = -x$: a
# go-dark test), and the measured change of weekly revenue $\Delta y$ with standard error
# $\sigma$. By default the simulated experiment is idealised: it measures the truth's
# steady-state lift $r(x + \Delta x) - r(x)$ (long enough for carry-over to build up) with a
# Gaussian error of sd $\sigma$. A test of $w$ weeks (`weeks: w`) measures instead the mean
# weekly change over its $w$ weeks, starting from steady state at $x$: for a slowly decaying
# channel less than the steady-state lift, as a real short test would. The test's length
# reaches the estimators (the `weeks` column of `lift_tests.csv`), and both compare the
# measurement with their model's lift over the same weeks. For a steady-state test the Bayesian
# estimator adds PyMC-Marketing's lift likelihood,
# $\Delta y \sim \mathcal N(\beta_c (f(x + \Delta x) - f(x)), \sigma)$ on the scaled data; the
# frequentist one adds Robyn's MAPE.LIFT, the mean of
# $|\hat r(x + \Delta x) - \hat r(x) - \Delta y| / |\Delta y|$, as a third objective (the
# chosen point is then the one nearest the origin of the three scaled objectives). For a test of
# $w$ weeks both replace the steady-state lift with the model's mean lift over the test,
# $\frac1w \sum_{t=1}^{w} \beta_c f(x + \Delta x \sum_{j<t} \omega_j) - \beta_c f(x)$ with the
# model's normalised adstock weights $\omega_j$ (PyMC-Marketing's own adstock of the test's spend
# path in the Bayesian model; with unnormalised weights $x$ becomes $x \sum_j \omega_j$).
# PyMC-Marketing's lift likelihood reads every test as steady state; Robyn compares a test with
# the model's effect over the test's own dates. The `short_lift_test` scenario asks whether a
# short test, read for what it measured, still helps. A go-dark
# test pins what the observational data leave weakly identified for an always-on channel: its
# whole effect at current spend, hence its ROAS.

# %% [markdown]
# ## Does the prior decide? Power-scaling sensitivity
#
# Where the data identify a quantity weakly, its posterior is partly the prior's. Each Bayesian
# fit measures this for every reported quantity, without refitting and without the truth
# (Kallioinen et al. 2024, as ArviZ's `psense`): raise the joint prior $p(\theta)$ (as the study
# declares it: on $\lambda_s$ and $\beta_s$, the intercept, ...) to a power $\alpha$ near 1,
# reweight the posterior draws by $p(\theta)^{\alpha - 1}$ (Pareto-smoothed importance
# sampling), and measure how far the quantity's distribution moves (cumulative Jensen-Shannon
# distance over $|\log_2\alpha|$, averaged over $\alpha = 0.99, 1.01$); the same with the likelihood
# (the target and any lift tests). A prior sensitivity at or above the threshold (0.05, the
# paper's) says the prior is informative relative to the likelihood for that quantity: with a
# likelihood sensitivity also at or above it, a *prior-data conflict*; below it, *strong prior /
# weak likelihood*. That is not an error by itself (a well-chosen informative prior is flagged
# too). The recovery study can check what no real analysis can: whether the flag points at the
# estimates that miss the truth.

# %% [markdown]
# ## Recovery metrics and regret
#
# For every fit and channel: error $= \hat\theta - \theta$ for the adstock decay (families
# match), saturation parameters and $\beta$ only where the saturation families match, ROAS,
# marginal ROAS and contribution share; the response-curve error
# $\int_0^{x_{max}} |\hat r(s) - r(s)|\,ds \,/ \int_0^{x_{max}} r(s)\,ds$ over the observed spend
# range; and whether each interval contains the truth. Aggregates: bias, RMSE, coverage with its
# exact (Clopper-Pearson) 95% interval, mean interval width.
#
# **Budget regret.** From each model's own response curves (adstock steady state), the
# budget-neutral allocation maximising predicted revenue with each channel within
# $\pm b$ of its current weekly spend (SLSQP); then both that recommendation and the current
# allocation are evaluated on the *true* response. Regret $= r(\text{true optimum}) -
# r(\text{recommended})$, also as a share of the lift the true optimum achieves.

# %%
Markdown(f"In this study $b$ = {fmt(spec.study.budget_bound, 2)}.")

# %% [markdown]
# ## Study design
#
# The study is a designed simulation experiment (ADEMP: Morris, White & Crowther 2019). Its
# **aims** are the arms below, each with the Monte Carlo SE its primary estimands must reach;
# the **data-generating mechanisms** are the arms' cells (every combination of an arm's factor
# levels, each a scenario of the simulator); the **estimands** are per channel: ROAS (defined
# for every adstock and saturation family, so a truth outside an estimator's family is scored on
# the same quantity), mROAS, the curve parameters and budget regret; the **methods** are the
# estimators; the **performance measures** are coverage, bias, empirical and model SE, paired
# contrasts and, per arm, a meta-model. Replicates per cell are derived from each arm's target
# MC-SE at the study file's planning values (`mmm_recovery.core.design`), not typed.
#
# **Common random numbers.** Every source of randomness (latent spend, flighting, competitor,
# events, demand shock, noise, lift-test errors) draws from its own stream keyed by the base
# seed and the replicate (`mmm_recovery.simulation.streams`), so replicate *r* of every cell
# shares every draw its factors do not change, and every estimator fits a dataset with the same
# seed. Two cells that differ only in noise have the same spend and the same noise shocks,
# scaled. Noise is an absolute sd (currency), not a share of the media signal, so a factor that
# changes media changes nothing else. Contrasts between cells are paired, and every SE pooled
# over cells is clustered by replicate (by fit where an arm has too few replicates: see below).

# %%
display(tables.show(design_report.ademp_table(spec), empty="This study has no design: block."))
cells = pd.DataFrame(
    {
        name: {
            "weeks": sc.n_weeks,
            "noise": f"sd {fmt(sc.noise.sd, 0)}" if sc.noise.sd else f"SNR {fmt(sc.noise.snr, 1)}",
            "spend corr.": sc.spend_correlation,
            "lift tests": ", ".join(
                f"{t.channel} {t.spend_change:+.0%}" + (f" {t.weeks}w" if t.weeks else "")
                for t in sc.lift_tests
            )
            or "none",
            "replicates": spec.replicates_of(name),
        }
        for name, sc in spec.scenarios.items()
    }
).T
tables.show(cells, index="scenario")

# %% [markdown]
# ## The designed study's results
#
# ### Factor effects (the core arm)
#
# A meta-model per estimator over the core arm's cells: a Firth logistic regression of each
# channel's ROAS interval covering the truth (nominal 0.9) and a log-linear model of the
# absolute relative ROAS error on the factors (effect-coded: each main effect is the
# difference between its levels averaged over the others) and their two-way interactions,
# channels as strata (`mmm_recovery.evaluation.metamodel`; metrics:
# `reports/metrics/design_effects.csv`). The coverage effect is an average marginal effect on
# the probability scale; the error effect is the ratio of geometric-mean absolute errors.

# %%
dm = design_report.DesignMetrics.load(paths.resolve(metrics_dir))
arms = spec.design.arms if spec.design else {}
for est in spec.estimators:
    if "core" in arms:
        display(Markdown(f"**{est}**"))
        display(tables.show(design_report.effects_table(dm, "core", est), empty="No results."))
Markdown(design_report.effects_note(dm, "core"))

# %% [markdown]
# ### Misspecification: each estimator inside and outside its own family
#
# The truth's adstock (geometric or delayed-peak Weibull) crossed with its saturation
# (logistic or S-shaped Hill) on every channel. The Bayesian model is geometric/logistic, the
# frequentist geometric/Hill: each is inside its family in one cell and outside in the others.
# Channel averages with their MC-SE (metrics: `performance.csv`, `calibration.csv`).

# %%
display(tables.show(design_report.misspecification_matrix(dm), empty="No results."))
Markdown(design_report.effects_note(dm, "misspecification"))

# %% [markdown]
# ### Confounding: spend that follows demand
#
# Each cell against the unconfounded reference on the same replicates (paired): search spend
# that follows base demand (trend and seasonality), TV bursts timed with seasonal peaks, an
# unobserved demand shock that moves search and facebook spend, and the two repairs an analyst
# could have: a go-dark lift test on search, or a noisy demand index as a control (metrics:
# `reports/metrics/design_contrasts.csv`).

# %%
moved = {
    name: [c for c, ch in sc.channels.items() if ch.confounding]
    for name, sc in spec.scenarios.items()
    if spec.cells.get(name, ("",))[0] == "confounding"
}
display(tables.show(design_report.confounding_table(dm, moved), empty="No results."))
Markdown(design_report.pairing_note(dm))

# %% [markdown]
# ### Beyond one truth: random truths
#
# Each replicate of the random-truth arm draws every channel's decay, half-saturation point,
# ROAS, spend share and flighting from a design distribution that is not the Bayesian prior.
# The curves are a logistic (coverage) meta-model on the standardised features, each traced
# across its 5-95% range with the others at their means (metrics:
# `reports/metrics/design_truth.csv`).

# %%
#| label: fig-truth-curves
#| fig-cap: "ROAS coverage at nominal 0.9 against each feature of the drawn truth, per estimator, with 95% intervals (metrics: reports/metrics/design_truth.csv; code: mmm_recovery.reporting.design_report.truth_curves)."
design_report.truth_curves(dm) if len(dm.truth) else Markdown("No random-truth arm.")

# %%
tables.show(design_report.truth_slopes(dm), empty="No random-truth arm.")

# %% [markdown]
# ## Results
#
# All numbers below are computed from the study's metrics files (`reports/metrics/`).

# %%
display(tables.show(tables.summary_table(m, "recovery")))
tables.show(tables.summary_table(m, "fits"))

# %%
#| label: fig-coverage
#| fig-cap: "Coverage of the adstock-decay intervals by scenario, with exact 95% binomial intervals; dotted lines: nominal levels (code: mmm_recovery.reporting.plots.coverage_by_scenario)."
nominal = {name: estimator_for(spec, name).interval_level for name in spec.estimators}
plots.coverage_by_scenario(m.coverage, "adstock.alpha", nominal) if len(m.coverage) else Markdown(
    "No intervals."
)

# %%
#| label: fig-roas-error
#| fig-cap: "Mean absolute relative ROAS error by scenario (code: mmm_recovery.reporting.plots.error_by_scenario)."
plots.error_by_scenario(m.bias, "roas", "mean_abs_rel_error") if len(m.bias) else Markdown(
    "No results."
)

# %% [markdown]
# ### Calibration at several levels
#
# Every fit reports its intervals (of its own kind: posterior HDIs, bootstrap percentile
# intervals) at the study's `calibration_levels` as well as at its own level, so one set of fits
# gives a calibration curve: the share of intervals that cover the truth against their nominal
# level. Calibrated intervals lie on the diagonal, within their binomial error. The verdicts
# below are the reports' one rule (`mmm_recovery.evaluation.calibration`): an exact binomial
# test of each cell at nominal, Holm-adjusted over all of an estimator's cells; a cell it cannot
# tell from nominal states the shortfall it could miss (detected with probability
# `calibration.POWER`).

# %%
#| label: fig-calibration
#| fig-cap: "Empirical coverage of the ROAS intervals against their nominal level, per estimator and scenario, with exact 95% binomial intervals; dashed: calibrated (metrics: reports/metrics/calibration.csv; code: mmm_recovery.reporting.plots.calibration_curves)."
plots.calibration_curves(m.calibration, "roas") if len(m.calibration) else Markdown(
    "No calibration levels in this study."
)

# %%
Markdown(
    verdicts.calibration_verdict(m, "roas") + " " + verdicts.calibration_verdict(m, "adstock.alpha")
)

# %%
Markdown(
    tables.worst_case(m, "adstock.alpha", "rmse")
    + " "
    + tables.worst_case(m, "curve_error", "bias")
)

# %% [markdown]
# ### What a lift test buys
#
# For each channel a scenario's lift tests measure: its ROAS in that scenario beside the same
# channel in the scenarios without lift tests (other datasets, so not paired differences).

# %%
tested = {
    name: sorted({t.channel for t in spec.scenario(name).lift_tests})
    for name in spec.scenarios
    if spec.scenario(name).lift_tests
}
tables.show(tables.lift_test_effect(m, tested), empty="No scenario has lift tests.")

# %% [markdown]
# ### Does DECOMP.RSSD pull effect shares toward spend shares?
#
# Robyn's search also minimises DECOMP.RSSD, the distance between a model's effect shares and
# the spend shares, on the premise that spend follows effect. Where it does not (the
# random-truth arm, whose spend and effect shares are drawn independently), the objective can
# pull the estimates toward the spend shares.
# The *pull* is the projection of (estimated - true shares) on (spend - true shares), over the
# squared length of the latter: 0 when the errors point nowhere in particular, 1 when the
# estimates sit at the spend shares. `frequentist_nrmse` is the same estimator with NRMSE alone
# (metrics: reports/metrics/fits.csv; code: mmm_recovery.evaluation.score.share_pull).

# %%
display(tables.show(tables.share_pull_table(m), empty="No fit reports effect shares."))
Markdown(tables.share_pull_note(m))

# %% [markdown]
# ### Seed stability: how much of an estimate is the seed?
#
# Robyn and Meridian users report results that change with the seed. The study refits its
# first datasets of some scenarios (`study.seed_stability`) with further estimator seeds, so each
# estimator's seed-to-seed spread (the root mean variance of an estimate across seeds on the same
# data) stands beside its error against the truth (RMSE over the same fits). A spread near the
# RMSE means a rerun alone moves the answer by as much as it misses.

# %%
#| label: fig-seed-stability
#| fig-cap: "Seed-to-seed sd of each channel's ROAS beside its RMSE against the truth, +-2 MC-SE (metrics: reports/metrics/stability.csv; code: mmm_recovery.reporting.plots.seed_stability)."
plots.seed_stability(m.stability, "roas") if len(m.stability) else Markdown(
    "This study refits no dataset with further seeds."
)

# %%
Markdown(tables.seed_stability_note(m, "roas"))

# %% [markdown]
# ### The posterior's own warning
#
# Mean prior sensitivity of each channel's ROAS over replicates, and in how many replicates it
# reaches the fit's threshold:

# %%
tables.show(
    tables.prior_sensitivity_by_channel(m, "roas"), empty="No estimator reports prior sensitivity."
)

# %% [markdown]
# And whether the ROAS estimates it flags are the ones that miss (pooled over scenarios,
# replicates and channels):

# %%
sens = tables.prior_sensitivity_vs_error(m)
display(tables.show(sens, empty="No estimator reports prior sensitivity."))
Markdown(tables.prior_sensitivity_note(m))

# %% [markdown]
# ## Is the Bayesian inference calibrated? Simulation-based calibration
#
# The study above asks whether an estimator recovers the truth of a scenario; a miss there can be
# the data (weak identification) or the inference. Simulation-based calibration (Talts et al.
# 2018; Modrák et al. 2023) isolates the inference: every parameter is drawn from the Bayesian
# estimator's own prior, the target and each lift test's measurement from its own PyMC-Marketing
# model (spend, controls and lift-test designs from this project's simulator), and the study's
# own fit function fits it with its own priors and sampler settings, the target scale held at the
# draw's. The rank of each true value among evenly thinned posterior draws is recorded;
# calibrated inference makes every rank uniform. Two arms: the study's design, and the same with
# one lift test through each lift likelihood (PyMC-Marketing's steady-state one and the project's
# timed one); they share their seeds. The test quantities are each channel's adstock decay,
# saturation parameters, `beta`, ROAS and contribution share, each lift test's model lift, the
# intercept, the noise sd and the log-likelihood of the data. One ECDF uniformity test per
# quantity (Säilynoja et al. 2022, on the randomised PIT), Bonferroni over each arm's quantities;
# the number of simulations is chosen for power against a posterior 20% too narrow and one biased
# by 0.3 sd (`docs/benchmarks/sbc_power.md`). Contraction (Schad et al. 2021) marks the quantities
# the data barely inform: their ranks stay uniform whatever the likelihood, so their pass is a
# weak test. Fits that miss a convergence threshold are kept and counted (code:
# `mmm_recovery.evaluation.sbc`; metrics: `reports/metrics/sbc.json`, `sbc_ranks.csv`,
# `sbc_decisions.csv`).

# %%
sbc_file = paths.resolve(metrics_dir) / sbc.METRICS_FILE
sbc_metrics = files.read_json(sbc_file) if sbc_file.is_file() else None
sbc_ranks = (
    pd.read_csv(paths.resolve(metrics_dir) / sbc.RANKS_FILE) if sbc_metrics is not None else None
)
Markdown(
    sbc_plots.summary(sbc_metrics)
    if sbc_metrics is not None
    else "This study has no simulation-based calibration (`sbc.json` is absent)."
)

# %%
(tables.show(sbc_plots.power_table(sbc_metrics)) if sbc_metrics is not None else Markdown(""))

# %%
#| label: fig-sbc-ecdf-study
#| fig-cap: "SBC, the study's design: ECDF of each quantity's rank (randomised PIT) minus the uniform CDF, with its simultaneous band; a red title marks a failed quantity, 'weak' a quantity with low contraction (metrics: reports/metrics/sbc_ranks.csv, sbc.json; code: mmm_recovery.reporting.sbc_plots.ecdf_differences)."
(
    sbc_plots.ecdf_differences(sbc_ranks, sbc_metrics, "study", spec.study.base_seed)
    if sbc_metrics is not None and "study" in sbc_metrics["arms"]
    else Markdown("No SBC metrics for the study's design.")
)

# %%
#| label: fig-sbc-ecdf-lift
#| fig-cap: "SBC with lift tests (one per lift likelihood): ECDF of each quantity's rank minus the uniform CDF, with its simultaneous band (metrics: reports/metrics/sbc_ranks.csv, sbc.json; code: mmm_recovery.reporting.sbc_plots.ecdf_differences)."
(
    sbc_plots.ecdf_differences(sbc_ranks, sbc_metrics, "lift", spec.study.base_seed)
    if sbc_metrics is not None and "lift" in sbc_metrics["arms"]
    else Markdown("No SBC metrics for the lift-test arm.")
)

# %%
if sbc_metrics is not None:
    for arm in sbc_metrics["arms"]:
        display(Markdown(f"Verdicts, arm `{arm}`:"))
        display(tables.show(sbc_plots.verdict_table(sbc_metrics, arm)))

# %% [markdown]
# Under the prior the Bayesian budget advice's predicted lift is an unbiased estimate of the lift
# it truly earns (the posterior expected curves give the expected true lift of any allocation the
# data choose): the decision is calibrated when predicted minus true lift is 0 and the slope of
# true on predicted lift 1, within their standard errors.

# %%
(tables.show(sbc_plots.decision_table(sbc_metrics)) if sbc_metrics is not None else Markdown(""))

# %% [markdown]
# ## References
#
# * Kallioinen, N., Paananen, T., Bürkner, P.-C., Vehtari, A. (2024). *Detecting and diagnosing
#   prior and likelihood sensitivity with power-scaling.* Statistics and Computing 34, 57.
# * Jin, Y., Wang, Y., Sun, Y., Chan, D., Koehler, J. (2017). *Bayesian Methods for Media Mix
#   Modeling with Carryover and Shape Effects.* Google Inc.
# * Meta Open Source. *Robyn: Continuous & semi-automated MMM.* github.com/facebookexperimental/Robyn
# * PyMC Labs. *PyMC-Marketing.* github.com/pymc-labs/pymc-marketing
# * Talts, S., Betancourt, M., Simpson, D., Vehtari, A., Gelman, A. (2018). *Validating Bayesian
#   inference algorithms with simulation-based calibration.* arXiv:1804.06788.
# * Modrák, M., Moon, A. H., Kim, S., Bürkner, P., Huurre, N., Faltejsková, K., Gelman, A.,
#   Vehtari, A. (2023). *Simulation-based calibration checking for Bayesian computation: the choice
#   of test quantities shapes sensitivity.* Bayesian Analysis.
# * Schad, D. J., Betancourt, M., Vasishth, S. (2021). *Toward a principled Bayesian workflow in
#   cognitive science.* Psychological Methods 26(1), 103-126.
# * Säilynoja, T., Bürkner, P.-C., Vehtari, A. (2022). *Graphical test for discrete uniformity and
#   its applications in goodness-of-fit evaluation and multiple sample comparison.* Statistics and
#   Computing 32, 32.
# * Rapin, J., Teytaud, O. (2018). *Nevergrad: a gradient-free optimization platform.*
