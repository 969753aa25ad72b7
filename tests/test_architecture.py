"""The package's shape: no import cycle (function-level imports count), no module named like a
standard-library module, and modules small enough to hold one concern each."""

from __future__ import annotations

import sys

import pytest

from mmm_recovery.core import paths, sources

PKG = paths.PACKAGE
#: the most lines a module may have (a larger one holds more than one concern: split it)
MAX_MODULE_LINES = 450

#: The floors, from the ground up: a module imports only from its own folder or a lower floor
#: (folders on one floor do not import each other). The command dispatcher (``__main__``) and
#: the package's ``__init__`` stand above them all.
LAYERS: dict[str, int] = {
    "families": 0,
    "core": 1,
    "simulation": 2,
    "estimators": 2,
    "evaluation": 3,
    "reporting": 4,
    "byod": 4,
}
TOP = ("__main__", "__init__")

MODULES = {sources.module_name(f): f for f in sorted(PKG.rglob("*.py"))}


def import_graph(plugins: bool = False) -> dict[str, set[str]]:
    """``module -> package modules it imports`` anywhere in its source (top level, inside
    functions, under TYPE_CHECKING; :func:`mmm_recovery.core.sources.imports`); with ``plugins``,
    the plugin edges too (the study spec reads each estimator's settings, the registry imports
    each estimator, both by name at run time)."""
    graph: dict[str, set[str]] = {}
    for name, file in MODULES.items():
        deps = sources.file_imports(file) | set(sources.plugin_edges(name) if plugins else ())
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    return graph


def floor(module: str) -> tuple[str, int | None]:
    """The folder of ``module`` and its floor (None above every floor)."""
    part = module.split(".")[1] if "." in module else "__init__"
    return part, (None if part in TOP else LAYERS.get(part))


def uphill(graph: dict[str, set[str]]) -> list[str]:
    """The imports of ``graph`` that run from a lower floor to a higher one (or across one
    floor), as ``a -> b``."""
    bad = []
    for mod, deps in sorted(graph.items()):
        folder, level = floor(mod)
        if level is None:
            continue
        for dep in sorted(deps):
            dfolder, dlevel = floor(dep)
            if dfolder == folder:
                continue
            if dlevel is None or dlevel >= level:
                bad.append(f"{mod} -> {dep}")
    return bad


def test_every_folder_is_on_a_floor():
    folders = {floor(m)[0] for m in MODULES} - set(TOP)
    assert folders <= set(LAYERS), (
        f"folders on no floor (add them to LAYERS): {folders - set(LAYERS)}"
    )


def test_every_import_runs_downhill():
    found = uphill(import_graph())
    assert not found, f"imports from a lower floor to a higher one: {found}"


def test_the_layer_check_can_fail():
    graph = {
        "mmm_recovery.core.spec": {"mmm_recovery.estimators.registry", "mmm_recovery.core.paths"},
        "mmm_recovery.estimators.base": {"mmm_recovery.simulation.simulate"},
        "mmm_recovery.evaluation.score": {"mmm_recovery.core.results"},
    }
    assert uphill(graph) == [
        "mmm_recovery.core.spec -> mmm_recovery.estimators.registry",
        "mmm_recovery.estimators.base -> mmm_recovery.simulation.simulate",
    ]


def test_only_the_plugin_edges_run_back_up():
    """The two imports by name (core.plugins -> each estimator's settings; the registry -> each
    estimator's class) are the only arrows up, and the settings they reach import no PyMC, JAX
    or Nevergrad (so validating a study file stays fast)."""
    found = uphill(import_graph(plugins=True))
    assert found and all(a.startswith("mmm_recovery.core.plugins -> ") for a in found), found


def test_validating_a_study_imports_no_fitting_library():
    import subprocess
    import sys

    code = (
        "import sys; from mmm_recovery.core.spec import load_study; "
        "load_study('studies/recovery.yaml'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pymc', 'pymc_marketing', 'jax', 'numpyro', 'pytensor', 'nevergrad', 'arviz', 'sklearn'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=paths.ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


def test_the_cycle_check_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_named_like_a_standard_library_module():
    clash = sorted(m for m in MODULES if m.rsplit(".", 1)[-1] in sys.stdlib_module_names)
    assert not clash, f"modules that shadow the standard library: {clash}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_hold_one_concern(module):
    lines = MODULES[module].read_text().count("\n")
    assert lines < MAX_MODULE_LINES, f"{module}: {lines} lines; split it"


SCRIPTS = sorted(
    f.relative_to(paths.ROOT).as_posix() for f in (paths.ROOT / "scripts").rglob("*.py")
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_hold_one_concern_too(script):
    """The scripts are code the tests load (the fault table) or that write measured pages: the
    same size cap as the package."""
    lines = (paths.ROOT / script).read_text().count("\n")
    assert lines < MAX_MODULE_LINES, f"{script}: {lines} lines; split it"
