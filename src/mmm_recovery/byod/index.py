"""The datasets ``dvc repro`` fits: ``studies/datasets.yaml``, name -> study file and CSV.

A dataset is declared (column map, holdout, lift tests) under ``datasets:`` of any study file;
the fitting estimators and their settings are that study's. DVC reads its stage list from one
file, so ``dvc.yaml``'s ``fit_byod`` stage iterates over this index, which names each dataset's
study file (whose ``datasets.<name>`` and estimator settings are the stage's params) and CSV
(its dep). Do not edit the index by hand: ``add`` writes an entry from the declaration, and every
fit and ``check`` refuses an entry that disagrees with it.

    python -m mmm_recovery.byod add --study studies/my_shop.yaml --dataset my_shop
    dvc repro fit_byod@my_shop
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import Study, load_study
from mmm_recovery.core.spec_checks import DATASET_NAME_RULE, dataset_name_ok

INDEX = paths.STUDIES / "datasets.yaml"
_HEADER = """\
# The datasets `dvc repro` fits (stage fit_byod@<name>): each one's study file (which declares it
# under `datasets:` and sets the estimators) and its CSV (the stage's input). Written by
#   python -m mmm_recovery.byod add --study <study file> --dataset <name>
# from the declaration; a fit refuses an entry that disagrees with it. See the README.
"""


class DatasetIndexError(ValueError):
    """The dataset index is unreadable or disagrees with a study file."""


def _label(path: Path) -> str:
    try:
        return path.relative_to(paths.ROOT).as_posix()
    except ValueError:
        return str(path)


def read_index(index: Path = INDEX) -> dict[str, dict[str, str]]:
    """The index as ``{name: {"study": ..., "csv": ...}}`` (empty when the file is absent)."""
    if not index.is_file():
        return {}
    label = _label(index)
    try:
        raw = yaml.safe_load(index.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DatasetIndexError(f"{label}: not valid YAML: {exc}") from None
    if raw == {} or raw == {"datasets": None}:
        return {}
    entries = raw.get("datasets") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or set(raw) != {"datasets"}:
        raise DatasetIndexError(f"{label}: expected one key `datasets:` mapping names to entries")
    for name, entry in entries.items():
        if not dataset_name_ok(str(name)):
            raise DatasetIndexError(f"{label}: datasets.{name}: {DATASET_NAME_RULE}")
        if not isinstance(entry, dict) or set(entry) != {"study", "csv"}:
            raise DatasetIndexError(
                f"{label}: datasets.{name}: expected the keys study and csv, got {entry!r}"
            )
    return entries


def entry_for(study: Study, name: str) -> dict[str, str]:
    """The index entry of dataset ``name`` as declared in ``study``."""
    source = _label(study.source) if study.source else "<study>"
    if name not in study.datasets:
        raise DatasetIndexError(
            f"{source}: datasets.{name}: not declared (declared: {sorted(study.datasets)})"
        )
    csv = study.datasets[name].path
    for what, path in (("study file", source), ("CSV", csv)):
        if Path(path).is_absolute() or path.startswith(".."):
            raise DatasetIndexError(
                f"{source}: datasets.{name}: the {what} {path} is outside the project; DVC "
                "tracks files inside it only (copy it under data/ or studies/)"
            )
    return {"study": source, "csv": Path(csv).as_posix()}


def check_entry(study: Study, name: str, index: Path = INDEX) -> None:
    """Refuse a fit whose index entry is missing or disagrees with the study's declaration (DVC
    would then watch the wrong CSV or study file)."""
    entry, found = entry_for(study, name), read_index(index).get(name)
    if found != entry:
        raise DatasetIndexError(
            f"{_label(index)}: datasets.{name} is {found!r} but {entry['study']} declares "
            f"{entry!r}; run: python -m mmm_recovery.byod add --study {entry['study']} "
            f"--dataset {name}"
        )


def add(study_path: str | Path, name: str, index: Path = INDEX) -> dict[str, str]:
    """Write (or update) the index entry of dataset ``name`` from its declaration in
    ``study_path``; return the entry."""
    study = load_study(study_path)
    entry = entry_for(study, name)
    entries: dict[str, Any] = dict(read_index(index))
    entries[name] = entry
    _write(entries, index)
    return entry


def remove(name: str, index: Path = INDEX) -> None:
    """Drop dataset ``name`` from the index (its study file and results are left as they are)."""
    entries: dict[str, Any] = dict(read_index(index))
    if name not in entries:
        raise DatasetIndexError(f"{_label(index)}: datasets.{name}: not in the index")
    del entries[name]
    _write(entries, index)


def _write(entries: dict[str, Any], index: Path) -> None:
    text = _HEADER + yaml.safe_dump({"datasets": entries}, sort_keys=False)
    with files.atomic_path(index) as tmp:
        tmp.write_text(text)
