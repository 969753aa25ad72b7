"""What a study fit costs, today's path beside the new one, and what the studies cost at that rate.

    python scripts/study_rate.py [--study studies/recovery.yaml] [--replicates 2]
        [--replicates-one-path 1]
        [--estimators bayesian frequentist] [--no-cold] [--target 20]
        [--full studies/full.yaml] [--out docs/benchmarks/study_rate.md]

For each estimator, in this one process (a warm study worker), it fits the same datasets -- the
first ``--replicates`` replicates of every scenario of the study -- with the estimator's
reference settings (:data:`REFERENCE`: the path the study took before issue 33) and
with its settings as the study gives them, the two one after the other on each dataset, so a
change of load hits both. It reports wall and CPU seconds per fit (CPU: the whole process, every
thread), and the reference / new ratio of each pair (median and range). The first fit of each
path in the process compiles what later fits reuse: it is reported apart and left out of the
medians. ``--cold`` (default on) also times one first fit of the new path in a fresh process
with empty PyTensor and Numba caches (a machine's first study fit).

The implied study costs take the median CPU seconds per fit of each estimator and divide by the
study's workers (one core each): the wall time of a study that keeps its workers busy, short of
start-up and aggregation. It prints and writes a Markdown page; it never asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402

#: the settings that give each estimator's path before issue 33 (an estimator without an entry
#: has one path: timed once, ratio 1): PyMC-Marketing's own fit; the Nevergrad re-search bootstrap
REFERENCE: dict[str, dict[str, Any]] = {
    "bayesian": {"fit_path": "pymc-marketing"},
    "frequentist": {"bootstrap": {"method": "research"}},
}


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _estimator(study: Any, name: str, settings: dict[str, Any]) -> Any:
    from mmm_recovery.estimators.registry import estimator_for

    est = estimator_for(study, name)
    if settings:
        config = est.config
        est.config = type(config).model_validate(_merged(config.model_dump(), settings))
    return est


def _timed(est: Any, fit_input: Any, rng: Any) -> tuple[float, float, bool]:
    """Wall and CPU seconds of one fit, and whether it converged."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = est.fit(fit_input, rng)
    return time.perf_counter() - wall, time.process_time() - cpu, bool(result.converged)


def reference_name(study: Any, name: str) -> str:
    """The registered estimator a study's estimator ``name`` configures (a variant's base)."""
    from mmm_recovery.estimators import registry

    return registry.resolve(name, study.estimators[name])[0]


def pairs(study: Any, name: str, replicates: int) -> list[dict[str, Any]]:
    """One row per dataset and path: estimator, scenario, replicate, path, wall, cpu, first."""
    from mmm_recovery.evaluation.fitting import fit_input, simulated

    paths = {"reference": REFERENCE.get(reference_name(study, name)), "new": {}}
    ests = {p: _estimator(study, name, s) for p, s in paths.items() if s is not None}
    rows, seen = [], set()
    for scenario in study.scenarios:
        for rep in range(replicates):
            fi = fit_input(study, simulated(study, scenario, rep))
            for path, est in ests.items():
                rng = study.estimator_rng(scenario, rep, name, 0)
                wall, cpu, ok = _timed(est, fi, rng)
                rows.append(
                    {
                        "estimator": name,
                        "scenario": scenario,
                        "replicate": rep,
                        "path": path,
                        "wall": wall,
                        "cpu": cpu,
                        "converged": ok,
                        "first": path not in seen,
                    }
                )
                seen.add(path)
                print(
                    f"{name} {scenario} {rep} {path}: {wall:.1f} s wall, {cpu:.1f} s CPU",
                    flush=True,
                )
    return rows


def cold_first_fit(study_path: str, name: str) -> dict[str, float]:
    """Wall and CPU seconds of the first fit (baseline replicate 0) in a fresh process with
    empty PyTensor and Numba caches."""
    code = (
        "import json,time,sys\n"
        "from mmm_recovery.core.spec import load_study\n"
        "from mmm_recovery.evaluation.fitting import fit_input, simulated\n"
        "from mmm_recovery.estimators.registry import estimator_for\n"
        f"s = load_study({study_path!r}); name = {name!r}\n"
        "sc = next(iter(s.scenarios)); fi = fit_input(s, simulated(s, sc, 0))\n"
        "est = estimator_for(s, name)\n"
        "w, c = time.perf_counter(), time.process_time()\n"
        "est.fit(fi, s.estimator_rng(sc, 0, name, 0))\n"
        "print(json.dumps({'wall': time.perf_counter() - w, 'cpu': time.process_time() - c}))\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTENSOR_FLAGS": f"compiledir={tmp}/pytensor,generated_src_dir={tmp}/src",
            "NUMBA_CACHE_DIR": f"{tmp}/numba",
        }
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from mmm_recovery.core.spec import load_study
    from mmm_recovery.estimators import registry
    from mmm_recovery.evaluation.tasks import tasks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument(
        "--replicates", type=int, default=2, help="replicates per scenario to time, both paths"
    )
    ap.add_argument(
        "--replicates-one-path",
        type=int,
        default=1,
        help="replicates per scenario to time for an estimator with one path",
    )
    ap.add_argument("--estimators", nargs="*", help="default: every estimator of the study")
    ap.add_argument("--no-cold", dest="cold", action="store_false")
    ap.add_argument("--target", type=int, default=20, help="replicates per scenario to project")
    ap.add_argument("--full", default="studies/full.yaml")
    ap.add_argument("--out", default="docs/benchmarks/study_rate.md")
    args = ap.parse_args(argv)
    study = load_study(args.study)
    names = args.estimators or list(study.estimators)
    rows = [
        r
        for name in names
        for r in pairs(
            study,
            name,
            args.replicates
            if reference_name(study, name) in REFERENCE
            else args.replicates_one_path,
        )
    ]
    df = pd.DataFrame(rows)
    warm = df[~df["first"]]
    body = [
        "| estimator | path | fits | median wall s | median CPU s | mean CPU s | first fit wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, path), g in df.groupby(["estimator", "path"], sort=False):
        w = warm[(warm["estimator"] == name) & (warm["path"] == path)]
        first = g[g["first"]]["wall"].iloc[0]
        body.append(
            f"| {name} | {path} | {len(w)} | {w['wall'].median():.1f} | {w['cpu'].median():.1f} "
            f"| {w['cpu'].mean():.1f} | {first:.1f} |"
        )
    body += [
        "",
        "Warm fits are all but each path's first in the process; they include a first fit of a "
        "new data shape (each worker compiles each shape once: a shorter history, a set of lift "
        "tests), which the mean carries and the median does not.",
        "",
        "Ratio reference / new, pair by pair on the same dataset (warm fits):",
        "",
        "| estimator | pairs | wall median (range) | CPU median (range) |",
        "|---|---|---|---|",
    ]
    cpu_rate: dict[str, float] = {}
    compile_cpu: dict[str, float] = {}
    for name in names:
        w = warm[warm["estimator"] == name]
        new = w[w["path"] == "new"].set_index(["scenario", "replicate"])
        cpu_rate[name] = float(new["cpu"].median())
        first = df[(df["estimator"] == name) & (df["path"] == "new") & df["first"]]["cpu"]
        compile_cpu[name] = max(float(first.iloc[0]) - cpu_rate[name], 0.0)
        ref = w[w["path"] == "reference"].set_index(["scenario", "replicate"])
        if ref.empty:
            body.append(f"| {name} | 0 | one path (no reference settings) | |")
            continue
        both = ref[["wall", "cpu"]].add_suffix("_ref").join(new[["wall", "cpu"]], how="inner")
        rw, rc = both["wall_ref"] / both["wall"], both["cpu_ref"] / both["cpu"]
        body.append(
            f"| {name} | {len(both)} | {rw.median():.2f} ({rw.min():.2f}-{rw.max():.2f}) "
            f"| {rc.median():.2f} ({rc.min():.2f}-{rc.max():.2f}) |"
        )
    if args.cold:
        body += ["", "First fit in a fresh process with empty PyTensor and Numba caches:", ""]
        for name in names:
            c = cold_first_fit(str(study.source), name)
            body.append(f"- {name}: {c['wall']:.1f} s wall, {c['cpu']:.1f} s CPU")

    workers = study.study.workers

    def rate(s: Any, name: str) -> float:
        """Median CPU seconds per fit of estimator ``name`` of study ``s``; one not timed at the
        rate of the estimator it configures (NaN if that was not timed either)."""
        base = registry.resolve(name, s.estimators[name])[0]
        return cpu_rate.get(name, cpu_rate.get(base, float("nan")))

    def hours(s: Any) -> float:
        """CPU-bound wall hours of study ``s`` at the measured median CPU seconds per fit, plus
        each worker compiling each scenario's data shape once (an upper bound: scenarios share
        shapes) at the first fit's extra CPU seconds."""
        fits = sum(rate(s, t.estimator) for t in tasks(s))
        compiles = sum(
            compile_cpu.get(registry.resolve(n, s.estimators[n])[0], compile_cpu.get(n, 0.0))
            for n in s.estimators
        )
        return (fits + compiles * len(s.scenarios) * workers) / 3600 / workers

    target = study.model_copy(
        update={"study": study.study.model_copy(update={"replicates": args.target})}
    )
    full = load_study(args.full)
    converged = df.groupby(["estimator", "path"])["converged"].mean()
    body += [
        "",
        f"Study cost at the new path's median CPU seconds per fit, {workers} workers on "
        f"{workers} cores (sum of CPU seconds / workers), with each worker compiling each "
        "scenario's data shape once (the first fit's extra CPU seconds: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in compile_cpu.items())
        + "):",
        "",
        "| study | fits | hours |",
        "|---|---|---|",
        f"| `{args.study}` ({study.study.replicates} replicates) | {len(tasks(study))} "
        f"| {hours(study):.2f} |",
        f"| the same at {args.target} replicates per scenario | {len(tasks(target))} "
        f"| {hours(target):.2f} |",
        f"| `{args.full}` ({full.study.replicates} replicates, {len(full.scenarios)} scenarios) "
        f"| {len(tasks(full))} | {hours(full):.2f} |",
        "",
        "Share of timed fits that converged: "
        + ", ".join(f"{e} {p} {v:.0%}" for (e, p), v in converged.items()),
    ]
    load = os.getloadavg()[0]
    page = write_page(
        args.out,
        "study_rate.py",
        "What a study fit costs: today's path beside the new one",
        [
            f"- Datasets: replicates 0..{args.replicates - 1} of each of the {len(study.scenarios)} "
            f"scenarios of `{args.study}` (0..{args.replicates_one_path - 1} for an estimator "
            "with one path); both paths fit each, one after the other",
            f"- Load average at the end: {load:.1f} (CPU seconds are steadier than wall time)",
        ],
        body,
        argv,
        with_jax=True,
    )
    print("\n".join(body))
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
