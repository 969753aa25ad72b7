"""``python -m mmm_recovery study ...``: a user's own study run, status and audit, refused where
a path, an address or a running study stands in the way (nothing is fitted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faults.common import Case, cli
from faults.study import SMOKE, study_text


def run_cases() -> list[Case]:
    from mmm_recovery.core import paths

    def c(name: str, run, *names: str, expect: str = "refuse") -> Case:
        return Case("study run", name, expect, names, run)

    def study_run(*extra: str):
        def run(tmp: Path) -> tuple[int, str]:
            f = study_text(tmp, SMOKE)
            return cli("study", "run", str(f), "--no-reports", *[e.format(tmp=tmp) for e in extra])

        return run

    def missing_file(tmp: Path) -> tuple[int, str]:
        return cli("study", "run", str(tmp / "nowhere" / "mine.yaml"))

    def locked(tmp: Path) -> tuple[int, str]:
        f = study_text(tmp, SMOKE)
        code = (
            "import time; from pathlib import Path; from mmm_recovery.core.spec import "
            "load_study; from mmm_recovery.evaluation.lock import held\n"
            f"with held(load_study({str(f)!r}), Path({str(tmp / 'out' / 'data')!r})):\n"
            "    print('held', flush=True); time.sleep(120)"
        )
        holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            return cli("study", "run", str(f), "--out", str(tmp / "out"), "--no-reports")
        finally:
            holder.kill()
            holder.wait()

    def audit_nothing(tmp: Path) -> tuple[int, str]:
        return cli("study", "audit", str(study_text(tmp, SMOKE)), "-n", "3")

    return [
        c("a study file that does not exist", missing_file, "not found", "nowhere/mine.yaml"),
        c(
            "--out inside the project's committed metrics",
            study_run("--out", str(paths.REPORTS / "metrics")),
            "committed",
        ),
        c("--out under a file", study_run("--out", "{tmp}/study.yaml/out"), "is a file"),
        c(
            "--scheduler without a port",
            study_run("--scheduler", "tcp://127.0.0.1"),
            "--scheduler",
        ),
        c("--workers 0", study_run("--workers", "0"), "--workers"),
        c(
            "a second study into a data folder another study is running into",
            locked,
            "study 'smoke'",
            "running into this data folder",
        ),
        c("an audit of a study nothing of which is committed", audit_nothing, "holds no record"),
    ]
