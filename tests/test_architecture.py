"""The package's shape: no import cycle (function-level imports count), no module named like a
standard-library module, and modules small enough to hold one concern each."""

from __future__ import annotations

import ast
import sys

import pytest

from mmm_recovery.core import paths
from mmm_recovery.estimators import registry

PKG = paths.PACKAGE
#: the most lines a module may have (a larger one holds more than one concern: split it)
MAX_MODULE_LINES = 450


def _module(path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(f): f for f in sorted(PKG.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """``module -> package modules it imports`` anywhere in its source (top level, inside
    functions, under TYPE_CHECKING). Importing ``a.b.c`` imports the packages ``a.b`` too, and
    the estimator registry imports every estimator sub-package by name."""
    graph: dict[str, set[str]] = {}
    for name, file in MODULES.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mmm_recovery"):
                deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        for dep in list(deps):
            parts = dep.split(".")
            deps |= {".".join(parts[:i]) for i in range(2, len(parts))}
        graph[name] = {
            d for d in deps if d in MODULES and d != name and not name.startswith(d + ".")
        }
    graph["mmm_recovery.estimators.registry"] |= set(registry.builtin_modules())
    return graph


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
