"""The parameter-recovery study: scenarios x replicates x estimators, parallel and resumable.

Each task fits one estimator to one simulated replicate and writes one record atomically to
``data/study/<scenario>/rep_<NNN>/<estimator>.json``: the fit's result beside its truth
(:mod:`.tasks`). Aggregation scores every record against its truth
(:mod:`mmm_recovery.evaluation.score`, with the regret of its budget advice,
:mod:`mmm_recovery.evaluation.budget`) and never refits. A rerun skips tasks whose record exists
and carries the same input fingerprint (scenario, estimator settings, seeds, the code that fit
it), so an interrupted study resumes without redoing finished fits, never reads a half-written
one, and a change to the scoring or the reports refits nothing. A fit that raises is recorded as ``status: failed`` with its
reason and the study goes on; a fit that does not converge is kept and flagged.

Execution: ``processes`` (a local process pool of ``study.workers``) or a Dask distributed
scheduler (``study.scheduler: tcp://host:port``, or the ``MMM_RECOVERY_SCHEDULER`` environment
variable, which wins); one pool or Dask task per batch of tasks (:mod:`.tasks`). Progress is
printed as lines on stderr (:mod:`.progress`).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from mmm_recovery.core import files
from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import stability
from mmm_recovery.evaluation.archive import ARCHIVE, restore
from mmm_recovery.evaluation.design_analysis import TRUTHS_FILE
from mmm_recovery.evaluation.lock import held
from mmm_recovery.evaluation.rounding import _round_frame
from mmm_recovery.evaluation.scheduler import SCHEDULER_ENV, check_scheduler, scheduler_for
from mmm_recovery.evaluation.tasks import (
    Task,
    batches,
    fingerprint,
    finished,
    read_record,
    run_batch,
    scored,
    share_record,
    tasks,
)
from mmm_recovery.evaluation.workers import record_failed, run_local, summary


def run_study(
    study: Study,
    data_root: Path | None = None,
    progress: bool = True,
    only: Iterable[Task] | None = None,
    archive: Path | None = ARCHIVE,
    workers: int | None = None,
    retry_failed: bool = False,
) -> list[dict[str, Any]]:
    """Run every task whose record is missing; return the summaries of the tasks run now.
    ``progress``: print fits done / total, fits per minute and the time left to stderr
    (:class:`~mmm_recovery.evaluation.progress.Progress`). A task without a record of its own
    first gets the committed record of its fingerprint, where ``archive`` (default: the
    project's ``records/``; None: refit everything) holds one (:func:`.archive.restore`).
    ``workers``: local processes (default ``study.workers``). ``retry_failed``: fit again the
    failures that used up ``study.fit_attempts`` too. Refused (:class:`~.lock.StudyLocked`) while
    another study runs into the same data folder."""
    with held(study, data_root):  # one study per data folder (.lock)
        return _run(study, data_root, progress, only, archive, workers, retry_failed)


def _run(
    study: Study,
    data_root: Path | None,
    progress: bool,
    only: Iterable[Task] | None,
    archive: Path | None,
    workers: int | None,
    retry_failed: bool,
) -> list[dict[str, Any]]:
    from mmm_recovery.evaluation.progress import Progress

    wanted = list(only or tasks(study))
    if archive is not None:
        restore(study, data_root, archive, only=wanted)
    pending, exhausted = [], []
    for t in wanted:  # each record read once: done, to fit, or failed with no attempts left
        record = read_record(study, t, data_root)
        if not finished(study, record, retry_failed):
            pending.append(t)
        elif record is not None and record["status"] != "ok":
            exhausted.append(t)
    if exhausted:
        print(
            f"{len(exhausted)} fits failed {study.study.fit_attempts} times "
            f"(study.fit_attempts) and are not tried again, e.g. {exhausted[0].scenario}/"
            f"rep_{exhausted[0].replicate:03d}/{exhausted[0].estimator}: run with "
            "retry_failed (python -m mmm_recovery study run FILE --retry-failed) to fit them "
            "again",
            file=sys.stderr,
            flush=True,
        )
    if not pending:
        return []
    # tasks with one fingerprint (one scenario in two cells, one replicate) are fitted once
    groups: dict[str, list[Task]] = {}
    for t in pending:
        groups.setdefault(fingerprint(study, t), []).append(t)
    todo = [g[0] for g in groups.values()]
    study_path = str(study.source)
    root = str(data_root) if data_root else None
    sched = scheduler_for(study)
    done: list[dict[str, Any]] = []
    bar = Progress(
        len(todo),
        f"study {study.study.name}",
        skipped=len(wanted) - len(pending),
        enabled=progress,
    )
    bar.emit()
    if sched == "processes":  # a worker that dies costs only its own task (.workers)
        done += run_local(
            study, batches(study, todo), data_root, workers or study.study.workers, bar.update
        )
    else:
        from distributed import Client
        from distributed import as_completed as dask_completed

        where = (
            f"environment variable {SCHEDULER_ENV}"
            if os.environ.get(SCHEDULER_ENV)
            else f"{study.source}: study.scheduler"
        )
        check_scheduler(sched, study.study.scheduler_timeout_s, where)
        with Client(sched, timeout=study.study.scheduler_timeout_s) as client:
            futures = {
                client.submit(run_batch, study_path, b, root, pure=False): b
                for b in batches(study, todo)
            }
            for f in dask_completed(list(futures)):
                try:
                    result = f.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: its tasks fail
                    why = f"{type(exc).__name__}: {exc}"
                    if type(exc).__name__ == "KilledWorker":
                        why += " (every worker it ran on died: most likely out of memory)"
                    result = [summary(record_failed(study, t, data_root, why)) for t in futures[f]]
                done += result
                bar.update(len(result))
    done += [share_record(study, g[0], t, data_root) for g in groups.values() for t in g[1:]]
    return done


#: a task without a record of the current inputs, as the tables report it
MISSING_ERROR = (
    "no record of the current inputs: not fitted yet, or overwritten by another study's run "
    "into the same data folder (run the study to fit it)"
)


def load_records(
    study: Study, data_root: Path | None = None, workers: int | None = None
) -> list[dict[str, Any]]:
    """The valid records of the current inputs (:func:`~.tasks.read_record`), each scored against
    its truth (:func:`~.tasks.scored`: this is where scoring runs, after the fits), failures with
    attempts left included (they count as failures until a later run fits them), then each task
    without a valid record as ``status: missing`` (:data:`MISSING_ERROR`: never dropped, so a
    cell whose records another run overwrote does not look complete). Scoring (the budget optimisations) runs in ``workers`` local processes
    (default ``study.workers``) when there are more than :data:`SCORE_ALONE` records; each
    record is scored alike wherever it runs, and the order is the tasks' order."""
    found = [(t, read_record(study, t, data_root)) for t in tasks(study)]
    missing = [_missing(t) for t, r in found if r is None]
    records = [r for _, r in found if r is not None]
    s = study.study
    n = workers or s.workers
    if n <= 1 or len(records) <= SCORE_ALONE:
        return [scored(r, s.budget_bound, s.regret_bounds) for r in records] + missing
    bound, bounds = s.budget_bound, tuple(s.regret_bounds)
    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as pool:
        done = pool.map(
            scored,
            records,
            [bound] * len(records),
            [bounds] * len(records),
            chunksize=max(1, len(records) // (8 * n)),
        )
        return list(done) + missing


def _missing(task: Task) -> dict[str, Any]:
    return {
        "scenario": task.scenario,
        "replicate": task.replicate,
        "estimator": task.estimator,
        "seed": task.seed,
        "status": "missing",
        "converged": False,
        "error": MISSING_ERROR,
    }


#: at most this many records are scored in this process (more: in ``workers`` processes, whose
#: start-up costs a few seconds each)
SCORE_ALONE = 64


def comparisons_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in records:
        if r["status"] != "ok":
            continue
        for row in r["comparison"]:
            rows.append(
                {
                    "scenario": r["scenario"],
                    "replicate": r["replicate"],
                    "estimator": r["estimator"],
                    **row,
                }
            )
    return pd.DataFrame(rows, columns=None if rows else COMPARISON_COLUMNS)


#: The columns of ``comparisons.csv`` when no fit succeeded (a fit's rows carry these and more)
COMPARISON_COLUMNS = (
    "scenario",
    "replicate",
    "estimator",
    "channel",
    "quantity",
    "truth",
    "estimate",
    "error",
    "rel_error",
    "lower",
    "upper",
    "width",
    "covered",
    "converged",
)
#: The columns every ``fits.csv`` has, whatever its fits' statuses
FIT_COLUMNS = (
    "scenario",
    "replicate",
    "estimator",
    "status",
    "converged",
    "error",
    "regret",
    "regret_share_of_lift",
    "true_lift_of_recommendation",
    "predicted_lift",
    "regret_share_of_revenue",
    "curve_bias_at_optimum",
    "optimizer_curse",
    "optimum_beaten",
    "optimum_starts_worse",
    "decomp_rssd_true",
    "decomp_rssd",
    "spend_share_pull",
    "holdout_mape",
)

#: Workflow diagnostics copied from a fit's results into ``fits.csv`` when the estimator has them
DIAGNOSTIC_COLUMNS = (
    "max_rhat",
    "min_ess_bulk",
    "min_ess_tail",
    "divergences",
    "min_bfmi",
    "mean_leapfrog_steps",
    "prior_predictive_share_in_range",
    "prior_sensitivity_threshold",
)


def fits_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per fit: status, convergence, error, regret, holdout MAPE and the workflow
    diagnostics the estimator records (:data:`DIAGNOSTIC_COLUMNS`)."""
    rows = []
    for r in records:
        row = {
            k: r.get(k)
            for k in (
                "scenario",
                "replicate",
                "estimator",
                "status",
                "converged",
            )
        }
        row["error"] = r.get("error")
        if r["status"] == "ok":
            row["regret"] = r["regret"]["regret"]
            row["regret_share_of_lift"] = r["regret"]["regret_share_of_lift"]
            row["true_lift_of_recommendation"] = r["regret"]["true_lift_of_recommendation"]
            row["predicted_lift"] = r["regret"].get("predicted_lift")
            for key in ("regret_share_of_revenue", "curve_bias_at_optimum", "optimizer_curse"):
                row[key] = r["regret"].get(key)
            row["optimum_beaten"] = r["regret"].get("optimum_beaten")
            row["optimum_starts_worse"] = r["regret"].get("optimum_search", {}).get("worse")
            for b, at in r["regret"].get("at", {}).items():  # regret at further bounds
                for key in ("regret_share_of_lift", "regret_share_of_revenue"):
                    row[f"{key}@{b}"] = at[key]
                row[f"harmful@{b}"] = at["true_lift_of_recommendation"] < 0
            row.update(r["shares"])
            row["holdout_mape"] = r["result"]["fit"].get("holdout", {}).get("mape")
            diag = r["result"].get("diagnostics", {})
            for key in DIAGNOSTIC_COLUMNS:
                if isinstance(diag.get(key), int | float):
                    row[key] = diag[key]
            if "prior_sensitivity_skipped" in diag:  # why a fit's sensitivities are missing
                row["prior_sensitivity_skipped"] = diag["prior_sensitivity_skipped"]
        rows.append(row)
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in FIT_COLUMNS]
    return df.reindex(columns=[*FIT_COLUMNS, *extra])


def write_outputs(
    study: Study, out_dir: Path, data_root: Path | None = None, workers: int | None = None
) -> dict[str, Any]:
    """The records' tables (:func:`write_record_tables`) and every aggregate computed from them
    (:func:`~.aggregate.write_aggregates`: ``study.json``, ``pooled.json``, the performance,
    calibration, contrast, coverage and bias tables) in ``out_dir``. Returns the metrics."""
    from mmm_recovery.evaluation.aggregate import write_aggregates

    write_record_tables(study, out_dir, data_root, workers)
    return write_aggregates(study, out_dir)


def write_record_tables(
    study: Study, out_dir: Path, data_root: Path | None = None, workers: int | None = None
) -> None:
    """Score the records (:func:`load_records`) into ``out_dir``'s tables (:func:`write_tables`):
    ``comparisons.csv``, ``fits.csv``, ``stability.csv``. Committed files hold reproducible
    numbers only, rounded to :data:`METRIC_DIGITS`; wall times are in ``data/timing/`` (see
    :func:`runtime_table`)."""
    records = load_records(study, data_root, workers)
    main = [r for r in records if r["seed"] == 0]  # further seeds: seed stability only
    stab = stability.summarize(stability.stability_rows(study, records))
    write_tables(out_dir, comparisons_table(main), fits_table(main), stab)
    files.write_csv(Path(out_dir) / TRUTHS_FILE, _round_frame(truths_table(main)))


TRUTH_COLUMNS = ["scenario", "replicate", "channel", "alpha", "half_saturation", "roas"]
TRUTH_COLUMNS += ["spend_share", "contribution_share"]


def truths_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per dataset x channel: the truth's features (``alpha`` the geometric decay,
    ``half_saturation`` the steady-state spend at half the logistic maximum as a multiple of the
    channel's mean weekly spend, ``roas``, the spend and contribution shares); NaN where the
    truth's family has no such parameter. Read from any fit of the dataset that has its truth."""
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for r in records:
        if isinstance(r.get("truth"), dict):
            seen.setdefault((r["scenario"], r["replicate"]), r["truth"])
    rows = []
    for (scen, rep), truth in sorted(seen.items()):
        for c in truth["channel_names"]:
            t = truth["channels"][c]
            lam, mean = t["saturation"].get("lam"), t.get("mean_weekly_spend")
            rows.append(
                {
                    "scenario": scen,
                    "replicate": rep,
                    "channel": c,
                    "alpha": t["adstock"].get("alpha", float("nan")),
                    "half_saturation": 2.0 * math.atanh(0.5) / lam / mean
                    if lam and mean
                    else float("nan"),
                    "roas": t["roas"],
                    "spend_share": t["spend_share"],
                    "contribution_share": t["contribution_share"],
                }
            )
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def write_metrics(
    study: Study,
    out_dir: Path,
    comparisons: pd.DataFrame,
    fits: pd.DataFrame,
    seed_stability: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write the tables (:func:`write_tables`) and the aggregates computed from them
    (:func:`~.aggregate.write_aggregates`); return the ``study.json`` metrics."""
    from mmm_recovery.evaluation.aggregate import write_aggregates

    write_tables(out_dir, comparisons, fits, seed_stability)
    return write_aggregates(study, out_dir)


def write_tables(
    out_dir: Path,
    comparisons: pd.DataFrame,
    fits: pd.DataFrame,
    seed_stability: pd.DataFrame | None = None,
) -> None:
    """Write the study's tables, from which every aggregate is computed: ``comparisons.csv``
    (one row per fit x channel x quantity), ``fits.csv`` (one per fit) and ``stability.csv``
    (:func:`~.stability.summarize`), rounded to :data:`METRIC_DIGITS`."""
    fits = fits.sort_values(["scenario", "estimator", "replicate"])
    stab = seed_stability if seed_stability is not None else pd.DataFrame()
    stab = stab.reindex(columns=stability.COLUMNS)
    out_dir = Path(out_dir)
    files.write_csv(out_dir / stability.STABILITY_FILE, _round_frame(stab))
    files.write_csv(out_dir / "fits.csv", _round_frame(fits))
    files.write_csv(out_dir / "comparisons.csv", _round_frame(comparisons))


def runtime_table(study: Study, data_root: Path | None = None) -> pd.DataFrame:
    """Wall time per fit (seconds) of every finished task, from ``data/timing/`` (machine-dependent,
    so neither in the records nor in the committed metrics)."""
    rows = []
    for t in tasks(study):
        p = files.timing_path(t.path(data_root))
        if p.is_file():
            rows.append(
                {
                    "scenario": t.scenario,
                    "estimator": t.estimator,
                    "replicate": t.replicate,
                    **files.read_json(p),
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    raise SystemExit(
        "error: mmm_recovery.evaluation.study is a library module, not a command: run the study with "
        "`dvc repro study` (or `make reproduce` for the whole pipeline)"
    )
