"""A study's progress as plain lines: fits done of the total, the rate and the time left.

A progress bar redraws itself with control characters, which a notebook executed by papermill
records as a blur (and a log file as one long line). :class:`Progress` prints a line instead,
to stderr, when a batch of fits finishes and at most every ``every_s`` seconds (always the
last), e.g.::

    study recovery: 48/216 fits (22%), 7.5 fits/min, about 22 min left (12 done before)

The rate is over the fits finished in this run (a resumed study's earlier fits cost nothing
now), so the time left is what this run still needs at its own pace.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def _duration(seconds: float) -> str:
    """``42 s``, ``17 min``, ``2.3 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Counts finished fits of ``total`` and prints progress lines (module docstring)."""

    def __init__(
        self,
        total: int,
        label: str,
        skipped: int = 0,
        every_s: float = 30.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.total, self.label, self.skipped = total, label, skipped
        self.every_s, self.clock, self.enabled = every_s, clock, enabled
        self.stream = stream
        self.done = 0
        self.start = self.last = clock()

    def line(self) -> str:
        """The current progress line."""
        elapsed = self.clock() - self.start
        share = self.done / self.total if self.total else 1.0
        parts = [f"{self.label}: {self.done}/{self.total} fits ({share:.0%})"]
        if self.done and elapsed > 0:
            rate = self.done / elapsed * 60
            parts.append(f"{rate:.1f} fits/min")
            left = (self.total - self.done) / self.done * elapsed
            parts.append("done" if self.done >= self.total else f"about {_duration(left)} left")
        else:
            parts.append("first fits under way")
        text = ", ".join(parts)
        return f"{text} ({self.skipped} done before)" if self.skipped else text

    def update(self, n: int = 1) -> None:
        """``n`` more fits finished: print a line if ``every_s`` has passed or all are done."""
        self.done += n
        now = self.clock()
        if self.done >= self.total or now - self.last >= self.every_s:
            self.last = now
            self.emit()

    def emit(self) -> None:
        if self.enabled:
            print(self.line(), file=self.stream or sys.stderr, flush=True)
