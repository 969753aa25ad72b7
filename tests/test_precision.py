"""The precision reached against the design's targets, and the reports' opening section."""

from __future__ import annotations

import math

import pandas as pd

from mmm_recovery.core import paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.reporting import precision
from mmm_recovery.reporting.design_report import DesignMetrics


def _metrics():
    return load_study(paths.STUDIES / "recovery.yaml"), DesignMetrics.load(
        paths.REPORTS / "metrics"
    )


def test_every_aim_of_every_arm_is_judged_for_every_estimator():
    spec, dm = _metrics()
    t = precision.precision_table(spec, dm)
    assert spec.design is not None
    wanted = {
        (arm, f"{a.measure} per {a.of}", est)
        for arm, s in spec.design.arms.items()
        for a in s.aims
        for est in spec.estimators
    }
    assert set(zip(t["arm"], t["aim"], t["estimator"], strict=True)) == wanted
    assert (t["met"] + t["not estimable"] <= t["judged"]).all()


def test_an_effect_aim_is_met_exactly_where_its_se_is_within_target():
    spec, dm = _metrics()
    t = precision.precision_table(spec, dm)
    e = dm.effects
    for r in t[t["aim"] == "coverage per effect"].to_dict("records"):
        sel = e[
            (e["arm"] == r["arm"])
            & (e["estimator"] == r["estimator"])
            & (e["kind"] == "main")
            & (e["measure"] == "coverage")
        ]
        assert r["judged"] == len(sel)
        assert r["met"] == int((sel["target_se"] <= r["target"]).sum())
        assert math.isclose(r["worst SE"], sel["target_se"].max())


def test_replicates_needed_follow_one_over_root_n():
    spec, dm = _metrics()
    [arm] = [a for a, s in spec.design.arms.items() if any(x.of == "effect" for x in s.aims)][:1]
    aim = next(x for x in spec.design.arms[arm].aims if x.of == "effect")
    measure = precision.EFFECT_MEASURE[aim.measure]
    effects = dm.effects.copy()
    sel = (effects["arm"] == arm) & (effects["measure"] == measure) & (effects["kind"] == "main")
    effects.loc[sel, "target_se"] = 2 * aim.target_mcse  # twice the target everywhere
    dm2 = DesignMetrics(dm.cells, effects, dm.contrasts, dm.truth, dm.performance, dm.calibration)
    t = precision.precision_table(spec, dm2)
    row = t[(t["arm"] == arm) & (t["aim"] == f"{aim.measure} per effect")].iloc[0]
    assert row["met"] == 0
    assert row["replicates needed"] == 4 * row["replicates"]
    assert "fall short, the furthest" in precision.summary(t)


def test_no_estimable_se_is_said_not_counted_as_met():
    t = pd.DataFrame(
        [["a", "coverage per cell", "e", 4, 0, 4, math.nan, 0.1, 3, math.nan]],
        columns=precision.COLUMNS,
    )
    text = precision.summary(t)
    assert text.startswith("0 of 1 aims") and "could not be judged" in text
    assert precision.shown(t)["replicates needed"].iloc[0] == "n/a"


def test_the_lead_names_its_source_and_relates_the_two_studies(tmp_path):
    spec, _ = _metrics()
    own = precision.lead(spec, "reports/metrics")
    assert own.startswith("## The answers, and how sure they are")
    assert "full study" not in own.split("### What the study supports")[0]
    absent = precision.lead(spec, "reports/metrics", str(tmp_path / "nothing"))
    assert "has no metrics in this checkout" in absent
    assert "### How this study and the full study relate" in absent
    full = precision.lead(spec, "reports/metrics", "reports/metrics")  # as if the full study's
    assert "From the **full study**" in full
