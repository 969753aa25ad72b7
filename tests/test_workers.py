"""A study loses only the task whose worker process died: the others finish, the one that died
again is recorded as failed with the cause, and the next run fits it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation import workers
from mmm_recovery.evaluation.study import run_study
from mmm_recovery.evaluation.tasks import batches, is_done, read_record, tasks


def _study(tmp_path: Path, replicates: int = 3) -> Path:
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["study"] |= {"name": "lossy", "replicates": replicates, "workers": 2}
    raw.pop("sbc", None)
    raw["estimators"] = {
        "frequentist": {
            **raw["estimators"]["frequentist"],
            "bootstrap": {"replicates": 3, "budget": 40},
        }
    }
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


def dies_on_base_0(study_path, batch, data_root=None):
    """A fit that runs out of memory: base/rep_000 is killed (SIGKILL) once it is under way."""
    t = batch[0]
    if (t.scenario, t.replicate) == ("base", 0):
        root = Path(data_root) if data_root else None
        p = workers.running_path(t, root)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"pid": os.getpid()}))
        os.kill(os.getpid(), signal.SIGKILL)
    return workers.run_marked(study_path, batch, data_root)


def test_a_task_whose_process_dies_is_recorded_failed_with_the_cause(tmp_path, capsys):
    study = load_study(_study(tmp_path))
    data = tmp_path / "data"
    todo = batches(study, tasks(study))
    out = workers.run_local(study, todo, data, 2, lambda n: None, target=dies_on_base_0)
    assert len(out) == len(tasks(study))
    err = capsys.readouterr().err
    assert "a worker process died (the pool broke) while fitting: " in err
    assert "base/rep_000/frequentist" in err.split("while fitting: ")[1].split("\n")[0]
    dead = next(t for t in tasks(study) if (t.scenario, t.replicate) == ("base", 0))
    record = read_record(study, dead, data)
    assert record is not None and record["status"] == "failed" and record["attempts"] == 1
    assert "SIGKILL" in record["error"] and "out-of-memory" in record["error"]
    assert f"failed: base/rep_000/frequentist: {record['error']}" in err
    others = [t for t in tasks(study) if t != dead]
    assert all(read_record(study, t, data)["status"] == "ok" for t in others)
    assert not list(data.rglob("*.running")), "no marker left behind"
    # the next run fits it again (attempts left) and it succeeds
    ran = run_study(study, data_root=data, progress=False, archive=None)
    assert [(r["scenario"], r["replicate"], r["status"]) for r in ran] == [("base", 0, "ok")]


def test_kill_9_of_a_pool_worker_costs_no_fit(tmp_path):
    f = _study(tmp_path)
    study = load_study(f)
    data = tmp_path / "data"
    code = (
        "from pathlib import Path; from mmm_recovery.core.spec import load_study; "
        "from mmm_recovery.evaluation.study import run_study; "
        f"run_study(load_study({str(f)!r}), data_root=Path({str(data)!r}), progress=False, "
        "archive=None)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.time() + 300
    marker = None
    while time.time() < deadline and marker is None:
        marker = next(iter(data.rglob("*.running")), None) if data.is_dir() else None
        time.sleep(0.05)
    assert marker is not None, "a fit should be under way"
    while time.time() < deadline:  # the marker is written before the pid is known to be a file
        try:
            pid = json.loads(marker.read_text())["pid"]
            break
        except (ValueError, OSError):
            time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)  # as the OOM killer does: one pool worker, not the study
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert "a worker process died" in err
    assert all(is_done(study, t, data) for t in tasks(study))
    statuses = {read_record(study, t, data)["status"] for t in tasks(study)}
    assert statuses == {"ok"}, "the killed fit ran again alone and finished"


def test_a_second_study_into_one_data_folder_is_refused_naming_the_first(tmp_path):
    import pytest

    from mmm_recovery.evaluation.lock import StudyLocked, lock_path

    f = _study(tmp_path, replicates=1)
    study = load_study(f)
    data = tmp_path / "data"
    code = (
        "import time; from pathlib import Path; from mmm_recovery.core.spec import load_study; "
        "from mmm_recovery.evaluation.lock import held\n"
        f"with held(load_study({str(f)!r}), Path({str(data)!r})):\n"
        "    print('held', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StudyLocked) as err:
            run_study(study, data_root=data, progress=False, archive=None)
        text = str(err.value)
        assert "study 'lossy'" in text and f"process {holder.pid}" in text and str(f) in text
        assert not any(t.path(data).exists() for t in tasks(study)), "nothing written"
    finally:
        holder.kill()  # a killed run leaves its lock behind
        holder.wait()
    assert lock_path(data).is_file()
    ran = run_study(study, data_root=data, progress=False, archive=None)  # a stale lock: taken
    assert len(ran) == len(tasks(study)) and not lock_path(data).exists()


def test_a_task_without_a_current_record_is_reported_missing_not_dropped(tmp_path):
    from mmm_recovery.evaluation.study import MISSING_ERROR, write_outputs

    study = load_study(_study(tmp_path, replicates=1))
    data = tmp_path / "data"
    run_study(study, data_root=data, progress=False, archive=None)
    gone = tasks(study)[0]
    gone.path(data).unlink()  # e.g. overwritten by another study's run, then removed
    m = write_outputs(study, tmp_path / "metrics", data)
    import pandas as pd

    fits = pd.read_csv(tmp_path / "metrics" / "fits.csv")
    row = fits[(fits["scenario"] == gone.scenario) & (fits["replicate"] == gone.replicate)]
    assert list(row["status"]) == ["missing"] and list(row["error"]) == [MISSING_ERROR]
    cell = m[gone.scenario][gone.estimator]
    assert cell["missing"] == 1 and cell["fits"] == 0, "the cell does not look complete"


def test_exhausted_failures_say_how_to_retry_and_retry_failed_fits_them(tmp_path, capsys):
    from mmm_recovery.evaluation.workers import record_failed

    study = load_study(_study(tmp_path, replicates=1))
    data = tmp_path / "data"
    run_study(study, data_root=data, progress=False, archive=None)
    t = tasks(study)[0]
    for _ in range(study.study.fit_attempts):
        record_failed(study, t, data, "RuntimeError: planted")
    capsys.readouterr()
    assert run_study(study, data_root=data, progress=False, archive=None) == []
    err = capsys.readouterr().err
    assert f"1 fits failed {study.study.fit_attempts} times" in err and "--retry-failed" in err
    ran = run_study(study, data_root=data, progress=False, archive=None, retry_failed=True)
    assert [(r["scenario"], r["status"]) for r in ran] == [(t.scenario, "ok")]
