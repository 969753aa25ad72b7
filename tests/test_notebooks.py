"""Notebooks: jupytext sources whose parameters cell holds literals and matches the stage's -p keys."""

from __future__ import annotations

import ast

import pytest
from helpers import notebook_stages

from mmm_recovery.core import paths
from mmm_recovery.reporting.notebook import load_source, notebook_parameters

STAGES = notebook_stages()


def test_every_notebook_is_run_by_a_stage():
    sources = {s for s, _ in STAGES.values()}
    committed = {f"notebooks/{p.name}" for p in (paths.ROOT / "notebooks").glob("[0-9]*.py")}
    assert committed == sources


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_parameters_are_exactly_the_keys_the_stage_passes(stage):
    source, passed = STAGES[stage]
    assert set(notebook_parameters(source)) == set(passed)


@pytest.mark.parametrize("source", sorted({s for s, _ in STAGES.values()}))
def test_parameters_cell_holds_literals_only(source):
    nb = load_source(source)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{source}: exactly one cell tagged 'parameters'"
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign), f"{source}: only assignments in the parameters cell"
        ast.literal_eval(node.value)  # raises if a value is computed


def test_no_executed_notebooks_committed():
    assert not list((paths.ROOT / "notebooks").glob("*.ipynb"))


def test_reproducible_drops_console_noise_and_keeps_results():
    """rich renders PyMC's progress bars and warnings into the notebook as display_data with the
    installed package's absolute path: dropped, as stderr is; results and figures kept."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from mmm_recovery.reporting.notebook import reproducible

    warning = (
        "/opt/venv/lib/python3.12/site-packages/rich/live.py:260: UserWarning: install "
        '"ipywidgets" for Jupyter support\n  warnings.warn(\'install "ipywidgets" for Jupyter support\')'
    )
    keep = [
        new_output("stream", name="stdout", text="converged: True\n"),
        new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"}),
        new_output("execute_result", data={"text/plain": "0.93"}, execution_count=1),
        new_output("display_data", data={"text/plain": "a table"}),
    ]
    noise = [
        new_output("stream", name="stderr", text="Sampling: [y]\n"),
        new_output("display_data", data={"text/html": "<pre>" + warning, "text/plain": warning}),
        new_output("display_data", data={"text/html": "<pre></pre>", "text/plain": ""}),
    ]
    cell = new_code_cell(
        "fit()", outputs=[noise[0], keep[0], noise[1], keep[1], noise[2], *keep[2:]]
    )
    nb = new_notebook(cells=[cell], metadata={"papermill": {"start_time": "2026-11-23T10:00"}})
    nb = reproducible(nb, paths.ROOT / "data" / "x.ipynb")
    assert nb.cells[0].outputs == keep
    assert nb.metadata.papermill == {
        "output_path": "data/x.ipynb",
        "input_path": "<jupytext source>",
    }
    nbformat.validate(nb)


def test_study_notebook_reports_a_study_in_which_every_fit_fails(tmp_path):
    """Every fit failing is a result, not a crash: the study notebook runs (real papermill
    kernel), the aggregate stage's metrics count every fit as failed, and no cell shows an
    error."""
    import json
    import subprocess
    import sys

    import pandas as pd
    import yaml
    from helpers import project_copy, project_env

    project = project_copy(tmp_path / "project")
    raw = yaml.safe_load((project / "studies" / "recovery.yaml").read_text())
    raw["study"].update(replicates=1, workers=1)
    # a channel that (all but surely: one week in a million) never spends: every fit refuses it
    raw["defaults"]["channels"]["tv"]["active_share"] = 1e-6
    raw["estimators"] = {"frequentist": raw["estimators"]["frequentist"]}
    raw.pop("sbc", None)
    (project / "studies" / "failing.yaml").write_text(yaml.safe_dump(raw))
    out = project / "data" / "notebooks" / "04_study.ipynb"
    cmd = [sys.executable, "-m", "mmm_recovery.reporting.notebook", "notebooks/04_study.py"]
    cmd += [str(out), "-p", "study", "studies/failing.yaml", "-p", "metrics_dir", "metrics"]
    proc = subprocess.run(cmd, cwd=project, env=project_env(project), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    fits = pd.read_csv(project / "metrics" / "fits.csv")
    assert len(fits) == len(raw["scenarios"]) and (fits["status"] == "failed").all()
    # ... and the aggregate stage's command counts them
    agg = [sys.executable, "-m", "mmm_recovery.evaluation.aggregate", "studies/failing.yaml"]
    proc = subprocess.run(
        [*agg, "metrics"], cwd=project, env=project_env(project), capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    study = json.loads((project / "metrics" / "study.json").read_text())
    assert all(v["frequentist"]["failed"] == 1 for v in study.values())
    cells = json.loads(out.read_text())["cells"]
    assert not [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
