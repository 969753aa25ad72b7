"""``python -m mmm_recovery study run`` on a study file of one's own, outside the project: it
validates the file, shows progress, writes records, metrics and both reports under its own
folder (never the project's ``reports/``), resumes after a kill, and says what path it tried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation.tasks import is_done, tasks
from mmm_recovery.reporting import study_cli


def _user_study(folder: Path, replicates: int = 1) -> Path:
    """A frequentist-only copy of the smoke study, as a user would write one, in ``folder``."""
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["study"] |= {"name": "mine", "replicates": replicates, "workers": 1}
    raw.pop("sbc", None)
    raw["estimators"] = {
        "frequentist": {
            **raw["estimators"]["frequentist"],
            "bootstrap": {"replicates": 3, "budget": 40},
        }
    }
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "mine.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


def _cli(cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "mmm_recovery", "study", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        **kw,
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_user_study_runs_outside_the_project_with_progress_and_reports(tmp_path):
    f = _user_study(tmp_path / "work")
    before = _snapshot(paths.REPORTS)
    done = _cli(tmp_path / "work", "run", "mine.yaml")  # relative to the current folder
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "work" / "mine"  # default: a folder named after the study
    study = load_study(f)
    n = len(tasks(study))
    assert f"study mine: 0/{n} fits (0%), first fits under way" in done.stderr
    assert f"study mine: {n}/{n} fits (100%)" in done.stderr
    assert all(is_done(study, t, out / "data") for t in tasks(study))
    assert (out / "metrics" / "study.json").is_file() and (out / "metrics" / "fits.csv").is_file()
    for name in ("model_card", "methodology"):
        assert (out / "reports" / f"{name}.html").is_file()
        assert (out / "reports" / f"{name}.pdf").is_file()
    assert _snapshot(paths.REPORTS) == before, "nothing written inside the project's reports/"
    # a second run fits nothing and says so
    again = _cli(tmp_path / "work", "run", "mine.yaml", "--no-reports")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "fits" not in again.stderr.split("writing to")[1].split("metrics:")[0]


def test_a_killed_run_resumes_where_it_stopped(tmp_path):
    f = _user_study(tmp_path, replicates=3)
    study = load_study(f)
    data = tmp_path / "out" / "data"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mmm_recovery",
            "study",
            "run",
            str(f),
            "--out",
            "out",
            "--no-reports",
        ],
        cwd=tmp_path,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not any(t.path(data).is_file() for t in tasks(study)):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {t: t.path(data).stat().st_mtime_ns for t in tasks(study) if is_done(study, t, data)}
    assert finished and len(finished) < len(tasks(study)), "the kill should land mid-study"
    done = _cli(tmp_path, "run", str(f), "--out", "out", "--no-reports")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"({len(finished)} done before)" in done.stderr
    assert all(is_done(study, t, data) for t in tasks(study))
    assert {t: t.path(data).stat().st_mtime_ns for t in finished} == finished, "not refitted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "nowhere.yaml"],
            "study file not found: {cwd}/nowhere.yaml (from 'nowhere.yaml', "
            "relative to the current folder {cwd})",
        ),
        (["run", "{study}", "--out", "{root}/reports/metrics"], "inside the project's committed"),
        (["run", "{study}", "--out", "{root}"], "inside the project's committed"),
        (["run", "{study}", "--out", "{cwd}/mine.yaml/x"], "mine.yaml is a file, not a folder"),
        (["run", "{study}", "--scheduler", "tcp://127.0.0.1"], "--scheduler 'tcp://127.0.0.1':"),
        (["run", "{study}", "--workers", "0"], "--workers 0: must be at least 1"),
        (["audit", "{study}"], "holds no record of this study's current inputs"),
    ],
)
def test_bad_arguments_get_one_error_line_naming_them(tmp_path, monkeypatch, capsys, args, message):
    f = _user_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    fill = {"cwd": str(tmp_path), "root": str(paths.ROOT), "study": str(f)}
    argv = [a.format(**fill) for a in args]
    assert study_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(**fill) in err, err
    assert err.count("\n") == 1, "one line, no traceback"
    assert not (tmp_path / "mine").exists(), "nothing written"
