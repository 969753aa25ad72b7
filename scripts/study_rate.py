"""What a study costs: seconds per fit per estimator, measured from a finished study's timings,
and what the default study at more replicates and the full study would take at that rate.

    python scripts/study_rate.py [--study studies/recovery.yaml] [--data-root data]
        [--target 20] [--full studies/full.yaml] [--out docs/benchmarks/study_rate.md]

It reads the wall time of every finished fit (``data/timing/``, written by the study's workers;
a batched fit's share of its batch) and the study's ``workers``. A fit's wall time was measured
with the study's other workers running beside it, so ``sum of fit times / workers`` is the
study's wall time on this machine, short of start-up and aggregation. It prints the projections
and writes a Markdown page; it never asserts a time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from mmm_recovery.core import paths
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.estimators import registry
    from mmm_recovery.evaluation.study import runtime_table
    from mmm_recovery.evaluation.tasks import tasks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--target", type=int, default=20, help="replicates per scenario to project")
    ap.add_argument("--full", default="studies/full.yaml")
    ap.add_argument("--out", default="docs/benchmarks/study_rate.md")
    args = ap.parse_args(argv)
    study = load_study(args.study)
    times = runtime_table(study, paths.resolve(args.data_root))
    if times.empty:
        print(f"error: no fit timings under {args.data_root}/timing; run the study first")
        return 2
    per_fit = times.groupby("estimator")["runtime_seconds"].agg(["count", "mean", "median"])
    workers = study.study.workers
    rate = per_fit["mean"].to_dict()

    def seconds(s, name: str) -> float:
        """Measured seconds per fit of estimator ``name`` of study ``s``; a variant not timed
        (e.g. ``frequentist_nrmse``) at the rate of the estimator it configures."""
        base = registry.resolve(name, s.estimators[name])[0]
        return rate.get(name, rate.get(base, float("nan")))

    def hours(s) -> float:
        """Hours of wall time for study ``s`` at the measured seconds per fit and its workers."""
        return sum(seconds(s, t.estimator) for t in tasks(s)) / workers / 3600

    measured = hours(study)
    target = study.model_copy(
        update={"study": study.study.model_copy(update={"replicates": args.target})}
    )
    full = load_study(args.full)
    rows = [
        f"| {est} | {int(r['count'])} | {r['mean']:.1f} | {r['median']:.1f} |"
        for est, r in per_fit.iterrows()
    ]
    body = [
        "| estimator | fits timed | mean s per fit | median s per fit |",
        "|---|---|---|---|",
        *rows,
        "",
        f"At {workers} workers (the study's `workers`), sum of fit times / workers:",
        "",
        "| study | fits | hours |",
        "|---|---|---|",
        f"| `{args.study}` as run ({study.study.replicates} replicates) | {len(tasks(study))} "
        f"| {measured:.2f} |",
        f"| the same at {args.target} replicates per scenario | {len(tasks(target))} "
        f"| {hours(target):.2f} |",
        f"| `{args.full}` ({full.study.replicates} replicates, {len(full.scenarios)} scenarios) "
        f"| {len(tasks(full))} | {hours(full):.2f} |",
        "",
        f"Per-scenario wall time grows linearly with the replicates: {args.target} replicates "
        f"per scenario take {hours(target) / measured:.1f} times the measured study.",
    ]
    page = write_page(
        args.out,
        "study_rate.py",
        "What a study costs at the measured rate",
        [f"- Timings: {len(times)} fits of `{args.study}` under `{args.data_root}/timing/`"],
        body,
        argv,
        with_jax=False,
    )
    print("\n".join(body))
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
