"""Fits per minute: the per-dataset Bayesian path against the batched one, same datasets, same run.

    python scripts/bench_batched.py [--study studies/recovery.yaml] [--scenario baseline]
        [--k 1 8 32] [--single 4] [--out docs/benchmarks/batched.md]

Simulates ``max(k)`` replicates of one scenario (the study's own seeds), fits the first
``--single`` of them one at a time with :meth:`BayesianMMM.fit` (the per-dataset path: its fits
per minute do not depend on K), then, for each K, the first K with one
:meth:`BayesianMMM.fit_batch` call. Every timing includes model building, compilation, sampling
and the post-processing each fit does (prior predictive, deterministics, predictions,
log-likelihood, summaries), and a fresh compilation per call (nothing cached between calls but
what PyTensor and JAX cache themselves). It prints the ratios and writes a Markdown table (with
the command, the machine and its load) to ``--out``; it never asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def machine(with_jax: bool = True) -> str:
    """The machine a benchmark ran on, in words (cores, load and, ``with_jax``, JAX's devices);
    ``scripts/bench_frequentist_fit.py`` uses it too."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    text = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} at the end"
    )
    if not with_jax:
        return text
    import jax

    devices = ", ".join(sorted({f"{d.platform}:{d.device_kind}" for d in jax.devices()}))
    return f"{text}; JAX {jax.__version__} on {devices}"


def write_page(
    out: str,
    script: str,
    title: str,
    facts: list[str],
    body: list[str],
    argv: list[str] | None = None,
    with_jax: bool = True,
) -> Path:
    """Write a benchmark's Markdown page to ``out`` (atomically): ``title``, that ``script``
    wrote it, the command (``argv``, default the process's), the machine, ``facts`` (list
    items) and ``body``; the other bench scripts use it too."""
    from mmm_recovery.core import paths
    from mmm_recovery.core.files import atomic_path

    command = f"python scripts/{script} " + " ".join(argv or sys.argv[1:])
    lines = [
        f"# {title}",
        "",
        f"Written by `scripts/{script}`; do not edit by hand.",
        "",
        f"- Command: `{command.strip()}`",
        f"- Machine: {machine(with_jax)}",
        *facts,
        "",
        *body,
    ]
    path = paths.resolve(out)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


GRAD_REPEATS = 1000


def lane_scaling(batched, cfg, fit_input, lanes: list[int]) -> list[tuple[int, float]]:
    """Microseconds per call of the log density's gradient for each lane count (one dataset's
    data and initial point, copied into every lane), timed after a warm-up call."""
    import jax
    import jax.numpy as jnp

    bm = batched.compile_batched(cfg, [fit_input], [0])
    data = [jnp.asarray(d[0]) for d in bm.data]
    grad = jax.grad(lambda z: bm.logp_fn(*z, *data)[0])

    def loop(z):  # each step depends on the last, so nothing is hoisted out of the loop
        def body(_, z):
            return [a + 1e-9 * b for a, b in zip(z, grad(z), strict=True)]

        return jax.lax.fori_loop(0, GRAD_REPEATS, body, z)

    z0 = [jnp.asarray(p) for p in bm.initial_points[0][0]]
    rows = []
    for n in sorted(set(lanes) | {1}):
        f = jax.jit(jax.vmap(loop))
        z = [jnp.broadcast_to(a, (n, *a.shape)) for a in z0]
        jax.block_until_ready(f(z))
        t0 = time.perf_counter()
        jax.block_until_ready(f(z))
        rows.append((n, (time.perf_counter() - t0) / GRAD_REPEATS * 1e6))
        print(f"gradient, {n} lanes: {rows[-1][1]:.1f} us per call, {rows[-1][1] / n:.1f} per lane")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--k", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--single", type=int, default=4, help="datasets fitted one at a time")
    ap.add_argument("--out", default="docs/benchmarks/batched.md")
    ap.add_argument(
        "--sample-only",
        action="store_true",
        help="time only the sampling (compilation, NUTS, constrained draws): the per-dataset "
        "fit's sampling step against batched.sample, without each fit's post-processing",
    )
    ap.add_argument(
        "--lanes",
        type=int,
        nargs="*",
        default=[1, 4, 16, 64],
        help="also time one gradient of the model's log density for this many lanes under "
        "jax.vmap (the cost per lane says whether lock-step batching can pay on this device)",
    )
    args = ap.parse_args(argv)

    from mmm_recovery.core import paths
    from mmm_recovery.core.results import FitInput
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.estimators.bayesian.estimator import BayesianMMM
    from mmm_recovery.estimators.bayesian.model import ensure_jax_devices
    from mmm_recovery.simulation.simulate import simulate

    study = load_study(args.study)
    est = BayesianMMM(study.estimators["bayesian"])
    ensure_jax_devices(est.config.chains)  # the per-dataset path runs its chains in parallel
    n = max(max(args.k), args.single)
    if n > study.study.replicates:
        study = study.model_copy(update={"study": study.study.model_copy(update={"replicates": n})})
    inputs = [
        FitInput.from_simulated(
            simulate(study.scenario(args.scenario), study.rng(args.scenario, r)),
            study.study.holdout_weeks,
        )
        for r in range(n)
    ]

    def rng(r: int):
        return study.estimator_rng(args.scenario, r, "bayesian")

    from mmm_recovery.estimators.bayesian import batched
    from mmm_recovery.estimators.bayesian.diagnostics import convergence_diagnostics
    from mmm_recovery.estimators.bayesian.estimator import peek_seeds

    def converged(idata) -> bool:
        names = [v for v in ("adstock_alpha", "saturation_lam") if v in idata["posterior"]]
        return convergence_diagnostics(idata, names, est.config.thresholds)["converged"]

    def write() -> None:
        """The table so far (rewritten after every row, so a run stopped at a time limit
        leaves the rows it finished)."""
        cfg = est.config
        facts = [
            f"- Study: `{args.study}`, scenario `{args.scenario}`: {len(inputs[0].data)} weeks, "
            f"{len(inputs[0].channels)} channels; {cfg.chains} chains x ({cfg.tune} tune + "
            f"{cfg.draws} draws), target accept {cfg.target_accept}",
            (
                "- Sampling only: model building, compilation, NUTS and the constrained draws (the "
                "per-dataset row is each fit's own sampling step); no post-processing. Converged: "
                "the per-dataset fit's verdict; for a batch, the same thresholds on decay and lam."
                if args.sample_only
                else "- Every time includes model building, compilation, sampling and each fit's "
                "post-processing."
            ),
        ]
        lines = [
            "| path | datasets | seconds | fits / minute | x per-dataset | converged |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {name} | {k} | {s:.1f} | {rate:.2f} | {ratio:.2f} | {c}/{k} |"
                for name, k, s, rate, ratio, c in rows
            ),
            "",
        ]
        if lane_rows:
            lines += [
                "## One gradient of the log density, per lane",
                "",
                "The model's log density and gradient (the work of one NUTS leapfrog step) for "
                "L copies of the first dataset under one `jax.vmap`, in a compiled loop of "
                f"{GRAD_REPEATS} evaluations: lock-step batching pays only where a lane costs much "
                "less in a batch than alone.",
                "",
                "| lanes | microseconds per call | per lane | x one lane alone |",
                "|---:|---:|---:|---:|",
                *(
                    f"| {n} | {t:.1f} | {t / n:.1f} | {t / n / lane_rows[0][1]:.2f} |"
                    for n, t in lane_rows
                ),
                "",
            ]
        write_page(
            args.out,
            "bench_batched.py",
            "Batched Bayesian fitting: fits per minute",
            facts,
            lines,
            argv,
        )

    lane_rows = lane_scaling(batched, est.config, inputs[0], args.lanes) if args.lanes else []
    rows: list[tuple[str, int, float, float, float, int]] = []
    t0 = time.perf_counter()
    single = [est.fit(inputs[r], rng(r)) for r in range(args.single)]
    seconds = time.perf_counter() - t0
    if args.sample_only:
        seconds = sum(r.timing["sample_seconds"] for r in single)
    base_rate = 60.0 * args.single / seconds
    n_ok = sum(r.converged for r in single)
    rows.append(("per-dataset", args.single, seconds, base_rate, 1.0, n_ok))
    write()
    print(f"per-dataset: {args.single} fits in {seconds:.1f} s, {base_rate:.2f} fits/min")
    for k in args.k:
        t0 = time.perf_counter()
        if args.sample_only:
            seeds = [int(peek_seeds(rng(r))[1]) for r in range(k)]
            idatas, _ = batched.sample(est.config, inputs[:k], seeds)
            oks = [converged(i) for i in idatas]
        else:
            oks = [r.converged for r in est.fit_batch(inputs[:k], [rng(r) for r in range(k)])]
        seconds = time.perf_counter() - t0
        rate = 60.0 * k / seconds
        converged_k = sum(oks)
        rows.append(
            (
                f"batched K={k}, {batched.lane_layout(est.config)}",
                k,
                seconds,
                rate,
                rate / base_rate,
                converged_k,
            )
        )
        write()
        print(
            f"batched K={k}: {seconds:.1f} s, {rate:.2f} fits/min, "
            f"{rate / base_rate:.2f}x the per-dataset path ({converged_k}/{k} converged)"
        )

    write()
    print(f"wrote {paths.resolve(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
