"""What every fault case shares: the case, and running a command as a user would."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAD = ("unclear", "crash", "silent", "false refusal")
#: seconds a case may take before it counts as a hang (a crash)
HANG_S = 60


@dataclass
class Case:
    group: str
    name: str
    expect: str  # "refuse", "accept" or "either" (a refusal or a documented correction)
    names: tuple[str, ...]  # what a refusal must name
    run: Callable[[Path], tuple[int, str]]


def cli(*argv: str) -> tuple[int, str]:
    """``python -m mmm_recovery ARGV`` in this process: exit code and everything printed. An
    exception that escapes is re-raised for the caller to count as a crash."""
    from mmm_recovery import __main__ as entry

    out = io.StringIO()
    argv0 = sys.argv[:]  # the entry point sets sys.argv for the tool it runs
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                rc = entry.main(list(argv))
            except SystemExit as exc:  # argparse
                rc = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.argv = argv0
    return rc, out.getvalue()


def shell(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """A command in a new process (for what only a new process shows: the root, the entry)."""
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return done.returncode, done.stdout + done.stderr
