"""``python -m mmm_recovery.byod``: example, check, add, remove (the package docstring,
:mod:`mmm_recovery.byod`, says what each does)."""

from __future__ import annotations

import argparse
import sys

from mmm_recovery.byod import index as byod_index
from mmm_recovery.byod.fit import load, write_example
from mmm_recovery.byod.validate import DataError
from mmm_recovery.core.spec import Study, load_study


def check(study_path: str | None, names: list[str]) -> list[str]:
    """Validate datasets without fitting; return one line per dataset checked or problem found.

    With ``study_path``: its datasets (all, or ``names``). Without: every dataset of the index
    ``studies/datasets.yaml`` (or ``names`` of it) with its own study file, and each index entry
    against its declaration. One bad dataset does not stop the checks of the others.
    """
    if study_path is not None:
        todo = [(study_path, n) for n in names] or [
            (study_path, n) for n in load_study(study_path).datasets
        ]
    else:
        index = byod_index.read_index()
        unknown = sorted(set(names) - set(index))
        if unknown:
            raise DataError(
                f"studies/datasets.yaml: {', '.join(unknown)}: not in the index (add with: "
                "python -m mmm_recovery.byod add --study <file> --dataset <name>)"
            )
        todo = [(index[n]["study"], n) for n in (names or list(index))]
    if not todo:
        where = study_path or "studies/datasets.yaml"
        return [f"{where}: no datasets to check (declare one under datasets:, see the README)"]
    lines: list[str] = []
    studies: dict[str, Study] = {}
    for path, name in todo:
        try:
            study = studies[path] = studies.get(path) or load_study(path)
            if study_path is None:
                byod_index.check_entry(study, name)
            fi = load(study, name)
        except (ValueError, OSError) as exc:  # DataError, SpecError, DatasetIndexError, IO
            lines += [f"FAIL {name}: {line}" for line in str(exc).splitlines() if line.strip()]
            continue
        lines.append(
            f"OK   {name}: {len(fi.data)} weeks, channels {fi.channels}, controls {fi.controls}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    import mmm_recovery.byod as package

    ap = argparse.ArgumentParser(description=(package.__doc__ or "").splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("example", help="write a Robyn-layout example CSV")
    ex.add_argument("--study", default="studies/recovery.yaml")
    ex.add_argument("--out", default="data/byod/robyn_example.csv")
    ad = sub.add_parser(
        "add", help="list a dataset declared in a study file in studies/datasets.yaml (dvc repro)"
    )
    ad.add_argument("--study", required=True)
    ad.add_argument("--dataset", required=True)
    rm = sub.add_parser("remove", help="drop a dataset from studies/datasets.yaml")
    rm.add_argument("--dataset", required=True)
    ck = sub.add_parser(
        "check",
        help="validate datasets without fitting: every indexed one, or those of --study",
    )
    ck.add_argument("--study", default=None, help="check this study's datasets (default: index)")
    ck.add_argument("--dataset", action="append", default=[], help="only this one (repeatable)")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "example":
            print(write_example(load_study(args.study), args.out))
            return 0
        if args.cmd == "add":  # only a dataset that passes check: its fit stage would fail
            load(load_study(args.study), args.dataset)
            entry = byod_index.add(args.study, args.dataset)
            print(
                f"studies/datasets.yaml: {args.dataset} -> {entry}; fit with: "
                f"dvc repro fit_byod@{args.dataset}"
            )
            return 0
        if args.cmd == "remove":
            byod_index.remove(args.dataset)
            print(f"studies/datasets.yaml: {args.dataset} removed")
            return 0
        lines = check(args.study, args.dataset)
    except (ValueError, OSError) as exc:  # a bad study file, index or name: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0
