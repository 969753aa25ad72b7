"""Simulation-based calibration (SBC) of the Bayesian estimator, through the study's own fit
(Talts et al. 2018; Modrák et al. 2023).

Scenario recovery asks whether the estimator finds one truth; SBC asks whether its inference is
calibrated at all. For each arm of the study's ``sbc:`` block
(:class:`~mmm_recovery.core.sbc_spec.SBCSettings`) and each simulation ``i``:

1. spend, controls and lift-test designs come from the project's simulator (the block's scenario
   cut to the arm's weeks, channels and lift tests); the response is not the scenario's;
2. every parameter, then the target and each lift test's measurement, is drawn from the
   estimator's own model on that design (:func:`~mmm_recovery.evaluation.sbc_draw.draw`: the
   model the study's fit compiles, its priors and both lift-test likelihoods);
3. the estimator fits the drawn dataset with the function every study fit calls
   (:func:`~mmm_recovery.estimators.registry.estimator_for` ``(...).fit``), the target scale held
   at the draw's (:func:`~mmm_recovery.evaluation.sbc_draw.held_target_scale`);
4. each test quantity's rank among ``ranks`` evenly thinned posterior draws is recorded, with its
   posterior mean and sd (for contraction), and the budget advice of the fit is scored against the
   drawn truth: under the prior the Bayes action's predicted lift is unbiased for its true lift.

Simulation ``i`` draws from ``SeedSequence([base_seed, crc32("sbc"), i])`` in every arm, so the
arms share their spend and parameter draws. Each simulation's record is written atomically to
``data/sbc/<arm>/sim_<NNNN>.json`` with a fingerprint of its inputs and code: a rerun fits only
what is missing or stale, and two runs write the same bytes. Every simulation is kept, converged
or not, with its diagnostics. The uniformity tests, contraction and power are in
:mod:`~mmm_recovery.evaluation.sbc_metrics`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, cast

import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.evaluation.sbc_draw import (
    DECISION_COLUMNS,
    FIT_COLUMNS,
    RANK_COLUMNS,
    simulate_one,
)

#: files the ``sbc`` stage writes into the metrics folder
RANKS_FILE, FITS_FILE, DECISIONS_FILE, METRICS_FILE = (
    "sbc_ranks.csv",
    "sbc_fits.csv",
    "sbc_decisions.csv",
    "sbc.json",
)
#: the modules an SBC simulation runs besides the estimator's (in its record's fingerprint)
SBC_MODULES = ("evaluation/sbc_draw.py", "evaluation/budget.py")


def record_path(arm: str, i: int, data_root: Path | None = None) -> Path:
    """Where simulation ``i`` of arm ``arm`` keeps its record."""
    return (data_root or paths.DATA) / "sbc" / arm / f"sim_{i:04d}.json"


def fingerprint(study: Any, arm: str, i: int) -> str:
    """What decides simulation ``i`` of ``arm``: the block's settings that reach a fit (scenario,
    the arm, ranks), the scenario, the estimator's settings, the base seed and budget bound, and
    the code it runs (the estimator's task code with the pinned stack, and :data:`SBC_MODULES`)."""
    from mmm_recovery.evaluation.task_code import _digest, code_hash

    settings = study.sbc
    own = [paths.PACKAGE / m for m in SBC_MODULES]
    # both hashes are cached while the files' stamps hold: a run fingerprints every simulation
    own_hash = _digest(tuple((f, f.stat().st_mtime_ns, f.stat().st_size) for f in own))
    payload = {
        "arm": settings.arms[arm].model_dump(mode="json"),
        "scenario": study.scenario(settings.scenario).model_dump(mode="json"),
        "estimator": study.estimators[settings.estimator],
        "ranks": settings.ranks,
        "base_seed": study.study.base_seed,
        "budget_bound": study.study.budget_bound,
        "simulation": i,
        "code": [code_hash(settings.estimator), own_hash],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _read(study: Any, arm: str, i: int, data_root: Path | None) -> dict[str, Any] | None:
    path = record_path(arm, i, data_root)
    if not path.is_file():
        return None
    record = files.read_json(path)
    return record if record.get("fingerprint") == fingerprint(study, arm, i) else None


def run_one(study_path: str, arm: str, i: int, data_root: str | None = None) -> dict[str, Any]:
    """Simulate, fit and record simulation ``i`` of ``arm`` (runs in a worker process). A fit
    that raises is recorded as failed with its reason, and retried on the next run."""
    from mmm_recovery.core.spec import load_study

    study = load_study(study_path)
    root = Path(data_root) if data_root else None
    record: dict[str, Any] = {
        "fingerprint": fingerprint(study, arm, i),
        "arm": arm,
        "simulation": i,
    }
    try:
        record |= {"status": "ok", **simulate_one(study, arm, i)}
    except Exception as exc:  # noqa: BLE001 - reported, and the run goes on
        record |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    files.write_json(record_path(arm, i, root), record)
    return record


#: the fits table's columns besides :data:`FIT_COLUMNS`: what restores a record from it
RECORD_COLUMNS = ("status", "fingerprint")


def restore(
    study: Any, wanted: Sequence[tuple[str, int]], tables_dir: Path, data_root: Path | None
) -> int:
    """Write the record of every simulation of ``wanted`` that has none in ``data_root`` but a
    current one in the tables in ``tables_dir`` (the committed ``sbc_*.csv``: their rows carry
    each simulation's fingerprint), so a fresh clone reuses the committed fits and refits only
    what a change made stale. Returns how many were restored."""
    paths_ = [tables_dir / f for f in (RANKS_FILE, FITS_FILE, DECISIONS_FILE)]
    if not all(p.is_file() for p in paths_):
        return 0
    ranks, fits, decisions = (pd.read_csv(p) for p in paths_)
    if not set(RECORD_COLUMNS) <= set(fits.columns):
        return 0
    fits = fits[fits["status"] == "ok"].set_index(["arm", "simulation"])
    by_sim = {k: g for k, g in ranks.groupby(["arm", "simulation"], sort=False)}
    dec = decisions.set_index(["arm", "simulation"])
    restored = 0
    for arm, i in wanted:
        key = (arm, i)
        path = record_path(arm, i, data_root)
        if path.is_file() or key not in fits.index or key not in by_sim or key not in dec.index:
            continue
        fp = fingerprint(study, arm, i)
        row = fits.loc[key]
        if row["fingerprint"] != fp:
            continue
        fit = {c: _plain(row[c]) for c in FIT_COLUMNS[2:]} | {"arm": arm, "simulation": i}
        record = {
            "fingerprint": fp,
            "arm": arm,
            "simulation": i,
            "status": "ok",
            "ranks": [
                {c: _plain(v) for c, v in r.items()}
                for r in by_sim[key][list(RANK_COLUMNS)].to_dict("records")
            ],
            "fit": fit,
            "decision": {c: _plain(dec.loc[key][c]) for c in DECISION_COLUMNS[2:]}
            | {"arm": arm, "simulation": i},
        }
        files.write_json(path, record)
        restored += 1
    return restored


def _plain(v: Any) -> Any:
    """A table cell as the record held it (NumPy scalars as Python ones)."""
    return v.item() if hasattr(v, "item") else v


def run(
    study: Any,
    data_root: Path | None = None,
    arms: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    tables_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Every simulation of every arm (or ``arms``), fitting those without a current record in
    ``workers`` processes (default the study's ``workers``; 1: in this process); return the
    records, in arm and simulation order. ``tables_dir``: restore missing records from the
    tables there first (:func:`restore`). ``progress``: print simulations done / total, the rate
    and the time left to stderr (:class:`~mmm_recovery.evaluation.progress.Progress`)."""
    from mmm_recovery.evaluation.progress import Progress

    settings = study.sbc
    if settings is None:
        raise ValueError(f"{study.source or 'study'}: has no sbc: block")
    wanted = [(a, i) for a in (arms or list(settings.arms)) for i in range(settings.simulations)]
    if tables_dir is not None:
        restore(study, wanted, Path(tables_dir), data_root)
    records = {(a, i): _read(study, a, i, data_root) for a, i in wanted}
    todo = [k for k, r in records.items() if r is None or r.get("status") != "ok"]
    n = workers or study.study.workers
    root = str(data_root) if data_root else None
    bar = Progress(
        len(todo), f"sbc {study.study.name}", skipped=len(wanted) - len(todo), enabled=progress
    )
    if todo:
        bar.emit()
    if n <= 1 or len(todo) <= 1:
        for a, i in todo:
            records[(a, i)] = run_one(str(study.source), a, i, root)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(run_one, str(study.source), a, i, root): (a, i) for a, i in todo}
            for f in as_completed(futures):
                records[futures[f]] = f.result()
                bar.update()
    return [cast(dict[str, Any], records[k]) for k in wanted]


def tables(records: Sequence[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ranks, fits and decisions tables of ``records``. A failed simulation has no ranks; it
    is a fits row with ``converged`` false, status ``failed`` and its error. Each fits row
    carries its record's status and fingerprint (:func:`restore` reads them)."""
    ranks, fits, decisions = [], [], []
    for r in records:
        own = {"status": r["status"], "fingerprint": r["fingerprint"]}
        if r["status"] == "ok":
            ranks += r["ranks"]
            fits.append(r["fit"] | own)
            decisions.append(r["decision"])
        else:
            fits.append(
                {"arm": r["arm"], "simulation": r["simulation"], "converged": False}
                | own
                | {"error": r.get("error")}
            )
    return (
        pd.DataFrame(ranks, columns=list(RANK_COLUMNS)),
        pd.DataFrame(fits, columns=[*FIT_COLUMNS, *RECORD_COLUMNS, "error"]),
        pd.DataFrame(decisions, columns=list(DECISION_COLUMNS)),
    )


def write_outputs(
    study: Any, metrics_dir: Path, data_root: Path | None = None, **run_kwargs: Any
) -> dict[str, Any]:
    """Run the study's SBC (records missing from ``data_root`` restored from the tables already
    in ``metrics_dir`` where current) and write its ranks, fits, decisions and ``sbc.json`` into
    ``metrics_dir`` (each file atomically); return the metrics."""
    from mmm_recovery.evaluation.sbc_metrics import metrics

    records = run(study, data_root, tables_dir=Path(metrics_dir), **run_kwargs)
    ranks, fits, decisions = tables(records)
    scenario = study.scenario(study.sbc.scenario)
    designs = {}
    for arm in study.sbc.arms:
        spec = study.sbc.design_spec(scenario, arm)
        designs[arm] = {"n_weeks": spec.n_weeks, "channels": list(spec.channels)}
    out = metrics(ranks, fits, decisions, study.sbc, study.study.base_seed, designs)
    metrics_dir = Path(metrics_dir)
    files.write_csv(metrics_dir / RANKS_FILE, ranks)
    files.write_csv(metrics_dir / FITS_FILE, fits)
    files.write_csv(metrics_dir / DECISIONS_FILE, decisions)
    files.write_json(metrics_dir / METRICS_FILE, out)
    return out
