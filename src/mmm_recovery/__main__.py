"""``python -m mmm_recovery [COMMAND] [ARGS...]``: the project's command-line tools in one place.

Without a command it lists them; ``python -m mmm_recovery verify --help`` runs
``python -m mmm_recovery.evaluation.verify --help``, and so on. Each tool is also a module of
its own (``python -m <module>``), which is what the pipeline and the Makefile call.
"""

from __future__ import annotations

import importlib
import sys

#: command -> (module, what it does)
COMMANDS = {
    "study": (
        "mmm_recovery.reporting.study_cli",
        "run a study file of your own (progress, resume); status, export and audit of records",
    ),
    "verify": (
        "mmm_recovery.evaluation.verify",
        "compare reproduced metrics with the committed ones, within their Monte Carlo error",
    ),
    "byod": ("mmm_recovery.byod", "bring your own data: example, check, add, remove"),
    "schema": ("mmm_recovery.core.schema", "validate study files; print their JSON schema"),
    "notebook": ("mmm_recovery.reporting.notebook", "execute a jupytext notebook with papermill"),
    "render": ("mmm_recovery.reporting.render", "render the model card and methodology reports"),
    "findings": ("mmm_recovery.reporting.findings", "write docs/findings.md from the metrics"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(
        f"  {name:{width}s}  {what}  (python -m {module})"
        for name, (module, what) in COMMANDS.items()
    )
    return f"usage: python -m mmm_recovery COMMAND [ARGS...]\n\ncommands:\n{rows}\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{usage()}", end="", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv = [f"python -m mmm_recovery {name}", *rest]
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
