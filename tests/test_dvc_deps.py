"""Every DVC stage lists, as deps, the src modules its notebook/module imports (transitively), so
editing a module reruns exactly the stages that use it."""

from __future__ import annotations

import ast
import shlex

import pytest
import yaml

from mmm_recovery.core import paths
from mmm_recovery.estimators import registry
from mmm_recovery.evaluation.tasks import NOT_TASK_MODULES, TASK_PACKAGES, task_sources

PKG = paths.ROOT / "src" / "mmm_recovery"


def _imports(source: str) -> set[str]:
    """mmm_recovery modules imported anywhere in ``source`` (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("mmm_recovery")
        ):
            out.add(node.module)
            base = PKG.joinpath(*node.module.split(".")[1:])
            for alias in node.names:  # `from mmm_recovery import plots` imports a module
                if (base / f"{alias.name}.py").is_file() or (base / alias.name).is_dir():
                    out.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("mmm_recovery")}
    return out


def _file(module: str):
    rel = module.split(".")[1:]
    f = PKG.joinpath(*rel).with_suffix(".py")
    return f if f.is_file() else PKG.joinpath(*rel, "__init__.py")


def closure(source: str, skip: tuple[str, ...] = ()) -> set[str]:
    """Files (relative to ROOT) of all mmm_recovery modules reachable from ``source``, not
    following modules whose file name is in ``skip``."""
    seen, todo = set(), list(_imports(source))
    while todo:
        mod = todo.pop()
        f = _file(mod)
        if not f.is_file() or f in seen or f.name in skip:
            continue
        seen.add(f)
        todo += _imports(f.read_text())
        if mod == "mmm_recovery.estimators.registry":  # it imports every estimator sub-package
            todo += registry.builtin_modules()
    return {
        f.relative_to(paths.ROOT).as_posix()
        for f in seen
        if f.name != "__init__.py" or f.parent != PKG
    }


def _stages():
    spec = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())
    for name, stage in spec["stages"].items():
        body = stage.get("do", stage)  # foreach stages have a body; matrix stages are their own
        argv = shlex.split(body["cmd"])
        i = argv.index("-m")
        entry = argv[i + 1]
        source = (
            (paths.ROOT / argv[i + 2]).read_text()
            if entry == "mmm_recovery.reporting.notebook"
            else ""
        )
        source += f"\nimport {entry}\n"
        if "04_study" in " ".join(argv):
            source += "\nimport mmm_recovery.evaluation.study\n"
        yield name, body, source


@pytest.mark.parametrize(
    ("name", "body", "source"), list(_stages()), ids=[n for n, _, _ in _stages()]
)
def test_stage_deps_cover_imported_modules(name, body, source):
    deps = [d if isinstance(d, str) else next(iter(d)) for d in body["deps"]]
    missing = [
        f
        for f in sorted(closure(source))
        if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps)
    ]
    assert not missing, f"stage {name} imports but does not list as deps: {missing}"


def test_study_fingerprint_packages_are_study_deps():
    study = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())["stages"]["study"]
    deps = [d if isinstance(d, str) else next(iter(d)) for d in study["deps"]]
    for m in TASK_PACKAGES:
        path = f"src/mmm_recovery/{m}"
        assert any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps), m


def test_study_fingerprint_covers_the_code_a_task_runs():
    """Every module a study task imports (transitively) is hashed into its fingerprint, so editing
    any of them redoes the study's fits (data/study persists between runs)."""
    hashed = {f.relative_to(paths.ROOT).as_posix() for f in task_sources()}
    runs = closure("import mmm_recovery.evaluation.study\n", skip=NOT_TASK_MODULES)
    missing = sorted(runs - hashed)
    assert not missing, f"study tasks import but TASK_PACKAGES does not hash: {missing}"


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
