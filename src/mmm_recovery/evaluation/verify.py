"""Do reproduced metrics agree with the committed ones within their Monte Carlo error?

    python -m mmm_recovery.evaluation.verify [--metrics-dir reports/metrics] [--reference HEAD]
    make verify

On another machine the last bits of floating-point results differ, so the hashes of a
reproduction differ too; what must agree are the study's conclusions. This compares, per
scenario x estimator x quantity, the reproduced aggregates with the committed ones (read from
git at ``--reference``, or from a folder with ``--reference-dir``):

* **coverage**: agrees if the reproduced share lies within 2 standard errors of the committed
  one, the standard error of a difference of two binomial shares of the cell's intervals
  (pooled: ``sqrt(p(1-p)(1/n1 + 1/n2))``, ``p`` the share of both together). Unlike the
  committed share's exact interval, this is symmetric: that interval made one interval of 15
  more covered (14/15 to 15/15) a disagreement and one fewer (15/15 to 14/15) an agreement;
* **bias** (mean error) and **mean |rel. error|**: agree if the reproduced mean lies within 2
  Monte Carlo standard errors of the committed mean (the SE of that mean over the cell's
  estimates);
* **regret share** (mean over fits): the same rule, from ``fits.csv``.

Each rule is about a 95% interval, so about 1 in 20 independent cells could disagree by
chance; a reproduction from the same simulated data (the default) moves far
less than that, so a disagreement is worth a look. It prints one line per cell with the
difference in units of its MC-SE and exits 1 if any cell disagrees, 2 if the metrics
cannot be read.
"""

from __future__ import annotations

import argparse
import io
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.evaluation.score import clopper_pearson, mean_se

KEYS = ["scenario", "estimator", "quantity"]
#: a mean (a coverage share) agrees when it lies within this many Monte Carlo standard errors of
#: the committed one (of the difference of the two shares)
MEAN_SE_RULE = 2.0
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
    """One row per scenario x estimator x (metric, quantity): value, its MC-SE (means) or
    exact 95% interval (coverage), and n."""
    rows = []
    for key, g in comparisons.groupby(KEYS, sort=False):
        cell = dict(zip(KEYS, key, strict=True))
        cov = g["covered"].dropna()
        if len(cov):
            k, n = int(cov.sum()), len(cov)
            lo, hi = clopper_pearson(k, n)
            rows.append({**cell, "metric": "coverage", "value": k / n, "n": n, "lo": lo, "hi": hi})
        for metric, x in (("bias", g["error"]), ("mean |rel. error|", g["rel_error"].abs())):
            rows.append({**cell, "metric": metric, **_mean_se(x)})
    for (scen, est), g in fits.groupby(["scenario", "estimator"], sort=False):
        rows.append(
            {
                "scenario": scen,
                "estimator": est,
                "quantity": "budget",
                "metric": "regret share",
                **_mean_se(g["regret_share_of_lift"]),
            }
        )
    return pd.DataFrame(rows)


def _mean_se(x: pd.Series) -> dict[str, float]:
    mean, se, n = mean_se(x)
    return {"value": mean, "n": n, "se": se}


def share_difference_se(p1: float, n1: float, p2: float, n2: float) -> float:
    """Standard error of the difference of two binomial shares ``p1`` of ``n1`` and ``p2`` of
    ``n2`` under a common share (pooled)."""
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    return math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def compare(
    reference: dict[str, pd.DataFrame], reproduced: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Committed against reproduced cells with a verdict each (see the module docstring)."""
    ref = cell_stats(reference["comparisons.csv"], reference["fits.csv"])
    new = cell_stats(reproduced["comparisons.csv"], reproduced["fits.csv"])
    on = [*KEYS, "metric"]
    both = ref.merge(new[[*on, "value", "n"]], on=on, how="outer", suffixes=("", "_new"))
    verdicts, z = [], []
    for r in both.itertuples(index=False):
        if pd.isna(r.value) and pd.isna(r.value_new):
            verdicts.append("agree (both n/a)")
            z.append(float("nan"))
        elif pd.isna(r.value) or pd.isna(r.value_new):
            verdicts.append("MISSING " + ("reproduced" if pd.isna(r.value_new) else "committed"))
            z.append(float("nan"))
        else:
            d = r.value_new - r.value
            se = (
                r.se
                if r.metric != "coverage"
                else share_difference_se(r.value, r.n, r.value_new, r.n_new)
            )
            score = d / se if se > 0 else (0.0 if d == 0 else math.copysign(math.inf, d))
            z.append(score)
            verdicts.append("agree" if abs(score) <= MEAN_SE_RULE else "DISAGREE")
    return both.assign(z=z, verdict=verdicts)


def report(table: pd.DataFrame) -> str:
    lines = [
        f"{'scenario':18s} {'estimator':12s} {'quantity':15s} {'metric':18s} "
        f"{'committed':>10s} {'reproduced':>10s} {'diff/SE':>8s}  verdict"
    ]
    for r in table.itertuples(index=False):
        z = "" if math.isnan(r.z) else f"{r.z:+8.2f}"
        lines.append(
            f"{r.scenario:18s} {r.estimator:12s} {r.quantity:15s} {r.metric:18s} "
            f"{r.value:10.4g} {r.value_new:10.4g} {z:>8s}  {r.verdict}"
        )
    bad = table[~table["verdict"].str.startswith("agree")]
    lines.append(
        f"{len(table) - len(bad)} of {len(table)} cells agree within their Monte Carlo error "
        f"(coverage: within {MEAN_SE_RULE:g} SE of a difference of two shares; means: within "
        f"{MEAN_SE_RULE:g} MC-SE of the committed mean)"
        + (
            f"; {len(bad)} do not: " + ", ".join(_name(r) for r in bad.itertuples())
            if len(bad)
            else ""
        )
    )
    return "\n".join(lines)


def _name(r) -> str:
    return f"{r.scenario}/{r.estimator}/{r.quantity} {r.metric}"


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
    return 0 if table["verdict"].str.startswith("agree").all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
