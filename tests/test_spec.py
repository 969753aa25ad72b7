"""Study spec: valid files load; every bad value is an error naming the file and the key."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mmm_recovery.core import paths
from mmm_recovery.core.spec import SpecError, deep_merge, load_study


def test_default_and_smoke_studies_load(default_study, smoke_study):
    assert default_study.study.name == "recovery"
    assert "baseline" in default_study.scenarios
    assert smoke_study.scenarios["base"].n_weeks == 78
    # defaults were merged, a design level's keys won, a family switch replaced the block
    mis = default_study.scenario("misspecification-weibull-logistic")
    assert mis.channels["tv"].adstock.family == "weibull_pdf"
    assert mis.channels["tv"].saturation.family == "logistic"
    assert default_study.scenario("core-w104-snr4-r0-none").n_weeks == 104
    assert default_study.scenario("core-w208-snr4-r0-none") == default_study.scenario("baseline")


def test_models_are_frozen(default_study):
    with pytest.raises(Exception, match="frozen"):
        default_study.study.base_seed = 1  # type: ignore[misc]


def _write(tmp_path, mutate):
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    mutate(raw)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(raw))
    return f


def _lift_test(channel, spend_change):
    """A mutation giving the smoke defaults one lift test (standard error 0.1)."""
    test = {"channel": channel, "spend_change": spend_change, "standard_error": 0.1}
    return lambda r: r["defaults"].update(lift_tests=[test])


CASES = [
    (
        "decay >= 1",
        lambda r: r["defaults"]["channels"]["tv"]["adstock"].update(alpha=1.2),
        "defaults.channels.tv.adstock.alpha",
    ),
    (
        "negative decay",
        lambda r: r["defaults"]["channels"]["tv"]["adstock"].update(alpha=-0.1),
        "defaults.channels.tv.adstock.alpha",
    ),
    (
        "l_max < 1",
        lambda r: r["defaults"]["channels"]["tv"]["adstock"].update(l_max=0),
        "defaults.channels.tv.adstock.l_max",
    ),
    (
        "negative spend",
        lambda r: r["defaults"]["channels"]["tv"].update(mean_spend=-5.0),
        "defaults.channels.tv.mean_spend",
    ),
    (
        "share > 1",
        lambda r: r["defaults"]["channels"]["tv"].update(active_share=1.5),
        "defaults.channels.tv.active_share",
    ),
    (
        "unknown key",
        lambda r: r["defaults"]["channels"]["tv"]["adstock"].update(decay=0.5),
        "defaults.channels.tv.adstock.decay: unknown key",
    ),
    (
        "typo in scenario",
        lambda r: r["scenarios"]["base"].update(n_weeeks=100),
        "scenarios.base.n_weeeks: unknown key",
    ),
    (
        "unknown family",
        lambda r: r["defaults"]["channels"]["tv"]["adstock"].update(family="delayed"),
        "defaults.channels.tv.adstock",
    ),
    (
        "missing beta",
        lambda r: r["defaults"]["channels"]["tv"].pop("beta"),
        "scenarios.base.channels.tv.beta: Field required",
    ),
    ("seed negative", lambda r: r["study"].update(base_seed=-1), "study.base_seed"),
    ("no replicates", lambda r: r["study"].update(replicates=0), "study.replicates"),
    ("snr zero", lambda r: r["defaults"]["noise"].update(snr=0), "defaults.noise.snr"),
    (
        "bad noise",
        lambda r: r["defaults"]["noise"].update(kind="poisson"),
        "defaults.noise.kind",
    ),
    (
        "l_max >= weeks",
        lambda r: r["defaults"]["channels"]["tv"]["adstock"].update(l_max=90),
        "channels.tv.adstock.l_max=90 must be < n_weeks=78",
    ),
    (
        "lift test on an unknown channel",
        _lift_test("radio", -1.0),
        "lift_tests[0].channel='radio' is not a channel",
    ),
    (
        "lift test without a spend change",
        _lift_test("tv", 0.0),
        "lift test on tv: spend_change must not be 0",
    ),
    (
        "lift test on a channel without effect",
        lambda r: (
            r["defaults"]["channels"]["tv"].update(beta=0.0),
            _lift_test("tv", 0.5)(r),
        ),
        "lift_tests[0]: channel 'tv' has beta 0",
    ),
    (
        "lift test cutting spend below zero",
        _lift_test("tv", -1.5),
        "defaults.lift_tests.0.spend_change",
    ),
    (
        "prior distribution typo",
        lambda r: r["estimators"]["bayesian"]["priors"]["intercept"].update(distribution="Normall"),
        "priors.intercept: Value error, distribution 'Normall' is not a PyMC",
    ),
    (
        "prior parameter typo",
        lambda r: r["estimators"]["bayesian"]["priors"]["intercept"]["parameters"].update(
            sgima=0.3
        ),
        "priors.intercept: Value error, Normal has no parameter sgima; its parameters: mu, sigma",
    ),
    (
        "null removing a key that is not there",
        lambda r: r["scenarios"].update(base={"channels": {"tvv": None}}),
        "scenarios.base.channels.tvv: null removes a key, but there is no 'tvv' to remove",
    ),
    (
        "boolean for a count",
        lambda r: r["study"].update(replicates=True),
        "study.replicates: Value error, expected a number, got true",
    ),
    (
        "boolean for a setting's number",
        lambda r: r["estimators"]["frequentist"].update(budget=True),
        "estimators.frequentist: budget: Value error, expected a number, got true",
    ),
    (
        "an infinite effect",
        lambda r: r["defaults"]["channels"]["tv"].update(beta=float("inf")),
        "defaults.channels.tv.beta: Input should be a finite number",
    ),
    (
        "a NaN setting",
        lambda r: r["study"].update(budget_bound=float("nan")),
        "study.budget_bound: Input should be a finite number",
    ),
    (
        "an infinite prior scale",
        lambda r: r["estimators"]["bayesian"]["priors"]["intercept"]["parameters"].update(
            sigma=float("inf")
        ),
        "priors.intercept.parameters.sigma: Input should be a finite number",
    ),
    ("top-level typo", lambda r: r.update(scenarioz={}), "scenarioz: unknown key"),
    (
        "calibration levels out of order",
        lambda r: r["study"].update(calibration_levels=[0.9, 0.5]),
        "calibration_levels must be increasing and strictly between 0 and 1; got [0.9, 0.5]",
    ),
    (
        "a calibration level of 1",
        lambda r: r["study"].update(calibration_levels=[0.5, 1.0]),
        "calibration_levels must be increasing and strictly between 0 and 1",
    ),
    (
        "unknown estimator",
        lambda r: r.update(estimators={"magic": {}}),
        "estimators.magic: unknown estimator",
    ),
    (
        "no estimator",
        lambda r: r.update(estimators={}),
        "estimators: names no estimator",
    ),
    (
        "holdout leaves too few training weeks",
        lambda r: r["study"].update(holdout_weeks=100),
        "scenarios.base.n_weeks: 78 weeks is too few: study.holdout_weeks (100)",
    ),
    (
        "a scale prior that is not positive",
        lambda r: r["estimators"]["bayesian"]["priors"]["likelihood_sigma"]["parameters"].update(
            sigma=-0.25
        ),
        "priors.likelihood_sigma: Value error, HalfNormal needs sigma > 0 (got sigma=-0.25)",
    ),
    (
        "a shape prior at zero",
        lambda r: r["estimators"]["bayesian"]["priors"].update(
            adstock_alpha={"distribution": "Beta", "parameters": {"alpha": 0, "beta": 3}}
        ),
        "Beta needs alpha > 0 (got alpha=0.0)",
    ),
    (
        "a dataset name that leaves data/byod",
        lambda r: r["datasets"].update({"../evil": r["datasets"]["robyn_example"]}),
        "datasets.../evil: a dataset name must be letters, digits",
    ),
    (
        "a dataset name with a space",
        lambda r: r["datasets"].update({"my brand": r["datasets"]["robyn_example"]}),
        "datasets.my brand: a dataset name must be",
    ),
    (
        "one column in two roles",
        lambda r: r["datasets"]["robyn_example"]["channels"].update(search="tv_S"),
        "channels.tv and channels.search both map column 'tv_S'",
    ),
    (
        "the target also a channel",
        lambda r: r["datasets"]["robyn_example"].update(target="tv_S"),
        "channels.tv and target both map column 'tv_S'",
    ),
    (
        "a scenario named like a pipeline folder",
        lambda r: r["scenarios"].update(study={}),
        "scenarios.study: the name 'study' is reserved",
    ),
    (
        "a 300-character scenario name",
        lambda r: r["scenarios"].update({"s" * 300: {}}),
        "a scenario name of 300 characters is too long",
    ),
    (
        "a scheduler address without a port",
        lambda r: r["study"].update(scheduler="tcp://127.0.0.1"),
        "study.scheduler: 'tcp://127.0.0.1' names no port",
    ),
    (
        "a scheduler address with a port out of range",
        lambda r: r["study"].update(scheduler="tcp://127.0.0.1:99999"),
        "study.scheduler: 'tcp://127.0.0.1:99999': the port is not a number from 1 to 65535",
    ),
]


def test_a_scheduler_address_from_the_environment_needs_a_port(monkeypatch, smoke_study):
    from mmm_recovery.evaluation.scheduler import SCHEDULER_ENV, SchedulerUnavailable, scheduler_for

    monkeypatch.setenv(SCHEDULER_ENV, "tcp://localhost")
    with pytest.raises(SchedulerUnavailable, match="names no port"):
        scheduler_for(smoke_study)
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://localhost:8786")
    assert scheduler_for(smoke_study) == "tcp://localhost:8786"


@pytest.mark.parametrize(("label", "mutate", "key"), CASES, ids=[c[0] for c in CASES])
def test_bad_values_name_file_and_key(tmp_path, label, mutate, key):
    """Every problem names the file and the key where it is written (an inherited default
    as ``defaults.<key>``, not once per scenario)."""
    f = _write(tmp_path, mutate)
    with pytest.raises(SpecError) as err:
        load_study(f)
    msg = str(err.value)
    assert str(f) in msg
    assert key in msg


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    """PyYAML keeps the last of two equal keys without a word; the study loader refuses."""
    text = (paths.STUDIES / "smoke.yaml").read_text()
    f = tmp_path / "twice.yaml"
    f.write_text(text.replace("study:\n", "study:\n  replicates: 7\n", 1))
    first, second = (
        i + 1
        for i, line in enumerate(f.read_text().splitlines())
        if line.strip().startswith("replicates:")
    )
    with pytest.raises(
        SpecError, match=rf"'replicates' appears twice .*lines {first} and {second}"
    ):
        load_study(f)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_study(tmp_path / "nope.yaml")
    f = tmp_path / "x.yaml"
    f.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="top level must be a mapping"):
        load_study(f)
    f.write_text("study: {name: x, base_seed: 1\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_study(f)


def test_unknown_scenario_lists_known(smoke_study):
    with pytest.raises(SpecError, match=r"unknown scenario 'nope'.*\['base', 'hill_truth'\]"):
        smoke_study.scenario("nope")


def test_seeds_are_stable_and_distinct(smoke_study):
    a = smoke_study.rng("base", 0).random(3)
    b = smoke_study.rng("base", 0).random(3)
    c = smoke_study.rng("base", 1).random(3)
    d = smoke_study.rng("hill_truth", 0).random(3)
    e = smoke_study.rng("base", 0, stream=1).random(3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d)  # common random numbers: one seed per replicate
    for other in (c, e):
        assert not np.allclose(a, other)
    with pytest.raises(SpecError, match="replicate 5 of base out of range"):
        smoke_study.seed_sequence("base", 5)


def test_deep_merge_rules():
    base = {"a": {"x": 1, "y": 2}, "ch": {"tv": {"family": "geometric", "alpha": 0.5}, "s": 1}}
    over = {"a": {"y": 3}, "ch": {"tv": {"family": "weibull_pdf", "shape": 2}, "s": None}}
    assert deep_merge(base, over) == {
        "a": {"x": 1, "y": 3},
        "ch": {"tv": {"family": "weibull_pdf", "shape": 2}},
    }
    assert base["a"]["y"] == 2  # input untouched


def test_study_readme_schema_is_generated_from_the_models():
    """studies/README.md embeds schema_markdown() verbatim (docs cannot drift from the code)."""
    from mmm_recovery.core.schema import schema_markdown

    readme = (paths.STUDIES / "README.md").read_text()
    embedded = readme.split("<!-- schema:start -->\n", 1)[1].split("<!-- schema:end -->", 1)[0]
    assert embedded == schema_markdown(), "regenerate: python -m mmm_recovery.core.schema --write"


def test_a_study_file_is_validated_on_the_command_line(tmp_path):
    """``python -m mmm_recovery.core.spec FILE``: OK per file, or the problems and exit 2."""
    import subprocess
    import sys

    bad = _write(tmp_path, lambda r: r["study"].update(replicates=0))
    cmd = [sys.executable, "-m", "mmm_recovery.core.schema"]
    ok = subprocess.run([*cmd, "studies/smoke.yaml"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "studies/smoke.yaml: OK" in ok.stdout
    out = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "study.replicates" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_study_extends_another_restating_only_what_differs(tmp_path):
    """``extends:`` deep-merges a study over another: its keys win, null removes one."""
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: studies/smoke.yaml\n"
        "study: {name: child, replicates: 5}\n"
        "scenarios:\n  longer: {n_weeks: 104}\n"
    )
    base, study = load_study("studies/smoke.yaml"), load_study(child)
    assert (study.study.name, study.study.replicates) == ("child", 5)
    assert study.study.base_seed == base.study.base_seed
    assert list(study.scenarios) == [*base.scenarios, "longer"]
    assert study.scenario("longer").n_weeks == 104
    assert study.scenario("longer").channels == base.scenario(next(iter(base.scenarios))).channels
    assert study.estimators == base.estimators
    name = list(base.scenarios)[-1]  # not the one sbc: names
    child.write_text(f"extends: studies/smoke.yaml\nscenarios:\n  {name}: null\n  x: {{}}\n")
    assert name not in load_study(child).scenarios


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("extends: studies/nope.yaml\n", "studies/nope.yaml (extended by"),
        ("extends: {child}\n", "extends this file again (a cycle)"),
        (
            "extends: studies/smoke.yaml\nscenarios: {{nope: null}}\n",
            "scenarios.nope: null removes",
        ),
        ("extends: studies/smoke.yaml\nstudy: {{replicates: 0}}\n", "study.replicates"),
    ],
    ids=["missing parent", "cycle", "bad removal", "bad value"],
)
def test_a_bad_extends_is_named(tmp_path, text, message):
    child = tmp_path / "child.yaml"
    child.write_text(text.format(child=child))
    with pytest.raises(SpecError) as err:
        load_study(child)
    assert message in str(err.value) and str(child) in str(err.value)


def test_the_full_study_is_the_default_design_at_tighter_targets_and_a_length_arm():
    default, full = load_study("studies/recovery.yaml"), load_study("studies/full.yaml")
    lengths = {s.n_weeks for n, s in full.scenarios.items() if n.startswith("length-")}
    assert lengths == {78, 156, 260}
    assert min(s.n_weeks for s in full.scenarios.values()) >= 78  # no 52-week cell
    assert set(default.scenarios) < set(full.scenarios)
    for name, spec in default.scenarios.items():
        assert full.scenario(name) == spec, name
        assert full.replicates_of(name) > default.replicates_of(name), name
    assert full.study.base_seed == default.study.base_seed
    assert full.estimators["bayesian"] == default.estimators["bayesian"]
