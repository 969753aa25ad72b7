"""The code a study task runs, and its hash: part of every record's fingerprint
(:func:`mmm_recovery.evaluation.tasks.fingerprint`)."""

from __future__ import annotations

import functools
from pathlib import Path

from mmm_recovery.core import paths, sources

#: Modules in an estimator's sub-package that a study task never runs: its ``showcase`` and
#: ``plots`` narrate a fit in the fit notebook, so editing them redoes no study fit.
NOT_TASK_MODULES = ("showcase.py", "plots.py")

#: Modules a task imports that read, check or look up the study file but compute nothing a record
#: holds: what they produce (the scenario, the estimator's settings, the seeds' inputs) is hashed
#: as values instead (:func:`fingerprint`'s payload), so fixing a validation message, a lookup or
#: the SBC and seed-stability settings refits nothing. ``tests/test_dvc_deps.py`` checks that
#: only the spec loader and the registry import them.
STUDY_FILE_MODULES = (
    "core/spec_checks.py",
    "core/design.py",
    "core/dataset_spec.py",
    "core/merge.py",
    "core/plugins.py",
    "core/sbc_spec.py",
    "core/stability_spec.py",
    "estimators/registry.py",
)

#: What a task runs besides the estimator: the simulator (a replicate is simulated again from its
#: seed), and the module that gives the estimator its input and makes the record's fields
TASK_ENTRY_MODULES = ("mmm_recovery.simulation.simulate", "mmm_recovery.evaluation.fitting")


def code_files(estimator: str) -> list[Path]:
    """The files a task of registered estimator ``estimator`` runs: :data:`TASK_ENTRY_MODULES`,
    the estimator's sub-package and every package module they import (core, families, the
    estimator base), less :data:`NOT_TASK_MODULES` and :data:`STUDY_FILE_MODULES`; not another
    estimator's code, the scoring, the study runner or the reports. The import graph is read
    again only when one of those files, or the sub-package's folders, changed (a file outside
    them enters only through an import, which changes a file in them)."""
    cached = _CLOSURES.get(estimator)
    if cached is not None and all(_stamp(f) == st for f, st in cached):
        return list(_FOUND[estimator])
    read, found = _code_files(estimator)
    folders = {f.parent for f in read if f.is_relative_to(_package_dir(estimator))}
    _CLOSURES[estimator] = tuple((f, _stamp(f)) for f in (*read, *sorted(folders)))
    return list(found)


#: estimator -> (file, stamp) of the files its import graph was read from and its
#: sub-package's folders, as last read; and the code files found then
_CLOSURES: dict[str, tuple[tuple[Path, tuple[int, int]], ...]] = {}
_FOUND: dict[str, tuple[Path, ...]] = {}


def _stamp(f: Path) -> tuple[int, int]:
    try:
        st = f.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def _package_dir(estimator: str) -> Path:
    from mmm_recovery.core import plugins

    return Path(str(plugins.plugin(estimator).__file__)).parent


def _code_files(estimator: str) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """Every file the import graph was read from, and :func:`code_files` (those less the
    :data:`STUDY_FILE_MODULES`)."""
    from mmm_recovery.core import plugins

    package = plugins.plugin(estimator)
    own = [
        sources.module_name(f)
        for f in sorted(Path(str(package.__file__)).parent.rglob("*.py"))
        if f.name not in NOT_TASK_MODULES
    ]
    files = tuple(sources.closure([*TASK_ENTRY_MODULES, *own], skip=NOT_TASK_MODULES))
    found = tuple(
        f for f in files if f.relative_to(paths.PACKAGE).as_posix() not in STUDY_FILE_MODULES
    )
    _FOUND[estimator] = found
    return files, found


def code_hash(estimator: str) -> str:
    """Hash of :func:`code_files` of ``estimator`` and of the pinned stack
    (``requirements.lock``): a record made by other code or other library versions is stale."""
    lock = paths.ROOT / "requirements.lock"
    hashed = [*code_files(estimator), *([lock] if lock.is_file() else [])]
    return _digest(tuple((f, f.stat().st_mtime_ns, f.stat().st_size) for f in hashed))


@functools.lru_cache(maxsize=64)
def _digest(stamped: tuple[tuple[Path, int, int], ...]) -> str:
    """:func:`~mmm_recovery.core.sources.digest` of the files, cached while none changes."""
    return sources.digest(f for f, _, _ in stamped)
