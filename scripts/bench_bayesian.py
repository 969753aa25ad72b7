"""Benchmark: NUTS samplers and parametrisations for the same PyMC-Marketing MMM on the same data.

Fits the Bayesian estimator (settings from the study's ``estimators.bayesian``) on the default
study's baseline scenario, replicate 0 (208 weeks x 5 channels), per configuration, in one run,
and prints wall time of sampling, min ESS (bulk and tail, over adstock_alpha, lam, beta and
effect, sampled or derived, the intercept and the noise sd), ESS per second, seconds per 1000
effective draws, mean leapfrog steps per draw, R-hat, divergences, and each configuration's ESS/s
relative to the reference: the default PyMC sampler in PyMC-Marketing's own coordinates
(``LogisticSaturation``'s ``lam``, ``beta``; its intercept), 1000 tuning steps. Never asserts a
time.

Each configuration first fits replicate 1 briefly (libraries compiled, not timed), then fits
replicate 0 twice with the same seed:

* **first**: the first fit of this dataset, with everything its model needs compiled on the
  spot: what every fit of a study pays (each dataset is new). PyTensor (which compiles the
  nutpie and PyMC samplers' functions) compiles into a fresh temporary directory, so an earlier
  run's disk cache does not make it look warm;
* **repeat**: the same fit again in the same process: the warm figure. One wall-clock run each,
  so differences of a few percent are noise;
* **same draws, new process**: the same fit once more in a child process that loads the compile
  cache the first fit filled, and whether its posterior is bit-identical to the first's. A sampler
  whose draws depend on the compile cache's state cannot give the same bytes from the same seed on
  a fresh clone as on a warm machine.

Leapfrog steps, R-hat, divergences and s/1000 ESS are the repeat fit's.

Configurations (``--configs``, default all):

* ``study``: the study's settings as they are (sampler, coordinates, tuning length);
* ``numpyro-intercept``: the study's settings with PyMC-Marketing's own intercept instead of the
  level (the level's share of the gain);
* ``numpyro-beta``: NumPyro in PyMC-Marketing's ``lam``/``beta`` coordinates and intercept (the
  coordinates' share of the gain);
* ``nutpie``, ``pymc``: the study's settings with that sampler (the samplers like for like);
* ``reference``: the PyMC sampler in PyMC-Marketing's coordinates, 1000 tuning steps.

Every configuration has the same model and priors (the ``effect`` coordinates carry the prior on
``lam`` and ``beta`` over with the Jacobian, the level the intercept's), and ESS is taken over
the same quantities in each (``lam``, ``beta`` and ``effect``, sampled or derived), so the
ratios compare samplers and coordinates, not models.

    python scripts/bench_bayesian.py [--configs study reference] [--chains 4 --draws 1000]
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from mmm_recovery.core.results import FitInput
from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators.bayesian.estimator import BayesianMMM
from mmm_recovery.estimators.bayesian.model import ensure_jax_devices
from mmm_recovery.simulation.simulate import simulate

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


def _posterior_digest(idata) -> str:
    """SHA-256 of the posterior's sampled values (same seed and same code: same digest, if the
    sampler is reproducible)."""
    post = idata["posterior"]
    h = hashlib.sha256()
    for name in sorted(post.data_vars):
        h.update(np.ascontiguousarray(post[name].values).tobytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--json", help="also write the table as JSON to this path")
    ap.add_argument("--out", default="docs/benchmarks/samplers.md", help="Markdown table")
    ap.add_argument("--digest-of", choices=CONFIGS, help=argparse.SUPPRESS)  # the child's job
    args = ap.parse_args()
    ensure_jax_devices(args.chains)
    if args.digest_of is None:
        # compile into a fresh directory (see "first" above); read when PyTensor is imported
        if "pytensor" in sys.modules:
            raise RuntimeError("set the compile directory before PyTensor is imported")
        compiledir = tempfile.mkdtemp(prefix="bench_bayesian_pytensor_")
        atexit.register(shutil.rmtree, compiledir, ignore_errors=True)
        # PyTensor takes the last setting, so this one wins over a user's base_compiledir
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = f"{flags},base_compiledir={compiledir}".lstrip(",")
    study = load_study(args.study)
    data = {}
    for rep in (0, 1):
        ds = simulate(study.scenario(args.scenario), study.rng(args.scenario, rep))
        data[rep] = FitInput.from_simulated(ds, study.study.holdout_weeks)
    fi = data[0]
    base = {
        **study.estimators.get("bayesian", {}),
        "chains": args.chains,
        "draws": args.draws,
        "summary_draws": 50,
        "prior_predictive_draws": 10,
        "save_idata": False,
    }
    if args.digest_of is not None:  # child: the fit once more, in this new process
        res = BayesianMMM(settings_for(args.digest_of, base)).fit(fi, np.random.default_rng(1))
        print(f"DIGEST {_posterior_digest(res.extras['idata'])}")
        return
    rows = {}
    for config in args.configs:
        settings = settings_for(config, base)
        warm = {**settings, "draws": 50, "tune": 50}
        # libraries compiled on replicate 1, so the first fit of replicate 0 pays what each new
        # dataset of a study pays (its model's compilation), and the second what a refit pays
        BayesianMMM(warm).fit(data[1], np.random.default_rng(0))
        row: dict = {}
        for label in ("first", "repeat"):
            est = BayesianMMM(settings)
            res = est.fit(fi, np.random.default_rng(1))
            d = res.diagnostics
            ess = min(d["min_ess_bulk"], d["min_ess_tail"])
            secs = res.timing["sample_seconds"]
            row.update(
                {
                    f"{label}_seconds": secs,
                    f"{label}_min_ess": ess,
                    f"{label}_ess_per_second": ess / secs,
                    f"{label}_digest": _posterior_digest(res.extras["idata"]),
                }
            )
        child = subprocess.run(
            [sys.executable, __file__, "--digest-of", config, "--study", args.study]
            + ["--scenario", args.scenario, "--chains", str(args.chains)]
            + ["--draws", str(args.draws)],
            capture_output=True,
            text=True,
            check=True,
        )
        digests = [ln.split()[1] for ln in child.stdout.splitlines() if ln.startswith("DIGEST ")]
        row.update(
            {
                "new_process_digest": digests[-1] if digests else "",
                "sampler": est.config.sampler,
                "parametrization": est.config.logistic_parametrization,
                "intercept": "level" if est.config.level_intercept else "intercept",
                "tune": est.config.tune,
                "seconds_per_1000_ess": 1000 * secs / ess,
                "mean_leapfrog_steps": d.get("mean_leapfrog_steps", float("nan")),
                "max_rhat": d["max_rhat"],
                "divergences": d["divergences"],
                "converged": d["converged"],
                "same_draws_in_process": row["first_digest"] == row["repeat_digest"],
                "same_draws_new_process": bool(digests) and row["first_digest"] == digests[-1],
            }
        )
        rows[config] = row
        print(f"{config}: {row}", flush=True)
    ref = rows.get("reference", {})
    print(
        f"\n{args.chains} chains x {args.draws} draws, {len(fi.data)} weeks x {len(fi.channels)} "
        "channels. first: the first fit of this dataset (its model compiled); repeat: the same "
        "fit again in the process (warm); x ref: ESS/s over the reference's (pymc sampler, "
        "lam/beta, PyMC-Marketing's intercept, 1000 tune) in the same mode; s/1000ESS, steps, "
        "R-hat, div: the repeat's; same draws: the repeat's posterior, and that of the fit run "
        "again in a new process loading the compile cache, bit-identical to the first's"
    )
    print(
        f"{'config':17s} {'sampler':8s} {'param':6s} {'icpt':9s} {'first s':>7s} {'ESS/s':>6s} "
        f"{'x ref':>5s} {'repeat s':>8s} {'ESS/s':>6s} {'x ref':>5s} {'s/1000ESS':>9s} "
        f"{'steps':>6s} {'R-hat':>6s} {'div':>4s} {'same: proc':>10s} {'new proc':>8s}"
    )

    def ratio(r: dict, label: str) -> float:
        k = f"{label}_ess_per_second"
        return r[k] / ref[k] if ref else float("nan")

    def yes(flag: bool) -> str:
        return "yes" if flag else "NO"

    for name, r in rows.items():
        print(
            f"{name:17s} {r['sampler']:8s} {r['parametrization']:6s} {r['intercept']:9s} "
            f"{r['first_seconds']:7.1f} {r['first_ess_per_second']:6.1f} {ratio(r, 'first'):5.2f} "
            f"{r['repeat_seconds']:8.1f} {r['repeat_ess_per_second']:6.1f} "
            f"{ratio(r, 'repeat'):5.2f} {r['seconds_per_1000_ess']:9.1f} "
            f"{r['mean_leapfrog_steps']:6.1f} {r['max_rhat']:6.3f} {r['divergences']:4d} "
            f"{yes(r['same_draws_in_process']):>10s} {yes(r['same_draws_new_process']):>8s}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    write_markdown(args, rows, ratio, f"{len(fi.data)} weeks x {len(fi.channels)} channels")


def write_markdown(args: argparse.Namespace, rows: dict, ratio, data: str) -> None:
    """The table, with the command and the machine, to ``args.out`` (atomically)."""
    from bench_batched import write_page  # a sibling script: python puts scripts/ on the path

    facts = [
        f"- Study: `{args.study}`, scenario `{args.scenario}` replicate 0: {data}; "
        f"{args.chains} chains x {args.draws} draws; one model and one set of priors for "
        "every row, only the sampler and the sampling coordinates differ",
        "- first: the first fit of the dataset (its model compiled into a fresh cache, as each "
        "fit of a study pays); repeat: the same fit again (warm); x ref: ESS/s over the "
        "reference's (PyMC's sampler in PyMC-Marketing's own coordinates) in the same mode; "
        "min ESS over bulk and tail of every reported parameter; same draws: the repeat's "
        "posterior, and a new process's (loading the compile cache), bit-identical to the "
        "first's",
    ]
    lines = [
        "| configuration | sampler | coordinates | first: s | ESS/s | x ref | repeat: s | ESS/s "
        "| x ref | leapfrog steps/draw | max R-hat | div | same draws: process | new process |",
        "|---|---|---|" + "---:|" * 9 + "---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['sampler']} | {r['parametrization']}, {r['intercept']} "
            f"| {r['first_seconds']:.1f} | {r['first_ess_per_second']:.1f} "
            f"| {ratio(r, 'first'):.2f} | {r['repeat_seconds']:.1f} "
            f"| {r['repeat_ess_per_second']:.1f} | {ratio(r, 'repeat'):.2f} "
            f"| {r['mean_leapfrog_steps']:.0f} | {r['max_rhat']:.3f} | {r['divergences']} "
            f"| {'yes' if r['same_draws_in_process'] else 'no'} "
            f"| {'yes' if r['same_draws_new_process'] else 'no'} |"
        )
    out = write_page(
        args.out,
        "bench_bayesian.py",
        "Bayesian samplers and sampling coordinates",
        facts,
        [*lines, ""],
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
