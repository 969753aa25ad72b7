"""The package's own import graph, read from its source (nothing is imported): which
``mmm_recovery`` modules a piece of code imports, anywhere in it (top level, inside functions,
under ``TYPE_CHECKING``), and the files it reaches transitively.

One home for three uses: a study record's fingerprint hashes exactly the files its fit runs
(:func:`mmm_recovery.evaluation.tasks.code_files`), each DVC stage lists exactly the files its
command imports as deps (``python -m mmm_recovery.core.sources --write``, checked by
``tests/test_dvc_deps.py`` and the pre-commit hook), and
the layer test reads the arrows between folders (``tests/test_architecture.py``).

Three imports are made by name at run time, so the source shows no arrow for them (the *plugin
edges*): the family registry imports every family module (:mod:`mmm_recovery.families.registry`),
the study spec reads each estimator sub-package's settings (:mod:`mmm_recovery.core.plugins`),
and the estimator registry imports each estimator's class
(:mod:`mmm_recovery.estimators.registry`). :func:`closure` always follows the first (every family
is code that a fit or a simulation may run) and the other two only when asked.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from mmm_recovery.core import paths

PACKAGE_NAME = "mmm_recovery"


def module_file(module: str) -> Path | None:
    """The file of package module ``module`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``), or
    None if it is not one of the package's."""
    parts = module.split(".")
    if parts[0] != PACKAGE_NAME:
        return None
    base = paths.PACKAGE.joinpath(*parts[1:])
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def module_name(file: Path) -> str:
    """The dotted name of a package file (``core/spec.py`` -> ``mmm_recovery.core.spec``)."""
    parts = list(Path(file).relative_to(paths.PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str) -> set[str]:
    """The package modules ``source`` imports anywhere. Importing ``a.b.c`` imports the packages
    ``a.b`` too, and ``from a.b import c`` imports the module ``a.b.c`` when there is one."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise ValueError(
                f"line {node.lineno}: a relative import (from {'.' * node.level}"
                f"{node.module or ''} import ...): the package imports absolutely, so that its "
                "import graph (record fingerprints, DVC deps) can be read from the source"
            )
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE_NAME):
            mod = str(node.module)
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}")}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith(PACKAGE_NAME)}
    for mod in list(out):
        parts = mod.split(".")
        out |= {".".join(parts[:i]) for i in range(2, len(parts))}
    return {m for m in out if module_file(m) is not None}


@cache
def _file_imports(file: Path, mtime_ns: int) -> frozenset[str]:
    try:
        return frozenset(imports(file.read_text()))
    except ValueError as exc:
        raise ValueError(f"{file}: {exc}") from None


def file_imports(file: Path) -> set[str]:
    """:func:`imports` of a package file (cached until the file changes)."""
    return set(_file_imports(file, file.stat().st_mtime_ns))


def plugin_edges(module: str) -> list[str]:
    """The modules ``module`` imports by name at run time (module docstring): the family
    registry, every family module; the study spec, every estimator sub-package; the estimator
    registry, every estimator's class module too."""
    from mmm_recovery.core import plugins

    if module == f"{PACKAGE_NAME}.core.plugins":
        return [f"{plugins.ESTIMATORS_PACKAGE}.{n}" for n in plugins.names()]
    if module == f"{PACKAGE_NAME}.families.registry":
        from mmm_recovery.families import registry as families

        return families.family_modules()
    if module == f"{PACKAGE_NAME}.estimators.registry":
        return [plugins.plugin(n).ESTIMATOR.partition(":")[0] for n in plugins.names()] + [
            f"{plugins.ESTIMATORS_PACKAGE}.{n}" for n in plugins.names()
        ]
    return []


def closure(
    modules: Iterable[str], skip: tuple[str, ...] = (), plugins: bool = False
) -> list[Path]:
    """The files of ``modules`` and of every package module they import, transitively, sorted;
    not entering files named in ``skip`` (e.g. ``showcase.py``); following the plugin edges
    (:func:`plugin_edges`) when ``plugins``. A package's ``__init__`` is reached whenever a
    module in it is (Python runs it first)."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        f = module_file(mod)
        if f is None or f in seen or f.name in skip:
            continue
        seen.add(f)
        todo += sorted(file_imports(f))
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]
        if plugins or mod == f"{PACKAGE_NAME}.families.registry":
            todo += plugin_edges(mod)
    return sorted(seen, key=lambda p: p.relative_to(paths.PACKAGE).as_posix())


def digest(files: Iterable[Path]) -> str:
    """SHA-256 over each file's name (package files by their path in the package, others by
    their file name) and bytes, in the order given."""
    h = hashlib.sha256()
    for f in map(Path, files):
        inside = f.resolve().is_relative_to(paths.PACKAGE)
        name = f.resolve().relative_to(paths.PACKAGE).as_posix() if inside else f.name
        h.update(name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# --- DVC stage deps: each stage lists exactly the package files its command imports ---------

DVC_FILE = "dvc.yaml"
#: the prefix of a dep that is package code (the lines this module writes)
SRC_PREFIX = "src/mmm_recovery/"
#: command-line usage of ``python -m mmm_recovery.core.sources``
USAGE = """usage: python -m mmm_recovery.core.sources [--check | --write]

  --check  exit 1, naming each stage, if dvc.yaml's package deps differ from its imports
  --write  rewrite each stage's package deps in dvc.yaml from its imports (exit 1 if it changed
           the file, as a pre-commit hook that fixes does)"""


def stage_entries(stage: dict) -> list[str]:
    """What a stage's command runs: the module after ``-m`` and every ``.py`` file among its deps
    (the notebook or reports it executes), as module names and paths."""
    import shlex

    argv = shlex.split(str(stage["cmd"]))
    out = [argv[argv.index("-m") + 1]] if "-m" in argv else []
    for dep in stage.get("deps", []):
        path = dep if isinstance(dep, str) else next(iter(dep))
        if path.endswith(".py") and not path.startswith(SRC_PREFIX):
            out.append(path)
    return out


def stage_code(stage: dict) -> list[str]:
    """The package files (paths from the repository root) a stage's command imports,
    transitively, plugin edges included: what its ``deps`` must list, no more."""
    modules: list[str] = []
    for entry in stage_entries(stage):
        if entry.endswith(".py"):
            modules += sorted(imports((paths.ROOT / entry).read_text()))
        else:
            modules += [entry, f"{entry}.__main__"]
    pkg_root = paths.PACKAGE.parent.parent
    return [
        f.relative_to(pkg_root).as_posix()
        for f in closure(modules, plugins=True)
        if f != paths.PACKAGE / "__init__.py"
    ]


def dvc_stages(text: str) -> dict[str, dict]:
    """``name -> stage body`` of a dvc.yaml text (a ``foreach`` stage's ``do`` body)."""
    import yaml

    stages = yaml.safe_load(text)["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def rewrite_deps(text: str) -> str:
    """``text`` (dvc.yaml) with every stage's package deps replaced by :func:`stage_code`, in
    place of the first such dep (or after the last dep), comments and order kept."""
    import re

    stages = dvc_stages(text)
    out: list[str] = []
    stage = None
    in_deps = False
    written = False
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        head = re.match(r"^  ([A-Za-z_][\w-]*):", line)
        if head:
            stage, in_deps, written = head.group(1), False, False
        if re.match(r"^\s+deps:\s*$", line):
            in_deps, written = True, False
            out.append(line)
            continue
        item = re.match(r"^(\s+)- (\S+)", line) if in_deps else None
        if in_deps and not item:
            in_deps = False
        if item and stage is not None:
            indent, path = item.group(1), item.group(2)
            if path.startswith(SRC_PREFIX.rstrip("/")):
                if not written:
                    out += [f"{indent}- {f}\n" for f in stage_code(stages[stage])]
                    written = True
                continue
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            last = not re.match(rf"^{indent}- ", nxt)
            out.append(line)
            if last and not written:
                out += [f"{indent}- {f}\n" for f in stage_code(stages[stage])]
                written = True
            continue
        out.append(line)
    return "".join(out)


def main(argv: list[str]) -> int:
    """``--check`` (exit 1 naming the stages whose deps differ) or ``--write`` (exit 1 if it
    rewrote dvc.yaml); exit 2 for a wrong command line."""
    import sys

    if argv not in (["--check"], ["--write"]):
        print(USAGE, file=sys.stderr if argv not in (["-h"], ["--help"]) else sys.stdout)
        return 0 if argv in (["-h"], ["--help"]) else 2
    dvc = paths.ROOT / DVC_FILE
    text = dvc.read_text()
    new = rewrite_deps(text)
    if argv == ["--write"]:
        if new == text:
            return 0
        dvc.write_text(new)
        print(f"{DVC_FILE}: package deps rewritten from the imports")
        return 1
    differ = [name for name, s in dvc_stages(text).items() if s != dvc_stages(new)[name]]
    if differ:
        print(
            f"{DVC_FILE}: the package deps of {', '.join(differ)} differ from what they import; "
            "run: python -m mmm_recovery.core.sources --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
