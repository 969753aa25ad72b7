"""Speed-up per added Dask worker: the same study tasks on a LocalCluster of 1, 2, ... workers.

    python scripts/bench_cluster.py [--study studies/recovery.yaml] [--estimator frequentist]
        [--replicates 1] [--workers 1 2 4] [--out docs/benchmarks/cluster.md]

A copy of ``--study`` with one estimator and ``--replicates`` replicates per scenario (its SBC
block and seed-stability subset dropped) runs through ``run_study`` on a fresh ``distributed.LocalCluster`` (processes,
one thread each, loopback) per worker count, each into an empty data folder, so every run fits
every task. It prints wall times, the speed-up over one worker and the efficiency (speed-up /
workers), checks that every run wrote the same records, and writes a Markdown page; it never
asserts a time. Worker counts above the machine's cores show where adding workers stops paying.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    import yaml
    from distributed import LocalCluster

    from mmm_recovery.core import paths
    from mmm_recovery.core.files import read_json
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.evaluation.scheduler import SCHEDULER_ENV
    from mmm_recovery.evaluation.study import run_study
    from mmm_recovery.evaluation.tasks import tasks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--estimator", default="frequentist")
    ap.add_argument("--replicates", type=int, default=1)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--out", default="docs/benchmarks/cluster.md")
    args = ap.parse_args(argv)
    raw = yaml.safe_load(paths.resolve(args.study).read_text())
    raw["study"]["replicates"] = args.replicates
    raw["estimators"] = {args.estimator: raw["estimators"][args.estimator]}
    raw.pop("sbc", None)
    raw["study"].pop("seed_stability", None)
    walls: dict[int, float] = {}
    records: dict[int, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "study.yaml"
        f.write_text(yaml.safe_dump(raw))
        study = load_study(f)
        for n in args.workers:
            data = Path(tmp) / f"data_{n}"
            with LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster:
                os.environ[SCHEDULER_ENV] = cluster.scheduler_address
                t0 = time.perf_counter()
                run_study(study, data_root=data, progress=False)
                walls[n] = time.perf_counter() - t0
            records[n] = [{k: v for k, v in read_json(t.path(data)).items()} for t in tasks(study)]
            print(f"{n} worker(s): {walls[n]:.1f} s for {len(tasks(study))} fits", flush=True)
        os.environ.pop(SCHEDULER_ENV, None)
    first = args.workers[0]
    same = all(records[n] == records[first] for n in args.workers)
    rows = [
        f"| {n} | {walls[n]:.1f} | {walls[first] / walls[n]:.2f} | "
        f"{walls[first] / walls[n] / (n / first):.2f} |"
        for n in args.workers
    ]
    body = [
        f"{len(tasks(study))} fits ({args.estimator}, {len(study.scenarios)} scenarios x "
        f"{args.replicates} replicates of `{args.study}`) per run; every run wrote "
        + ("the same records." if same else "DIFFERENT records (see the study's records)."),
        "",
        f"| workers | wall (s) | speed-up over {first} | efficiency |",
        "|---|---|---|---|",
        *rows,
    ]
    page = write_page(
        args.out,
        "bench_cluster.py",
        "Speed-up per added Dask worker (LocalCluster on loopback)",
        [f"- Cores: {os.cpu_count()}; one thread per worker process"],
        body,
        argv,
        with_jax=False,
    )
    print("\n".join(body))
    print(f"wrote {page}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
