"""The study's local worker processes, and what happens when one of them dies.

A process pool breaks as a whole when one of its processes dies (the operating system's
out-of-memory killer sends SIGKILL; ``kill -9`` does the same): every fit in flight and every
one still queued fails with ``BrokenProcessPool``, naming none. :func:`run_local` costs such a
loss only the task that caused it:

* every batch marks its tasks while it runs (``<record>.running``, holding the worker's pid), so
  after a break the tasks that were in flight are known;
* the tasks that were only queued go to a fresh pool;
* each task that was in flight runs again on its own, in a process of its own, one at a time:
  a fit that was merely beside the one that died finishes now; the one whose process dies
  again is recorded as ``status: failed`` with the cause (the signal, and what most likely sent
  it), named on stderr, and fitted again by the next run (``study.fit_attempts``).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from mmm_recovery.core import files
from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation import tasks as T

#: how the task's process ended -> what most likely ended it
LIKELY = {
    -signal.SIGKILL: "SIGKILL: most likely the operating system's out-of-memory killer (see "
    "`dmesg`); give each worker more memory or run fewer workers (`--workers`)",
    -signal.SIGTERM: "SIGTERM: the process was asked to stop",
    -signal.SIGSEGV: "SIGSEGV: a crash in native code",
}


def running_path(task: T.Task, data_root: Path | None) -> Path:
    """The marker a task's record has while its fit runs."""
    return task.path(data_root).with_suffix(".running")


def run_marked(
    study_path: str, batch: list[T.Task], data_root: str | None = None
) -> list[dict[str, Any]]:
    """:func:`.tasks.run_batch` with the batch's tasks marked as running while it runs."""
    root = Path(data_root) if data_root else None
    for t in batch:
        p = running_path(t, root)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"pid": os.getpid()}))
    try:
        return T.run_batch(study_path, batch, data_root)
    finally:
        for t in batch:
            running_path(t, root).unlink(missing_ok=True)


def run_local(
    study: Study,
    todo: list[list[T.Task]],
    data_root: Path | None,
    workers: int,
    update: Callable[[int], None],
    target: Callable[..., list[dict[str, Any]]] = run_marked,
) -> list[dict[str, Any]]:
    """Run the batches ``todo`` in a pool of ``workers`` processes (module docstring); call
    ``update(n)`` as fits finish; return their summaries."""
    study_path, root = str(study.source), str(data_root) if data_root else None
    ctx = mp.get_context("spawn")
    done: list[dict[str, Any]] = []
    queue = list(todo)
    strikes: dict[tuple[T.Task, ...], int] = {}
    while queue:
        for b in queue:  # a marker left by a killed run is stale: nothing of it runs now
            for t in b:
                running_path(t, data_root).unlink(missing_ok=True)
        broken: list[list[T.Task]] = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(target, study_path, b, root): i for i, b in enumerate(queue)}
            for f in as_completed(futures):
                try:
                    result = f.result()
                except BrokenProcessPool:
                    broken.append(queue[futures[f]])
                    continue
                done += result
                update(len(result))
        if not broken:
            break
        for b in broken:
            strikes[tuple(b)] = strikes.get(tuple(b), 0) + 1
        # in flight when the pool broke (marked), or in two broken pools (it may have died
        # before its marker was written): each runs alone
        flying = [
            b
            for b in broken
            if strikes[tuple(b)] > 1 or any(running_path(t, data_root).exists() for t in b)
        ]
        queue = [b for b in broken if b not in flying]
        names = "; ".join(_name(b) for b in flying) or "none known"
        print(
            f"a worker process died (the pool broke) while fitting: {names}; each runs again "
            f"alone, and {len(queue)} queued batches go to a fresh pool",
            file=sys.stderr,
            flush=True,
        )
        for b in flying:
            result = run_alone(study, b, data_root, target, ctx)
            done += result
            update(len(result))
    return done


def _name(batch: list[T.Task]) -> str:
    return ", ".join(f"{t.scenario}/rep_{t.replicate:03d}/{t.estimator}" for t in batch)


def run_alone(
    study: Study,
    batch: list[T.Task],
    data_root: Path | None,
    target: Callable[..., list[dict[str, Any]]] = run_marked,
    ctx: Any = None,
) -> list[dict[str, Any]]:
    """Run one batch in a process of its own; if that process dies too, record each of its
    unfinished tasks as failed with the cause. Returns the batch's summaries."""
    ctx = ctx or mp.get_context("spawn")
    root = str(data_root) if data_root else None
    p = ctx.Process(target=target, args=(str(study.source), batch, root))
    p.start()
    p.join()
    out = []
    for t in batch:
        record = T.read_record(study, t, data_root)
        running_path(t, data_root).unlink(missing_ok=True)
        if record is None or (p.exitcode != 0 and record["status"] != "ok"):
            record = record_failed(study, t, data_root, died(p.exitcode))
        out.append(summary(record, _runtime(t, data_root)))
    return out


def died(code: int | None) -> str:
    """Why a task's process ended with exit ``code`` (a negative code: killed by that signal)."""
    how = LIKELY.get(code or 0) or (
        f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    )
    return f"WorkerDied: the process fitting this task died twice ({how})"


def record_failed(study: Study, task: T.Task, data_root: Path | None, error: str) -> dict[str, Any]:
    """Write and return ``task``'s failed record with ``error`` (its attempts counted), and name
    it on stderr: the next run fits it again while attempts are left."""
    before = T.read_record(study, task, data_root)
    record = T._record(study, task) | {
        "status": "failed",
        "converged": False,
        "error": error,
        "traceback": "",
        "attempts": (before or {}).get("attempts", 0) + 1,
    }
    print(f"failed: {_name([task])}: {error}", file=sys.stderr, flush=True)
    files.write_json(task.path(data_root), record | {"checksum": T.checksum(record)})
    return record


def summary(record: dict[str, Any], runtime: float = 0.0) -> dict[str, Any]:
    """A task's summary, as :func:`.tasks.run_batch` returns it."""
    keys = ("scenario", "replicate", "estimator", "seed", "status")
    return {k: record[k] for k in keys} | {"runtime_seconds": runtime}


def _runtime(task: T.Task, data_root: Path | None) -> float:
    p = files.timing_path(task.path(data_root))
    try:
        return float(files.read_json(p)["runtime_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
