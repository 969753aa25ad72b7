"""What a study design costs: the default study's measured fits priced onto another design.

    python scripts/design_cost.py [--measured studies/recovery.yaml] [--design studies/full.yaml]

Reads the wall time of every fit of the measured study (``data/timing/``, written when its fits
ran: 2 workers on this machine's cores, fitted while the machine did other work too) and prices
the other design's unique fits (a dataset shared by two cells is fitted once) at the measured
median per estimator and data length, divided by the workers. Writes
``docs/benchmarks/design_cost.md``; prints the table.
"""

from __future__ import annotations

import argparse
import os
import platform

import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation.study import runtime_table
from mmm_recovery.evaluation.tasks import fingerprint, tasks


def _unique(study) -> pd.DataFrame:
    rows, seen = [], set()
    for t in tasks(study):
        fp = fingerprint(study, t)
        if fp in seen:
            continue
        seen.add(fp)
        rows.append(
            {
                "estimator": t.estimator,
                "n_weeks": study.scenario(t.scenario).n_weeks,
                "seed": t.seed,
            }
        )
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measured", default="studies/recovery.yaml")
    ap.add_argument("--design", default="studies/full.yaml")
    ap.add_argument("--out", default="docs/benchmarks/design_cost.md")
    args = ap.parse_args()
    measured = load_study(args.measured)
    times = runtime_table(measured)
    times = times[times["runtime_seconds"] > 0]  # shared records cost nothing
    if times.empty:
        raise SystemExit(f"no fit times of {args.measured} in data/timing/: run its study first")
    times["n_weeks"] = times["scenario"].map(lambda s: measured.scenario(s).n_weeks)
    per_est = times.groupby("estimator")["runtime_seconds"].median()
    lines = [
        "# What a study design costs",
        "",
        "Written by `scripts/design_cost.py`; do not edit by hand.",
        "",
        f"- Command: `python scripts/design_cost.py --measured {args.measured} --design "
        f"{args.design}`",
        f"- Measured: every fit of `{args.measured}` ({len(times)} fits with a wall time in "
        f"`data/timing/`), {measured.study.workers} workers on {os.cpu_count()} cores "
        f"({platform.machine()}), load average {os.getloadavg()[0]:.1f} when this was written; "
        "wall times, so they carry the machine's other load",
        "- Priced: each design's unique fits (a dataset two cells share is fitted once) at the "
        "measured median wall seconds of its estimator (its data length's median where measured), "
        "divided by the workers",
        "",
        "| study | datasets | unique fits | hours |",
        "|---|---|---|---|",
    ]
    med = times.groupby(["estimator", "n_weeks"])["runtime_seconds"].median()
    for name in (args.measured, args.design):
        study = load_study(name)
        fits = _unique(study)
        secs = [
            med.get((r.estimator, r.n_weeks), per_est.get(r.estimator, per_est.median()))
            for r in fits.itertuples()
        ]
        datasets = sum(study.replicates_of(s) for s in study.scenarios)
        hours = sum(secs) / study.study.workers / 3600
        lines.append(f"| `{name}` | {datasets} | {len(fits)} | {hours:.2f} |")
    lines += ["", "Median wall seconds per fit, measured:", "", "| estimator | fits | median s |"]
    lines += ["|---|---|---|"]
    for est, g in times.groupby("estimator"):
        lines.append(f"| {est} | {len(g)} | {g['runtime_seconds'].median():.1f} |")
    text = "\n".join(lines) + "\n"
    with files.atomic_path(paths.resolve(args.out)) as tmp:
        tmp.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
