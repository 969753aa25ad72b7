"""Tables and sentences for the reports, computed from the study's metrics files only.

Every number goes through :func:`fmt`; every table is built from ``reports/metrics/*``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.sensitivity import PRIOR_KEY, diagnosis
from mmm_recovery.evaluation.score import mean_se

#: the ROAS recovery criterion: a posterior-mean (or point) ROAS within this relative error of
#: the true ROAS (the slow recovery tests; the reports count misses beyond it). Here, not in a
#: module the study's fits run, so changing it redoes no fit.
ROAS_REL_TOLERANCE = 0.20

#: (quantity, statistic, column label) shown in the summary table
SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("adstock.alpha", "bias", "decay bias"),
    ("adstock.alpha", "rmse", "decay RMSE"),
    ("adstock.alpha", "coverage", "decay coverage"),
    ("roas", "mean_abs_rel_error", "ROAS mean |rel. error|"),
    ("roas", "coverage", "ROAS coverage"),
    ("mroas", "mean_abs_rel_error", "mROAS mean |rel. error|"),
    ("curve_error", "bias", "curve error"),
)


def fmt(x: Any, digits: int = 3) -> str:
    """The one number format of the reports: ``digits`` significant decimals, ``n/a`` for missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def fmt_with_se(value: Any, se: Any, digits: int = 3) -> str:
    """``value (se)``, or the value alone where its standard error is missing."""
    if fmt(se, digits) == "n/a" or fmt(value, digits) == "n/a":
        return fmt(value, digits)
    return f"{fmt(value, digits)} ({fmt(se, digits)})"


def fmt_mean_se(x: pd.Series) -> str:
    """The mean of ``x``'s finite values with its standard error, ``0.123 (0.045)``."""
    mean, se, n = mean_se(x)
    return f"{fmt(mean)} ({fmt(se)})" if n else "n/a"


def markdown(df: pd.DataFrame, index: str | None = None) -> str:
    """``df`` as a pandoc/GitHub pipe table, every row and column (no truncation).

    The index is dropped unless ``index`` names it: then it is the first column, under that name.
    Cells are shown as ``str`` (format numbers with :func:`fmt` first); ``|`` is escaped.
    """
    if index is not None:
        df = df.rename_axis(index).reset_index()
    if df.columns.empty:
        return ""

    def cell(x: Any) -> str:
        text = "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else str(x)
        return text.replace("|", "\\|").replace("\n", " ")

    body = [[cell(x) for x in row] for row in df.itertuples(index=False)]
    head = [cell(c) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |"]
    # pandoc sizes a wide table's columns by the dashes under its header (see WIDTH_DASHES)
    widths = []
    for j in range(len(head)):
        column = [r[j] for r in [head, *body]]
        longest = max(len(x) for x in column)
        word = max((len(w) for x in column for w in re.split(r"[\s_/]+", x)), default=0)
        dashes = max(min(longest, WIDTH_DASHES[1]), WIDTH_DASHES[0], round(WORD_DASHES * word))
        widths.append(dashes)
    lines.append("|" + "|".join("-" * w for w in widths) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


#: the fewest and most dashes under a column header (its share of a wide table's width follows
#: its longest cell, so long text gets room and numbers little) and the dashes per character
#: of its longest unbreakable word, so no word prints over the next column (:func:`markdown`)
WIDTH_DASHES = (3, 40)
WORD_DASHES = 2.5


def show(df: pd.DataFrame, index: str | None = None, empty: str = "Nothing to show.") -> Any:
    """Display ``df`` in a report as a Markdown table (see :func:`markdown`), or ``empty``."""
    from IPython.display import Markdown

    return Markdown(markdown(df, index) if len(df) else empty)


def settings(config: dict[str, Any]) -> pd.DataFrame:
    """An estimator's settings (its config as a nested dict) as ``setting``/``value`` rows, nested
    keys joined with dots."""
    flat = pd.json_normalize(config, sep=".").iloc[0] if config else pd.Series(dtype=object)
    return pd.DataFrame({"setting": list(flat.index), "value": [str(v) for v in flat]})


@dataclass(frozen=True)
class StudyMetrics:
    """The study stage's outputs, read from ``metrics_dir``."""

    study: dict[str, Any]
    fits: pd.DataFrame
    coverage: pd.DataFrame
    bias: pd.DataFrame
    comparisons: pd.DataFrame
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    stability: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: every cell's measures, contrasts between estimators, and every scenario pooled
    #: (``performance.csv``, ``contrasts.csv``, ``pooled.json``; empty where absent)
    performance: pd.DataFrame = field(default_factory=pd.DataFrame)
    contrasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    pooled: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, metrics_dir: str | Path) -> StudyMetrics:
        d = Path(metrics_dir)

        def csv(name: str) -> pd.DataFrame:
            return pd.read_csv(d / name) if (d / name).is_file() else pd.DataFrame()

        return cls(
            files.read_json(d / "study.json"),
            csv("fits.csv"),
            csv("coverage.csv"),
            csv("bias.csv"),
            csv("comparisons.csv"),
            csv("calibration.csv"),
            csv("stability.csv"),
            csv("performance.csv"),
            csv("contrasts.csv"),
            files.read_json(d / "pooled.json") if (d / "pooled.json").is_file() else {},
        )

    @property
    def scenarios(self) -> list[str]:
        return list(self.study)

    @property
    def estimators(self) -> list[str]:
        return list(next(iter(self.study.values()))) if self.study else []

    def interval_level(self, estimator: str) -> float | None:
        """The nominal level of ``estimator``'s reported intervals (``study.json``)."""
        for per_estimator in self.study.values():
            level = (per_estimator.get(estimator) or {}).get("interval_level")
            if level:
                return float(level)
        return None


#: the parts of the summary table, each a table of its own that fits a page
SUMMARY_PARTS = ("recovery", "fits")


def summary_table(m: StudyMetrics, part: str = "recovery") -> pd.DataFrame:
    """Scenario x estimator rows, each aggregate with its Monte Carlo standard error in
    parentheses (none where too few fits make it not estimable). ``part``: ``recovery`` (decay
    bias/RMSE/coverage, ROAS and mROAS errors, ROAS coverage, curve error) or ``fits`` (fits,
    failures, non-converged, nominal level, regret share of lift, holdout MAPE)."""
    if part not in SUMMARY_PARTS:
        raise ValueError(f"summary_table: part must be one of {SUMMARY_PARTS}; got {part!r}")
    rows = []
    for scen, per_est in m.study.items():
        for est, v in per_est.items():
            row = {"scenario": scen, "estimator": est}
            if part == "fits":
                row |= {
                    "fits": fmt(v["fits"]),
                    "failed": fmt(v["failed"]),
                    "not converged": fmt(v["not_converged"]),
                    "nominal level": fmt(v.get("interval_level"), 2),
                    "regret (% of lift)": fmt_with_se(
                        _pct(v.get("regret_share_of_lift_mean")),
                        _pct(v.get("regret_share_of_lift_mean_se")),
                        1,
                    ),
                    "holdout MAPE (%)": fmt(_pct(v.get("holdout_mape_mean")), 1),
                }
            else:
                for quantity, stat, label in SUMMARY_COLUMNS:
                    q = v.get(quantity) or {}
                    row[label] = fmt_with_se(q.get(stat), q.get(f"{stat}_se"))
            rows.append(row)
    return pd.DataFrame(rows)


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def estimator_overview(m: StudyMetrics) -> pd.DataFrame:
    """Per estimator, pooled over scenarios: fits, failed, not converged, mean regret share."""
    rows = []
    for est in m.estimators:
        vals = [m.study[s][est] for s in m.scenarios]
        fits = sum(v["fits"] for v in vals)
        regrets = [
            v["regret_share_of_lift_mean"]
            for v in vals
            if _finite(v.get("regret_share_of_lift_mean"))
        ]
        rows.append(
            {
                "estimator": est,
                "fits": fmt(fits),
                "failed": fmt(sum(v["failed"] for v in vals)),
                "not converged": fmt(sum(v["not_converged"] for v in vals)),
                "mean regret (% of lift)": fmt(
                    _pct(sum(regrets) / len(regrets)) if regrets else None, 1
                ),
            }
        )
    return pd.DataFrame(rows)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def worst_case(m: StudyMetrics, quantity: str = "adstock.alpha", stat: str = "rmse") -> str:
    """A sentence naming the scenario x estimator with the largest ``stat`` of ``quantity``."""
    best = None
    for scen, per_est in m.study.items():
        for est, v in per_est.items():
            q = v.get(quantity)
            if q and _finite(q.get(stat)) and (best is None or q[stat] > best[2]):
                best = (scen, est, q[stat])
    if best is None:
        return f"No {quantity} {stat} is available."
    return f"The largest {stat} of {quantity} is {fmt(best[2])}, for the {best[1]} estimator in scenario {best[0]}."


def channel_errors(m: StudyMetrics, quantity: str = "roas") -> pd.DataFrame:
    """Scenario x estimator rows, one column per channel: the mean signed relative error of
    ``quantity`` over replicates with its interval coverage, e.g. ``+26% (3/3)``. Shows which
    channel an estimator gets wrong, and whether its intervals say so."""
    c = m.comparisons
    if c.empty:
        return pd.DataFrame()

    def cell(x: pd.DataFrame) -> str:
        rel, cov = x["rel_error"].dropna(), x["covered"].dropna()
        return f"{100 * rel.mean():+.0f}% ({int(cov.sum())}/{len(cov)})" if len(rel) else "n/a"

    return _per_channel(c[c["quantity"] == quantity], cell)


def lift_test_effect(m: StudyMetrics, tested: dict[str, list[str]]) -> pd.DataFrame:
    """What a lift test buys: for each channel a scenario's lift tests measure (``tested``:
    scenario -> channels), its ROAS per estimator in that scenario beside the same channel in
    the scenarios without lift tests: mean |relative error| (its standard error), mean interval
    width relative to the truth, and coverage k/n. The datasets differ (every scenario draws its
    own), so these are not paired differences."""
    c = m.comparisons
    if c.empty or not tested:
        return pd.DataFrame()
    c = c[c["quantity"] == "roas"]
    untested = [s for s in m.scenarios if s not in tested]
    rows = []
    for scen, channels in tested.items():
        for ch in channels:
            for label, scens in ((scen, [scen]), ("without lift tests", untested)):
                g = c[c["scenario"].isin(scens) & (c["channel"] == ch)]
                for est, e in g.groupby("estimator", sort=False):
                    err = e["rel_error"].abs()
                    cov = e["covered"].dropna()
                    rows.append(
                        {
                            "channel": ch,
                            "scenario": label,
                            "estimator": est,
                            "ROAS estimates": fmt(mean_se(err)[2]),
                            "mean |rel. error| (SE)": fmt_mean_se(err),
                            "mean width / truth": fmt((e["width"] / e["truth"]).mean()),
                            "coverage": f"{int(cov.sum())}/{len(cov)}",
                        }
                    )
    return pd.DataFrame(rows)


def _per_channel(c: pd.DataFrame, cell) -> pd.DataFrame:
    """Scenario x estimator rows of comparison rows ``c``, one column per channel (in order of
    appearance) holding ``cell(rows of that scenario, estimator and channel)``."""
    channels = list(dict.fromkeys(c["channel"]))
    rows = []
    for (scen, est), g in c.groupby(["scenario", "estimator"], sort=False):
        row = {"scenario": scen, "estimator": est}
        for ch in channels:
            row[ch] = cell(g[g["channel"] == ch])
        rows.append(row)
    return pd.DataFrame(rows)


def _with_thresholds(m: StudyMetrics, quantity: str) -> pd.DataFrame:
    """Comparison rows of ``quantity`` that carry a prior sensitivity, with their fit's threshold
    (``fits.csv``) and whether the sensitivity reaches it (``flagged``)."""
    c, f = m.comparisons, m.fits
    if c.empty or PRIOR_KEY not in c or "prior_sensitivity_threshold" not in f:
        return pd.DataFrame()
    c = c[(c["quantity"] == quantity) & c[PRIOR_KEY].notna()]
    keys = ["scenario", "replicate", "estimator"]
    c = c.merge(f[[*keys, "prior_sensitivity_threshold"]], on=keys, how="left")
    c["flagged"] = c[PRIOR_KEY] >= c["prior_sensitivity_threshold"]
    c["diagnosis"] = [
        diagnosis(p, lik, t)
        for p, lik, t in zip(
            c[PRIOR_KEY], c["likelihood_sensitivity"], c["prior_sensitivity_threshold"], strict=True
        )
    ]
    return c


def prior_sensitivity_by_channel(m: StudyMetrics, quantity: str = "roas") -> pd.DataFrame:
    """Scenario x estimator rows (estimators that report it), one column per channel: the mean
    prior power-scaling sensitivity of ``quantity`` over replicates and how many replicates reach
    the threshold, e.g. ``0.071 (2/3)``."""
    c = _with_thresholds(m, quantity)
    if c.empty:
        return pd.DataFrame()
    return _per_channel(
        c, lambda x: f"{fmt(x[PRIOR_KEY].mean())} ({int(x['flagged'].sum())}/{len(x)})"
    )


def prior_sensitivity_vs_error(m: StudyMetrics) -> pd.DataFrame:
    """Does the posterior's own warning point at the ROAS misses? Per estimator that reports a
    prior sensitivity, pooled over scenarios, replicates and channels (non-converged fits
    included, as everywhere): ROAS estimates whose prior sensitivity reaches the fit's threshold
    or not, how many of each miss the true ROAS by more than :data:`ROAS_REL_TOLERANCE`, their
    mean absolute relative error, how many intervals cover the truth, and how many read as a
    prior-data conflict."""
    c = _with_thresholds(m, "roas")
    if c.empty:
        return pd.DataFrame()
    rows = []
    for (est, flagged), g in c.groupby(["estimator", "flagged"], sort=True):
        miss = g["rel_error"].abs() > ROAS_REL_TOLERANCE
        cov = g["covered"].dropna()
        rows.append(
            {
                "estimator": est,
                "prior sensitivity": "reaches threshold" if flagged else "below threshold",
                "estimates": fmt(len(g)),
                f"|rel. error| > {ROAS_REL_TOLERANCE:.0%}": f"{int(miss.sum())}/{len(g)}",
                "mean |rel. error|": fmt(float(g["rel_error"].abs().mean())),
                "interval covers truth": f"{int(cov.sum())}/{len(cov)}",
                "prior-data conflict": fmt(int((g["diagnosis"] == "prior-data conflict").sum())),
            }
        )
    return pd.DataFrame(rows)


def prior_sensitivity_note(m: StudyMetrics) -> str:
    """A sentence: in how many of the fits of estimators that compute it the prior sensitivity
    was computed, and why it was skipped in the others (``fits.csv``), so a skipped fit cannot
    drop out of the tables above unnoticed."""
    f = m.fits
    cols = [c for c in ("prior_sensitivity_threshold", "prior_sensitivity_skipped") if c in f]
    if f.empty or not cols:
        return "No fit computes a prior sensitivity."
    skipped = (
        f["prior_sensitivity_skipped"].notna()
        if "prior_sensitivity_skipped" in f
        else pd.Series(False, index=f.index)
    )
    has = f[cols].notna().any(axis=1)
    n, k = int(has.sum()), int((has & skipped).sum())
    text = f"The prior sensitivity was computed in {n - k} of the {n} fits that compute it"
    if k:
        reasons = "; ".join(sorted(set(f.loc[has & skipped, "prior_sensitivity_skipped"])))
        text += f"; skipped in {k} ({reasons})"
    return text + "."


def share_pull_table(m: StudyMetrics) -> pd.DataFrame:
    """Scenario x estimator rows from ``fits.csv``: the true effect shares' distance from the
    spend shares (DECOMP.RSSD of the truth), the estimated ones', and the mean pull of the
    estimates toward the spend shares (:func:`mmm_recovery.evaluation.score.share_pull`), each
    mean with its Monte Carlo standard error."""
    need = {"decomp_rssd_true", "decomp_rssd", "spend_share_pull"}
    if m.fits.empty or not need <= set(m.fits):
        return pd.DataFrame()
    ok = m.fits[m.fits["status"] == "ok"]
    rows = [
        {
            "scenario": scen,
            "estimator": est,
            "fits": len(g),
            "DECOMP.RSSD of the truth": fmt_mean_se(g["decomp_rssd_true"]),
            "DECOMP.RSSD of the estimate": fmt_mean_se(g["decomp_rssd"]),
            "pull toward spend shares": fmt_mean_se(g["spend_share_pull"]),
        }
        for (scen, est), g in ok.groupby(["scenario", "estimator"], sort=False)
    ]
    return pd.DataFrame(rows)


def share_pull_note(m: StudyMetrics) -> str:
    """A sentence on the scenario whose true effect shares lie farthest from the spend shares:
    each estimator's mean pull toward the spend shares there, with its MC-SE."""
    from mmm_recovery.evaluation.score import mean_se

    if m.fits.empty or "spend_share_pull" not in m.fits:
        return "The metrics have no effect-share pull (fits.csv predates it)."
    ok = m.fits[m.fits["status"] == "ok"]
    if ok.empty:
        return "No fit succeeded."
    far = ok.groupby("scenario")["decomp_rssd_true"].mean().idxmax()
    parts = []
    for est, g in ok[ok["scenario"] == far].groupby("estimator", sort=False):
        mean, se, n = mean_se(g["spend_share_pull"])
        parts.append(f"{est} {fmt_with_se(mean, se, 2)} (n = {n})")
    return (
        f"Where effect shares lie farthest from spend shares ({far}), the mean pull of the "
        f"estimated shares toward the spend shares is: {'; '.join(parts)} (0: no pull, 1: the "
        "estimates sit at the spend shares)."
    )


def seed_stability_note(m: StudyMetrics, quantity: str = "roas") -> str:
    """A sentence per scenario x estimator of the seed-stability subset (``study.json``): the
    seed-to-seed sd of ``quantity`` beside its RMSE, and their ratio."""
    parts = [
        f"{est} in {scen}: sd {fmt_with_se(c['seed_sd'], c['seed_sd_se'])} against RMSE "
        f"{fmt_with_se(c['rmse'], c['rmse_se'])} ({fmt(100 * c['seed_share'], 2)}% of it; "
        f"{c['n_fits']} fits, {c['failed']} failed)"
        for scen, per_est in m.study.items()
        for est, v in per_est.items()
        if (c := (v.get("seed_stability") or {}).get(quantity))
    ]
    if not parts:
        return "This study refits no dataset with further seeds (study.seed_stability)."
    return f"Seed-to-seed spread of {quantity}, pooled over channels: " + "; ".join(parts) + "."
