"""Bad inputs and faults, tried as a new user would: each one's answer, classified.

    python scripts/new_user_faults.py [--out docs/faults.md]

Every case edits a copy of ``studies/smoke.yaml``, of the bring-your-own example CSV or of the
committed metrics in a temporary folder, runs the command a user would run
(``python -m mmm_recovery ...``, in this process) and classifies what came back:

- ``clear``: refused (non-zero exit) with an ``error:``/``FAIL`` line naming what the case
  expects (the key, column, file or value), and no traceback;
- ``unclear``: refused, but the message does not name it;
- ``crash``: a traceback escaped;
- ``silent``: accepted (exit 0) where a refusal was due;
- ``accepted``: accepted where that is right (a valid input, or a documented correction);
- ``false refusal``: refused where acceptance was due.

It fits no model: the cases that need a fit or a pipeline run (failed fits retried, a record
edited by hand or replaced, every fit failing, outputs kept after a failed run) are tests, named
in the page's last section.
It prints the table and writes a Markdown page; the exit code is 1 if any case is ``unclear``,
``crash``, ``silent`` or ``false refusal``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402
from faults.byod import byod_cases  # noqa: E402
from faults.common import BAD, Case  # noqa: E402
from faults.outputs import output_cases  # noqa: E402
from faults.runs import run_cases  # noqa: E402
from faults.scheduler import scheduler_cases  # noqa: E402
from faults.study import study_cases  # noqa: E402

#: cases that need a fit or a whole pipeline run, and the tests that try them (`make test`)
FIT_CASES = [
    (
        "a pool worker killed (`kill -9`, as the out-of-memory killer does) costs no fit: the "
        "fits in flight run again alone; one whose process dies again is recorded as failed "
        "with the signal and its likely cause, named, and fitted again by the next run",
        "test_workers.py::test_a_task_whose_process_dies_is_recorded_failed_with_the_cause",
    ),
    (
        "two studies into one data folder: the second is refused naming the first (a killed "
        "run's lock is taken over); a task whose record another run overwrote is reported "
        "`missing`, never dropped",
        "test_workers.py::test_a_second_study_into_one_data_folder_is_refused_naming_the_first",
    ),
    (
        "failures that used up `fit_attempts` say how to fit them again (`--retry-failed`)",
        "test_workers.py::test_exhausted_failures_say_how_to_retry_and_retry_failed_fits_them",
    ),
    (
        "`study run` of one's own study file: progress, resume after `kill -9`, nothing "
        "written inside the project's `reports/`",
        "test_study_cli.py::test_a_killed_run_resumes_where_it_stopped",
    ),
    (
        "a committed record edited by hand is refitted, not restored; a forged archive fails "
        "`make audit`",
        "test_archive.py::test_an_audit_of_faithful_records_passes_and_of_forged_ones_fails",
    ),
    (
        "a fit that failed is retried by later runs, up to `fit_attempts`, and counted in the "
        "metrics either way; every fit failing is reported, not a crash",
        "test_study.py::test_failed_fit_is_recorded_and_the_study_goes_on",
    ),
    (
        "a record edited by hand (its checksum) or replaced by `[]` is fitted again",
        "test_study.py::test_a_record_that_is_not_well_formed_is_fitted_again",
    ),
    (
        "a study killed part-way resumes with only the missing fits",
        "test_study.py::test_killed_study_resumes_only_what_was_missing",
    ),
    (
        "DVC does not delete the metrics or BYOD results before a run (`persist`), so a "
        "failed run keeps the last good ones (each is written atomically)",
        "test_dvc_deps.py::test_results_a_failed_run_must_not_lose_persist",
    ),
    (
        "the BYOD results folder is replaced whole or not at all",
        "test_byod.py::test_results_folder_is_replaced_whole_or_not_at_all",
    ),
    (
        "a fit leaves the temp folder as it found it (PyTensor's numba files)",
        "test_determinism.py::test_bayesian_posterior_file_is_reproducible_across_processes",
    ),
    (
        "a failing notebook cell: one line naming the cell and the kept notebook",
        "test_cli.py::test_a_failing_cell_is_named_with_its_error_and_the_kept_notebook",
    ),
]


# --- classification ----------------------------------------------------------------------


def classify(case: Case, tmp: Path) -> tuple[str, str, float]:
    t0 = time.perf_counter()
    try:
        rc, out = case.run(tmp)
    except Exception:  # noqa: BLE001 - what escaped is the finding
        return "crash", traceback.format_exc().strip().splitlines()[-1], time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    said = " ".join(line.strip() for line in out.strip().splitlines() if line.strip())
    lines = out.splitlines()
    first = next(
        (k for k, line in enumerate(lines) if line.lstrip().startswith(("error:", "FAIL"))), None
    )
    # what a refusal says: its error lines and what follows them, the case's folder left out
    told = "" if first is None else "\n".join(lines[first:]).replace(str(tmp), "").lower()
    if "Traceback" in out:
        return "crash", said, seconds
    if rc == 0:
        if case.expect == "refuse":
            return "silent", said, seconds
        return "accepted", said, seconds
    if case.expect == "accept":
        return "false refusal", said, seconds
    if told and all(n.lower() in told for n in case.names):
        return "clear", said, seconds
    return "unclear", said, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/faults.md")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    args = ap.parse_args(argv)
    cases = [*study_cases(), *byod_cases(), *output_cases(), *scheduler_cases(), *run_cases()]
    cases = [c for c in cases if args.only in c.name]
    rows, counts = [], Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            work = Path(tmp) / f"case_{i:03d}"
            work.mkdir()
            shared = Path(tmp) / "example.csv"  # written once, by the first BYOD case
            if shared.is_file():
                shutil.copy(shared, work / "example.csv")
            outcome, said, seconds = classify(case, work)
            if (work / "example.csv").is_file() and not shared.is_file():
                shutil.copy(work / "example.csv", shared)
            counts[outcome] += 1
            said = said.replace("|", "\\|").replace(str(work), "$TMP")
            said = said if len(said) <= 220 else said[:217] + "..."
            rows.append(
                f"| {case.group} | {case.name} | {case.expect} | **{outcome}** | "
                f"{seconds:.1f} | {said} |"
            )
            print(f"{outcome:>13s}  {case.group}: {case.name}", flush=True)
    summary = ", ".join(f"{n} {k}" for k, n in counts.most_common())
    body = [
        f"{len(cases)} cases: {summary}.",
        "",
        "`clear`: refused, naming what the case expects; `accepted`: accepted where right; "
        "`either`: a clear refusal or a documented correction is right. What was said is the "
        "command's output, joined into one line.",
        "",
        "| area | case | expected | outcome | s | what was said |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "## Faults that need a fit: tried by the tests",
        "",
        "| case | test file |",
        "|---|---|",
        *[f"| {what} | `tests/{where}` |" for what, where in FIT_CASES],
    ]
    page = write_page(
        args.out,
        "new_user_faults.py",
        "Bad inputs and faults, tried as a new user would",
        [],
        body,
        argv,
        with_jax=False,
    )
    print(f"{len(cases)} cases: {summary}\nwrote {page}")
    return 1 if any(counts[k] for k in BAD) else 0


if __name__ == "__main__":
    raise SystemExit(main())
