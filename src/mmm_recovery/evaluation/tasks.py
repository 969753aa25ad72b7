"""One study task: fit one estimator to one simulated replicate and write its record.

A record is written atomically to ``data/study/<scenario>/rep_<NNN>/<estimator>.json``. It holds
what the fit produced (the estimator's result: every summary at every calibration level, curves,
diagnostics) beside the answer key it is scored against (the truth and the spend range it needs):
scoring and aggregation run afterwards, from the records (:mod:`.study`), so editing them refits
nothing. A record carries the fingerprint of exactly what produced it (:func:`fingerprint`: the
simulation code, the fitted estimator's own sub-package and the core and families modules they
import, the pinned stack, the scenario, the estimator's settings and the seeds), so a rerun skips
finished tasks and redoes stale ones. A fit that raises is recorded as ``status: failed`` with its reason
and its number of attempts, and fitted again by later runs until ``study.fit_attempts``; a fit
that does not converge is kept and flagged. A record that is not well formed is refitted.

With ``study.batch_size`` above one, the tasks of an estimator that fits many datasets in one
call (``Estimator.fit_batch``, e.g. the batched Bayesian sampler) run in batches of that size
(:func:`batches`, :func:`run_batch`); each dataset still gets its own record, written as soon as
its fit is done, so an interrupted batch loses no finished fit. A batch that cannot run as one
(e.g. a dataset with lift tests) falls back to one task at a time; each record says which path
made it (``path``).
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import Study, load_study
from mmm_recovery.estimators import registry
from mmm_recovery.estimators.base import Estimator
from mmm_recovery.evaluation import score
from mmm_recovery.evaluation.task_code import NOT_TASK_MODULES as NOT_TASK_MODULES
from mmm_recovery.evaluation.task_code import STUDY_FILE_MODULES as STUDY_FILE_MODULES
from mmm_recovery.evaluation.task_code import TASK_ENTRY_MODULES as TASK_ENTRY_MODULES
from mmm_recovery.evaluation.task_code import _digest as _digest
from mmm_recovery.evaluation.task_code import code_files as code_files
from mmm_recovery.evaluation.task_code import code_hash


@dataclass(frozen=True)
class Task:
    """One fit: ``estimator`` on replicate ``replicate`` of ``scenario`` with estimator seed
    ``seed`` (0: the study's fit; above 0: a refit for ``study.seed_stability``)."""

    scenario: str
    replicate: int
    estimator: str
    seed: int = 0

    def path(self, data_root: Path | None = None) -> Path:
        name = self.estimator + (f".seed_{self.seed:02d}" if self.seed else "")
        return study_dir(data_root) / self.scenario / f"rep_{self.replicate:03d}" / f"{name}.json"

    def rng(self, study: Study) -> np.random.Generator:
        """The task's estimator Generator (:meth:`~mmm_recovery.core.spec.Study.estimator_rng`)."""
        return study.estimator_rng(self.scenario, self.replicate, self.estimator, self.seed)


def study_dir(data_root: Path | None = None) -> Path:
    return (data_root or paths.DATA) / "study"


def tasks(study: Study) -> list[Task]:
    """Every (scenario, replicate, estimator) of the study, replicate by replicate (a run
    stopped part-way has whole replicates of every cell: a balanced design), then the further
    seeds of ``study.seed_stability``, in a stable order."""
    reps = {s: study.replicates_of(s) for s in study.scenarios}
    main = [
        Task(s, r, e)
        for r in range(max(reps.values()))
        for s in study.scenarios
        if r < reps[s]
        for e in study.estimators
    ]
    stab = study.study.seed_stability
    if stab is None:
        return main
    return main + [
        Task(s, r, e, k)
        for s in stab.scenarios
        for r in range(stab.replicates)
        for e in study.estimators
        for k in range(1, stab.seeds)
    ]


def run_task(study_path: str, task: Task, data_root: str | None = None) -> dict[str, Any]:
    """Fit one task and write its record (runs in a worker process). Never raises for a failing
    fit: the failure and its traceback are the record."""
    from mmm_recovery.evaluation.fitting import fit_dataset, record_fields, simulated

    root = Path(data_root) if data_root else None
    study = load_study(study_path)
    t0 = time.perf_counter()
    record = _record(study, task)
    try:
        # the same seed gives the same bytes as the simulate stage's file (tested), so the study
        # regenerates each replicate instead of depending on every scenario's files
        ds = simulated(study, task.scenario, task.replicate)
        result = fit_dataset(
            study, task.scenario, task.replicate, task.estimator, dataset=ds, seed=task.seed
        )
        record |= record_fields(ds, result)
    except Exception as exc:  # noqa: BLE001 - a failed fit is a result, not a crash
        before = read_record(study, task, root)
        record |= {
            "status": "failed",
            "converged": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=5),
            "attempts": (before or {}).get("attempts", 0) + 1,
        }
    if batched(study, task.estimator):  # a batched study's task fitted on its own (fallback)
        record["path"] = "per-dataset"
    return _write(task, record, root, time.perf_counter() - t0)


def batched(study: Study, estimator: str) -> bool:
    """Whether the study runs ``estimator``'s tasks in batches: ``study.batch_size`` above one
    and an estimator with its own ``fit_batch``."""
    if study.study.batch_size <= 1:  # (without importing the estimator's fitting code)
        return False
    cls = registry.class_for(estimator, study.estimators[estimator])
    return cls.iter_fit_batch is not Estimator.iter_fit_batch


def batches(study: Study, todo: Iterable[Task]) -> list[list[Task]]:
    """``todo`` in runs of at most ``study.batch_size`` tasks of one scenario and one batched
    estimator (:func:`batched`), in order; every other task alone."""
    out: list[list[Task]] = []
    open_: dict[tuple[str, str], list[Task]] = {}
    for t in todo:
        if not batched(study, t.estimator):
            out.append([t])
            continue
        run = open_.setdefault((t.scenario, t.estimator), [])
        if not run:
            out.append(run)
        run.append(t)
        if len(run) == study.study.batch_size:
            del open_[(t.scenario, t.estimator)]
    return out


def run_batch(
    study_path: str, batch: list[Task], data_root: str | None = None
) -> list[dict[str, Any]]:
    """Run a batch of one scenario's tasks of one estimator with one ``fit_batch`` call, writing
    each record as soon as its fit is done; if the batch cannot run as one, the tasks it has not
    finished run one at a time (:func:`run_task`). Never raises for a failing fit."""
    if len(batch) == 1:
        return [run_task(study_path, batch[0], data_root)]
    from mmm_recovery.estimators.registry import estimator_for
    from mmm_recovery.evaluation.fitting import fit_input, record_fields, simulated

    root = Path(data_root) if data_root else None
    study = load_study(study_path)
    est = estimator_for(study, batch[0].estimator)
    t0 = time.perf_counter()
    datasets = [simulated(study, t.scenario, t.replicate) for t in batch]
    inputs = [fit_input(study, ds) for ds in datasets]
    rngs = [t.rng(study) for t in batch]
    done: list[dict[str, Any]] = []
    try:
        for t, ds, result in zip(batch, datasets, est.iter_fit_batch(inputs, rngs), strict=True):
            result.scenario, result.replicate = t.scenario, t.replicate
            record = _record(study, t) | record_fields(ds, result) | {"path": "batched"}
            done.append(_write(t, record, root, (time.perf_counter() - t0) / len(batch)))
    except Exception:  # noqa: BLE001 - the batch could not run as one: fit the rest one by one
        done += [run_task(study_path, t, data_root) for t in batch[len(done) :]]
    return done


def share_record(
    study: Study, source: Task, task: Task, data_root: Path | None = None
) -> dict[str, Any]:
    """Write ``task``'s record as a copy of ``source``'s: two design cells with one scenario
    (e.g. the baseline, the core arm's reference cell and the misspecification arm's in-family
    cell) at one replicate have the same data and the same fit seed (common random numbers), so
    the same fingerprint and the same fit; it is fitted once. A missing or unreadable source
    record leaves ``task`` to be fitted by the next run."""
    record = read_record(study, source, data_root)
    if record is None or fingerprint(study, task) != record.get("fingerprint"):
        return {**_record(study, task), "status": "missing", "runtime_seconds": 0.0}
    return _write(task, renamed(record, task.scenario), data_root, 0.0)


def renamed(record: dict[str, Any], scenario: str) -> dict[str, Any]:
    """``record`` as the record of the same fit under ``scenario`` (another cell with the same
    data and seed), without its checksum (which the writer adds)."""
    record = {k: v for k, v in record.items() if k != "checksum"} | {"scenario": scenario}
    if isinstance(record.get("result"), dict) and "scenario" in record["result"]:
        record["result"] = record["result"] | {"scenario": scenario}
    return record


def _record(study: Study, task: Task) -> dict[str, Any]:
    return {
        "scenario": task.scenario,
        "replicate": task.replicate,
        "estimator": task.estimator,
        "seed": task.seed,
        "fingerprint": fingerprint(study, task),
    }


def scored(
    record: dict[str, Any], budget_bound: float, regret_bounds: tuple[float, ...] = ()
) -> dict[str, Any]:
    """``record`` with its score against its truth (:func:`mmm_recovery.evaluation.score.score`):
    ``comparison`` (rows), ``regret`` and ``shares``; a failed fit's record as it is. Runs after
    the fits, from the records: the one place a record is scored. A record that cannot be scored
    is reported as a failed fit with the reason, never dropped.

    A record is written with sorted keys, so its channels and each curve's parameters are put
    back in the order a fit reports them (the study's channel order, each family's parameter
    order) before scoring: the numbers, the rows' order and the optimiser's variable order are
    those of scoring the fit as it came out of the estimator."""
    if record["status"] != "ok":
        return record
    try:
        result, truth = _in_fit_order(record["result"], record["truth"])
        names = truth["channel_names"]
        spend = record["spend"]
        s = score.score_fit(
            result,
            truth,
            {c: spend[c]["max"] for c in names},
            {c: spend[c]["mean"] for c in names},
            budget_bound,
            tuple(regret_bounds),
        )
    except Exception as exc:  # noqa: BLE001 - an unscorable fit is a result, not a crash
        return record | {
            "status": "failed",
            "error": f"scoring failed: {type(exc).__name__}: {exc}",
            "attempts": 0,
        }
    fields = {
        "comparison": s.comparison.to_dict(orient="records"),
        "regret": s.regret,
        "shares": s.shares,
    }
    # as a JSON file has them (sorted keys, NaN as null), as when records held their score
    return record | json.loads(json.dumps(files._jsonable(fields), sort_keys=True))


def _in_fit_order(
    result: dict[str, Any], truth: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``result`` and ``truth`` with their channels in the study's order and each curve's
    parameters in its family's order (see :func:`scored`)."""
    from mmm_recovery.families import registry as families

    def ordered(block: dict[str, Any], declared: tuple[str, ...]) -> dict[str, Any]:
        params = block["params"]
        keys = [p for p in declared if p in params] + [p for p in params if p not in declared]
        return {**block, "params": {k: params[k] for k in keys}}

    names = list(truth["channel_names"])
    channels = {}
    for c in names:
        est = result["channels"][c]
        adstock, saturation = est["adstock"], est["saturation"]
        channels[c] = {
            **est,
            "adstock": ordered(adstock, families.adstock(adstock["family"]).parameters),
            "saturation": ordered(saturation, families.saturation(saturation["family"]).parameters),
        }
    truth = {**truth, "channels": {c: truth["channels"][c] for c in names}}
    return {**result, "channels": channels}, truth


def checksum(record: dict[str, Any]) -> str:
    """SHA-256 of ``record`` as written (sorted keys, NaN as null), less its own ``checksum``: a
    record edited by hand after it was written no longer matches it."""
    body = {k: v for k, v in record.items() if k != "checksum"}
    text = json.dumps(files._jsonable(body), sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _write(task: Task, record: dict[str, Any], root: Path | None, runtime: float) -> dict[str, Any]:
    files.write_json(task.path(root), record | {"checksum": checksum(record)})
    files.write_timing(task.path(root), {"runtime_seconds": runtime})  # machine-dependent
    return {
        **{k: record[k] for k in ("scenario", "replicate", "estimator", "seed", "status")},
        "runtime_seconds": runtime,
    }


#: The version of the record's layout (its keys and what they mean); part of every fingerprint,
#: so a record written in another layout is refitted rather than misread
RECORD_FORMAT = 2


def fingerprint(study: Study, task: Task) -> str:
    """Everything a task's record depends on: its scenario, the estimator's settings, the seeds,
    the study settings its fit reads, the record layout and the code it runs
    (:func:`code_hash`). A record with another fingerprint is redone. The scoring settings
    (``budget_bound``) are not in it: records are scored after the fits (:func:`scored`)."""
    base = registry.resolve(task.estimator, study.estimators[task.estimator])[0]
    payload = {
        "scenario": study.scenario(task.scenario).model_dump(mode="json"),
        "estimator": study.estimators[task.estimator],
        "replicate": task.replicate,
        "seed": task.seed,
        "study": study.study.model_dump(
            mode="json", include={"base_seed", "holdout_weeks", "calibration_levels"}
        ),
        "record_format": RECORD_FORMAT,
        "code": code_hash(base),
    }
    if batched(study, task.estimator):  # other draws than the per-dataset path's
        payload["batch_size"] = study.study.batch_size
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


#: what every record holds, and what a record of each status adds
RECORD_KEYS = {
    "scenario": str,
    "replicate": int,
    "estimator": str,
    "seed": int,
    "fingerprint": str,
    "checksum": str,
}
STATUS_KEYS = {
    "ok": {"converged": bool, "result": dict, "truth": dict, "spend": dict},
    "failed": {"error": str, "attempts": int},
}


def record_problem(record: Any, study: Study, task: Task) -> str | None:
    """Why ``record`` cannot stand as ``task``'s result (not a record, a key missing or of the
    wrong type, another task's, made from other inputs, edited since it was written), or None if
    it can."""
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    status = record.get("status")
    if status not in STATUS_KEYS:
        return f"status {status!r} is not one of {sorted(STATUS_KEYS)}"
    for key, kind in {**RECORD_KEYS, **STATUS_KEYS[status]}.items():
        value = record.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{key} is {value!r}, not a {kind.__name__}"
    if (record["scenario"], record["replicate"], record["estimator"], record["seed"]) != (
        task.scenario,
        task.replicate,
        task.estimator,
        task.seed,
    ):
        return "it is another task's record"
    if record["fingerprint"] != fingerprint(study, task):
        return "it was made from other inputs (its fingerprint differs)"
    if record["checksum"] != checksum(record):
        return "its content was changed after it was written (its checksum differs)"
    return None


def read_record(study: Study, task: Task, data_root: Path | None = None) -> dict | None:
    """``task``'s record if it exists, reads, is well formed and was made from the current
    inputs (:func:`record_problem`); None otherwise, so the task is fitted again. Records are
    written atomically, but a hand-edited or truncated one is never trusted."""
    p = task.path(data_root)
    if not p.is_file():
        return None
    try:
        record = files.read_json(p)
    except ValueError:
        return None
    return None if record_problem(record, study, task) else record


def is_done(
    study: Study, task: Task, data_root: Path | None = None, retry_failed: bool = False
) -> bool:
    """A task is done when it has a valid record (:func:`read_record`) that is not a failure
    with attempts left (``study.fit_attempts``): a failed fit is tried again by later runs, and
    with ``retry_failed`` one that used up its attempts too."""
    return finished(study, read_record(study, task, data_root), retry_failed)


def finished(study: Study, record: dict[str, Any] | None, retry_failed: bool = False) -> bool:
    """:func:`is_done`'s rule on a record already read (None: no valid record)."""
    if record is None:
        return False
    if record["status"] == "ok":
        return True
    return not retry_failed and record["attempts"] >= study.study.fit_attempts
