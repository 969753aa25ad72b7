"""The study runner: every task written atomically, resumable after a kill, failures recorded,
and the same study on a real dask.distributed LocalCluster on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation.study import (
    SCHEDULER_ENV,
    load_records,
    run_study,
    write_outputs,
)
from mmm_recovery.evaluation.tasks import Task, is_done, tasks


def _study(tmp_path: Path, replicates: int = 2, **frequentist) -> Path:
    """A frequentist-only copy of the smoke study (fast fits) in tmp_path."""
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["study"]["replicates"] = replicates
    raw["study"]["workers"] = 1
    raw["estimators"] = {
        "frequentist": {
            **raw["estimators"]["frequentist"],
            "bootstrap": {"replicates": 3, "budget": 40},
            **frequentist,
        }
    }
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(raw))
    return f


def test_runs_every_task_then_nothing(tmp_path):
    study = load_study(_study(tmp_path))
    ran = run_study(study, data_root=tmp_path / "data", progress=False)
    assert sorted((r["scenario"], r["replicate"]) for r in ran) == sorted(
        (t.scenario, t.replicate) for t in tasks(study)
    )
    assert all(r["status"] == "ok" for r in ran)
    assert run_study(study, data_root=tmp_path / "data", progress=False) == []
    m = write_outputs(study, tmp_path / "metrics", tmp_path / "data")
    assert m["base"]["frequentist"]["fits"] == 2 and m["base"]["frequentist"]["failed"] == 0
    for q in ("adstock.alpha", "roas", "mroas", "curve_error"):
        assert q in m["base"]["frequentist"]
    assert 0 <= m["base"]["frequentist"]["roas"]["coverage"] <= 1
    assert {"coverage.csv", "bias.csv", "fits.csv", "comparisons.csv", "study.json"} <= {
        p.name for p in (tmp_path / "metrics").iterdir()
    }
    assert not list((tmp_path / "data").rglob("*.tmp-*")), "no temp files left"


def test_changed_settings_make_records_stale(tmp_path):
    f = _study(tmp_path, replicates=1)
    study = load_study(f)
    run_study(study, data_root=tmp_path / "data", progress=False)
    raw = yaml.safe_load(f.read_text())
    raw["estimators"]["frequentist"]["budget"] = 120
    f.write_text(yaml.safe_dump(raw))
    changed = load_study(f)
    assert not any(is_done(changed, t, tmp_path / "data") for t in tasks(changed))
    assert len(run_study(changed, data_root=tmp_path / "data", progress=False)) == len(
        tasks(changed)
    )


def test_failed_fit_is_recorded_and_the_study_goes_on(tmp_path):
    # a CV test window longer than the data: the frequentist fit refuses the input
    study = load_study(
        _study(
            tmp_path,
            replicates=1,
            cv={"initial_train_weeks": 40, "test_weeks": 70, "step_weeks": 8},
        )
    )
    ran = run_study(study, data_root=tmp_path / "data", progress=False)
    assert len(ran) == len(tasks(study)) and all(r["status"] == "failed" for r in ran)
    rec = load_records(study, tmp_path / "data")[0]
    assert "InputError" in rec["error"] and "too few" in rec["error"]
    m = write_outputs(study, tmp_path / "metrics", tmp_path / "data")
    assert m["base"]["frequentist"]["failed"] == 1


def test_killed_study_resumes_only_what_was_missing(tmp_path):
    f = _study(tmp_path, replicates=3)
    data = tmp_path / "data"
    code = (
        "import sys; from mmm_recovery.core.spec import load_study; from mmm_recovery.evaluation.study import run_study; "
        f"run_study(load_study({str(f)!r}), data_root=__import__('pathlib').Path({str(data)!r}), progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    study = load_study(f)
    deadline = time.time() + 300
    while time.time() < deadline and not any(t.path(data).is_file() for t in tasks(study)):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: parent and pool workers
    proc.wait()
    finished = {t for t in tasks(study) if is_done(study, t, data)}
    missing = set(tasks(study)) - finished
    assert finished and missing, "the kill should land mid-study"
    # whatever was being written when killed left no readable half-record
    for p in data.rglob("*.json"):
        files.read_json(p)
    ran = run_study(study, data_root=data, progress=False)
    assert {Task(r["scenario"], r["replicate"], r["estimator"]) for r in ran} == missing
    assert all(is_done(study, t, data) for t in tasks(study))


def test_study_on_a_dask_localcluster(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    study = load_study(_study(tmp_path, replicates=1))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
        ran = run_study(study, data_root=tmp_path / "data", progress=False)
    assert len(ran) == len(tasks(study)) and all(r["status"] == "ok" for r in ran)
    assert all(is_done(study, t, tmp_path / "data") for t in tasks(study))


def test_fits_table_carries_the_workflow_diagnostics():
    from mmm_recovery.evaluation.study import fits_table

    ok = {
        "scenario": "base",
        "replicate": 0,
        "status": "ok",
        "converged": False,
        "regret": {"regret": 1.0, "regret_share_of_lift": 0.1, "true_lift_of_recommendation": 9.0},
        "result": {
            "fit": {"holdout": {"mape": 0.05}},
            "diagnostics": {
                "max_rhat": 1.02,
                "divergences": 3,
                "prior_predictive_share_in_range": 0.6,
                "failures": ["max R-hat 1.0200 >= 1.01"],
            },
        },
    }
    failed = {
        "scenario": "base",
        "replicate": 1,
        "status": "failed",
        "converged": False,
        "error": "boom",
    }
    skipped = {**ok, "replicate": 2, "estimator": "bayesian"}
    skipped["result"] = {
        "fit": {},
        "diagnostics": {"prior_sensitivity_skipped": "the declared priors cover ..."},
    }
    t = fits_table([{**ok, "estimator": "bayesian"}, {**failed, "estimator": "bayesian"}, skipped])
    assert t.loc[2, "prior_sensitivity_skipped"] == "the declared priors cover ..."
    assert pd.isna(t.loc[0, "prior_sensitivity_skipped"])
    assert t.loc[0, "max_rhat"] == 1.02 and t.loc[0, "divergences"] == 3
    assert t.loc[0, "prior_predictive_share_in_range"] == 0.6 and "failures" not in t
    assert t.loc[1, "error"] == "boom" and pd.isna(t.loc[1, "max_rhat"])
