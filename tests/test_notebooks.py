"""Notebooks: jupytext sources whose parameters cell holds literals and matches the stage's -p keys."""

from __future__ import annotations

import ast

import pytest
from helpers import notebook_stages

from mmm_recovery import paths
from mmm_recovery.notebook import load_source, notebook_parameters

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
