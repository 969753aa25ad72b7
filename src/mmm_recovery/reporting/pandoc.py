"""Offline rendering of an executed report notebook: pandoc to HTML (MathML) and Typst to PDF.

The route where Quarto is absent. Both engines are Python packages of the project's lock
(``pypandoc-binary`` carries pandoc 3, ``typst`` the Typst compiler), so a fresh machine renders
HTML and PDF with no network and no LaTeX:

1. the executed notebook becomes one pandoc Markdown document (:func:`notebook_markdown`): the
   Quarto front matter gives the title, markdown cells are kept (Quarto callouts are pandoc
   fenced divs already), code is dropped and each output kept by what it is (a PNG figure with
   its ``#| fig-cap``, Markdown as Markdown, an HTML table read by pandoc's HTML reader);
2. pandoc writes a standalone HTML page with formulas as MathML and every image and style
   embedded (no script, no CDN), and Typst source that ``typst.compile`` turns into a PDF.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from mmm_recovery.core import files

CSS = Path(__file__).with_name("report.css")
_OPTION = re.compile(r"^#\|\s*([\w-]+):\s*(.*)$")
_STYLE = re.compile(r"<style.*?</style>", re.DOTALL)
_FRONT_MATTER_KEYS = ("title", "subtitle", "author", "date")


#: Typst rules put before pandoc's document: tables in small type whose identifiers may break
#: after an underscore or a slash (a zero-width space), and table figures that break across
#: pages instead of running off the bottom of one
TYPST_STYLE = """\
#show figure.where(kind: table): set block(breakable: true)
#show table: set text(size: 7pt)
#show table: it => { show "_": "_" + sym.zws; show "/": "/" + sym.zws; it }
"""


class RenderError(RuntimeError):
    """A report cannot be rendered (an error output, or an output with nothing to show)."""


def versions() -> dict[str, str]:
    """The pandoc and Typst versions this route renders with."""
    from importlib.metadata import version

    import pypandoc

    return {"pandoc": str(pypandoc.get_pandoc_version()), "typst": version("typst")}


def _timestamp() -> int:
    """The PDF's creation time: ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) or
    the epoch, so that the same report is the same bytes whenever it is rendered."""
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _cell_options(source: str) -> dict[str, str]:
    """Quarto cell options (``#| key: value`` lines at the top of a code cell)."""
    options = {}
    for line in source.splitlines():
        match = _OPTION.match(line.strip())
        if not match:
            break
        options[match.group(1)] = yaml.safe_load(match.group(2)) if match.group(2) else ""
    return {k: str(v) for k, v in options.items()}


def _html_to_markdown(html: str) -> str:
    """An HTML output (e.g. a pandas table) as Markdown; its ``<style>`` blocks dropped."""
    import pypandoc

    html = _STYLE.sub("", html)
    return str(pypandoc.convert_text(html, "markdown", format="html", extra_args=["--wrap=none"]))


def _output_markdown(
    output: dict[str, Any], options: dict[str, str], media: Path, stem: str, where: str
) -> str:
    kind = output["output_type"]
    if kind == "error":
        raise RenderError(f"{where}: the cell raised {output.get('ename')}: {output.get('evalue')}")
    if kind == "stream":
        return "" if output.get("name") == "stderr" else f"```\n{_text(output['text'])}\n```"
    data = output.get("data", {})
    if "image/png" in data:
        path = media / f"{stem}.png"
        path.write_bytes(base64.b64decode(_text(data["image/png"])))
        caption = options.get("fig-cap", "")
        label = options.get("label", "")
        attrs = f"{{#{label}}}" if label.startswith("fig-") else ""
        return f"![{caption}]({media.name}/{path.name}){attrs}"
    if "text/markdown" in data:
        return _text(data["text/markdown"])
    if "text/html" in data:
        return _html_to_markdown(_text(data["text/html"]))
    if "text/plain" in data:
        return f"```\n{_text(data['text/plain'])}\n```"
    raise RenderError(f"{where}: an output with none of PNG, Markdown, HTML or text")


def notebook_markdown(executed: Path, media: Path) -> str:
    """One pandoc Markdown document from an executed report notebook.

    Figures are written as PNG files into ``media`` (referenced relative to its parent folder).
    Raises :class:`RenderError` naming the cell where a cell raised or shows nothing renderable.
    """
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    media.mkdir(parents=True, exist_ok=True)
    blocks: list[str] = []
    for i, cell in enumerate(nb.cells):
        source = _text(cell.source)
        if i == 0 and cell.cell_type == "raw" and source.startswith("---"):
            meta = yaml.safe_load(source.strip().strip("-")) or {}
            front = {k: meta[k] for k in _FRONT_MATTER_KEYS if k in meta}
            blocks.append("---\n" + yaml.safe_dump(front, sort_keys=False) + "---")
        elif cell.cell_type == "markdown":
            blocks.append(source)
        elif cell.cell_type == "code":
            options = _cell_options(source)
            for j, output in enumerate(cell.get("outputs", [])):
                where = f"{executed.name}, cell {i}"
                blocks.append(_output_markdown(output, options, media, f"cell{i:03d}-{j}", where))
    return "\n\n".join(b.strip() for b in blocks if b.strip()) + "\n"


def render(executed: Path, out_dir: Path, note: str) -> list[str]:
    """Render ``executed`` to ``<out_dir>/<stem>.html`` and ``.pdf``; return the file names."""
    import pypandoc
    import typst

    stem = executed.stem
    work = out_dir / f".{stem}.render"  # scratch: the Markdown, its figures, the Typst source
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        source = notebook_markdown(executed, work / "media") + f"\n---\n\n*{note}*\n"
        md = work / f"{stem}.md"
        md.write_text(source)
        common = ["--standalone", "--toc", "--wrap=none", f"--resource-path={work}"]
        html_args = [*common, "--embed-resources", "--mathml", f"--css={CSS}"]
        with files.atomic_path(out_dir / f"{stem}.html") as tmp:
            pypandoc.convert_file(
                str(md), "html5", format="markdown", outputfile=str(tmp), extra_args=html_args
            )
        typ = work / f"{stem}.typ"
        typ.write_text(typst_source(md, common))
        with files.atomic_path(out_dir / f"{stem}.pdf") as tmp:
            tmp.write_bytes(typst.compile(str(typ), root=str(work), timestamp=_timestamp()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [f"{stem}.html", f"{stem}.pdf"]


def typst_source(markdown: Path, args: list[str] | None = None) -> str:
    """The Typst source of the PDF of the pandoc Markdown file ``markdown``: pandoc's Typst
    with :data:`TYPST_STYLE` before it."""
    import pypandoc

    extra = args if args is not None else ["--standalone", "--wrap=none"]
    body = pypandoc.convert_text(
        markdown.read_text(), "typst", format="markdown", extra_args=[*extra]
    )
    return TYPST_STYLE + str(body)
