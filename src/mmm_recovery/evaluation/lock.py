"""One running study per data folder.

Records are kept per data folder and task (``<data_root>/study/<scenario>/rep_<NNN>/...``), not
per study, so two studies run at once into one data folder would overwrite each other's records
without a word. :func:`held` takes ``<data_root>/study/.lock`` (created atomically) for the time
a study runs; a second study, or the same one run twice, is refused with the holder named
(study, file, process, start). A lock whose process is gone (a killed run) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmm_recovery.core.spec import Study


class StudyLocked(RuntimeError):
    """Another study is running into the same data folder; the message names it."""


def lock_path(data_root: Path | None) -> Path:
    from mmm_recovery.evaluation.tasks import study_dir

    return study_dir(data_root) / ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextmanager
def held(study: Study, data_root: Path | None = None) -> Iterator[Path]:
    """Hold the data folder's study lock while the block runs (module docstring)."""
    path = lock_path(data_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "study": study.study.name,
        "file": str(study.source),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            other = _holder(path)
            if other is None and _age(path) < FRESH_S:  # being written by its taker right now
                raise StudyLocked(
                    f"{path}: another run is taking this data folder's study lock right now"
                ) from None
            if other is not None and _holds(other):
                raise StudyLocked(
                    f"{path.parent}: study {other.get('study')!r} ({other.get('file')}) is "
                    f"running into this data folder since {other.get('started')} (process "
                    f"{other.get('pid')} on {other.get('host')}); two studies in one data folder "
                    "would overwrite each other's records. Wait for it, or run this study into "
                    "another folder (`--out`, or the notebook's data_root)"
                ) from None
            path.unlink(missing_ok=True)  # its process is gone: a killed run's lock
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise StudyLocked(f"{path}: could not take the study lock (another run took it)")
    try:
        yield path
    finally:
        if (_holder(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)


#: a lock file younger than this without content is being written, not stale
FRESH_S = 5.0


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


def _holder(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _holds(other: dict) -> bool:
    """Whether the lock's process still runs (on another host: assumed so)."""
    if other.get("host") != socket.gethostname():
        return True
    pid = other.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and _alive(pid)
