"""Where a frequentist fit spends its time, and what batching its searches could save.

    python scripts/bench_frequentist_fit.py [--study studies/recovery.yaml] [--scenario baseline]
        [--fits 2] [--out docs/benchmarks/frequentist_fit.md]

Fits the first ``--fits`` replicates of one scenario (the study's own seeds) with the study's
frequentist estimator and splits each fit's wall time into: Nevergrad's ``ask`` and ``tell``
(the optimizer and its parametrization, per candidate), the objective (adstock, saturation and
the Ridge fits of a batch of candidates: the part that evaluating many searches in one
vectorised call would share), and the rest (exact refits, cross-validation, summaries). The
timers wrap the real methods; nothing is replaced. It prints the split and the ceiling of any
speed-up that leaves Nevergrad's per-candidate work as it is (the fit time over the time that is
not the objective), and writes a Markdown table with the command, machine and load to ``--out``;
it never asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager


@contextmanager
def timed(owner: type, name: str, totals: dict[str, float], key: str):
    """Add the wall time of every call of ``owner.name`` to ``totals[key]`` while inside."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - t0

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--fits", type=int, default=2)
    ap.add_argument("--out", default="docs/benchmarks/frequentist_fit.md")
    args = ap.parse_args(argv)

    import nevergrad as ng
    from bench_batched import write_page  # a sibling script: python puts scripts/ on the path

    from mmm_recovery.core.results import FitInput
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.estimators.frequentist.objective import Objective
    from mmm_recovery.estimators.registry import estimator_for
    from mmm_recovery.simulation.simulate import simulate

    study = load_study(args.study)
    if args.fits > study.study.replicates:
        study = study.model_copy(
            update={"study": study.study.model_copy(update={"replicates": args.fits})}
        )
    est = estimator_for(study, "frequentist")
    cfg = est.config
    rows = []
    for r in range(args.fits):
        fi = FitInput.from_simulated(
            simulate(study.scenario(args.scenario), study.rng(args.scenario, r)),
            study.study.holdout_weeks,
        )
        totals = {"ask": 0.0, "tell": 0.0, "objective": 0.0}
        base = ng.optimizers.base.Optimizer
        with (
            timed(base, "ask", totals, "ask"),
            timed(base, "tell", totals, "tell"),
            timed(Objective, "objectives", totals, "objective"),
        ):
            t0 = time.perf_counter()
            est.fit(fi, study.estimator_rng(args.scenario, r, "frequentist"))
            total = time.perf_counter() - t0
        rows.append((r, total, totals["ask"] + totals["tell"], totals["objective"]))
        print(
            f"replicate {r}: {total:.1f} s; Nevergrad ask/tell {rows[-1][2]:.1f} s, "
            f"objective {rows[-1][3]:.1f} s, ceiling {total / (total - rows[-1][3]):.2f}x"
        )

    total = sum(r[1] for r in rows)
    nevergrad = sum(r[2] for r in rows)
    objective = sum(r[3] for r in rows)
    boot = cfg.bootstrap
    by = {
        "research": "Nevergrad re-searches",
        "de": "NumPy TwoPointsDE re-searches (no Nevergrad)",
        "reselect": "reselections (no search)",
    }[boot.method]
    per_replicate = boot.candidates if boot.method == "reselect" else boot.budget
    facts = [
        f"- Study: `{args.study}`, scenario `{args.scenario}`; optimizer {cfg.optimizer}, "
        f"{cfg.trials} trials x {cfg.budget} candidates asked and told in batches of "
        f"{cfg.batch_size}; bootstrap `{boot.method}`: {boot.replicates} {by} x "
        f"{per_replicate} evaluations",
        "- Nevergrad: its `ask` and `tell` (the optimizer and its parametrization, once per "
        "candidate). Objective: the adstocked, saturated designs and Ridge fits of each batch "
        "of candidates, the part that evaluating many searches in one call would share. "
        "Ceiling: the fit time over the time outside the objective, the most any batching of "
        "objective evaluations can gain while Nevergrad asks and tells each candidate.",
    ]
    lines = [
        "| replicate | fit seconds | Nevergrad ask/tell | objective | rest | ceiling |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r} | {t:.1f} | {n:.1f} ({n / t:.0%}) | {o:.1f} ({o / t:.0%}) | "
            f"{t - n - o:.1f} | {t / (t - o):.2f}x |"
            for r, t, n, o in rows
        ),
        f"| all | {total:.1f} | {nevergrad:.1f} ({nevergrad / total:.0%}) | "
        f"{objective:.1f} ({objective / total:.0%}) | {total - nevergrad - objective:.1f} | "
        f"{total / (total - objective):.2f}x |",
        "",
    ]
    out = write_page(
        args.out,
        "bench_frequentist_fit.py",
        "Frequentist fits: where the time goes",
        facts,
        lines,
        argv,
        with_jax=False,
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
