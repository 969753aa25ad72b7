"""The study's progress lines (:mod:`mmm_recovery.evaluation.progress`)."""

from __future__ import annotations

import io

from mmm_recovery.evaluation.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_lines_give_done_total_rate_and_time_left():
    clock, out = Clock(), io.StringIO()
    p = Progress(100, "study x", skipped=8, every_s=30.0, stream=out, clock=clock)
    p.emit()
    assert out.getvalue().splitlines() == [
        "study x: 0/100 fits (0%), first fits under way (8 done before)"
    ]
    clock.now = 10.0
    p.update(2)  # 10 s after the start: too soon for another line
    assert len(out.getvalue().splitlines()) == 1
    clock.now = 60.0
    p.update(8)  # 10 fits in a minute: 90 left at 10 per minute
    assert out.getvalue().splitlines()[-1] == (
        "study x: 10/100 fits (10%), 10.0 fits/min, about 9 min left (8 done before)"
    )
    clock.now = 600.0
    p.update(90)  # the last fits always print
    assert (
        out.getvalue().splitlines()[-1]
        == "study x: 100/100 fits (100%), 10.0 fits/min, done (8 done before)"
    )


def test_progress_can_be_silenced_and_names_long_durations_in_hours():
    clock, out = Clock(), io.StringIO()
    p = Progress(1000, "s", stream=out, clock=clock, enabled=False)
    clock.now = 3600.0
    p.update(10)
    assert out.getvalue() == ""
    assert p.line() == "s: 10/1000 fits (1%), 0.2 fits/min, about 99.0 h left"
