"""Bad metrics, reports and commands: verify, render, findings."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from faults.common import ROOT, Case, cli, shell


def metrics_copy(tmp: Path) -> Path:
    d = tmp / "metrics"
    if not d.is_dir():
        shutil.copytree(ROOT / "reports/metrics", d, ignore=shutil.ignore_patterns("full"))
    return d


def output_cases() -> list[Case]:
    def c(name: str, run: Callable, *names: str, expect: str = "refuse") -> Case:
        return Case("metrics and reports", name, expect, names, run)

    def edited(tmp: Path) -> tuple[int, str]:
        d = metrics_copy(tmp)
        df = pd.read_csv(d / "comparisons.csv")
        df.loc[3, "error"] = df.loc[3, "error"] + 1.0
        df.to_csv(d / "comparisons.csv", index=False)
        return cli("verify", "--metrics-dir", str(d), "--reference-dir", "reports/metrics")

    def empty_metrics(tmp: Path) -> tuple[int, str]:
        d = tmp / "empty"
        d.mkdir()
        (d / "study.json").write_text("{}")
        return cli("render", "--metrics-dir", str(d), "--out", str(tmp / "site"))

    def broken_json(tmp: Path) -> tuple[int, str]:
        d = metrics_copy(tmp)
        (d / "study.json").write_text('{"baseline": ')
        return cli("verify", "--metrics-dir", str(d), "--reference-dir", "reports/metrics")

    return [
        c(
            "verify: the committed metrics against themselves",
            lambda t: cli(
                "verify", "--metrics-dir", "reports/metrics", "--reference-dir", "reports/metrics"
            ),
            expect="accept",
        ),
        c(
            "verify: no reproduced metrics",
            lambda t: cli("verify", "--metrics-dir", str(t / "none")),
            "not found",
        ),
        c("verify: an edited comparisons file", edited, "comparisons", "line"),
        c("verify: a truncated study.json", broken_json, "study.json", "not valid JSON"),
        c(
            "verify: an unknown git revision",
            lambda t: cli("verify", "--reference", "nosuchrev"),
            "nosuchrev",
        ),
        c(
            "render: no metrics",
            lambda t: cli("render", "--metrics-dir", str(t / "none"), "--out", str(t / "site")),
            "study.json",
            "not found",
        ),
        c("render: a study.json with no scenario", empty_metrics, "holds no scenario"),
        c(
            "render: an unknown report",
            lambda t: cli("render", "modelcard", "--out", str(t / "site")),
            "no report named",
        ),
        c(
            "findings: a missing study file",
            lambda t: cli("findings", "--study", "nope.yaml", "--out", str(t / "f.md")),
            "nope.yaml",
            "not found",
        ),
        c(
            "findings: no metrics",
            lambda t: cli("findings", "--metrics-dir", str(t / "none"), "--out", str(t / "f.md")),
            "study.json",
            "not found",
        ),
        c(
            "notebook: an unknown parameter",
            lambda t: cli(
                "notebook", "notebooks/01_simulate.py", str(t / "o.ipynb"), "-p", "bogus", "1"
            ),
            "bogus",
        ),
        c(
            "notebook: a missing notebook",
            lambda t: cli("notebook", "notebooks/09_nope.py", str(t / "o.ipynb")),
            "09_nope",
            "not found",
        ),
        c("an unknown command", lambda t: cli("verfiy"), "unknown command"),
        c(
            "the study module run as a command",
            lambda t: shell("-m", "mmm_recovery.evaluation.study"),
            "not a command",
        ),
        c(
            "MMM_RECOVERY_ROOT that does not exist",
            lambda t: shell(
                "-m",
                "mmm_recovery",
                "schema",
                "studies/smoke.yaml",
                env={"MMM_RECOVERY_ROOT": str(t / "nowhere")},
            ),
            "MMM_RECOVERY_ROOT",
        ),
    ]
