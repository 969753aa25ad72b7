"""``python -m mmm_recovery study``: run a study file of your own, see where a study stands, add
its records to the committed archive, audit committed records.

    python -m mmm_recovery study run FILE [--out DIR] [--workers N] [--scheduler ADDR]
    python -m mmm_recovery study status FILE [--out DIR | --data-root DIR]
    python -m mmm_recovery study export FILE [--data-root DIR]
    python -m mmm_recovery study audit FILE [--seed S] [-n N] [--workers W]

``run`` validates the file, fits every task that has no record yet with a progress line (fits
done / total, rate, time left), and writes under ``DIR`` (default: a folder named after the
study, in the current folder)::

    DIR/data/study/<scenario>/rep_<NNN>/<estimator>.json   one record per fit
    DIR/metrics/                                          the tables and every aggregate
    DIR/reports/model_card.html, methodology.html (.pdf)  the two reports

Run it again and it resumes: a finished fit is never redone (one with a changed input is). A
fit whose fingerprint the project's committed archive holds (``records/``, :mod:`.archive`) is
restored from it instead of fitted, unless ``--no-archive``. Relative paths are resolved against
the current folder; nothing is written inside the project's ``reports/`` or ``data/``
pipeline folders.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mmm_recovery.core import paths

#: folders a user's study must not write into: the pipeline's committed metrics and reports
PROTECTED = ("reports",)


class UsageError(ValueError):
    """A path or value given on the command line cannot be used; the message names it."""


def study_file(given: str, cwd: Path | None = None) -> Path:
    """``given`` resolved against the current folder; an error names the path it tried."""
    here = cwd or Path.cwd()
    path = (here / Path(given).expanduser()).resolve()
    if not path.is_file():
        raise UsageError(
            f"study file not found: {path} (from {given!r}, relative to the current folder {here})"
        )
    return path


def out_dir(given: str | None, name: str, cwd: Path | None = None) -> Path:
    """The output folder: ``given`` against the current folder, or ``./<study name>``; refused
    where it would overwrite the project's committed outputs or lies under a file."""
    here = cwd or Path.cwd()
    out = (here / Path(given).expanduser() if given else here / name).resolve()
    for folder in PROTECTED:
        guarded = (paths.ROOT / folder).resolve()
        if out == paths.ROOT.resolve() or out.is_relative_to(guarded):
            raise UsageError(
                f"--out {out}: inside the project's committed {guarded} (or the project root); "
                "choose another folder (default: a folder named after the study)"
            )
    if out == paths.DATA.resolve():
        raise UsageError(f"--out {out}: the pipeline's own data folder; choose another folder")
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--out {out}: {parent} is a file, not a folder")
    return out


def _scheduler(address: str | None) -> None:
    """Set ``--scheduler`` as the run's scheduler (it wins over the study file's)."""
    if not address:
        return
    from mmm_recovery.core.spec_checks import scheduler_address_problem
    from mmm_recovery.evaluation.scheduler import SCHEDULER_ENV

    problem = scheduler_address_problem(address)
    if problem:
        raise UsageError(f"--scheduler {address!r}: {problem}")
    os.environ[SCHEDULER_ENV] = address


def run(args: argparse.Namespace) -> int:
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.evaluation.archive import ARCHIVE
    from mmm_recovery.evaluation.study import run_study, write_outputs

    study = load_study(study_file(args.file))
    out = out_dir(args.out, study.study.name)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be at least 1")
    _scheduler(args.scheduler)
    data, metrics = out / "data", out / "metrics"
    print(f"study {study.study.name} ({study.source}): writing to {out}", file=sys.stderr)
    run_study(
        study,
        data_root=data,
        archive=None if args.no_archive else ARCHIVE,
        workers=args.workers,
        retry_failed=args.retry_failed,
    )
    write_outputs(study, metrics, data, args.workers)
    print(f"metrics: {metrics}", file=sys.stderr)
    if not args.no_reports:
        from mmm_recovery.reporting.render import REPORTS, render

        render(list(REPORTS), str(study.source), str(metrics), out / "reports")
        print(f"reports: {out / 'reports'}", file=sys.stderr)
    return 0


def _data_root(args: argparse.Namespace, name: str) -> Path:
    if getattr(args, "data_root", None):
        return (Path.cwd() / args.data_root).resolve()
    if getattr(args, "out", None):
        return out_dir(args.out, name) / "data"
    return paths.DATA


def status(args: argparse.Namespace) -> int:
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.evaluation.archive import summary

    study = load_study(study_file(args.file))
    print(summary(study, _data_root(args, study.study.name)))
    return 0


def export(args: argparse.Namespace) -> int:
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.evaluation.archive import export as export_records
    from mmm_recovery.evaluation.archive import summary

    study = load_study(study_file(args.file))
    root = _data_root(args, study.study.name)
    written = export_records(study, root)
    for part in written:
        print(f"wrote {part.relative_to(paths.ROOT)}")
    print(summary(study, root))
    return 0


def audit(args: argparse.Namespace) -> int:
    from mmm_recovery.core.spec import load_study
    from mmm_recovery.evaluation.audit import audit as run_audit

    study = load_study(study_file(args.file))
    return run_audit(study, seed=args.seed, n=args.n, workers=args.workers)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m mmm_recovery study", description=__doc__.splitlines()[0]
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a study file: records, metrics, reports under --out")
    p.add_argument("file", help="the study YAML (relative to the current folder)")
    p.add_argument("--out", help="output folder (default: ./<study name>)")
    p.add_argument("--workers", type=int, help="local worker processes (default: the file's)")
    p.add_argument("--scheduler", help="tcp://host:port of a Dask scheduler (wins over the file)")
    p.add_argument("--no-archive", action="store_true", help="refit what the archive holds")
    p.add_argument("--no-reports", action="store_true", help="records and metrics only")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="fit again the failures that used up study.fit_attempts",
    )
    p.set_defaults(func=run)
    p = sub.add_parser("status", help="how many of a study's fits are done here and archived")
    p.add_argument("file")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", help="a `study run` output folder")
    where.add_argument("--data-root", help="a data folder (default: the project's data/)")
    p.set_defaults(func=status)
    p = sub.add_parser("export", help="add a study's finished records to records/ (commit it)")
    p.add_argument("file")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", help="a `study run` output folder")
    where.add_argument("--data-root", help="a data folder (default: the project's data/)")
    p.set_defaults(func=export)
    p = sub.add_parser("audit", help="refit a random sample of committed records and compare")
    p.add_argument("file")
    p.add_argument("--seed", type=int, default=1, help="seed of the sample (default 1)")
    p.add_argument("-n", type=int, default=20, help="records to refit (default 20)")
    p.add_argument("--workers", type=int, help="local worker processes (default: the file's)")
    p.set_defaults(func=audit)
    return ap


def main(argv: list[str] | None = None) -> int:
    from mmm_recovery.core.spec import SpecError
    from mmm_recovery.evaluation.audit import AuditError
    from mmm_recovery.evaluation.lock import StudyLocked
    from mmm_recovery.evaluation.scheduler import SchedulerUnavailable

    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, SpecError, AuditError, SchedulerUnavailable, StudyLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
