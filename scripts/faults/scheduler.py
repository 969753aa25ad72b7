"""A Dask scheduler that is no address, or never answers."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

from faults.common import HANG_S, Case
from faults.study import SMOKE, study_text


def silent_port() -> tuple[socket.socket, int]:
    """A port that accepts connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(s.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return s, s.getsockname()[1]


def scheduler_cases() -> list[Case]:
    def study_with(address: str) -> Callable[[Path], tuple[int, str]]:
        def run(tmp: Path) -> tuple[int, str]:
            from mmm_recovery.core.spec import load_study
            from mmm_recovery.evaluation.scheduler import SchedulerUnavailable
            from mmm_recovery.evaluation.study import run_study

            text = SMOKE.replace("scheduler: processes", f"scheduler: {address}")
            text = text.replace("workers: 2", "workers: 2\n  scheduler_timeout_s: 5")
            answer: list[tuple[int, str]] = []

            def go() -> None:
                try:
                    run_study(
                        load_study(study_text(tmp, text)), data_root=tmp / "data", progress=False
                    )
                    answer.append((0, "ran"))
                except SchedulerUnavailable as exc:
                    answer.append((1, f"error: {exc} [after {time.perf_counter() - t0:.0f} s]"))

            t0 = time.perf_counter()
            worker = threading.Thread(target=go, daemon=True)
            worker.start()
            worker.join(HANG_S)  # a regression must fail the table, not hang it
            if not answer:
                raise TimeoutError(f"no answer after {HANG_S} s: the study hangs")
            return answer[0]

        return run

    def silent(tmp: Path) -> tuple[int, str]:
        s, port = silent_port()
        try:
            return study_with(f"tcp://127.0.0.1:{port}")(tmp)
        finally:
            s.close()

    def refused(tmp: Path) -> tuple[int, str]:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        return study_with(f"tcp://127.0.0.1:{port}")(tmp)

    def bad_env(tmp: Path) -> tuple[int, str]:
        with patch.dict(os.environ, {"MMM_RECOVERY_SCHEDULER": "localhost:8786"}):
            return study_with("processes")(tmp)

    return [
        Case(
            "scheduler", "a port that accepts and never answers", "refuse", ("127.0.0.1",), silent
        ),
        Case("scheduler", "a port nobody listens on", "refuse", ("127.0.0.1",), refused),
        Case(
            "scheduler",
            "MMM_RECOVERY_SCHEDULER without tcp://",
            "refuse",
            ("MMM_RECOVERY_SCHEDULER",),
            bad_env,
        ),
    ]
