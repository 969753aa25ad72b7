"""Every DVC stage lists, as deps, exactly the package files its command imports (transitively,
the estimator plugins included), so editing a module reruns exactly the stages that use it; and
a study record's fingerprint covers exactly the code its fit runs, so an edit refits only the
records it changes."""

from __future__ import annotations

import pytest
import yaml

from mmm_recovery.core import paths, sources
from mmm_recovery.evaluation import tasks

STAGES = sources.dvc_stages((paths.ROOT / "dvc.yaml").read_text())


def _deps(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage["deps"]]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_exactly_the_files_it_imports(name):
    stage = STAGES[name]
    listed = [d for d in _deps(stage) if d.startswith("src/")]
    want = sources.stage_code(stage)
    missing, extra = sorted(set(want) - set(listed)), sorted(set(listed) - set(want))
    assert (missing, extra) == ([], []), (
        f"stage {name}: imports but does not list {missing}; lists but does not import {extra} "
        "(run: python -m mmm_recovery.core.sources --write)"
    )


def test_the_deps_check_can_fail():
    """A stage that lists the whole package, or misses a module, is caught."""
    stage = dict(STAGES["findings"])
    code = sources.stage_code(stage)
    assert "src/mmm_recovery/reporting/findings.py" in code
    assert "src/mmm_recovery/reporting/render.py" not in code
    text = (paths.ROOT / "dvc.yaml").read_text()
    broken = text.replace("      - src/mmm_recovery/reporting/findings.py\n", "", 1)
    assert broken != text
    assert sources.rewrite_deps(broken) == text


def test_a_report_edit_reruns_only_the_report_stages():
    """The report code (``reporting/tables.py``, ``reporting/render.py``) is a dep of the stages
    that render reports and findings, and of no stage that fits or simulates."""
    for module in ("src/mmm_recovery/reporting/tables.py", "src/mmm_recovery/reporting/render.py"):
        users = sorted(n for n, s in STAGES.items() if module in _deps(s))
        assert set(users) <= {"render_reports", "findings"}, (module, users)
    users = sorted(
        n for n, s in STAGES.items() if "src/mmm_recovery/evaluation/score.py" in _deps(s)
    )
    assert "simulate" not in users and "sbc" not in users


def test_results_a_failed_run_must_not_lose_persist():
    """DVC deletes a stage's outputs before running it unless they persist: the metrics and the
    bring-your-own results must survive a failed run (each is written atomically, so a failure
    leaves the last good one)."""
    stages = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())["stages"]
    kept = {}
    for name, stage in stages.items():
        stage = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind, []):
                path, opts = next(iter(out.items())) if isinstance(out, dict) else (out, {})
                if path.startswith(("reports/metrics/", "data/byod/${key}", "data/study")):
                    kept[f"{name}: {path}"] = bool(opts.get("persist"))
    assert len(kept) >= 10 and [k for k, v in kept.items() if not v] == []


# --- the scope of a study record's fingerprint --------------------------------------------------


def _rel(files) -> set[str]:
    return {f.relative_to(paths.PACKAGE).as_posix() for f in files}


def test_a_record_hashes_the_simulator_its_estimator_and_what_they_import():
    for name in ("bayesian", "frequentist"):
        code = _rel(tasks.code_files(name))
        other = {"bayesian": "frequentist", "frequentist": "bayesian"}[name]
        assert "simulation/simulate.py" in code
        assert f"estimators/{name}/estimator.py" in code and f"estimators/{name}/config.py" in code
        assert {"core/results.py", "core/response.py", "families/transforms.py"} <= code
        assert not [f for f in code if f.startswith(f"estimators/{other}/")], name
        assert not [f for f in code if f.startswith("reporting/")], name
        assert not [f for f in code if f.endswith(("showcase.py", "plots.py"))], name
        assert not {"evaluation/score.py", "evaluation/study.py", "evaluation/tasks.py"} & code


def test_only_the_spec_loader_and_the_registry_import_the_study_file_modules():
    """What the fingerprint leaves out (:data:`~mmm_recovery.evaluation.tasks.STUDY_FILE_MODULES`)
    is reached by a fit only through loading the study and looking its estimator up, whose
    results are hashed as values."""
    loaders = {
        "mmm_recovery.core.spec",
        "mmm_recovery.core.spec_checks",
        "mmm_recovery.estimators.registry",
        "mmm_recovery.evaluation.fitting",
    }
    for name in ("bayesian", "frequentist"):
        code = {sources.module_name(f): f for f in tasks.code_files(name)}
        for left_out in tasks.STUDY_FILE_MODULES:
            target = sources.module_name(paths.PACKAGE / left_out)
            users = {m for m, f in code.items() if target in sources.file_imports(f)}
            assert users <= loaders, (left_out, sorted(users - loaders))


def test_the_task_code_covers_what_its_fit_imports():
    """Everything the estimator's class imports (functions' imports too) is hashed."""
    from mmm_recovery.estimators import registry

    for name in registry.names():
        module = registry.plugin(name).ESTIMATOR.partition(":")[0]
        runs = _rel(sources.closure([module], skip=tasks.NOT_TASK_MODULES))
        runs -= set(tasks.STUDY_FILE_MODULES)
        assert runs <= _rel(tasks.code_files(name)), sorted(runs - _rel(tasks.code_files(name)))


@pytest.fixture
def stamped(monkeypatch):
    """Pretend one package file's bytes changed (``edit(path)``) without touching the checkout."""
    edited: set[str] = set()
    real = sources.digest

    def digest(files):
        files = list(files)
        h = real(files)
        touched = sorted(
            f.relative_to(paths.PACKAGE).as_posix()
            for f in files
            if f.resolve().is_relative_to(paths.PACKAGE)
            and f.relative_to(paths.PACKAGE).as_posix() in edited
        )
        return h + ("+" + ",".join(touched) if touched else "")

    def edit(path: str) -> None:
        edited.add(path)
        tasks._digest.cache_clear()  # the cache keys on the files' stamps, which a pretend keeps

    monkeypatch.setattr(sources, "digest", digest)
    tasks._digest.cache_clear()
    yield edit
    tasks._digest.cache_clear()


def _fingerprints(study):
    return {t: tasks.fingerprint(study, t) for t in tasks.tasks(study)}


@pytest.mark.parametrize(
    ("edit", "refit"),
    [
        ("evaluation/score.py", set()),
        ("evaluation/study.py", set()),
        ("reporting/tables.py", set()),
        ("reporting/plots.py", set()),
        ("estimators/bayesian/showcase.py", set()),
        ("core/spec_checks.py", set()),
        ("estimators/registry.py", set()),
        ("estimators/frequentist/objective.py", {"frequentist"}),
        ("estimators/bayesian/model.py", {"bayesian"}),
        ("simulation/simulate.py", {"frequentist", "bayesian", "reference"}),
        ("core/results.py", {"frequentist", "bayesian", "reference"}),
    ],
)
def test_an_edit_refits_exactly_the_records_it_changes(smoke_study, stamped, edit, refit):
    before = _fingerprints(smoke_study)
    stamped(edit)
    after = _fingerprints(smoke_study)
    changed = {t.estimator for t in before if before[t] != after[t]}
    assert changed == refit
    unchanged = [t for t in before if t.estimator not in refit]
    assert all(before[t] == after[t] for t in unchanged)
