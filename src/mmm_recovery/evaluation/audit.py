"""Audit the committed records: refit a random sample from scratch and compare.

    python -m mmm_recovery study audit studies/recovery.yaml --seed 7 -n 20
    make audit SEED=7 N=20 [STUDY=studies/full.yaml]

The committed records (:mod:`.archive`) are the study's raw data; a reviewer who does not want
to refit all of them can refit a sample. The sample is ``n`` distinct fits of the study drawn
with ``numpy.random.default_rng(seed)`` from those the archive holds for the current inputs. Each
is refitted by the study's own runner into a temporary folder, with the archive switched off,
then compared with its committed record:

* **per record**: byte-identical or not; where not, the first value that differs (its key
  path, both values);
* **per metric**: the sample's committed and refitted records are scored alike and compared
  cell by cell with :func:`.verify.compare` -- coverage, bias, mean |rel. error| and the regret
  share, each difference in units of its Monte Carlo SE, Holm-adjusted over the cells.

On the machine that wrote the records every refit should be byte-identical; on another machine
last-bit differences can move a fit (``docs/reproducibility.md``), and what must hold is the
agreement of the metrics. The exit status is 1 if any metric cell disagrees (or a refit has
no record), else 0; byte differences are reported, not failed.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import tasks as T
from mmm_recovery.evaluation import verify
from mmm_recovery.evaluation.archive import ARCHIVE, index, restore


class AuditError(ValueError):
    """The audit cannot run (e.g. nothing of the study is archived); the message says why."""


def sample(study: Study, n: int, seed: int, archive: Path | None = None) -> list[T.Task]:
    """``n`` distinct fits (one task per fingerprint) of ``study`` that the archive holds, drawn
    with ``default_rng(seed)``, in the study's task order."""
    held = index(archive)
    candidates: dict[str, T.Task] = {}
    for t in T.tasks(study):
        fp = T.fingerprint(study, t)
        if fp in held and fp not in candidates:
            candidates[fp] = t
    pool = list(candidates.values())
    if not pool:
        raise AuditError(
            f"{study.source}: the archive ({archive or ARCHIVE}) holds no record of this study's "
            "current inputs: nothing to audit (run the study and `study export` first)"
        )
    take = np.random.default_rng(seed).choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[i] for i in sorted(take)]


def first_difference(a: Any, b: Any, where: str = "") -> tuple[str, Any, Any] | None:
    """The first key path at which two JSON values differ, with both values; None if equal. A
    record's ``checksum`` comes last: it differs whenever anything else does."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=lambda k: (k == "checksum", k)):
            if k not in a or k not in b:
                return (f"{where}.{k}".lstrip("."), a.get(k), b.get(k))
            found = first_difference(a[k], b[k], f"{where}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return (f"{where}[len]", len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else (where.lstrip("."), a, b)


def _tables(study: Study, chosen: list[T.Task], root: Path) -> dict[str, pd.DataFrame]:
    from mmm_recovery.evaluation.study import comparisons_table, fits_table

    s = study.study
    records = [T.read_record(study, t, root) for t in chosen]
    scored = [T.scored(r, s.budget_bound, s.regret_bounds) for r in records if r is not None]
    return {"comparisons.csv": comparisons_table(scored), "fits.csv": fits_table(scored)}


def records_table(study: Study, chosen: list[T.Task], committed: Path, refit: Path) -> pd.DataFrame:
    """One row per sampled fit: byte-identical or not, and the first difference."""
    rows = []
    for t in chosen:
        a, b = t.path(committed), t.path(refit)
        row: dict[str, Any] = {
            "scenario": t.scenario,
            "replicate": t.replicate,
            "estimator": t.estimator,
            "seed": t.seed,
        }
        if not b.is_file():
            rows.append(row | {"identical": False, "difference": "no refitted record"})
            continue
        same = a.read_bytes() == b.read_bytes()
        diff = (
            None if same else first_difference(json.loads(a.read_text()), json.loads(b.read_text()))
        )
        row["identical"] = same
        row["difference"] = "" if diff is None else f"{diff[0]}: {diff[1]!r} -> {diff[2]!r}"
        rows.append(row)
    return pd.DataFrame(rows)


def audit(
    study: Study,
    seed: int,
    n: int,
    workers: int | None = None,
    archive: Path | None = None,
    work: Path | None = None,
    progress: bool = True,
) -> int:
    """Refit the sample, print the per-record and per-metric reports; return the exit status."""
    from mmm_recovery.evaluation.study import run_study

    chosen = sample(study, n, seed, archive)
    with tempfile.TemporaryDirectory(prefix="mmm-audit-", dir=work) as tmp:
        committed, refit = Path(tmp) / "committed", Path(tmp) / "refit"
        restore(study, committed, archive or ARCHIVE, only=chosen)
        print(
            f"audit of {study.study.name}: refitting {len(chosen)} committed records "
            f"(seed {seed}) from scratch",
            flush=True,
        )
        run_study(
            study, data_root=refit, only=chosen, archive=None, workers=workers, progress=progress
        )
        per_record = records_table(study, chosen, committed, refit)
        cells = verify.compare(_tables(study, chosen, committed), _tables(study, chosen, refit))
    print(report_records(per_record))
    print(verify.report(cells))
    missing = int((per_record["difference"] == "no refitted record").sum())
    bad = ~cells["verdict"].str.startswith(("agree", "not testable"))
    return 1 if missing or bool(bad.any()) else 0


def report_records(table: pd.DataFrame) -> str:
    lines = [f"{'scenario':34s} {'rep':>4s} {'estimator':18s} {'seed':>4s}  record"]
    for r in table.itertuples(index=False):
        what = "byte-identical" if r.identical else f"differs at {r.difference}"
        lines.append(f"{r.scenario:34s} {r.replicate:4d} {r.estimator:18s} {r.seed:4d}  {what}")
    same = int(table["identical"].sum())
    share = same / len(table) if len(table) else math.nan
    lines.append(f"{same} of {len(table)} refitted records byte-identical ({share:.0%})")
    return "\n".join(lines)
