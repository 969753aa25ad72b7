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
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BAD = ("unclear", "crash", "silent", "false refusal")
#: seconds a case may take before it counts as a hang (a crash)
HANG_S = 60

#: cases that need a fit or a whole pipeline run, and the tests that try them (`make test`)
FIT_CASES = [
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


# --- study files -------------------------------------------------------------------------

SMOKE = (ROOT / "studies/smoke.yaml").read_text()


def study_text(tmp: Path, text: str | bytes, name: str = "study.yaml") -> Path:
    f = tmp / name
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    return f


def edit(old: str, new: str) -> Callable[[Path], tuple[int, str]]:
    """A study case: ``studies/smoke.yaml`` with its first ``old`` replaced by ``new``."""
    assert old in SMOKE, old

    def run(tmp: Path) -> tuple[int, str]:
        return cli("schema", str(study_text(tmp, SMOKE.replace(old, new, 1))))

    return run


def raw(text: str | bytes) -> Callable[[Path], tuple[int, str]]:
    return lambda tmp: cli("schema", str(study_text(tmp, text)))


def study_cases() -> list[Case]:
    def c(name: str, run: Callable, *names: str, expect: str = "refuse") -> Case:
        return Case("study file", name, expect, names, run)

    tv = "      beta: 30000.0\n    search:"
    return [
        c("the smoke study as shipped", edit("name: smoke", "name: smoke"), expect="accept"),
        c(
            "a key given twice",
            edit("  replicates: 2\n", "  replicates: 2\n  replicates: 3\n"),
            "replicates",
        ),
        c("replicates: true", edit("replicates: 2", "replicates: true"), "replicates"),
        c("replicates: 0", edit("replicates: 2", "replicates: 0"), "replicates"),
        c("replicates: 2.5", edit("replicates: 2", "replicates: 2.5"), "replicates"),
        c(
            'replicates: "3" (a quoted number)',
            edit("replicates: 2", 'replicates: "3"'),
            "replicates",
            expect="either",
        ),
        c("beta: .inf", edit(tv, tv.replace("30000.0", ".inf")), "beta"),
        c("beta: .nan", edit(tv, tv.replace("30000.0", ".nan")), "beta"),
        c("a misspelt top-level key", edit("scenarios:", "scenarioz:"), "scenarioz"),
        c(
            "a misspelt scenario key",
            edit("    noise: {kind: multiplicative}", "    noize: {kind: multiplicative}"),
            "noize",
        ),
        c(
            "channels: {tvv: null} (meant to drop tv)",
            edit("  base: {}", "  base: {channels: {tvv: null}}"),
            "tvv",
        ),
        c(
            "a misspelt prior distribution",
            edit(
                "{distribution: HalfNormal, parameters: {sigma: 0.5}",
                "{distribution: HalfNormall, parameters: {sigma: 0.5}",
            ),
            "HalfNormall",
        ),
        c(
            "a misspelt prior parameter",
            edit("parameters: {sigma: 0.5}", "parameters: {sigmaa: 0.5}"),
            "sigmaa",
        ),
        c(
            "a !!python tag",
            edit("name: smoke", "name: !!python/object/apply:os.getcwd []"),
            "python",
        ),
        c("an empty file", raw(""), "mapping"),
        c("a list, not a mapping", raw("- study\n- defaults\n"), "mapping"),
        c("bytes that are not UTF-8", raw(b"study:\n  name: sm\xf6ke\n"), "utf-8"),
        c(
            "broken YAML (unclosed bracket)",
            edit("[[5000.0, 2000.0]]", "[[5000.0, 2000.0]"),
            "line",
        ),
        c(
            "a study file that does not exist",
            lambda t: cli("schema", str(t / "nope.yaml")),
            "nope.yaml",
            "not found",
        ),
        c("a folder for a study file", lambda t: cli("schema", "studies"), "folder"),
        c(
            "an estimator variant of an unknown estimator",
            edit("  bayesian:\n", "  freq2: {estimator: frequentis}\n  bayesian:\n"),
            "frequentis",
        ),
        c(
            "extends: a missing file",
            edit("study:\n", "extends: nope.yaml\nstudy:\n"),
            "nope.yaml",
            "not found",
        ),
        c(
            "extends: itself",
            lambda t: cli("schema", str(study_text(t, f"extends: {t / 'study.yaml'}\n" + SMOKE))),
            "cycle",
        ),
        c(
            "no estimator",
            raw(
                SMOKE[: SMOKE.index("estimators:\n")]
                + "estimators: {}\n"
                + SMOKE[SMOKE.index("\nsbc:") :]
            ),
            "names no estimator",
        ),
        c(
            "scheduler without tcp://",
            edit("scheduler: processes", "scheduler: localhost:8786"),
            "scheduler",
        ),
        c(
            "n_weeks too short for l_max, holdout and CV",
            edit("n_weeks: 78", "n_weeks: 20"),
            "n_weeks",
        ),
        c(
            "a calibration level of 1.5",
            edit("[0.5, 0.8, 0.9]", "[0.5, 0.8, 1.5]"),
            "calibration_levels",
        ),
        c("noise snr: 0", edit("snr: 5.0", "snr: 0"), "snr"),
        c("geometric decay alpha: 1.5", edit("alpha: 0.5", "alpha: 1.5"), "alpha"),
        c(
            "a misspelt adstock family",
            edit("{family: geometric, alpha: 0.5", "{family: geometrc, alpha: 0.5"),
            "geometrc",
        ),
        c("saturation lam: -1", edit("lam: 5.0e-5", "lam: -1"), "lam"),
        c("workers: 0", edit("workers: 2", "workers: 0"), "workers"),
        c("base_seed: -1", edit("base_seed: 7", "base_seed: -1"), "base_seed"),
        c(
            "holdout_weeks above n_weeks",
            edit("holdout_weeks: 8", "holdout_weeks: 100"),
            "holdout_weeks",
        ),
        c(
            "a lift test of an unknown channel",
            edit("{channel: tv, spend_change: 0.5", "{channel: tvv, spend_change: 0.5"),
            "tvv",
        ),
        c("an unknown estimator option", edit("    draws: 200", "    drawz: 200"), "drawz"),
        c("chains: 0", edit("chains: 2", "chains: 0"), "chains"),
        c("trials: 0", edit("trials: 2", "trials: 0"), "trials"),
        c("an SBC of 0 simulations", edit("simulations: 16", "simulations: 0"), "simulations"),
        c(
            "an SBC channel that does not exist",
            edit("channels: [tv, search]", "channels: [tv, radio]"),
            "radio",
        ),
        c("an unknown command-line option", lambda t: cli("schema", "--strict"), "--strict"),
    ]


# --- bring your own data -----------------------------------------------------------------


def byod_cases() -> list[Case]:
    def csv_case(
        name: str,
        mutate: Callable[[pd.DataFrame], pd.DataFrame | bytes],
        *names: str,
        expect: str = "refuse",
    ) -> Case:
        def run(tmp: Path) -> tuple[int, str]:
            example = tmp / "example.csv"
            if not example.is_file():
                rc, out = cli(
                    "byod", "example", "--study", "studies/smoke.yaml", "--out", str(example)
                )
                assert rc == 0, out
            f = tmp / "mine.csv"
            got = mutate(pd.read_csv(example))
            if isinstance(got, bytes):
                f.write_bytes(got)
            else:
                got.to_csv(f, index=False)
            study = SMOKE.replace("path: data/byod/robyn_example.csv", f"path: {f}")
            return cli("byod", "check", "--study", str(study_text(tmp, study)))

        return Case("bring your own data", name, expect, names, run)

    def cell(col: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
        def f(df: pd.DataFrame) -> pd.DataFrame:
            df[col] = df[col].astype(object)
            df.loc[row, col] = value
            return df

        return f

    def text(df: pd.DataFrame) -> str:
        return df.to_csv(index=False)

    def weekly_to_daily(df: pd.DataFrame) -> pd.DataFrame:
        df["DATE"] = pd.date_range("2020-01-01", periods=len(df), freq="D").strftime("%Y-%m-%d")
        return df

    return [
        csv_case("the example as written", lambda d: d, expect="accept"),
        csv_case("a 0-byte file", lambda d: b"", "empty"),
        csv_case("a header and no rows", lambda d: d.iloc[:0], "no data rows"),
        csv_case(
            "a word in a spend column", cell("tv_S", 5, "twelve"), "tv_S", "not numeric", "line 7"
        ),
        csv_case("an empty cell", cell("tv_S", 5, None), "tv_S", "line 7"),
        csv_case("'inf' in a spend column", cell("tv_S", 5, "inf"), "tv_S"),
        csv_case(
            "dates with a time zone",
            lambda d: d.assign(DATE=d["DATE"] + "T00:00:00+01:00"),
            "time zone",
        ),
        csv_case(
            "day-first dates",
            lambda d: d.assign(DATE=pd.to_datetime(d["DATE"]).dt.strftime("%d/%m/%Y")),
            "day-first",
        ),
        csv_case("an unparseable date", cell("DATE", 3, "soon"), "DATE", "line 5"),
        csv_case(
            "a duplicated date",
            lambda d: d.assign(DATE=d["DATE"].where(d.index != 4, d["DATE"][3])),
            "duplicated",
        ),
        csv_case("rows not sorted by date", lambda d: d.iloc[[1, 0, *range(2, len(d))]], "sorted"),
        csv_case("a missing week", lambda d: d.drop(index=10), "gap"),
        csv_case("daily rows", weekly_to_daily, "weekly"),
        csv_case("the target column missing", lambda d: d.drop(columns="revenue"), "revenue"),
        csv_case("negative spend", cell("tv_S", 2, -100.0), "tv_S", "negative"),
        csv_case("an all-zero target", lambda d: d.assign(revenue=0.0), "revenue", "zero"),
        csv_case(
            "an all-negative target",
            lambda d: d.assign(revenue=-d["revenue"]),
            "revenue",
            "negative",
        ),
        csv_case(
            "a channel that spends in 2 weeks",
            lambda d: d.assign(tv_S=[1000.0 if i < 2 else 0.0 for i in range(len(d))]),
            "tv_S",
            "min_active_weeks",
        ),
        csv_case(
            "a channel that spends the same every week",
            lambda d: d.assign(tv_S=500.0),
            "tv_S",
            "constant",
        ),
        csv_case("a channel that never spends", lambda d: d.assign(tv_S=0.0), "tv_S", "zero"),
        csv_case(
            "an event in every week",
            lambda d: d.assign(events=[f"e{i}" for i in range(len(d))]),
            "max_event_share",
        ),
        csv_case("spend of 1e13 (a unit mistake)", cell("tv_S", 3, 1e13), "tv_S", "larger"),
        csv_case("too few weeks", lambda d: d.iloc[:20], "too few"),
        csv_case(
            "text that is not UTF-8",
            lambda d: text(d).replace("DATE", "DAT\xc9", 1).encode("latin-1"),
            "UTF-8",
        ),
        csv_case("semicolon-separated", lambda d: text(d).replace(",", ";").encode(), "';'"),
        csv_case(
            "a UTF-8 byte-order mark", lambda d: b"\xef\xbb\xbf" + text(d).encode(), expect="accept"
        ),
        csv_case(
            "a column named twice",
            lambda d: text(d).replace("newsletter", "tv_S", 1).encode(),
            "named twice",
        ),
        csv_case("an xlsx saved as .csv", lambda d: b"PK\x03\x04" + b"\0" * 64, "spreadsheet"),
        Case(
            "bring your own data",
            "a dataset the study does not declare",
            "refuse",
            ("not declared",),
            lambda t: cli("byod", "check", "--study", "studies/smoke.yaml", "--dataset", "nope"),
        ),
        Case(
            "bring your own data",
            "a dataset name that leaves data/byod",
            "refuse",
            ("letters, digits",),
            lambda t: cli(
                "byod",
                "check",
                "--study",
                str(study_text(t, SMOKE.replace("  robyn_example:", "  ../x:"))),
            ),
        ),
    ]


# --- the committed metrics: verify, render, findings -------------------------------------


def metrics_copy(tmp: Path) -> Path:
    d = tmp / "metrics"
    if not d.is_dir():
        shutil.copytree(ROOT / "reports/metrics", d, ignore=shutil.ignore_patterns("full"))
    return d


def output_cases() -> list[Case]:
    def c(name: str, run: Callable, *names: str, expect: str = "refuse") -> Case:
        return Case("metrics and reports", name, expect, names, run)

    def edited(tmp: Path) -> tuple[int, str]:
        d = metrics_copy(tmp)
        df = pd.read_csv(d / "comparisons.csv")
        df.loc[3, "error"] = df.loc[3, "error"] + 1.0
        df.to_csv(d / "comparisons.csv", index=False)
        return cli("verify", "--metrics-dir", str(d), "--reference-dir", "reports/metrics")

    def empty_metrics(tmp: Path) -> tuple[int, str]:
        d = tmp / "empty"
        d.mkdir()
        (d / "study.json").write_text("{}")
        return cli("render", "--metrics-dir", str(d), "--out", str(tmp / "site"))

    def broken_json(tmp: Path) -> tuple[int, str]:
        d = metrics_copy(tmp)
        (d / "study.json").write_text('{"baseline": ')
        return cli("verify", "--metrics-dir", str(d), "--reference-dir", "reports/metrics")

    return [
        c(
            "verify: the committed metrics against themselves",
            lambda t: cli(
                "verify", "--metrics-dir", "reports/metrics", "--reference-dir", "reports/metrics"
            ),
            expect="accept",
        ),
        c(
            "verify: no reproduced metrics",
            lambda t: cli("verify", "--metrics-dir", str(t / "none")),
            "not found",
        ),
        c("verify: an edited comparisons file", edited, "comparisons", "line"),
        c("verify: a truncated study.json", broken_json, "study.json", "not valid JSON"),
        c(
            "verify: an unknown git revision",
            lambda t: cli("verify", "--reference", "nosuchrev"),
            "nosuchrev",
        ),
        c(
            "render: no metrics",
            lambda t: cli("render", "--metrics-dir", str(t / "none"), "--out", str(t / "site")),
            "study.json",
            "not found",
        ),
        c("render: a study.json with no scenario", empty_metrics, "holds no scenario"),
        c(
            "render: an unknown report",
            lambda t: cli("render", "modelcard", "--out", str(t / "site")),
            "no report named",
        ),
        c(
            "findings: a missing study file",
            lambda t: cli("findings", "--study", "nope.yaml", "--out", str(t / "f.md")),
            "nope.yaml",
            "not found",
        ),
        c(
            "findings: no metrics",
            lambda t: cli("findings", "--metrics-dir", str(t / "none"), "--out", str(t / "f.md")),
            "study.json",
            "not found",
        ),
        c(
            "notebook: an unknown parameter",
            lambda t: cli(
                "notebook", "notebooks/01_simulate.py", str(t / "o.ipynb"), "-p", "bogus", "1"
            ),
            "bogus",
        ),
        c(
            "notebook: a missing notebook",
            lambda t: cli("notebook", "notebooks/09_nope.py", str(t / "o.ipynb")),
            "09_nope",
            "not found",
        ),
        c("an unknown command", lambda t: cli("verfiy"), "unknown command"),
        c(
            "the study module run as a command",
            lambda t: shell("-m", "mmm_recovery.evaluation.study"),
            "not a command",
        ),
        c(
            "MMM_RECOVERY_ROOT that does not exist",
            lambda t: shell(
                "-m",
                "mmm_recovery",
                "schema",
                "studies/smoke.yaml",
                env={"MMM_RECOVERY_ROOT": str(t / "nowhere")},
            ),
            "MMM_RECOVERY_ROOT",
        ),
    ]


# --- the scheduler -----------------------------------------------------------------------


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
    cases = [*study_cases(), *byod_cases(), *output_cases(), *scheduler_cases()]
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
