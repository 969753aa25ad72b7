"""Did the study reach the precision its design asked for? Every aim of every design arm, per
estimator: the Monte Carlo SE achieved against the target, and the replicates it would need.

An arm's aims (``design.arms.<arm>.aims`` in the study file) name a measure (coverage, mean
relative error, log absolute error) of the primary quantity (ROAS), what it is of (each cell,
each main effect of the arm's meta-model, each slope on a truth feature) and a target MC-SE;
the arm's replicates per cell were derived from them with planning values
(:mod:`mmm_recovery.core.design`). This module reads what was achieved from the metrics files:

* ``of: cell``: each cell's channel-averaged fit-clustered SE (``performance.csv``:
  ``coverage_se`` or ``mean_rel_error_se``);
* ``of: effect``: each main effect's SE on the target's scale (``design_effects.csv``:
  ``target_se``);
* ``of: slope``: each truth-feature slope's SE on the probability scale (``design_truth.csv``:
  ``marginal_se``).

A Monte Carlo SE falls as one over the root of the replicates, so a row that misses its target
needs about ``replicates x (worst SE / target)^2`` replicates per cell to meet it.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mmm_recovery.evaluation.design_analysis import PRIMARY
from mmm_recovery.reporting.design_report import DesignMetrics
from mmm_recovery.reporting.tables import fmt

COLUMNS = ["arm", "aim", "estimator", "judged", "met", "not estimable", "worst SE", "target"]
COLUMNS += ["replicates", "replicates needed"]
#: aim measure -> (the column of ``performance.csv`` with a cell's SE, its name in words)
CELL_SE = {"coverage": "coverage_se", "rel_error": "mean_rel_error_se"}
#: aim measure -> the ``design_effects.csv`` measure it is judged on
EFFECT_MEASURE = {"coverage": "coverage", "log_abs_error": "abs_rel_error"}


def _achieved(dm: DesignMetrics, arm: str, aim: Any, cells: list[str]) -> pd.DataFrame:
    """estimator, se: one row per judged estimand of ``aim`` in ``arm`` (NaN: not estimable)."""
    if aim.of == "cell":
        p = dm.performance
        col = CELL_SE.get(aim.measure)
        if p.empty or col is None or col not in p:
            return pd.DataFrame(columns=["estimator", "se"])
        sel = p[p["scenario"].isin(cells) & (p["quantity"] == PRIMARY) & (p["channel"] == "all")]
        return sel.assign(se=sel[col])[["estimator", "se"]]
    if aim.of == "effect":
        e = dm.effects
        if e.empty:
            return pd.DataFrame(columns=["estimator", "se"])
        sel = e[
            (e["arm"] == arm)
            & (e["kind"] == "main")
            & (e["measure"] == EFFECT_MEASURE.get(aim.measure, aim.measure))
        ]
        return sel.assign(se=sel["target_se"])[["estimator", "se"]]
    t = dm.truth
    if t.empty:
        return pd.DataFrame(columns=["estimator", "se"])
    sel = t[(t["arm"] == arm) & (t["kind"] == "slope") & (t["measure"] == aim.measure)]
    return sel.assign(se=sel["marginal_se"])[["estimator", "se"]]


def precision_table(study: Any, dm: DesignMetrics) -> pd.DataFrame:
    """One row per arm x aim x estimator (:data:`COLUMNS`): estimands judged, those meeting the
    target MC-SE, those whose SE is not estimable, the worst achieved SE, the target, the
    replicates per cell run and those the worst would need (module docstring)."""
    if study.design is None or dm.cells.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for arm, spec in study.design.arms.items():
        cells = dm.cells[dm.cells["arm"] == arm]
        names = list(cells["scenario"])
        reps = int(cells["replicates"].min()) if len(cells) else 0
        for aim in spec.aims:
            got = _achieved(dm, arm, aim, names)
            for est, g in got.groupby("estimator", sort=False):
                se = pd.to_numeric(g["se"], errors="coerce")
                finite = se[se.notna() & (se < math.inf)]
                worst = float(finite.max()) if len(finite) else math.nan
                if not math.isfinite(worst):  # nothing estimable: more replicates, how many unknown
                    need: float = math.nan
                elif worst > aim.target_mcse:
                    need = math.ceil(reps * (worst / aim.target_mcse) ** 2)
                else:
                    need = reps
                rows.append(
                    {
                        "arm": arm,
                        "aim": f"{aim.measure} per {aim.of}",
                        "estimator": est,
                        "judged": len(se),
                        "met": int((finite <= aim.target_mcse).sum()),
                        "not estimable": int(len(se) - len(finite)),
                        "worst SE": worst,
                        "target": aim.target_mcse,
                        "replicates": reps,
                        "replicates needed": need,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` formatted for a report (numbers through :func:`~.tables.fmt`)."""
    out = table.copy()
    for col in ("worst SE", "target"):
        out[col] = out[col].map(fmt)
    out["replicates needed"] = [
        str(int(n)) if math.isfinite(n) else "n/a" for n in table["replicates needed"]
    ]
    return out


def summary(table: pd.DataFrame) -> str:
    """One sentence: how many aims x estimators met their target in every estimand, which could
    not be judged (no estimable SE), and the compute the furthest short would need."""
    if table.empty:
        return "The study file declares no design aims, so there is no target precision to meet."
    ok = table[(table["met"] == table["judged"]) & (table["judged"] > 0)]
    blind = table[table["not estimable"] == table["judged"]]
    short = table.drop(ok.index.union(blind.index))
    parts = [
        f"{len(ok)} of {len(table)} aims x estimators met their target MC-SE in every estimand"
    ]
    if len(blind):
        parts.append(
            f"{len(blind)} could not be judged: no estimand had an estimable SE at "
            f"{int(blind['replicates'].min())} replicates per cell"
        )
    if len(short):
        r = short.assign(ratio=short["replicates needed"] / short["replicates"].clip(lower=1))
        w = r.sort_values("ratio").iloc[-1]
        parts.append(
            f"{len(short)} fall short, the furthest {w['arm']} / {w['aim']} / {w['estimator']} "
            f"(worst SE {fmt(w['worst SE'])} against {fmt(w['target'])}: about "
            f"{int(w['replicates needed'])} replicates per cell instead of {int(w['replicates'])})"
        )
    return "; ".join(parts) + "."


#: where ``make reproduce-full`` writes the full study's metrics, and its study file
FULL_METRICS = "reports/metrics/full"
FULL_STUDY = "studies/full.yaml"


def lead(spec: Any, metrics_dir: str, full_metrics_dir: str | None = None) -> str:
    """The reports' opening section as Markdown: the answers the study supports and the
    precision its design reached. With ``full_metrics_dir`` (the project's pipeline passes
    :data:`FULL_METRICS`), the answers come from the full study's metrics where that folder has
    them, else from this study's with a word on the full study's absence; and a subsection says
    how this study and the full one relate."""
    from mmm_recovery.core import paths
    from mmm_recovery.reporting import supported
    from mmm_recovery.reporting.tables import StudyMetrics, markdown

    full_dir = paths.resolve(full_metrics_dir) if full_metrics_dir else None
    use_full = full_dir is not None and (full_dir / "study.json").is_file()
    full_spec = _full_spec() if full_dir is not None else None
    src = full_dir if use_full and full_dir is not None else paths.resolve(metrics_dir)
    cited = full_spec if use_full and full_spec is not None else spec
    m = StudyMetrics.load(src)
    table = precision_table(cited, DesignMetrics.load(src))
    status = m.fits["status"] if len(m.fits) else pd.Series(dtype=str)
    fits = int((status == "ok").sum())
    held = int((status != "missing").sum())  # fitted, finished or failed
    parts = ["## The answers, and how sure they are", ""]
    if use_full and full_spec is not None:
        parts.append(
            f"From the **full study** (`{FULL_STUDY}`, metrics in `{full_metrics_dir}/`): "
            f"{held} fits ({fits} finished){_progress(full_spec)}. {summary(table)}"
        )
    elif full_dir is not None:
        parts.append(
            f"From **this study** (`{_label(spec)}`, {held} fits): the full study "
            f"(`{FULL_STUDY}`, the same design at the precision its claims need) has no "
            f"metrics in this checkout (`make reproduce-full` writes `{full_metrics_dir}/`). "
            f"{summary(table)}"
        )
    else:
        parts.append(f"From study `{_label(spec)}` ({held} fits). {summary(table)}")
    parts += ["", supported.section(m, "###"), "", "**Precision reached, per design aim.**"]
    parts += ["", markdown(shown(table)) if len(table) else "No design aims.", ""]
    if full_dir is not None:
        parts += ["### How this study and the full study relate", "", relation(spec, full_spec)]
    return "\n".join(parts)


def _label(spec: Any) -> str:
    from mmm_recovery.core import paths

    src = paths.resolve(spec.source)
    return str(src.relative_to(paths.ROOT)) if src.is_relative_to(paths.ROOT) else str(src)


def _full_spec() -> Any:
    """The full study's spec, or None where its file is absent or does not load here (e.g. a
    copy of the project whose default study is another one: it ``extends`` that)."""
    from mmm_recovery.core import paths
    from mmm_recovery.core.spec import SpecError, load_study

    f = paths.resolve(FULL_STUDY)
    if not f.is_file():
        return None
    try:
        return load_study(f)
    except SpecError:
        return None


def _progress(full_spec: Any) -> str:
    """`` of the design's N``: the full study's size, from its file."""
    from mmm_recovery.evaluation.tasks import tasks

    return f" of the design's {len([t for t in tasks(full_spec) if t.seed == 0])}"


def _changed(spec: Any, full_spec: Any) -> str:
    names = [e for e in spec.estimators if spec.estimators[e] != full_spec.estimators.get(e)]
    if not names:
        return ""
    return (
        f"; the others are fits of {', '.join(names)}, whose settings the full study changes "
        "(its `estimators:` block)"
    )


def relation(spec: Any, full_spec: Any | None) -> str:
    """What the default study is beside the full one: the same cells at fewer replicates, the
    same datasets (common seeds), and the fits the two share (same fingerprint)."""
    from mmm_recovery.evaluation.tasks import fingerprint, tasks

    full_spec = full_spec if full_spec is not None else _full_spec()
    if full_spec is None:
        return (
            f"The full study's file (`{FULL_STUDY}`) is absent from this checkout or does not "
            "load with its default study, so the two cannot be related here."
        )
    own = [t for t in tasks(spec) if t.seed == 0]
    mine = {fingerprint(spec, t) for t in own}
    top = max(t.replicate for t in own)  # a fingerprint holds the replicate: none above matches
    theirs = {
        fingerprint(full_spec, t) for t in tasks(full_spec) if t.seed == 0 and t.replicate <= top
    }
    cells = [s for s in spec.scenarios if s in full_spec.scenarios]
    reps = sorted({spec.replicates_of(s) for s in spec.scenarios})
    full_reps = sorted({full_spec.replicates_of(s) for s in cells})
    return (
        f"The default study (`{_label(spec)}`, what `dvc repro` runs) has {len(spec.scenarios)} "
        f"scenarios at {reps[0]}-{reps[-1]} replicates each; {len(cells)} of them are cells of "
        f"the full study, which runs them at {full_reps[0]}-{full_reps[-1]} replicates and adds "
        f"{len(full_spec.scenarios) - len(cells)} more. Replicate r of a cell is the same "
        "simulated dataset in both (the same seeds), so the default study's datasets are the "
        f"full study's first replicates, and {len(mine & theirs)} of its {len(mine)} fits are "
        "the full study's own fits (the same inputs, settings and code: one committed record "
        f"serves both){_changed(spec, full_spec)}. The default study is a complete, fast run of every stage and a "
        "preview of the answers; its Monte Carlo errors are larger in proportion to one over "
        "the root of its replicates, and its per-cell precision is reported as such. Cite the "
        "full study's figures where it has them."
    )
