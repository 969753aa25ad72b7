"""Every path derives from ROOT, the folder that holds ``dvc.yaml``.

ROOT is found by walking up from this file (an editable install keeps ``src/`` inside the
repository). Set ``MMM_RECOVERY_ROOT`` to point the library at another checkout, e.g. a test's
temporary copy of the project.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def find_root(start: Path | None = None) -> Path:
    """Return the nearest ancestor of ``start`` (default: this file) that contains ``dvc.yaml``."""
    env = os.environ.get("MMM_RECOVERY_ROOT")
    if env:
        root = Path(env).resolve()
        if not (root / "dvc.yaml").is_file():
            raise FileNotFoundError(
                f"MMM_RECOVERY_ROOT={env!r} has no dvc.yaml: point it at a checkout of this "
                "project, or unset it to use the checkout the package is installed from"
            )
        return root
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no dvc.yaml above {here}; set MMM_RECOVERY_ROOT to the project folder"
    )


def _checkout_of(folder: Path) -> Path | None:
    """The project checkout (a dvc.yaml beside ``src/mmm_recovery``) holding ``folder``."""
    for candidate in (folder, *folder.parents):
        if (candidate / "dvc.yaml").is_file() and (candidate / "src" / "mmm_recovery").is_dir():
            return candidate
    return None


def warn_other_checkout(root: Path, cwd: Path) -> str | None:
    """Warn (and return the message) when ``cwd`` is inside another checkout of the project than
    ``root``: a virtual environment shared between two checkouts would otherwise read and write
    the one it was installed from without a word."""
    here = _checkout_of(cwd.resolve())
    if here is None or here == root or os.environ.get("MMM_RECOVERY_ROOT"):
        return None
    message = (
        f"mmm_recovery is installed from {root} but you are working in {here}; every path "
        f"(studies, data, reports) points to {root}. Use {here}'s own environment "
        f"({here / '.venv'}), or set MMM_RECOVERY_ROOT={here}"
    )
    warnings.warn(message, stacklevel=2)
    return message


try:
    ROOT = find_root()
except FileNotFoundError as exc:  # nothing can run without it: one line, not a traceback
    raise SystemExit(f"error: {exc}") from None
try:
    warn_other_checkout(ROOT, Path.cwd())
except OSError:  # the working directory was removed: nothing to compare
    pass
#: The ``mmm_recovery`` package folder (``src/mmm_recovery`` in a checkout).
PACKAGE = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
STUDIES = ROOT / "studies"
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
DEFAULT_STUDY = STUDIES / "recovery.yaml"
#: where PyTensor keeps the Python source its numba backend generates (content-addressed: one
#: file per distinct function, reused; not tracked)
GENERATED_SRC = ROOT / ".cache" / "pytensor-src"


def resolve(path: str | os.PathLike[str]) -> Path:
    """A path as given if absolute, else relative to ROOT (never to the working directory)."""
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def scenario_dir(scenario: str, data_root: Path | None = None) -> Path:
    """``data/<scenario>``: where every stage writes its outputs for one scenario."""
    return (data_root or DATA) / scenario


def replicate_dir(scenario: str, replicate: int, data_root: Path | None = None) -> Path:
    """``data/<scenario>/simulated/rep_<NNN>``: one simulated dataset and its answer key."""
    return scenario_dir(scenario, data_root) / "simulated" / f"rep_{replicate:03d}"


def estimator_dir(scenario: str, estimator: str, data_root: Path | None = None) -> Path:
    """``data/<scenario>/fits/<estimator>``: the showcase fit (replicate 0) of one estimator."""
    return scenario_dir(scenario, data_root) / "fits" / estimator
