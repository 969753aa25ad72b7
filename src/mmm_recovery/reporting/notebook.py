"""Execute a jupytext notebook with papermill: ``python -m mmm_recovery.reporting.notebook SRC OUT -p key value ...``.

The committed notebook source is jupytext ``py:percent`` text; it is converted in memory and run
by papermill (the ``parameters``-tagged cell gets the injected values) with the project root as
working directory. The executed ``.ipynb`` is written atomically: on failure it is kept beside
the target as ``<name>.failed.ipynb`` for inspection and the target is left untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from mmm_recovery.core import paths
from mmm_recovery.core.files import atomic_path


def load_source(source: str | Path) -> nbformat.NotebookNode:
    """Read a jupytext text notebook (or an .ipynb) as a NotebookNode."""
    src = paths.resolve(source)
    if not src.is_file():
        raise FileNotFoundError(f"notebook source not found: {src}")
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def notebook_parameters(source: str | Path) -> dict[str, Any]:
    """The parameters papermill infers from the ``parameters`` cell: ``name -> default`` literal."""
    import papermill

    params = papermill.inspect_notebook(load_source(source))
    return {name: p["default"] for name, p in params.items()}


def reproducible(nb: nbformat.NotebookNode, output: Path) -> nbformat.NotebookNode:
    """Drop what differs between two runs of the same notebook on the same inputs: papermill's
    and the kernel's timestamps and durations, the temporary output path, and console noise
    (stderr streams and rich's renderings of progress bars and warnings; they were shown on the
    stage's console). The executed notebook is a DVC output, so it must be the same bytes every
    time."""
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "exception"):
        pm.pop(key, None)
    pm["output_path"] = (
        str(output.relative_to(paths.ROOT)) if output.is_relative_to(paths.ROOT) else output.name
    )
    pm["input_path"] = "<jupytext source>"
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"  # jupytext and papermill draw random ids
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not _console_noise(o)]
    return nb


def _console_noise(output: nbformat.NotebookNode) -> bool:
    """stderr streams, and what ``rich`` (PyMC's progress bars) renders into a notebook instead:
    empty live-display refreshes and Python warnings, which carry the absolute path of the
    installed package (so differ between checkouts)."""
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("name") == "stderr"
    if kind != "display_data":
        return False
    data = output.get("data", {})
    if any(k.startswith("image/") for k in data):
        return False
    text = str(data.get("text/plain", ""))
    return not text.strip() or ("Warning: " in text and "warnings.warn(" in text)


def execute(source: str | Path, output: str | Path, parameters: dict[str, Any]) -> Path:
    """Execute ``source`` with ``parameters`` and write the executed notebook to ``output``."""
    import papermill

    nb = load_source(source)
    out = paths.resolve(output)
    declared = set(notebook_parameters(source))
    unknown = set(parameters) - declared
    if unknown:
        raise ValueError(
            f"{source}: no parameter(s) {sorted(unknown)} in its parameters cell (has {sorted(declared)})"
        )
    failed = out.with_name(out.stem + ".failed.ipynb")
    with atomic_path(out) as tmp:
        try:
            executed = papermill.execute_notebook(
                nb,
                str(tmp),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(paths.ROOT),
                progress_bar=False,
                log_output=True,  # the kernel's stdout/stderr also reach the stage's console
            )
        except BaseException:
            if tmp.exists():
                os.replace(tmp, failed)
            raise
        nbformat.write(reproducible(executed, out), tmp)
    failed.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="jupytext notebook source, e.g. notebooks/01_simulate.py")
    parser.add_argument(
        "output", help="executed notebook to write, e.g. data/baseline/notebooks/01_simulate.ipynb"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="parameter passed as a string (repeatable)",
    )
    args = parser.parse_args(argv)
    from papermill.exceptions import PapermillExecutionError

    from mmm_recovery.core.spec import SpecError, load_study

    params = dict(args.parameter)
    try:
        if "study" in params:  # a bad study file is named here, not in a kernel's traceback
            load_study(params["study"])
        execute(args.source, args.output, params)
    except PapermillExecutionError as exc:  # the cell's output and traceback were streamed above
        out = paths.resolve(args.output)
        kept = out.with_name(out.stem + ".failed.ipynb")
        print(
            f"error: {args.source}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue}\n"
            f"(the executed notebook is kept at {kept})",
            file=sys.stderr,
        )
        return 1
    except (SpecError, ValueError, OSError) as exc:  # no such source, parameter or folder
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"executed {args.source} -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
