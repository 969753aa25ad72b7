"""The simulation-based calibration runs the study's own fit function: on the smoke study's
tiny designs (with and without lift tests) it passes, every simulation fits through
``registry.estimator_for(...).fit`` exactly as a study fit does, a rerun fits nothing, and a run
in a fresh process writes the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators import registry
from mmm_recovery.evaluation import sbc, sbc_draw

OUTPUTS = (sbc.RANKS_FILE, sbc.FITS_FILE, sbc.DECISIONS_FILE, sbc.METRICS_FILE)


@pytest.fixture(scope="module")
def spied(tmp_path_factory, smoke_study):
    """The smoke study's SBC run in this process with every estimator fit counted (the real fit
    runs: the spy only records who was called)."""
    cls = registry.get(smoke_study.sbc.estimator)
    original = cls.fit
    calls = []

    def spy(self, fit_input, rng, *args, **kwargs):
        calls.append((type(self), self.config, args, kwargs))
        return original(self, fit_input, rng, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(cls, "fit", spy)
    root = tmp_path_factory.mktemp("sbc")
    try:
        metrics = sbc.write_outputs(
            smoke_study, root / "metrics", data_root=root / "data", workers=1
        )
        first = len(calls)
        again = sbc.write_outputs(smoke_study, root / "again", data_root=root / "data", workers=1)
    finally:
        mp.undo()
    yield {"metrics": metrics, "again": again, "calls": calls, "first": first, "root": root}


def test_the_real_model_passes_every_uniformity_test(spied, smoke_study):
    """Fitted with the priors that drew the data, every quantity of both arms passes; every
    simulation is kept, converged or not."""
    m = spied["metrics"]
    assert m["failed"] == [], {a: b["quantities"] for a, b in m["arms"].items()}
    for arm in ("study", "lift"):
        block = m["arms"][arm]
        assert block["simulations"] == smoke_study.sbc.simulations
        assert {"log_likelihood", "intercept", "y_sigma", "roas[tv]", "saturation_beta[tv]"} <= set(
            block["quantities"]
        )
    # the lift arm tests each lift test's model lift: one steady-state, one timed likelihood
    assert {"lift[search:0]", "lift[tv:1]"} <= set(m["arms"]["lift"]["quantities"])


def test_sbc_calls_the_study_fit_function(spied, smoke_study):
    """Every simulation is one call of the estimator class the study fits with, with the study's
    own settings and no batched posterior; and its result is what the study's function gives
    for the drawn dataset."""
    calls = spied["calls"][: spied["first"]]
    study_estimator = registry.estimator_for(smoke_study, smoke_study.sbc.estimator)
    assert len(calls) == 2 * smoke_study.sbc.simulations
    for kind, config, args, kwargs in calls:
        assert kind is type(study_estimator) and config == study_estimator.config
        assert args == () and kwargs == {}  # no batched draws handed in
    # simulation 0 fitted again here, through the study's fit, gives the recorded ranks
    record = files.read_json(sbc.record_path("study", 0, spied["root"] / "data"))
    cfg = study_estimator.config
    design_rng, prior_seed, fit_seed = sbc_draw.simulation_seeds(smoke_study.study.base_seed, 0)
    drawn = sbc_draw.draw(cfg, sbc_draw.design_input(smoke_study, "study", design_rng), prior_seed)
    with sbc_draw.held_target_scale(drawn.target_scale):
        result = study_estimator.fit(drawn.fit_input, np.random.default_rng(fit_seed))
    roas = next(r for r in record["ranks"] if r["quantity"] == "roas[tv]")
    post = result.extras["idata"]["posterior"]
    draws = sbc_draw.thinned(post, [n for n in drawn.values if n in post.data_vars], 39)
    mine = sbc_draw.quantities_of(draws, drawn)["roas[tv]"]
    assert roas["posterior_mean"] == float(np.mean(mine))


def test_a_rerun_fits_nothing_and_writes_the_same_bytes(spied):
    assert len(spied["calls"]) == spied["first"]  # the second run read every record
    root = spied["root"]
    for name in OUTPUTS:
        assert (root / "metrics" / name).read_bytes() == (root / "again" / name).read_bytes(), name


def test_a_fresh_process_writes_the_same_bytes(spied, tmp_path):
    """Three simulations per arm fitted again in a new process, into a new data folder: the
    same records and outputs, byte for byte."""
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["sbc"]["simulations"] = 3
    study_file = tmp_path / "three.yaml"
    study_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    code = (
        "import sys; from pathlib import Path; from mmm_recovery.core.spec import load_study; "
        "from mmm_recovery.evaluation import sbc; "
        "sbc.write_outputs(load_study(sys.argv[1]), Path(sys.argv[2]), data_root=Path(sys.argv[3]), "
        "workers=1, progress=False)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(study_file),
            str(tmp_path / "fresh"),
            str(tmp_path / "data"),
        ],
        check=True,
        env=env,
        cwd=paths.ROOT,
        timeout=900,
    )
    here = tmp_path / "here"
    sbc.write_outputs(load_study(study_file), here, data_root=spied["root"] / "data", workers=1)
    for arm in ("study", "lift"):
        for i in range(3):
            a = sbc.record_path(arm, i, tmp_path / "data").read_bytes()
            assert a == sbc.record_path(arm, i, spied["root"] / "data").read_bytes(), (arm, i)
    for name in OUTPUTS:
        assert (tmp_path / "fresh" / name).read_bytes() == (here / name).read_bytes(), name


def test_committed_tables_restore_the_records_and_refit_only_stale_ones(
    spied, smoke_study, tmp_path, monkeypatch
):
    """A fresh clone has the committed tables but no records: the run restores every current
    record from them (the same bytes) without fitting, and fits only a simulation whose
    fingerprint is stale (here: planted)."""
    import shutil

    import pandas as pd

    tables = tmp_path / "metrics"
    shutil.copytree(spied["root"] / "metrics", tables)
    attempted = []

    def no_fit(study, arm, i, fit_config=None):
        attempted.append((arm, i))
        raise RuntimeError("no fit expected")

    monkeypatch.setattr(sbc, "simulate_one", no_fit)
    sbc.write_outputs(smoke_study, tables, data_root=tmp_path / "data", workers=1)
    assert attempted == []
    for name in OUTPUTS:
        assert (tables / name).read_bytes() == (spied["root"] / "metrics" / name).read_bytes()
    for arm in ("study", "lift"):
        for i in range(smoke_study.sbc.simulations):
            restored = sbc.record_path(arm, i, tmp_path / "data").read_bytes()
            assert restored == sbc.record_path(arm, i, spied["root"] / "data").read_bytes()
    fits = pd.read_csv(tables / sbc.FITS_FILE)
    fits.loc[(fits["arm"] == "lift") & (fits["simulation"] == 2), "fingerprint"] = "stale"
    fits.to_csv(tables / sbc.FITS_FILE, index=False)
    sbc.write_outputs(smoke_study, tables, data_root=tmp_path / "again", workers=1)
    assert attempted == [("lift", 2)]
