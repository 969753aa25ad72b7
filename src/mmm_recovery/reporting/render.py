"""Execute the Quarto reports with papermill and render them: Quarto where present, nbconvert otherwise.

    python -m mmm_recovery.reporting.render --study studies/recovery.yaml --metrics-dir reports/metrics \\
        --out reports/_site model_card methodology

Each report is a Quarto notebook (jupytext text in ``reports/<name>.py`` whose header carries the
Quarto front matter). It is executed by papermill with the study and metrics paths as parameters
(``<out>/<name>.ipynb``), then rendered from that executed notebook:

* ``quarto`` on PATH: ``quarto render <name>.ipynb --to html`` and ``--to typst`` (HTML + PDF);
* otherwise (after one line saying so): the offline route of :mod:`mmm_recovery.reporting.pandoc`,
  pandoc to self-contained HTML with MathML formulas and Typst to PDF, both from the lock.

``<out>/render.json`` records, per report, the route (renderer, its version, the PDF engine) and
the files produced.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from papermill.exceptions import PapermillExecutionError

from mmm_recovery.core import files, paths
from mmm_recovery.reporting import pandoc
from mmm_recovery.reporting.notebook import execute

REPORTS = ("model_card", "methodology")


def quarto_path() -> str | None:
    return shutil.which("quarto")


def _render_quarto(quarto: str, executed: Path, out_dir: Path) -> list[str]:
    produced = []
    for fmt_name, suffix in (("html", ".html"), ("typst", ".pdf")):
        subprocess.run(
            [quarto, "render", executed.name, "--to", fmt_name], cwd=executed.parent, check=True
        )
        target = executed.with_suffix(suffix)
        if target.parent != out_dir:
            shutil.move(target, out_dir / target.name)
        produced.append(target.name)
    return produced


def render(
    names: list[str],
    study: str,
    metrics_dir: str,
    out: str | Path,
    full_metrics_dir: str = "",
) -> dict[str, Any]:
    """Execute and render each report; return (and write) the render record. With
    ``full_metrics_dir`` the reports open with the full study's answers where that folder has
    metrics (:func:`~mmm_recovery.reporting.precision.lead`)."""
    out_dir = paths.resolve(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    quarto = quarto_path()
    record: dict[str, Any] = {}
    if quarto:
        version = subprocess.run(
            [quarto, "--version"], capture_output=True, text=True
        ).stdout.strip()
        renderer = {"renderer": "quarto", "version": version}
    else:
        found = pandoc.versions()
        renderer = {
            "renderer": "pandoc",
            "version": found["pandoc"],
            "pdf": f"typst {found['typst']}",
        }
        print(
            f"Quarto not found on PATH: rendering with pandoc {found['pandoc']} (HTML, MathML) "
            f"and Typst {found['typst']} (PDF). Install Quarto (conda-forge `quarto` or "
            "quarto.org) for Quarto's own rendering.",
            flush=True,
        )
    for name in names:
        executed = out_dir / f"{name}.ipynb"
        try:
            params = {"study": study, "metrics_dir": metrics_dir}
            execute(
                paths.REPORTS / f"{name}.py",
                executed,
                params | {"full_metrics_dir": full_metrics_dir},
            )
        except PapermillExecutionError as exc:  # which report, which cell, where it is kept
            exc.add_note(
                f"report {name}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue} (the "
                f"executed report is kept at {executed.with_name(name + '.failed.ipynb')})"
            )
            raise
        if quarto:
            produced = _render_quarto(quarto, executed, out_dir)
        else:
            note = (
                f"Rendered offline by pandoc {renderer['version']} and {renderer['pdf']} "
                "(Quarto was not found)."
            )
            produced = pandoc.render(executed, out_dir, note)
        record[name] = {**renderer, "files": produced}
    files.write_json(out_dir / "render.json", record)
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "names",
        nargs="*",
        default=list(REPORTS),
        help=f"reports to render (default: {' '.join(REPORTS)})",
    )
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--metrics-dir", default="reports/metrics")
    ap.add_argument("--out", default="reports/_site")
    ap.add_argument(
        "--full-metrics-dir",
        default="",
        help="the full study's metrics: the reports open with its answers where present",
    )
    args = ap.parse_args(argv)
    from mmm_recovery.core.spec import load_study

    try:  # what the reports read is checked here, not in a kernel's traceback
        unknown = sorted(set(args.names) - set(REPORTS))
        if unknown:
            raise ValueError(f"no report named {unknown}; the reports are {list(REPORTS)}")
        load_study(args.study)
        metrics = paths.resolve(args.metrics_dir) / "study.json"
        if not metrics.is_file():
            raise FileNotFoundError(
                f"{args.metrics_dir}/study.json: not found; the reports are computed from the "
                "study's metrics (run: make reproduce, or --metrics-dir)"
            )
        cells = files.read_json(metrics)
        if not isinstance(cells, dict) or not cells:
            raise ValueError(f"{args.metrics_dir}/study.json: holds no scenario's metrics")
    except (ValueError, OSError) as exc:  # SpecError, a missing file or folder
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        record = render(args.names, args.study, args.metrics_dir, args.out, args.full_metrics_dir)
    except PapermillExecutionError as exc:  # the cell's output was streamed above
        print(
            f"error: {exc.__notes__[0] if getattr(exc, '__notes__', None) else exc}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(record), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
