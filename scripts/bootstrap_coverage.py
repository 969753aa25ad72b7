"""Does the frequentist bootstrap still cover? Nevergrad's re-search beside the other methods.

    python scripts/bootstrap_coverage.py [--study studies/recovery.yaml] [--replicates 3]
        [--shard 0/1] [--records .cache/bench/bootstrap_coverage.csv]
        [--out docs/benchmarks/bootstrap_coverage.md]

Fits the first ``--replicates`` replicates of every scenario of the study with the frequentist
estimator once per ``bootstrap.method``: ``research`` (a new 300-evaluation Nevergrad search per
replicate, started from the chosen model: the interval the study gave before issue 33), ``de``
(the same re-search as TwoPointsDE runs it, in NumPy: the study's setting) and ``reselect``
(no search: the selection rule among the search's most competitive models). Same dataset,
same search, same resampled weeks per replicate: only what each replicate re-optimises
differs. Each fit is scored against the truth as the study scores it
(:func:`mmm_recovery.evaluation.score.compare`), at the interval level and at every calibration
level.

It reports, per nominal level and per quantity, each method's coverage and its paired
difference from ``research`` with the standard error clustered by dataset (the mean over a
dataset's channels and quantities is one observation), the median width ratio, and the CPU
seconds of each method's fits. Rows go to ``--records`` as each dataset finishes (a rerun skips
the datasets there; ``--shard i/n`` takes every n-th dataset from the i-th, so n processes share
the work); every run rewrites the page from all records. It never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402

#: the reference first
METHODS = ("research", "de", "reselect")


def fit_rows(study: Any, scenario: str, replicate: int) -> list[dict[str, Any]]:
    """Both methods' comparison rows for one dataset, with the fit's CPU seconds."""
    from mmm_recovery.estimators.registry import estimator_for
    from mmm_recovery.evaluation import score
    from mmm_recovery.evaluation.fitting import fit_input, record_fields, simulated

    data = simulated(study, scenario, replicate)
    fi = fit_input(study, data)
    rows = []
    for method in METHODS:
        est = estimator_for(study, "frequentist")
        boot = est.config.bootstrap.model_copy(update={"method": method})
        est.config = est.config.model_copy(update={"bootstrap": boot})
        cpu = time.process_time()
        result = est.fit(fi, study.estimator_rng(scenario, replicate, "frequentist", 0))
        cpu = time.process_time() - cpu
        rec = record_fields(data, result)
        max_spend = {c: v["max"] for c, v in rec["spend"].items()}
        table = score.compare(rec["result"], rec["truth"], max_spend)
        table = table[table["covered"].notna()]
        for r in table.to_dict("records"):
            rows.append(
                {"scenario": scenario, "replicate": replicate, "method": method, "cpu": cpu, **r}
            )
    return rows


def summarise(df: Any, level: float) -> tuple[list[str], list[str]]:
    """Facts and the Markdown body from all records."""
    import pandas as pd

    from mmm_recovery.evaluation.score import COVERED_AT

    df = df.copy()
    df[f"{COVERED_AT}{level:g}"] = df["covered"]
    levels = sorted({float(c[len(COVERED_AT) :]) for c in df.columns if c.startswith(COVERED_AT)})
    key = ["scenario", "replicate", "channel", "quantity"]
    wide = df.pivot_table(
        index=key,
        columns="method",
        values=[f"{COVERED_AT}{lv:g}" for lv in levels] + ["width"],
    )
    datasets = wide.reset_index()[["scenario", "replicate"]].drop_duplicates()
    n = len(datasets)

    def paired(col: str, frame: Any, method: str) -> tuple[float, float, float, float]:
        """Both methods' coverage over the rows both have, their difference (a ratio
        estimator: every interval weighs the same) and its SE clustered by dataset."""
        both = frame[[(col, "research"), (col, method)]].dropna()
        a, b = both[(col, "research")], both[(col, method)]
        by = (b - a).groupby(level=["scenario", "replicate"])
        total, rows = by.sum(), by.size()
        g = len(total)
        d = float(total.sum() / rows.sum()) if g else np.nan
        se = (
            float(np.sqrt(g / (g - 1) * ((total - rows * d) ** 2).sum()) / rows.sum())
            if g > 1
            else np.nan
        )
        return float(a.mean()), float(b.mean()), d, se

    def ratio(d: float, se: float) -> str:
        return f"{d / se:+.1f}" if se > 0 else "n/a"

    others = [m for m in METHODS[1:] if (f"{COVERED_AT}{level:g}", m) in wide.columns]
    if not others:
        return [f"- Datasets: {n}; no method beside research in the records"], []
    body = [
        "Coverage pooled over channels and quantities (ROAS, marginal ROAS, contribution share "
        "and every parameter the truth shares), and each method's paired difference from "
        f"`research` with its SE clustered by dataset ({n} datasets):",
        "",
        "| nominal | research | "
        + " | ".join(f"{m} | {m} - research (SE) | / SE" for m in others)
        + " |",
        "|---|---|" + "---|---|---|" * len(others),
    ]
    for lv in levels:
        cells = []
        for m in others:
            a, b, d, se = paired(f"{COVERED_AT}{lv:g}", wide, m)
            cells.append(f"{b:.3f} | {d:+.3f} ({se:.3f}) | {ratio(d, se)}")
        body.append(f"| {lv:g} | {a:.3f} | " + " | ".join(cells) + " |")
    for m in others:
        body += [
            "",
            f"Per quantity, `{m}` - `research` at each nominal level (SE), and the median ratio "
            "of interval widths:",
            "",
            "| quantity | " + " | ".join(f"{lv:g}" for lv in levels) + " | width ratio |",
            "|---|" + "---|" * (len(levels) + 1),
        ]
        for q, g in wide.groupby(level="quantity"):
            cells = []
            for lv in levels:
                _, _, d, se = paired(f"{COVERED_AT}{lv:g}", g, m)
                cells.append(f"{d:+.3f} ({se:.3f})")
            ratio = (g[("width", m)] / g[("width", "research")]).median()
            body.append(f"| {q} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    body += [
        "",
        f"Per scenario, coverage at the interval level ({level:g}):",
        "",
        "| scenario | research | " + " | ".join(f"{m} (difference, SE)" for m in others) + " |",
        "|---|---|" + "---|" * len(others),
    ]
    for s, g in wide.groupby(level="scenario", sort=False):
        cells = []
        for m in others:
            a, b, d, se = paired(f"{COVERED_AT}{level:g}", g, m)
            cells.append(f"{b:.3f} ({d:+.3f}, {se:.3f})")
        body.append(f"| {s} | {a:.3f} | " + " | ".join(cells) + " |")
    cpu = df.drop_duplicates(["scenario", "replicate", "method"]).pivot_table(
        index=["scenario", "replicate"], columns="method", values="cpu"
    )
    facts = [f"- Datasets: {n} ({', '.join(pd.unique(datasets['scenario']))})"]
    for m in others:
        ratio = cpu["research"] / cpu[m]
        facts.append(
            f"- CPU seconds per fit, median: research {cpu['research'].median():.1f}, {m} "
            f"{cpu[m].median():.1f}; research / {m} per dataset: median {ratio.median():.2f} "
            f"(range {ratio.min():.2f}-{ratio.max():.2f})"
        )
    facts.append(
        "- CPU seconds are the fitting process's own; shards run side by side share the cores "
        f"(load average when this page was written: {os.getloadavg()[0]:.1f})"
    )
    return facts, body


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from mmm_recovery.core import paths
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.estimators.registry import estimator_for

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--replicates", type=int, default=3)
    ap.add_argument("--shard", default="0/1", help="i/n: every n-th dataset from the i-th")
    ap.add_argument("--records", default=".cache/bench/bootstrap_coverage.csv")
    ap.add_argument("--out", default="docs/benchmarks/bootstrap_coverage.md")
    args = ap.parse_args(argv)
    study = load_study(args.study)
    # replicates past the study's own are further datasets of its scenarios (a dataset's seed
    # does not depend on the study's replicate count)
    study = study.model_copy(
        update={"study": study.study.model_copy(update={"replicates": args.replicates})}
    )
    i, n = (int(x) for x in args.shard.split("/"))
    records = paths.ROOT / args.records
    records.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if records.exists():
        old = pd.read_csv(records)
        done = set(zip(old["scenario"], old["replicate"], strict=True))
    todo = [(s, r) for r in range(args.replicates) for s in study.scenarios]
    for k, (scenario, rep) in enumerate(todo):
        if k % n != i or (scenario, rep) in done:
            continue
        rows = pd.DataFrame(fit_rows(study, scenario, rep))
        rows.to_csv(records, mode="a", header=not records.exists(), index=False)
        print(f"{scenario} {rep}: done", flush=True)
    df = pd.read_csv(records)
    level = estimator_for(study, "frequentist").config.bootstrap.level
    facts, body = summarise(df, level)
    write_page(
        args.out,
        "bootstrap_coverage.py",
        "The frequentist bootstrap: Nevergrad's re-search beside the other methods",
        facts,
        body,
        argv,
        with_jax=False,
    )
    print("\n".join(facts + body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
