"""Benchmark: evaluations per second of the frequentist objective, vectorised vs a loop baseline.

Same data (the default study's baseline scenario, replicate 0: 208 weeks x 5 channels), same
candidates, same process. Prints rates and ratios against the seed-style loop implementation
(Python adstock loop + scikit-learn Ridge refit), and the wall time of a whole Nevergrad search
(objective + ask/tell overhead) with batch size 1 vs the configured batch. Never asserts a time.

    python scripts/bench_frequentist.py [--study studies/recovery.yaml] [--scenario baseline]
        [--out docs/benchmarks/frequentist_objective.md]

Also writes the tables, with the command and the machine, to ``--out``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mmm_recovery.core.results import FitInput
from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators.frequentist.estimator import FrequentistMMM
from mmm_recovery.estimators.frequentist.reference import reference_losses
from mmm_recovery.estimators.frequentist.search import bounds_vectors, run_search
from mmm_recovery.simulation.simulate import simulate


def rate(fn, n_evals: int, min_seconds: float = 1.0) -> float:
    """Evaluations per second of ``fn`` (which performs ``n_evals`` evaluations), best of repeats."""
    best = np.inf
    total = 0.0
    while total < min_seconds:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        total += dt
    return n_evals / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--out", default="docs/benchmarks/frequentist_objective.md")
    args = ap.parse_args()
    study = load_study(args.study)
    ds = simulate(study.scenario(args.scenario), study.rng(args.scenario, 0))
    fi = FitInput.from_simulated(ds, study.study.holdout_weeks)
    est = FrequentistMMM(study.estimators.get("frequentist"))
    obj = est.objective(fi)
    lo, hi = bounds_vectors(est.config, obj.n_channels)
    cands = np.random.default_rng(0).uniform(lo, hi, size=(256, lo.size))
    print(
        f"data: {len(fi.data)} weeks x {obj.n_channels} channels, {obj.other.shape[1]} other regressors, "
        f"{obj.n_params} hyperparameters"
    )

    # correctness first: the vectorised objective equals the reference on these candidates
    ref = np.array([reference_losses(obj, h[None]) for h in cands[:16]])
    vec = np.column_stack(obj.losses(cands[:16]))
    max_diff = np.abs(vec - ref).max()
    print(f"max |vectorised - loop| over 16 candidates: {max_diff:.2e}")

    loop = rate(lambda: [reference_losses(obj, h[None]) for h in cands[:20]], 20)
    single = rate(lambda: [obj.losses(h[None]) for h in cands[:200]], 200)
    batch64 = rate(lambda: obj.losses(cands[:64]), 64)
    rows = [
        ("loop (seed-style, sklearn Ridge)", loop),
        ("vectorised, one candidate per call", single),
        ("vectorised, batch of 64", batch64),
    ]
    print(f"\n{'objective':40s} {'evals/s':>10s} {'x loop':>8s}")
    for name, r in rows:
        print(f"{name:40s} {r:10.0f} {r / loop:8.1f}")

    budget = est.config.budget
    timings = {}
    for bs in (1, est.config.batch_size):
        cfg = est.config.model_copy(update={"batch_size": bs})
        t0 = time.perf_counter()
        run_search(obj, cfg, seed=0, budget=budget)
        timings[bs] = time.perf_counter() - t0
    print(
        f"\nwhole {est.config.optimizer} search, {budget} evaluations (objective + Nevergrad ask/tell):"
    )
    for bs, t in timings.items():
        print(
            f"  batch {bs:3d}: {t:6.2f} s  ({budget / t:7.0f} evals/s, x{budget / t / loop:.0f} the loop objective alone)"
        )
    print(f"  loop objective alone would need ~{budget / loop:.1f} s for the same budget")

    from bench_batched import write_page  # a sibling script: python puts scripts/ on the path

    facts = [
        f"- Data: `{args.study}`, scenario `{args.scenario}` replicate 0: {len(fi.data)} weeks "
        f"x {obj.n_channels} channels, {obj.n_params} hyperparameters; the same candidates "
        f"for every row; max |vectorised - loop| over 16 candidates {max_diff:.1e}",
    ]
    lines = [
        "| objective | evaluations/s | x loop |",
        "|---|---:|---:|",
        *(f"| {name} | {r:.0f} | {r / loop:.1f} |" for name, r in rows),
        "",
        f"A whole {est.config.optimizer} search of {budget} evaluations (objective and "
        "Nevergrad's ask/tell):",
        "",
        "| batch | seconds | evaluations/s |",
        "|---:|---:|---:|",
        *(f"| {bs} | {t:.2f} | {budget / t:.0f} |" for bs, t in timings.items()),
        "",
    ]
    out = write_page(
        args.out,
        "bench_frequentist.py",
        "The frequentist objective: vectorised against the loop version",
        facts,
        lines,
        with_jax=False,
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
