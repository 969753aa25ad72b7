"""The study runner: every task written atomically, resumable after a kill, failures recorded,
and the same study on a real dask.distributed LocalCluster on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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
    raw.pop("sbc", None)  # it checks the Bayesian estimator, which this copy drops
    raw["estimators"] = {
        "frequentist": {
            **raw["estimators"]["frequentist"],
            "bootstrap": {"replicates": 3, "budget": 40},
            **frequentist,
        }
    }
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))  # the channels in the smoke study's order
    return f


def test_runs_every_task_then_nothing(tmp_path, capsys):
    study = load_study(_study(tmp_path))
    ran = run_study(study, data_root=tmp_path / "data")
    assert sorted((r["scenario"], r["replicate"]) for r in ran) == sorted(
        (t.scenario, t.replicate) for t in tasks(study)
    )
    # progress lines on stderr: the start, and the end with the rate
    lines = capsys.readouterr().err.splitlines()
    n = len(tasks(study))
    name = study.study.name
    assert lines[0] == f"study {name}: 0/{n} fits (0%), first fits under way"
    assert lines[-1].startswith(f"study {name}: {n}/{n} fits (100%), ")
    assert lines[-1].endswith("fits/min, done")
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
    # the calibration curve: coverage at every calibration level and the estimator's own
    cal = pd.read_csv(tmp_path / "metrics" / "calibration.csv")
    own = m["base"]["frequentist"]["interval_level"]
    wanted = sorted({*study.study.calibration_levels, own})
    roas = cal[(cal["quantity"] == "roas") & (cal["scenario"] == "base")]
    for channel, points in roas.groupby("channel"):  # every channel and their average
        assert sorted(points["nominal"]) == pytest.approx(wanted), channel
    assert "all" in set(roas["channel"]) and len(set(roas["channel"])) > 2
    roas = roas[roas["channel"] == "all"]
    assert (roas["n_intervals"] > 0).all()
    # the study's own coverage cell is the curve's point at the estimator's own level
    at_own = roas[np.isclose(roas["nominal"], own)].iloc[0]
    assert at_own["coverage"] == pytest.approx(
        m["base"]["frequentist"]["roas"]["coverage"], abs=1e-6
    )
    assert set(m["base"]["frequentist"]["roas"]["calibration"]) == {f"{q:g}" for q in wanted}


def test_seed_stability_refits_the_subset_and_keeps_it_out_of_the_study(tmp_path):
    """study.seed_stability adds further-seed fits of the first datasets; they reach
    stability.csv and study.json's seed_stability block, never the study's own metrics."""
    f = _study(tmp_path, replicates=2)
    raw = yaml.safe_load(f.read_text())
    raw["study"]["seed_stability"] = {"scenarios": ["base"], "replicates": 1, "seeds": 3}
    f.write_text(yaml.safe_dump(raw))
    study = load_study(f)
    extra = [t for t in tasks(study) if t.seed]
    assert [(t.scenario, t.replicate, t.seed) for t in extra] == [("base", 0, 1), ("base", 0, 2)]
    assert len({t.path() for t in tasks(study)}) == len(tasks(study))
    draws = [t.rng(study).random() for t in [Task("base", 0, "frequentist"), *extra]]
    assert len(set(draws)) == 3, "each seed is its own stream"
    run_study(study, data_root=tmp_path / "data", progress=False)
    m = write_outputs(study, tmp_path / "metrics", tmp_path / "data")
    assert m["base"]["frequentist"]["fits"] == 2, "further seeds are not study fits"
    fits = pd.read_csv(tmp_path / "metrics" / "fits.csv")
    assert len(fits) == 2 * len(study.scenarios)
    stab = pd.read_csv(tmp_path / "metrics" / "stability.csv")
    cell = stab[(stab["quantity"] == "roas") & (stab["channel"] == "all")].iloc[0]
    assert (cell["n_fits"], cell["failed"]) == (3 * 2, 0)  # 3 seeds x 2 channels
    assert cell["n_datasets"] == 2  # one dataset x 2 channels, each with 3 seeds
    assert cell["seed_sd"] >= 0 and cell["rmse"] > 0
    block = m["base"]["frequentist"]["seed_stability"]["roas"]
    assert block["seed_sd"] == pytest.approx(cell["seed_sd"], rel=1e-5)
    assert "seed_stability" not in m[next(s for s in study.scenarios if s != "base")]["frequentist"]
    # a study without it writes an empty table with the same columns (a DVC output)
    (tmp_path / "plain").mkdir()
    plain = load_study(_study(tmp_path / "plain", replicates=1))
    write_outputs(plain, tmp_path / "plain_metrics", tmp_path / "data")
    empty = pd.read_csv(tmp_path / "plain_metrics" / "stability.csv")
    assert empty.empty and list(empty.columns) == list(stab.columns)


def test_records_are_scored_after_the_fits_and_a_scoring_change_refits_nothing(tmp_path):
    """A record holds the fit and its truth; the aggregation scores it, with the same numbers as
    scoring the fit against its dataset directly, and a changed scoring setting (``budget_bound``)
    leaves every record valid while the regret follows the new setting."""
    from mmm_recovery.core.results import FitInput
    from mmm_recovery.evaluation import score
    from mmm_recovery.evaluation.fitting import fit_dataset
    from mmm_recovery.simulation.simulate import simulate

    f = _study(tmp_path, replicates=1)
    data = tmp_path / "data"
    study = load_study(f)
    run_study(study, data_root=data, progress=False)
    rec = load_records(study, data)[0]
    assert {"comparison", "regret", "shares"}.isdisjoint(
        files.read_json(tasks(study)[0].path(data))
    )
    # the same fit, scored as it came out of the estimator (what records held before)
    ds = simulate(study.scenario(rec["scenario"]), study.rng(rec["scenario"], rec["replicate"]))
    fresh = fit_dataset(study, rec["scenario"], rec["replicate"], rec["estimator"], dataset=ds)
    as_fitted = json.loads(json.dumps(files._jsonable(fresh.to_dict())))
    assert json.dumps(as_fitted, sort_keys=True) == json.dumps(rec["result"], sort_keys=True)
    s = study.study
    direct = score.score(as_fitted, ds.data, ds.truth, s.budget_bound, s.regret_bounds)
    direct_fields = {
        "comparison": direct.comparison.to_dict(orient="records"),
        "regret": direct.regret,
        "shares": direct.shares,
    }
    as_written = json.loads(json.dumps(files._jsonable(direct_fields), sort_keys=True))
    for key in ("comparison", "regret", "shares"):
        assert json.dumps(rec[key]) == json.dumps(as_written[key]), key
    assert set(FitInput.from_simulated(ds, study.study.holdout_weeks).channels) == set(rec["spend"])
    # the rows come in the study's channel order, as the estimator reported them
    assert list(dict.fromkeys(c["channel"] for c in rec["comparison"])) == list(
        ds.truth["channel_names"]
    )

    raw = yaml.safe_load(f.read_text())
    raw["study"]["budget_bound"] = study.study.budget_bound / 2
    f.write_text(yaml.safe_dump(raw))
    wider = load_study(f)
    assert all(is_done(wider, t, data) for t in tasks(wider))
    assert run_study(wider, data_root=data, progress=False) == []
    again = load_records(wider, data)[0]
    assert again["result"] == rec["result"]
    assert again["regret"] != rec["regret"]


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
    # a channel that (all but surely: one week in a million) never spends: every fit refuses it
    f = _study(tmp_path, replicates=1)
    raw = yaml.safe_load(f.read_text())
    raw["defaults"]["channels"]["tv"]["active_share"] = 1e-6
    f.write_text(yaml.safe_dump(raw))
    study = load_study(f)
    ran = run_study(study, data_root=tmp_path / "data", progress=False)
    assert len(ran) == len(tasks(study)) and all(r["status"] == "failed" for r in ran)
    rec = load_records(study, tmp_path / "data")[0]
    assert "InputError" in rec["error"] and "all zero" in rec["error"]
    assert rec["attempts"] == 1
    m = write_outputs(study, tmp_path / "metrics", tmp_path / "data")
    assert m["base"]["frequentist"]["failed"] == 1
    # a failure is not final: later runs try again, up to study.fit_attempts, and the metrics
    # count it as a failure meanwhile
    for attempt in range(2, study.study.fit_attempts + 1):
        again = run_study(study, data_root=tmp_path / "data", progress=False)
        assert [r["status"] for r in again] == ["failed"] * len(tasks(study))
        assert load_records(study, tmp_path / "data")[0]["attempts"] == attempt
    assert run_study(study, data_root=tmp_path / "data", progress=False) == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: [],
        lambda r: {**r, "status": "done"},
        lambda r: {k: v for k, v in r.items() if k != "truth"},
        lambda r: {**r, "spend": None},
        lambda r: {**r, "replicate": "0"},
        lambda r: {**r, "estimator": "bayesian"},
        lambda r: {**r, "fingerprint": "0" * 16},
        lambda r: {**r, "spend": {**r["spend"], "tv": {"max": 1.0, "mean": 1.0}}},
        lambda r: {k: v for k, v in r.items() if k != "checksum"},
    ],
    ids=[
        "list",
        "status",
        "no-truth",
        "spend-null",
        "replicate-str",
        "other-task",
        "stale",
        "edited-number",
        "no-checksum",
    ],
)
def test_a_record_that_is_not_well_formed_is_fitted_again(tmp_path, edit):
    """A hand-edited or damaged record is never used: the next run fits the task again (a
    record replaced by ``[]`` crashed every later run)."""
    study = load_study(_study(tmp_path, replicates=1))
    data = tmp_path / "data"
    run_study(study, data_root=data, progress=False)
    task = tasks(study)[0]
    files.write_json(task.path(data), edit(files.read_json(task.path(data))))
    assert not is_done(study, task, data)
    status = {
        Task(r["scenario"], r["replicate"], r["estimator"]): r["status"]
        for r in load_records(study, data)
    }
    assert status[task] == "missing", "not used, and not dropped either"
    ran = run_study(study, data_root=data, progress=False)
    assert [(r["scenario"], r["replicate"]) for r in ran] == [(task.scenario, task.replicate)]
    assert is_done(study, task, data)


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


@pytest.mark.parametrize("server", ["silent", "refusing"])
def test_an_unanswering_scheduler_stops_the_study_with_its_address(tmp_path, monkeypatch, server):
    """A port that accepts connections and never answers (which hung the study) and a port that
    refuses them both end, within the study's scheduler timeout, in an error naming the
    address and where it was set; no task is run."""
    import socket
    import threading

    from mmm_recovery.evaluation.scheduler import SchedulerUnavailable

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    held: list[socket.socket] = []
    if server == "silent":
        sock.listen(4)

        def accept() -> None:
            while True:
                try:
                    held.append(sock.accept()[0])  # accept, then never answer
                except OSError:
                    return

        threading.Thread(target=accept, daemon=True).start()
    else:
        sock.close()  # nothing listens: connections are refused
    study = load_study(_study(tmp_path, replicates=1))
    timeout = 2.0
    study = study.model_copy(
        update={"study": study.study.model_copy(update={"scheduler_timeout_s": timeout})}
    )
    address = f"tcp://127.0.0.1:{port}"
    monkeypatch.setenv(SCHEDULER_ENV, address)
    start = time.monotonic()
    try:
        with pytest.raises(SchedulerUnavailable, match=address) as err:
            run_study(study, data_root=tmp_path / "data", progress=False)
    finally:
        sock.close()
        for c in held:
            c.close()
    assert SCHEDULER_ENV in str(err.value)
    assert time.monotonic() - start < 10 * timeout
    assert not any(is_done(study, t, tmp_path / "data") for t in tasks(study))


def test_fits_table_carries_the_workflow_diagnostics():
    from mmm_recovery.evaluation.study import fits_table

    ok = {
        "scenario": "base",
        "replicate": 0,
        "status": "ok",
        "converged": False,
        "regret": {"regret": 1.0, "regret_share_of_lift": 0.1, "true_lift_of_recommendation": 9.0},
        "shares": {"decomp_rssd_true": 0.2, "decomp_rssd": 0.1, "spend_share_pull": 0.5},
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
    assert t.loc[0, "spend_share_pull"] == 0.5 and pd.isna(t.loc[1, "spend_share_pull"])


def test_the_scheduler_check_works_inside_a_running_event_loop():
    """The study stage runs in a notebook kernel, which already runs an event loop; the check
    must still answer with the address (not asyncio's 'cannot be called from a running event
    loop'), for a closed port and for an address without a port."""
    import asyncio

    from mmm_recovery.evaluation.scheduler import SchedulerUnavailable, check_scheduler

    async def inside(address: str) -> str:
        with pytest.raises(SchedulerUnavailable) as err:
            check_scheduler(address, 2.0, "study.yaml: study.scheduler")
        return str(err.value)

    for address in ("tcp://127.0.0.1:9", "tcp://localhost"):
        msg = asyncio.run(inside(address))
        assert address in msg and "study.yaml: study.scheduler" in msg


def test_a_scheduler_variable_that_is_no_address_is_named(tmp_path, monkeypatch):
    from mmm_recovery.evaluation.scheduler import SchedulerUnavailable, scheduler_for

    monkeypatch.setenv(SCHEDULER_ENV, "nonsense")
    with pytest.raises(SchedulerUnavailable, match=f"{SCHEDULER_ENV}='nonsense'"):
        scheduler_for(load_study(_study(tmp_path)))


def test_a_record_that_cannot_be_scored_is_a_failed_fit_not_a_crash():
    from mmm_recovery.evaluation.tasks import scored

    record = {
        "status": "ok",
        "converged": True,
        "result": {"channels": {}},
        "truth": {"channel_names": ["tv"], "channels": {}},
        "spend": {"tv": {"max": 1.0, "mean": 0.5}},
    }
    out = scored(record, 0.3)
    assert out["status"] == "failed" and out["error"].startswith("scoring failed: KeyError")


def test_a_dataset_shared_by_two_cells_is_fitted_once_and_the_design_is_analysed(tmp_path):
    """A design whose reference cell is the named scenario (same spec, same replicate: the same
    data and fit seed under common random numbers) fits it once and copies the record; the
    aggregate stage writes the design tables from the fits."""
    f = _study(tmp_path, replicates=2)
    raw = yaml.safe_load(f.read_text())
    raw["scenarios"] = {"base": {}}
    raw["design"] = {
        "arms": {
            "noise": {
                "aim": "noise",
                "aims": [{"measure": "coverage", "of": "effect", "target_mcse": 0.9}],
                "factors": {"snr": {"as_base": {}, "low": {"noise": {"snr": 1.5}}}},
            }
        }
    }
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    study = load_study(f)
    assert study.replicates_of("noise-as_base") == 2
    ran = run_study(study, data_root=tmp_path / "data", progress=False)
    copied = [r for r in ran if r["runtime_seconds"] == 0.0]
    assert sorted((r["scenario"], r["replicate"]) for r in copied) == [
        ("noise-as_base", 0),
        ("noise-as_base", 1),
    ]
    by = {(r["scenario"], r["replicate"]): r for r in load_records(study, tmp_path / "data")}
    shared, fitted = by[("noise-as_base", 0)], by[("base", 0)]
    assert shared["fingerprint"] == fitted["fingerprint"]
    assert {k: v for k, v in shared.items() if k not in ("scenario", "checksum", "result")} == {
        k: v for k, v in fitted.items() if k not in ("scenario", "checksum", "result")
    }
    assert json.dumps(shared["result"]).replace("noise-as_base", "base") == json.dumps(
        fitted["result"]
    )
    write_outputs(study, tmp_path / "metrics", tmp_path / "data")
    effects = pd.read_csv(tmp_path / "metrics" / "design_effects.csv")
    assert set(effects["term"]) == {"snr:low"} and set(effects["measure"]) == {
        "coverage",
        "abs_rel_error",
    }
    contrasts = pd.read_csv(tmp_path / "metrics" / "design_contrasts.csv")
    assert set(contrasts["scenario"]) == {"noise-low"}
    assert (contrasts["pairs"] == 2).all()
    truths = pd.read_csv(tmp_path / "metrics" / "truths.csv")
    assert len(truths) == 3 * 2 * len(study.scenario("base").channels)
