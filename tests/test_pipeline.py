"""The real DVC pipeline on the smoke study, in a throw-away copy of the project."""

from __future__ import annotations

import pytest
import yaml
from helpers import dvc, project_copy

#: the pipeline test checks how the stages are wired, not the calibration's power: one batch of
#: simulation-based calibration (tests/test_sbc.py tests the calibration on the smoke design)
SBC_SIMULATIONS = 8


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = project_copy(tmp_path_factory.mktemp("project"))
    study = root / "studies" / "recovery.yaml"
    raw = yaml.safe_load(study.read_text())
    raw["sbc"] |= {"simulations": SBC_SIMULATIONS}
    study.write_text(yaml.safe_dump(raw, sort_keys=False))
    dvc(root, "repro")
    return root


def test_simulate_stage_writes_every_scenario_and_replicate(project):
    for scenario, lift in (("base", set()), ("hill_truth", {"lift_tests.csv"})):
        nb = project / "data" / scenario / "notebooks" / "01_simulate.ipynb"
        assert nb.is_file()
        for r in range(2):
            folder = project / "data" / scenario / "simulated" / f"rep_{r:03d}"
            assert {p.name for p in folder.iterdir()} == {
                "data.csv",
                "truth.json",
                "truth_weekly.csv",
                *lift,  # smoke's hill_truth declares a lift test
            }
    assert (
        "image/png" in (project / "data" / "base" / "notebooks" / "01_simulate.ipynb").read_text()
    )


def test_fit_stages_write_results_in_the_common_format(project):
    from mmm_recovery.core.results import load_result

    for scenario in ("base", "hill_truth"):
        for estimator in ("frequentist", "bayesian"):
            notebook = f"02_fit_{estimator}"
            res = load_result(project / "data" / scenario / "fits" / estimator)
            assert res["estimator"] == estimator and res["scenario"] == scenario
            assert set(res["channels"]) == {"tv", "search"}
            assert isinstance(res["diagnostics"]["converged"], bool)
            assert (project / "data" / scenario / "notebooks" / f"{notebook}.ipynb").is_file()
        assert (project / "data" / scenario / "fits" / "bayesian" / "posterior.nc").is_file()
    # hill_truth's steady-state and 3-week lift tests, each beside the posterior's model lift
    import numpy as np
    import pandas as pd

    lifts = pd.read_parquet(
        project / "data" / "hill_truth" / "fits" / "bayesian" / "lift_tests.parquet"
    )
    assert list(lifts["channel"]) == ["tv", "search"]
    np.testing.assert_array_equal(lifts["weeks"], [np.nan, 3.0])
    assert np.isfinite(lifts[["model_lift", "model_lift_lower", "model_lift_upper", "z"]]).all(None)
    assert (lifts["model_lift_lower"] <= lifts["model_lift_upper"]).all()
    assert not (project / "data" / "base" / "fits" / "bayesian" / "lift_tests.parquet").exists()


def test_second_repro_does_nothing_and_status_is_clean(project):
    out = dvc(project, "repro").stdout
    assert "Running stage" not in out
    status = dvc(project, "status").stdout
    assert "changed" not in status


def test_a_report_edit_marks_only_the_report_stages(project):
    """Each stage depends on exactly the files it imports: an edit to the report tables makes
    only the report stages stale (the study, its fits and the calibration stay as they are)."""
    import json

    tables = project / "src" / "mmm_recovery" / "reporting" / "tables.py"
    before = tables.read_text()
    tables.write_text(before + "\n# an edit\n")
    try:
        stale = set(json.loads(dvc(project, "status", "--json").stdout))
    finally:
        tables.write_text(before)
    assert stale == {"render_reports", "findings"}
    assert json.loads(dvc(project, "status", "--json").stdout) == {}


def test_changing_one_scenario_reruns_only_that_scenario(project):
    study = project / "studies" / "recovery.yaml"
    raw = yaml.safe_load(study.read_text())
    raw["scenarios"]["hill_truth"]["noise"]["snr"] = 3.0
    study.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = dvc(project, "repro", "simulate").stdout
    assert "Running stage 'simulate@hill_truth'" in out
    assert "Running stage 'simulate@base'" not in out
    assert "Stage 'simulate@base' didn't change" in out


def test_study_metrics_and_plots(project):
    import json

    from mmm_recovery.core.spec import load_study

    smoke = load_study(project / "studies" / "recovery.yaml")  # the smoke study (project_copy)
    metrics = json.loads((project / "reports" / "metrics" / "study.json").read_text())
    assert set(metrics) == {"base", "hill_truth"}
    for scen in metrics.values():
        assert set(scen) == set(smoke.estimators)
        for est in scen.values():
            assert est["fits"] == 2
            assert {"adstock.alpha", "roas", "curve_error"} <= set(est)
    shown = dvc(project, "metrics", "show").stdout
    assert "base.bayesian.adstock.alpha.coverage" in shown or "coverage" in shown


def test_reports_rendered_with_the_metrics_numbers(project):
    import html
    import json
    import shutil

    from mmm_recovery.reporting import tables

    site = project / "reports" / "_site"
    record = json.loads((site / "render.json").read_text())
    expected = "quarto" if shutil.which("quarto") else "pandoc"
    assert {r["renderer"] for r in record.values()} == {expected}
    card = html.unescape((site / "model_card.html").read_text())
    method = html.unescape((site / "methodology.html").read_text())
    # each estimator of the study is described in its own class's words, in both reports (the
    # reference estimator, added with no edit to the reports, included)
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.reporting import narrative

    spec = load_study(project / "studies" / "recovery.yaml")
    assert "reference" in spec.estimators
    for heading, summary, description, _ in narrative.estimator_sections(spec):
        assert heading in method and heading in card
        assert description.split("**")[1] in method and summary.split()[0] in card
    for heading in (
        "Purpose and intended users",
        "Estimators and their settings",
        "Evaluation data and factors",
        "Metrics",
        "Limitations and out-of-scope use",
    ):
        assert heading in card
    for heading in (
        "Adstock: carry-over of spend",
        "Saturation: diminishing returns",
        "The estimators",
        "Recovery metrics and regret",
        "Study design",
        "Results",
        "References",
    ):
        assert heading in method
    assert "synthetic" in card and "<img" in method
    # every number of the summary table, recomputed from the metrics files, is in both reports
    table = tables.summary_table(tables.StudyMetrics.load(project / "reports" / "metrics"))
    assert len(table) == len(spec.scenarios) * len(spec.estimators)
    for _, row in table.iterrows():
        for col, value in row.items():
            if col in ("scenario", "estimator") or value == "n/a":
                continue
            assert f">{value}<" in card, (
                f"model card lacks {col}={value} ({row['scenario']}/{row['estimator']})"
            )
            assert f">{value}<" in method, f"methodology lacks {col}={value}"
    if expected == "pandoc":
        assert "Quarto was not found" in card


def test_a_dataset_declared_in_another_study_file_is_fitted_by_dvc_repro(project):
    """The documented route for your own data: declare it in any study file, list it with
    `byod add`, fit it with `dvc repro fit_byod@<name>` (studies/recovery.yaml untouched)."""
    import shutil
    import subprocess
    import sys

    from helpers import project_env

    from mmm_recovery.core.results import load_result

    raw = yaml.safe_load((project / "studies" / "recovery.yaml").read_text())
    raw["estimators"] = {"frequentist": raw["estimators"]["frequentist"]}  # keep it quick
    raw.pop("sbc", None)  # it checks the Bayesian estimator, which this copy drops
    raw["datasets"] = {"my_shop": {**raw["datasets"]["robyn_example"], "path": "data/my_shop.csv"}}
    (project / "studies" / "my_shop.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    shutil.copy(project / "data" / "byod" / "robyn_example.csv", project / "data" / "my_shop.csv")
    before = (project / "studies" / "recovery.yaml").read_bytes()
    add = [sys.executable, "-m", "mmm_recovery.byod", "add", "--study", "studies/my_shop.yaml"]
    subprocess.run(
        [*add, "--dataset", "my_shop"], cwd=project, env=project_env(project), check=True
    )
    out = dvc(project, "repro", "fit_byod@my_shop").stdout
    assert "Running stage 'fit_byod@my_shop'" in out
    res = load_result(project / "data" / "byod" / "my_shop" / "frequentist")
    assert res["scenario"] == "my_shop" and set(res["channels"]) >= {"tv", "search"}
    assert not (project / "data" / "byod" / "my_shop" / "bayesian").exists()
    assert (project / "studies" / "recovery.yaml").read_bytes() == before
    assert "fit_byod@my_shop" not in dvc(project, "status").stdout
