"""Benchmark: NUTS samplers for the same PyMC-Marketing MMM on the same data, in one run.

Fits the Bayesian estimator (settings from the study's ``estimators.bayesian``) on the default
study's baseline scenario, replicate 0 (208 weeks x 5 channels), once per sampler, and prints wall
time of sampling, min bulk ESS, ESS per second, seconds per 1000 effective draws, R-hat,
divergences, and each sampler's ESS/s relative to the default PyMC sampler. A warm-up fit per
sampler (not timed) compiles first, so the figures are warm. Never asserts a time.

    python scripts/bench_bayesian.py [--samplers numpyro nutpie pymc] [--chains 4 --draws 1000 --tune 1000]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from mmm_recovery.estimators.bayesian import BayesianMMM, ensure_jax_devices
from mmm_recovery.results import FitInput
from mmm_recovery.simulate import simulate
from mmm_recovery.spec import load_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--samplers", nargs="+", default=["numpyro", "nutpie", "pymc"])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--json", help="also write the table as JSON to this path")
    args = ap.parse_args()
    ensure_jax_devices(args.chains)
    study = load_study(args.study)
    ds = simulate(study.scenario(args.scenario), study.rng(args.scenario, 0))
    fi = FitInput.from_simulated(ds, study.study.holdout_weeks)
    base = dict(study.estimators.get("bayesian", {}))
    rows = {}
    for sampler in args.samplers:
        settings = {
            **base,
            "sampler": sampler,
            "chains": args.chains,
            "draws": args.draws,
            "tune": args.tune,
            "summary_draws": 50,
            "prior_predictive_draws": 10,
            "save_idata": False,
        }
        warm = {**settings, "draws": 50, "tune": 50}
        BayesianMMM(warm).fit(fi, np.random.default_rng(0))  # compile / JIT caches
        res = BayesianMMM(settings).fit(fi, np.random.default_rng(1))
        d = res.diagnostics
        ess = min(d["min_ess_bulk"], d["min_ess_tail"])
        rows[sampler] = {
            "sample_seconds": res.timing["sample_seconds"],
            "min_ess": ess,
            "ess_per_second": ess / res.timing["sample_seconds"],
            "seconds_per_1000_ess": 1000 * res.timing["sample_seconds"] / ess,
            "max_rhat": d["max_rhat"],
            "divergences": d["divergences"],
            "converged": d["converged"],
        }
        print(f"{sampler}: {rows[sampler]}", flush=True)
    ref = rows.get("pymc", {}).get("ess_per_second")
    print(
        f"\n{args.chains} chains x {args.draws} draws + {args.tune} tune, {len(fi.data)} weeks x {len(fi.channels)} channels"
    )
    print(
        f"{'sampler':8s} {'wall s':>8s} {'min ESS':>8s} {'ESS/s':>7s} {'s/1000 ESS':>11s} {'R-hat':>7s} {'div':>4s} {'x pymc':>7s}"
    )
    for name, r in rows.items():
        ratio = r["ess_per_second"] / ref if ref else float("nan")
        print(
            f"{name:8s} {r['sample_seconds']:8.1f} {r['min_ess']:8.0f} {r['ess_per_second']:7.1f} "
            f"{r['seconds_per_1000_ess']:11.1f} {r['max_rhat']:7.3f} {r['divergences']:4d} {ratio:7.2f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
