"""Do reproduced metrics agree with the committed ones within their Monte Carlo error?

    python -m mmm_recovery.evaluation.verify [--metrics-dir reports/metrics] [--reference HEAD]
    make verify

On another machine the last bits of floating-point results differ, so the hashes of a
reproduction differ too; what must agree are the study's conclusions. This compares the
reproduced cells with the committed ones (read from git at ``--reference``, or from a folder with
``--reference-dir``), both aggregated by :mod:`mmm_recovery.evaluation.performance` from their
``comparisons.csv`` and ``fits.csv``: per scenario (and every scenario pooled) x estimator x
quantity, channel averages and, pooled over scenarios, each channel:

* **coverage**, **bias** (mean error), **mean |rel. error|** and the **regret share** (per fit):
  the difference of the two values in units of the **SE of a difference**,
  ``sqrt(se_committed^2 + se_reproduced^2)``, each a fit-clustered Monte Carlo SE; for a
  coverage whose SE is not estimable (too few fits, or every interval covering), the SE of a
  difference of two shares at their effective numbers of intervals;
* **family-wise**: the two-sided normal p-values of all cells are Holm-adjusted together, and a
  cell disagrees when its adjusted p-value is at most
  :data:`~mmm_recovery.evaluation.calibration.ALPHA`, so a faithful reproduction is called
  faithful with probability at least 0.95, however many cells there are;
* a mean whose SE is not estimable (fewer than :data:`~.performance.MIN_FITS` fits) is *not
  testable* and says so.

A reproduction from the same simulated data (the default) is correlated with the committed run,
so it moves far less than independent runs would; a disagreement is worth a look. It prints one
line per cell and exits 1 if any cell disagrees, 2 if the metrics cannot be read.
"""

from __future__ import annotations

import argparse
import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mmm_recovery.core import files, paths
from mmm_recovery.evaluation import performance
from mmm_recovery.evaluation.calibration import ALPHA, holm

KEYS = ["scenario", "estimator", "quantity", "channel"]
FILES = ("comparisons.csv", "fits.csv")


class VerifyError(ValueError):
    """The committed or reproduced metrics cannot be read."""


def read_reference(rev: str, metrics_dir: str = "reports/metrics") -> dict[str, pd.DataFrame]:
    """The metrics files as committed at git revision ``rev``."""
    out = {}
    for name in FILES:
        spec = f"{rev}:{Path(metrics_dir).as_posix()}/{name}"
        proc = subprocess.run(
            ["git", "show", spec], cwd=paths.ROOT, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise VerifyError(f"git show {spec}: {proc.stderr.strip() or 'failed'}")
        out[name] = _frame(io.StringIO(proc.stdout), spec, name)
    return out


#: columns each metrics file must have for the comparison
REQUIRED = {
    "comparisons.csv": (
        *KEYS,
        "estimate",
        "truth",
        "lower",
        "upper",
        "covered",
        "error",
        "rel_error",
    ),
    "fits.csv": ("scenario", "estimator", "regret_share_of_lift"),
}


def _frame(source: Path | io.StringIO, label: object, name: str) -> pd.DataFrame:
    """A metrics file read and checked for the columns the comparison needs."""
    try:
        df = pd.read_csv(source)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise VerifyError(f"{label}: not a readable metrics CSV ({exc})") from None
    missing = [c for c in REQUIRED[name] if c not in df.columns]
    if missing:
        raise VerifyError(f"{label}: missing column(s) {', '.join(missing)}")
    if name == "comparisons.csv":
        _check_derived(df, label)
    return df


#: relative slack for the derived columns: metrics are written to 6 significant digits
ROUNDING = 1e-5


def _check_derived(df: pd.DataFrame, label: object) -> None:
    """Refuse a comparisons file whose ``error``, ``rel_error`` or ``covered`` do not follow from
    its ``estimate``, ``truth``, ``lower`` and ``upper`` (a hand edit of one of them): the
    verdicts use the derived columns, so an edited estimate would otherwise pass unseen."""
    est, truth, lo, hi = (
        pd.to_numeric(df[c], errors="coerce") for c in ("estimate", "truth", "lower", "upper")
    )
    scale = est.abs() + truth.abs()
    slack = ROUNDING * scale + 1e-12
    error = est - truth
    bad = {
        "error": (df["error"] - error).abs() > slack,
        "rel_error": truth.ne(0)
        & ((df["rel_error"] - error / truth.abs()).abs() > ROUNDING * (1 + (scale / truth.abs()))),
        "covered": df["covered"].notna()
        & (
            ((df["covered"] == 1) & ((truth < lo - slack) | (truth > hi + slack)))
            | ((df["covered"] == 0) & (truth > lo + slack) & (truth < hi - slack))
        ),
    }
    for col, rows in bad.items():
        if rows.any():
            line = int(rows.to_numpy().nonzero()[0][0]) + 2  # header, 1-based
            raise VerifyError(
                f"{label}: line {line}: column {col!r} does not follow from estimate, truth, "
                f"lower and upper ({int(rows.sum())} row(s)); was the file edited?"
            )


def read_dir(folder: Path, hint: str = "") -> dict[str, pd.DataFrame]:
    """The metrics files in ``folder``; ``hint`` follows a not-found or unreadable message."""
    out = {}
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise VerifyError(f"{path}: not found{hint}")
        out[name] = _frame(path, path, name)
    summary = folder / "study.json"  # not compared (it is computed from the rows above), but
    if summary.is_file():  # the reports and `dvc metrics show` read it: it must parse
        try:
            files.read_json(summary)
        except ValueError as exc:
            raise VerifyError(f"{exc}{hint}") from None
    return out


def cell_stats(comparisons: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """One row per cell x metric: value, its fit-clustered MC-SE and, for coverage, the
    effective number of intervals (:mod:`~mmm_recovery.evaluation.performance`)."""
    perf = performance.performance(comparisons, {}) if len(comparisons) else pd.DataFrame()
    rows = []
    if len(perf):
        keep = (perf["channel"] == performance.ALL) | (perf["scenario"] == performance.ALL)
        for metric, col in METRICS:
            sel = perf[keep & perf[col].notna()]
            rows.append(
                sel[KEYS].assign(
                    metric=metric,
                    value=sel[col],
                    se=sel[f"{col}_se"],
                    n=sel["n_eff"] if metric == "coverage" else sel["fits"],
                )
            )
    if len(fits):
        ok = fits[fits["status"] == "ok"].assign(channel=performance.ALL, quantity="budget")
        m = performance.cell_means(ok, ["estimator", "quantity"], ["regret_share_of_lift"])
        m = m[m["channel"] == performance.ALL].drop_duplicates(KEYS)
        rows.append(
            m[KEYS].assign(
                metric="regret share",
                value=m["regret_share_of_lift"],
                se=m["regret_share_of_lift_se"],
                n=m["fits"],
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*KEYS, "metric"])


#: the metrics of a comparison cell: (name, column of ``performance.csv``)
METRICS = (("coverage", "coverage"), ("bias", "bias"), ("mean |rel. error|", "mean_abs_rel_error"))


def share_difference_se(p1: float, n1: float, p2: float, n2: float) -> float:
    """Standard error of the difference of two binomial shares ``p1`` of ``n1`` and ``p2`` of
    ``n2`` under a common share (pooled)."""
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    return math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def _difference_se(r: Any) -> float:
    se = math.hypot(r.se, r.se_new) if np.isfinite(r.se) and np.isfinite(r.se_new) else math.nan
    if r.metric == "coverage" and not se > 0:
        se = share_difference_se(r.value, r.n, r.value_new, r.n_new)
    return se


def compare(
    reference: dict[str, pd.DataFrame], reproduced: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Committed against reproduced cells with a verdict each (see the module docstring)."""
    ref = cell_stats(reference["comparisons.csv"], reference["fits.csv"])
    new = cell_stats(reproduced["comparisons.csv"], reproduced["fits.csv"])
    on = [*KEYS, "metric"]
    both = ref.merge(new, on=on, how="outer", suffixes=("", "_new"))
    z, p = [], []
    for r in both.itertuples(index=False):
        if pd.isna(r.value) or pd.isna(r.value_new):
            z.append(math.nan)
            p.append(math.nan)
            continue
        d = r.value_new - r.value
        se = _difference_se(r)
        if not np.isfinite(se):
            score = math.nan
        elif se > 0:
            score = d / se
        else:
            score = 0.0 if d == 0 else math.copysign(math.inf, d)
        z.append(score)
        p.append(
            2 * stats.norm.sf(abs(score))
            if np.isfinite(score) or abs(score) == math.inf
            else math.nan
        )
    adjusted = holm(np.array(p, dtype=float))
    verdicts = []
    for r, zi, pa in zip(both.itertuples(index=False), z, adjusted, strict=True):
        if pd.isna(r.value) and pd.isna(r.value_new):
            verdicts.append("agree (both n/a)")
        elif pd.isna(r.value) or pd.isna(r.value_new):
            verdicts.append("MISSING " + ("reproduced" if pd.isna(r.value_new) else "committed"))
        elif math.isnan(zi):
            verdicts.append("not testable (SE n/e)")
        else:
            verdicts.append("DISAGREE" if pa <= ALPHA else "agree")
    return both.assign(z=z, p_adjusted=adjusted, verdict=verdicts)


def report(table: pd.DataFrame) -> str:
    lines = [
        f"{'scenario':18s} {'estimator':18s} {'quantity':19s} {'channel':9s} {'metric':18s} "
        f"{'committed':>10s} {'reproduced':>10s} {'diff/SE':>8s}  verdict"
    ]
    for r in table.itertuples(index=False):
        z = "" if math.isnan(r.z) else f"{r.z:+8.2f}"
        lines.append(
            f"{r.scenario:18s} {r.estimator:18s} {r.quantity:19s} {r.channel:9s} {r.metric:18s} "
            f"{r.value:10.4g} {r.value_new:10.4g} {z:>8s}  {r.verdict}"
        )
    bad = table[~table["verdict"].str.startswith(("agree", "not testable"))]
    untested = int(table["verdict"].str.startswith("not testable").sum())
    tested = len(table) - untested
    lines.append(
        f"{tested - len(bad)} of {tested} testable cells agree (difference in units of the SE "
        f"of a difference; Holm-adjusted over all {tested} cells, family-wise {ALPHA:g}); "
        f"{untested} cells have too few fits for an SE"
        + (
            f"; {len(bad)} do not agree: " + ", ".join(_name(r) for r in bad.itertuples())
            if len(bad)
            else ""
        )
    )
    return "\n".join(lines)


def _name(r) -> str:
    return f"{r.scenario}/{r.estimator}/{r.quantity}/{r.channel} {r.metric}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics-dir", default="reports/metrics", help="the reproduced metrics")
    ref = ap.add_mutually_exclusive_group()
    ref.add_argument(
        "--reference",
        default="HEAD",
        help="git revision of the committed reports/metrics (default HEAD)",
    )
    ref.add_argument("--reference-dir", help="or a folder holding them")
    args = ap.parse_args(argv)
    try:
        reproduced = read_dir(paths.resolve(args.metrics_dir), " (run: make reproduce)")
        reference = (
            read_dir(paths.resolve(args.reference_dir))
            if args.reference_dir
            else read_reference(args.reference)
        )
        table = compare(reference, reproduced)
    except (VerifyError, OSError, KeyError, pd.errors.ParserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(table))
    return 0 if table["verdict"].str.startswith(("agree", "not testable")).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
