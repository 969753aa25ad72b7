"""The typed result format: what an estimator fills is what ``results.json`` holds, and it reads
back into the same objects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmm_recovery.core import files
from mmm_recovery.core.estimates import (
    ChannelEstimate,
    Diagnostics,
    Estimate,
    FitMetrics,
    FitStats,
)
from mmm_recovery.core.results import FitInput, load_result
from mmm_recovery.estimators import registry
from mmm_recovery.simulation.simulate import simulate


@pytest.fixture(scope="module")
def result(smoke_study):
    scenario = next(iter(smoke_study.scenarios))
    ds = simulate(smoke_study.scenario(scenario), smoke_study.rng(scenario, 0))
    fi = FitInput.from_simulated(ds, smoke_study.study.holdout_weeks, (0.5, 0.8))
    est = registry.get("reference")(registry.config_for("reference", {"replicates": 20}))
    return est.fit(fi, np.random.default_rng(3))


def test_an_estimator_fills_typed_objects(result):
    assert all(isinstance(c, ChannelEstimate) for c in result.channels.values())
    assert isinstance(result.fit, FitStats) and isinstance(result.fit.in_sample, FitMetrics)
    assert isinstance(result.diagnostics, Diagnostics)
    channel = next(iter(result.channels.values()))
    assert isinstance(channel.roas, Estimate) and channel.roas.levels is not None
    assert set(channel.roas.levels) == {"0.5", "0.8"}
    assert channel.quantity("adstock.alpha") is channel.adstock.params["alpha"]
    assert channel.quantity("roas") is channel.roas


def test_results_json_reads_back_into_the_same_objects(result, tmp_path):
    result.save(tmp_path)
    loaded = load_result(tmp_path)
    assert loaded == json.loads(json.dumps(files._jsonable(result.to_dict())))
    for c, channel in result.channels.items():
        back = ChannelEstimate.from_dict(loaded["channels"][c])
        assert json.dumps(files._jsonable(back.to_dict()), sort_keys=True) == json.dumps(
            files._jsonable(channel.to_dict()), sort_keys=True
        )
    assert FitStats.from_dict(loaded["fit"]) == result.fit
    assert Diagnostics.from_dict(loaded["diagnostics"]) == result.diagnostics


def test_an_estimate_keeps_what_an_estimator_adds():
    e = Estimate.from_dict({"estimate": 1.0, "lower": 0.5, "upper": 2.0, "prior_sensitivity": 0.1})
    assert e.extra == {"prior_sensitivity": 0.1} and e.levels is None
    assert e.to_dict() == {"estimate": 1.0, "lower": 0.5, "upper": 2.0, "prior_sensitivity": 0.1}


def test_diagnostics_read_as_a_mapping_and_converged_is_a_field():
    d = Diagnostics(False, {"max_rhat": 1.2})
    assert dict(d) == {"converged": False, "max_rhat": 1.2} and d["max_rhat"] == 1.2
    assert d.get("missing") is None and "converged" in d
    with pytest.raises(ValueError, match="converged"):
        Diagnostics(True, {"converged": True})
