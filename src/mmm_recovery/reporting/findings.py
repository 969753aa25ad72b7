"""The study's headline findings as a Markdown page (``docs/findings.md``), computed from the
metrics files only, so the README can link to numbers that no one types.

``python -m mmm_recovery.reporting.findings --study studies/recovery.yaml --metrics-dir
reports/metrics --out docs/findings.md`` (the DVC stage ``findings``). Every number goes
through :func:`mmm_recovery.reporting.tables.fmt`; a test writes a synthetic metrics set and
finds its values on the page.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import Study, load_study
from mmm_recovery.estimators.registry import estimator_for
from mmm_recovery.evaluation.calibration import ALPHA, NOMINAL, POWER
from mmm_recovery.evaluation.performance import MIN_FITS_QUANTILE
from mmm_recovery.reporting import supported
from mmm_recovery.reporting.tables import (
    StudyMetrics,
    fmt,
    fmt_with_se,
    markdown,
)
from mmm_recovery.reporting.verdicts import coverage_verdicts

#: the quantities of the headline tables: (quantity in the metrics, what a reader calls it)
HEADLINE = (("roas", "ROAS"), ("adstock.alpha", "adstock decay"))


def per_scenario(m: StudyMetrics, nominal: dict[str, float], heading: str = "") -> str:
    """The per-scenario tables of the :data:`HEADLINE` quantities (:func:`quantity_table`) as
    Markdown, each under its label (``heading`` before it, e.g. ``"### "``; bold without)."""
    parts = []
    for quantity, label in HEADLINE:
        table = quantity_table(m, quantity, nominal)
        title = f"{heading}{label}" if heading else f"**{label[0].upper()}{label[1:]}.**"
        parts += [title, "", markdown(table) if len(table) else "No results.", ""]
    return "\n".join(parts).rstrip()


def quantity_table(m: StudyMetrics, quantity: str, nominal: dict[str, float]) -> pd.DataFrame:
    """Per scenario and estimator: interval coverage (k/n, exact 95% interval) beside the
    nominal level with the one calibration rule's verdict
    (:func:`~mmm_recovery.reporting.verdicts.coverage_verdicts`), and the mean absolute relative
    error with its standard error, for ``quantity``."""
    from mmm_recovery.reporting.supported import _with_se, interval_text

    c = m.performance
    if not len(c):
        return pd.DataFrame()
    c = c[(c["quantity"] == quantity) & (c["channel"] == "all") & (c["scenario"] != "all")]
    verdicts = coverage_verdicts(m, quantity)
    rows = []
    for (scen, est), g in c.groupby(["scenario", "estimator"], sort=False):
        p = g.iloc[0]
        v = (
            verdicts[
                (verdicts["estimator"] == est)
                & (verdicts["scenario"] == scen)
                & ((verdicts["nominal"] - nominal.get(est, math.nan)).abs() < 1e-9)
            ]
            if len(verdicts)
            else verdicts
        )
        verdict = "n/a"
        if len(v):
            r = v.iloc[0]
            verdict = r["verdict"]
            if verdict == NOMINAL:
                verdict = f"not distinguishable (could miss {fmt(r['shortfall'], 2)})"
        rows.append(
            {
                "scenario": scen,
                "estimator": est,
                "nominal": fmt(nominal.get(est), 2),
                "coverage (95% CI)": interval_text(
                    p["coverage"], p["coverage_lo"], p["coverage_hi"]
                ),
                "intervals (effective)": f"{fmt(int(p['n_intervals']))} ({fmt(p['n_eff'], 0)})",
                "verdict": verdict,
                "mean |rel. error| (SE)": _with_se(
                    p["mean_abs_rel_error"], p["mean_abs_rel_error_se"], ""
                ),
            }
        )
    return pd.DataFrame(rows)


def regret_table(m: StudyMetrics) -> pd.DataFrame:
    """Per scenario and estimator (from ``study.json``): fits, failed, not converged, the median
    and 90th percentile of the regret as a share of the lift the true optimum achieves, and the
    optimizer's curse: the mean lift the estimator predicts for its own advice beside the mean
    lift that advice truly earns (currency per week, MC-SE in parentheses)."""
    rows = []
    for scen, per_est in m.study.items():
        for est, v in per_est.items():
            rows.append(
                {
                    "scenario": scen,
                    "estimator": est,
                    "fits": fmt(v["fits"]),
                    "failed": fmt(v["failed"]),
                    "not converged": fmt(v["not_converged"]),
                    "regret share, median": fmt(v.get("regret_share_of_lift_median"), 2),
                    "regret share, 90th pct.": fmt(v.get("regret_share_of_lift_p90"), 2),
                    "harmful advice (95% CI)": supported.interval_text(
                        v.get("harmful_rate", math.nan),
                        v.get("harmful_lo", math.nan),
                        v.get("harmful_hi", math.nan),
                    ),
                    "predicted lift": fmt_with_se(
                        v.get("predicted_lift_mean"), v.get("predicted_lift_mean_se")
                    ),
                    "true lift": fmt_with_se(v.get("true_lift_mean"), v.get("true_lift_mean_se")),
                }
            )
    return pd.DataFrame(rows)


def sbc_section(sbc: dict[str, Any] | None) -> list[str]:
    """The simulation-based calibration's verdicts per arm (``sbc.json``), or a line saying it is
    absent."""
    from mmm_recovery.reporting.sbc_plots import power_table, summary

    head = ["", "## Is the Bayesian inference calibrated? (simulation-based calibration)", ""]
    if sbc is None:
        return [*head, "No simulation-based calibration in these metrics (`sbc.json`)."]
    failed = sbc["failed"]
    verdict = (
        "**no quantity fails in any arm**"
        if not failed
        else f"**{fmt(len(failed))} fail**: {', '.join(f'`{q}`' for q in failed)}"
    )
    return [
        *head,
        f"Parameters and data drawn from the estimator's own model, fitted by the study's own fit "
        f"function; uniformity of each quantity's rank, family-wise level "
        f"{fmt(sbc['family_alpha'], 2)} per arm (Bonferroni): {verdict}.",
        "",
        summary(sbc),
        "",
        markdown(power_table(sbc)),
    ]


def page(
    spec: Study,
    m: StudyMetrics,
    metrics_dir: str,
    command: str,
    sbc: dict[str, Any] | None = None,
) -> str:
    """The findings page for ``spec``'s metrics ``m`` (and the SBC metrics ``sbc``, if any)."""
    nominal = {name: estimator_for(spec, name).interval_level for name in spec.estimators}
    s = spec.study
    parts = [
        "# What the study found",
        "",
        f"Written by `{command}` from `{metrics_dir}/` (DVC stage `findings`); do not edit by "
        "hand. The model card and the methodology report (`reports/_site/`) show the same "
        "numbers with figures.",
        "",
        f"Study **{s.name}**: {len(spec.scenarios)} scenarios (design cells and named), "
        f"{sum(spec.replicates_of(n) for n in spec.scenarios)} datasets x "
        f"{len(spec.estimators)} estimators (base seed {s.base_seed}); replicate r of every "
        "cell shares its random numbers.",
        "",
        supported.section(m),
        "",
        "## Per scenario",
        "",
        "A coverage cell is the share of a scenario's intervals (every replicate, each channel "
        "weighing the same) that contain the truth, with its exact 95% interval at the cell's "
        "effective number of intervals (a fit's channels are correlated; with fewer fits than "
        "the clustering needs, as many as there are fits), beside the estimator's nominal level. "
        "Its verdict is the reports' one rule: an exact binomial test at nominal, Holm-adjusted "
        "over all of the estimator's cells of the quantity (every scenario, all scenarios "
        f"together, every calibration level), family-wise {fmt(ALPHA, 2)}; a cell it cannot "
        "tell from nominal says the shortfall it could miss (detected with probability "
        f"{fmt(POWER, 1)}); where the channels' coverages differ there is no pooled verdict. "
        "Errors are relative to the true value, with their fit-clustered standard error (n/e: "
        "not estimable with this few fits).",
    ]
    parts += ["", per_scenario(m, nominal, "### ")]
    parts += [
        "",
        "## Budget advice and convergence",
        "",
        "Regret: the lift the true optimum achieves minus the true lift of the model's "
        "recommended allocation, as a share of the former (0 is perfect advice; above 1 the "
        "advice does worse than the current allocation: harmful advice, whose share of fits is "
        "given with its exact interval). Medians and 90th percentiles need at least "
        f"{MIN_FITS_QUANTILE} fits (n/a below). Fits that failed or did not converge are "
        "counted here and kept in every other table.",
        "",
        markdown(regret_table(m)),
        *sbc_section(sbc),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--metrics-dir", default="reports/metrics")
    ap.add_argument("--out", default="docs/findings.md")
    args = ap.parse_args(argv)
    try:
        spec = load_study(args.study)
        if not (paths.resolve(args.metrics_dir) / "study.json").is_file():
            raise FileNotFoundError(
                f"{args.metrics_dir}/study.json: not found; the findings are computed from the "
                "study's metrics (run: make reproduce, or --metrics-dir)"
            )
        metrics = StudyMetrics.load(paths.resolve(args.metrics_dir))
        sbc_file = paths.resolve(args.metrics_dir) / "sbc.json"
        sbc = files.read_json(sbc_file) if sbc_file.is_file() else None
    except (ValueError, OSError) as exc:  # SpecError, a missing or unreadable metrics file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = (
        "python -m mmm_recovery.reporting.findings "
        f"--study {args.study} --metrics-dir {args.metrics_dir} --out {args.out}"
    )
    text = page(spec, metrics, args.metrics_dir, command, sbc)
    out = paths.resolve(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(out) as tmp:
        tmp.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
