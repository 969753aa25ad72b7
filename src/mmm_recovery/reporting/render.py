"""Execute the Quarto reports with papermill and render them: Quarto where present, nbconvert otherwise.

    python -m mmm_recovery.reporting.render --study studies/recovery.yaml --metrics-dir reports/metrics \\
        --out reports/_site model_card methodology

Each report is a Quarto notebook (jupytext text in ``reports/<name>.py`` whose header carries the
Quarto front matter). It is executed by papermill with the study and metrics paths as parameters
(``<out>/<name>.ipynb``), then rendered from that executed notebook:

* ``quarto`` on PATH: ``quarto render <name>.ipynb --to html`` and ``--to typst`` (HTML + PDF);
* otherwise: nbconvert to self-contained HTML with code hidden (and to PDF when a LaTeX engine is
  installed), after printing one line that says Quarto was not found and which renderer is used.

``<out>/render.json`` records, per report, the renderer, its version and the files produced.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mmm_recovery.core import files, paths
from mmm_recovery.reporting.notebook import execute

REPORTS = ("model_card", "methodology")
_CALLOUT = re.compile(r"^::: \{\.callout-(\w+)\}\n(.*?)\n:::$", re.DOTALL | re.MULTILINE)


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


def _render_nbconvert(executed: Path, out_dir: Path, note: str) -> list[str]:
    import nbformat
    from nbconvert import HTMLExporter, PDFExporter

    nb = nbformat.read(executed, as_version=4)
    # Quarto reads the first raw cell as front matter; nbconvert would print it: show the title instead
    if nb.cells and nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith("---"):
        import yaml

        meta = yaml.safe_load(nb.cells[0].source.strip().strip("-")) or {}
        nb.cells[0] = nbformat.v4.new_markdown_cell(
            f"# {meta.get('title', executed.stem)}\n\n{meta.get('subtitle', '')}",
            id=nb.cells[0].get(
                "id", "front-matter"
            ),  # a new cell draws a random id: the same bytes
        )
        nb.metadata["title"] = meta.get("title", executed.stem)
    for cell in nb.cells:  # Quarto callouts -> blockquotes (nbconvert would print the fences)
        if cell.cell_type == "markdown":
            cell.source = _CALLOUT.sub(
                lambda mt: (
                    "> **"
                    + mt.group(1).capitalize()
                    + ":** "
                    + mt.group(2).strip().replace("\n", "\n> ")
                ),
                cell.source,
            )
    nb.cells.append(nbformat.v4.new_markdown_cell(f"---\n*{note}*", id="render-note"))
    html = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True
    )
    body, _ = html.from_notebook_node(nb)
    produced = []
    with files.atomic_path(out_dir / f"{executed.stem}.html") as tmp:
        tmp.write_text(body)
    produced.append(f"{executed.stem}.html")
    if shutil.which("xelatex"):
        pdf = PDFExporter(exclude_input=True)
        data, _ = pdf.from_notebook_node(nb)
        with files.atomic_path(out_dir / f"{executed.stem}.pdf") as tmp:
            tmp.write_bytes(data)
        produced.append(f"{executed.stem}.pdf")
    return produced


def render(names: list[str], study: str, metrics_dir: str, out: str | Path) -> dict[str, Any]:
    """Execute and render each report; return (and write) the render record."""
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
        import nbconvert

        renderer = {"renderer": "nbconvert", "version": nbconvert.__version__}
        pdf = (
            "HTML and PDF (LaTeX)" if shutil.which("xelatex") else "HTML only; no PDF engine found"
        )
        print(
            f"Quarto not found on PATH: rendering with nbconvert {nbconvert.__version__} ({pdf}). "
            "Install Quarto (conda-forge `quarto` or quarto.org) for the Quarto HTML + Typst PDF.",
            flush=True,
        )
    for name in names:
        executed = out_dir / f"{name}.ipynb"
        execute(
            paths.REPORTS / f"{name}.py", executed, {"study": study, "metrics_dir": metrics_dir}
        )
        if quarto:
            produced = _render_quarto(quarto, executed, out_dir)
        else:
            note = (
                f"Rendered by nbconvert {renderer['version']} (Quarto was not found); "
                "render with Quarto for the reference HTML and PDF."
            )
            produced = _render_nbconvert(executed, out_dir, note)
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
    args = ap.parse_args(argv)
    record = render(args.names, args.study, args.metrics_dir, args.out)
    print(json.dumps(record), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
