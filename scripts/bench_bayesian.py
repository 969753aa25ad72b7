"""Benchmark: NUTS samplers and parametrisations for the same PyMC-Marketing MMM on the same data.

Fits the Bayesian estimator (settings from the study's ``estimators.bayesian``) on the default
study's baseline scenario, replicate 0 (208 weeks x 5 channels), once per configuration, in one
run, and prints wall time of sampling, min ESS (bulk and tail, over adstock_alpha, lam, beta,
effect, sampled or derived, the intercept and the noise sd), ESS
per second, seconds per 1000 effective draws, mean leapfrog steps per draw, R-hat, divergences,
and each configuration's ESS/s relative to the reference: the default PyMC sampler on
PyMC-Marketing's own ``LogisticSaturation`` parametrisation (``lam``, ``beta``), 1000 tuning
steps. A warm-up fit per configuration (not timed) compiles first, so the figures are warm.
Never asserts a time.

Configurations (``--configs``, default all):

* ``study``: the study's settings as they are (sampler, coordinates, tuning length);
* ``numpyro-intercept``: the study's settings with PyMC-Marketing's own intercept instead of the
  level (the level's share of the gain);
* ``numpyro-beta``: NumPyro in PyMC-Marketing's ``lam``/``beta`` coordinates and intercept (the
  coordinates' share of the gain);
* ``nutpie``, ``pymc``: the study's settings with that sampler (the samplers like for like);
* ``reference``: the PyMC sampler in PyMC-Marketing's coordinates, 1000 tuning steps.

Every configuration has the same model and priors (the ``effect`` coordinates carry the prior on
``lam`` and ``beta`` over with the Jacobian, the level the intercept's), and ESS is taken over the same quantities in each
(``lam``, ``beta`` and ``effect``, sampled or derived), so the ratios compare samplers and
coordinates, not models.

    python scripts/bench_bayesian.py [--configs study reference] [--chains 4 --draws 1000]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from mmm_recovery.estimators.bayesian import BayesianMMM, ensure_jax_devices
from mmm_recovery.results import FitInput
from mmm_recovery.simulate import simulate
from mmm_recovery.spec import load_study

CONFIGS = ("study", "numpyro-intercept", "numpyro-beta", "nutpie", "pymc", "reference")


def settings_for(config: str, study_settings: dict) -> dict:
    """The estimator settings of one benchmark configuration."""
    s = dict(study_settings)
    as_beta = {
        "logistic_parametrization": "beta",
        "intercept_parametrization": "intercept",
        "tune": 1000,
    }
    if config == "numpyro-intercept":
        s.update(sampler="numpyro", intercept_parametrization="intercept")
    elif config == "numpyro-beta":
        s.update(sampler="numpyro", **as_beta)
    elif config in ("nutpie", "pymc"):
        s.update(sampler=config)
    elif config == "reference":
        s.update(sampler="pymc", **as_beta)
    elif config != "study":
        raise ValueError(f"unknown configuration {config!r}; known: {list(CONFIGS)}")
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--json", help="also write the table as JSON to this path")
    args = ap.parse_args()
    ensure_jax_devices(args.chains)
    study = load_study(args.study)
    ds = simulate(study.scenario(args.scenario), study.rng(args.scenario, 0))
    fi = FitInput.from_simulated(ds, study.study.holdout_weeks)
    base = {
        **study.estimators.get("bayesian", {}),
        "chains": args.chains,
        "draws": args.draws,
        "summary_draws": 50,
        "prior_predictive_draws": 10,
        "save_idata": False,
    }
    rows = {}
    for config in args.configs:
        settings = settings_for(config, base)
        warm = {**settings, "draws": 50, "tune": 50}
        BayesianMMM(warm).fit(fi, np.random.default_rng(0))  # compile / JIT caches
        est = BayesianMMM(settings)
        res_cfg = est.config
        res = est.fit(fi, np.random.default_rng(1))
        d = res.diagnostics
        ess = min(d["min_ess_bulk"], d["min_ess_tail"])
        rows[config] = {
            "sampler": settings["sampler"],
            "parametrization": res_cfg.logistic_parametrization,
            "intercept": "level" if res_cfg.level_intercept else "own",
            "tune": settings["tune"],
            "sample_seconds": res.timing["sample_seconds"],
            "min_ess": ess,
            "ess_per_second": ess / res.timing["sample_seconds"],
            "seconds_per_1000_ess": 1000 * res.timing["sample_seconds"] / ess,
            "mean_leapfrog_steps": d.get("mean_leapfrog_steps", float("nan")),
            "max_rhat": d["max_rhat"],
            "divergences": d["divergences"],
            "converged": d["converged"],
        }
        print(f"{config}: {rows[config]}", flush=True)
    ref = rows.get("reference", {}).get("ess_per_second")
    print(
        f"\n{args.chains} chains x {args.draws} draws, {len(fi.data)} weeks x {len(fi.channels)} "
        "channels; ratio = ESS/s over the reference (pymc sampler, lam/beta, 1000 tune)"
    )
    print(
        f"{'config':17s} {'sampler':8s} {'param':7s} {'icpt':5s} {'tune':>5s} {'wall s':>7s} {'min ESS':>8s} "
        f"{'ESS/s':>6s} {'s/1000ESS':>9s} {'steps':>6s} {'R-hat':>6s} {'div':>4s} {'x ref':>6s}"
    )
    for name, r in rows.items():
        ratio = r["ess_per_second"] / ref if ref else float("nan")
        print(
            f"{name:17s} {r['sampler']:8s} {r['parametrization']:7s} {r['intercept']:5s} "
            f"{r['tune']:5d} "
            f"{r['sample_seconds']:7.1f} {r['min_ess']:8.0f} {r['ess_per_second']:6.1f} "
            f"{r['seconds_per_1000_ess']:9.1f} {r['mean_leapfrog_steps']:6.1f} "
            f"{r['max_rhat']:6.3f} {r['divergences']:4d} {ratio:6.2f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
