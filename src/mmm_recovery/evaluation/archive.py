"""The study's records as committed tables: compact, content-addressed and append-only.

A study's raw data are its records (:mod:`.tasks`: one JSON file per fit under
``<data_root>/study/``). They are not tracked by git, so a fresh clone would have to refit every
one of them to write the metrics. The archive keeps them in the repository instead::

    records/<study name>/<estimator>/part-<digest>.parquet

Each part is a Parquet table (zstd) with one row per record: its ``fingerprint`` (:func:`.tasks.
fingerprint`: the scenario, settings, seeds and code that made it), the task's coordinates, its
``status`` and the record's exact text. An export (:func:`export`) writes only the records the
archive does not hold yet, as a new part named by the digest of its rows, and never rewrites a
committed part: a later sitting of a long study adds a part, and git's history grows by what was
fitted in it.

A record is found by its fingerprint (content addressing), whatever study or part holds it: the
same fit in two studies (a shared cell, the default study's Bayesian fits inside the full
study's design) is stored once. :func:`restore` writes, for each task of a study that has no
valid record of its own, the archived record of its fingerprint -- byte for byte the file the fit
wrote (or, for a cell sharing another cell's fit, the copy :func:`.tasks.share_record` would
write) -- after checking it against the current inputs (:func:`.tasks.record_problem`). A record
made by code or settings that have changed since has another fingerprint and is not restored:
the run refits it. So ``dvc repro`` on a fresh clone re-aggregates the committed records and
refits only what a change made stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import tasks as T

#: where the committed records live (``records/<study>/<estimator>/part-<digest>.parquet``)
ARCHIVE = paths.ROOT / "records"
#: the columns of a part, in order (``attempts``: a failed fit's, 0 for a finished one)
COLUMNS: tuple[str, ...] = ("fingerprint", "scenario", "replicate", "estimator", "seed")
COLUMNS += ("status", "attempts", "record")
#: zstd level of the record text (the records are JSON: level 19 packs them ~5x)
ZSTD_LEVEL = 19


@dataclass(frozen=True)
class Archived:
    """Where one archived record is (its part and row), its scenario and status."""

    fingerprint: str
    scenario: str
    status: str
    attempts: int
    part: Path
    row: int

    def rank(self) -> tuple[int, int]:
        """Which of two records of one fingerprint stands: a finished fit over a failure, then
        the failure with more attempts (a later run's)."""
        return (1, 0) if self.status == "ok" else (0, self.attempts)


def parts(archive: Path | None = None) -> list[Path]:
    """Every part of the archive, in a stable order."""
    root = archive or ARCHIVE
    return sorted(root.glob("*/*/part-*.parquet")) if root.is_dir() else []


def _read(part: Path, columns: list[str]) -> pd.DataFrame:
    try:
        return pd.read_parquet(part, columns=columns)
    except Exception as exc:  # noqa: BLE001 - any reader error: name the file
        raise ValueError(f"{part}: not a readable record table ({exc})") from exc


def index(archive: Path | None = None) -> dict[str, Archived]:
    """fingerprint -> the archived record that stands for it (:meth:`Archived.rank`), over every
    part; reads the parts' small columns only. A part that cannot be read raises, naming it: a
    committed part is never skipped."""
    found: dict[str, Archived] = {}
    for part in parts(archive):
        df = _read(part, ["fingerprint", "scenario", "status", "attempts"])
        for row, (fp, scen, status, attempts) in enumerate(
            zip(df["fingerprint"], df["scenario"], df["status"], df["attempts"], strict=True)
        ):
            a = Archived(str(fp), str(scen), str(status), int(attempts), part, row)
            if fp not in found or a.rank() > found[fp].rank():
                found[fp] = a
    return found


def texts(wanted: Iterable[Archived]) -> dict[str, str]:
    """fingerprint -> the exact record text of each of ``wanted``, reading each part once."""
    by_part: dict[Path, list[Archived]] = {}
    for a in wanted:
        by_part.setdefault(a.part, []).append(a)
    out: dict[str, str] = {}
    for part, held in by_part.items():
        column = _read(part, ["record"])["record"]
        out |= {a.fingerprint: str(column.iloc[a.row]) for a in held}
    return out


def restore(
    study: Study,
    data_root: Path | None = None,
    archive: Path | None = None,
    only: Iterable[T.Task] | None = None,
) -> list[T.Task]:
    """Write the archived record of every task (of ``only``, default all of the study's) that
    has no valid record under ``data_root`` and whose fingerprint the archive holds; return
    the tasks restored. An archived record that does not check out against the current inputs
    (:func:`.tasks.record_problem`) is left out, so the run fits that task."""
    held = index(archive)
    if not held:
        return []
    candidates = [
        (t, held[fp]) for t in (only or T.tasks(study)) if (fp := T.fingerprint(study, t)) in held
    ]
    wanted = [(t, a) for t, a in candidates if T.read_record(study, t, data_root) is None]
    text_of = texts(a for _, a in wanted)
    restored = []
    for t, a in wanted:
        text = text_of[a.fingerprint]
        record = json.loads(text)
        if isinstance(record, dict) and a.scenario != t.scenario:  # as share_record writes
            record = T.renamed(record, t.scenario)
            record["checksum"] = T.checksum(record)
            text = _text(record)
        if T.record_problem(record, study, t) is not None:
            continue
        with files.atomic_path(t.path(data_root)) as tmp:
            tmp.write_text(text)
        restored.append(t)
    return restored


def _text(record: dict[str, Any]) -> str:
    """A record's text as :func:`mmm_recovery.core.files.write_json` writes it."""
    return json.dumps(files._jsonable(record), indent=1, sort_keys=True, allow_nan=False) + "\n"


def export(study: Study, data_root: Path | None = None, archive: Path | None = None) -> list[Path]:
    """Add the study's valid records (:func:`.tasks.read_record`: finished fits and failures,
    never a record of other inputs) that the archive does not hold, as one new part per
    estimator; return the parts written. A record the archive holds already, or holds in a
    better state (:meth:`Archived.rank`), is not written again."""
    root = archive or ARCHIVE
    held = {fp: a.rank() for fp, a in index(root).items()}
    new: dict[str, dict[str, dict[str, Any]]] = {}
    for t in T.tasks(study):
        record = T.read_record(study, t, data_root)
        if record is None:
            continue
        fp, status = record["fingerprint"], record["status"]
        attempts = 0 if status == "ok" else int(record["attempts"])
        rank = (1, 0) if status == "ok" else (0, attempts)
        if fp in held and held[fp] >= rank:
            continue
        held[fp] = rank
        new.setdefault(t.estimator, {})[fp] = {
            "fingerprint": fp,
            "scenario": t.scenario,
            "replicate": t.replicate,
            "estimator": t.estimator,
            "seed": t.seed,
            "status": status,
            "attempts": attempts,
            "record": t.path(data_root).read_text(),
        }
    written = []
    for estimator, rows in sorted(new.items()):
        df = pd.DataFrame([rows[fp] for fp in sorted(rows)], columns=list(COLUMNS))
        name = hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:16]
        part = root / study.study.name / estimator / f"part-{name}.parquet"
        with files.atomic_path(part) as tmp:
            df.to_parquet(tmp, index=False, compression="zstd", compression_level=ZSTD_LEVEL)
        written.append(part)
    return written


def summary(study: Study, data_root: Path | None = None, archive: Path | None = None) -> str:
    """One line: how many of the study's tasks have a valid record here, and how many the
    archive holds."""
    held = index(archive)
    all_tasks = T.tasks(study)
    fps = {T.fingerprint(study, t) for t in all_tasks}
    local = sum(T.read_record(study, t, data_root) is not None for t in all_tasks)
    return (
        f"study {study.study.name}: {local}/{len(all_tasks)} records under "
        f"{T.study_dir(data_root)}, {len(fps & set(held))}/{len(fps)} fits in the archive"
    )
