"""The study-file schema and validation on the command line (``python -m mmm_recovery.core.schema``).

python -m mmm_recovery.core.schema studies/my_study.yaml   # validate: OK, or every problem
python -m mmm_recovery.core.schema --write                 # regenerate studies/README.md's schema
python -m mmm_recovery.core.schema                         # print the schema
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pydantic import BaseModel

from mmm_recovery.core import paths, plugins
from mmm_recovery.core.sbc_spec import SBC_MODELS, SBCSettings
from mmm_recovery.core.spec import SCHEMA_MODELS, SpecError, load_study


def schema_markdown(models: tuple[type[BaseModel], ...] | None = None) -> str:
    """Markdown tables of every field (name, type, description with default) of the spec models
    and of every registered estimator's settings (``estimators.<name>``). ``studies/README.md``
    embeds this text; a test keeps the two identical."""
    if models is None:
        at = SCHEMA_MODELS.index(SBCSettings) + 1  # the sbc: block's parts after it
        models = (*SCHEMA_MODELS[:at], *SBC_MODELS, *SCHEMA_MODELS[at:], *plugins.config_models())
    out = []
    for model in models:
        out.append(f"### `{model.__name__}`\n\n{(model.__doc__ or '').strip().splitlines()[0]}\n")
        out.append("| key | type | meaning (default) |\n|---|---|---|")
        for name, field in model.model_fields.items():
            if name == "source":
                continue
            ann = getattr(field.annotation, "__name__", None) or re.sub(
                r"\b(?:[A-Za-z_]\w*\.)+", "", str(field.annotation)
            ).replace(" | ", " or ")
            desc = (field.description or "").replace("|", "\\|")
            out.append(f"| `{name}` | `{ann}` | {desc} |")
        out.append("")
    return "\n".join(out)


SCHEMA_START, SCHEMA_END = "<!-- schema:start -->\n", "<!-- schema:end -->"


def write_schema_readme(readme: Path | None = None) -> bool:
    """Rewrite the schema section of ``studies/README.md`` from :func:`schema_markdown`; return
    whether the file changed (the pre-commit hook fails on a change, so it is committed)."""
    from mmm_recovery.core.files import atomic_path

    readme = readme or paths.STUDIES / "README.md"
    text = readme.read_text()
    head, rest = text.split(SCHEMA_START, 1)
    tail = rest.split(SCHEMA_END, 1)[1]
    new = f"{head}{SCHEMA_START}{schema_markdown()}{SCHEMA_END}{tail}"
    if new == text:
        return False
    with atomic_path(readme) as tmp:
        tmp.write_text(new)
    return True


USAGE = """usage: python -m mmm_recovery.core.schema [STUDY.yaml ...] | --write

  STUDY.yaml ...  validate each study file (one line per file; exit 2 if one is refused)
  --write         regenerate the schema section of studies/README.md (exit 1 if it changed)
  (nothing)       print the study-file schema as markdown"""


def main(argv: list[str]) -> int:
    """``--write``: regenerate the schema in ``studies/README.md``; study files: validate each
    (one line per file, exit 2 if one is refused); nothing: print the schema."""
    if argv == ["--write"]:
        return 1 if write_schema_readme() else 0
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        return 0
    unknown = [a for a in argv if a.startswith("-")]
    if unknown:
        print(f"error: unknown option {unknown[0]}\n{USAGE}", file=sys.stderr)
        return 2
    if not argv:
        print(schema_markdown(), end="")
        return 0
    status = 0
    for path in argv:
        try:
            study = load_study(path)
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        extra = f", sbc: {study.sbc.simulations} simulations" if study.sbc else ""
        print(
            f"{path}: OK ({len(study.scenarios)} scenarios, estimators "
            f"{', '.join(study.estimators)}, {len(study.datasets)} datasets{extra})"
        )
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
