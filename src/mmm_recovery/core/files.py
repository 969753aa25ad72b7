"""File formats in one place; every write is atomic (temp file in the same folder + rename)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATE_COLUMN = "date"
_UMASK = os.umask(0o022)
os.umask(_UMASK)
TARGET_COLUMN = "y"
#: decimals of simulated currency (spend, revenue, weekly contributions: to the cent) and of
#: unitless simulated series (the competitor index). The simulator rounds to them, so its files
#: are the same bytes on machines whose floating-point results differ in the last bits (as
#: numpy's vectorised exp and log do across CPU instruction sets): only a value within a few
#: ulps of a half-cent could round the other way.
CURRENCY_DECIMALS = 2
INDEX_DECIMALS = 6
#: decimals of the weekly truth file (contributions and effects: sums and products of the
#: rounded data with the truth's parameters, so often exactly on a half-cent; at 6 decimals a
#: last-bit difference still cannot move them)
TRUTH_DECIMALS = 6
#: significant digits of the answer key's floats (``truth.json``: ROAS, shares, totals, curves,
#: true lifts, the noise sd). Its values are sums over the weeks of the rounded data, so two
#: machines can differ by ~1e-14 relative; at 8 digits a value flips only within 1e-14 of a
#: rounding boundary spaced 1e-8 apart (odds ~2e-6 a value), and 8 digits are far finer than
#: any estimate is scored at.
TRUTH_SIGNIFICANT_DIGITS = 8


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; only if the block succeeds does it take
    ``path``'s place (the previous folder, if any, is removed after the swap). A failure leaves
    ``path`` as it was and removes the temporary folder."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    old = path.parent / f".{path.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
    try:
        yield tmp
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not path.exists():
            os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, writer: Callable[[Path], object]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN/inf; null means "not available"
    if isinstance(obj, Path):
        return str(obj)
    return obj


def round_significant(obj: Any, digits: int) -> Any:
    """``obj`` with every float (in dicts, lists, tuples and numpy arrays, which become lists)
    rounded to ``digits`` significant decimal digits; other values, NaN and inf unchanged."""
    if isinstance(obj, dict):
        return {k: round_significant(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [round_significant(v, digits) for v in obj]
    if isinstance(obj, float | np.floating) and math.isfinite(obj):
        return float(f"{float(obj):.{digits - 1}e}")
    return obj


def write_json(path: Path, obj: Any) -> Path:
    """Deterministic JSON (sorted keys, repr floats, NaN -> null), written atomically."""
    text = json.dumps(_jsonable(obj), indent=1, sort_keys=True, allow_nan=False) + "\n"
    return _write(path, lambda p: p.write_text(text))


def timing_path(output: Path) -> Path:
    """Where the wall times of ``output`` go: ``data/timing/<output relative to the root>.json``
    for files in the project (not a DVC output: they differ on every run, which would change
    ``dvc.lock``), else ``<output>.timing.json`` beside it."""
    from mmm_recovery.core import paths

    output = Path(output).resolve()
    try:
        rel = output.relative_to(paths.ROOT)
    except ValueError:
        return output.with_name(output.name + ".timing.json")
    return paths.DATA / "timing" / rel.with_name(rel.name + ".json")


def write_timing(output: Path, timing: dict[str, Any]) -> Path:
    return write_json(timing_path(output), timing)


def read_json(path: Path) -> Any:
    """A JSON file's content; a file that is not JSON raises ValueError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def write_csv(path: Path, df: pd.DataFrame) -> Path:
    """CSV with ISO dates and full-precision floats (byte-identical for identical frames)."""
    return _write(
        path, lambda p: df.to_csv(p, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    )


def read_weekly_csv(path: Path, date_column: str = DATE_COLUMN) -> pd.DataFrame:
    df = pd.read_csv(path)
    if date_column not in df.columns:
        raise ValueError(f"{path}: no date column {date_column!r}; columns are {list(df.columns)}")
    df[date_column] = pd.to_datetime(df[date_column])
    return df


#: Columns of a lift-test table (PyMC-Marketing's ``add_lift_test_measurements``): the channel,
#: its weekly spend ``x`` before the test and the change ``delta_x``, the measured change of weekly
#: revenue ``delta_y`` and its standard error ``sigma`` (currency)
LIFT_TEST_COLUMNS = ("channel", "x", "delta_x", "delta_y", "sigma")

#: Optional column of a lift-test table: the test's length in weeks, from steady state at ``x``
#: (``delta_y`` is then the mean weekly change over those weeks, not their total); blank, or no
#: column: a test long enough for carry-over to build up, which measures the steady-state change
LIFT_TEST_WEEKS = "weeks"

#: Longest lift test accepted, in weeks (ten years)
MAX_LIFT_TEST_WEEKS = 520

_WEEKS_RULE = (
    f"weeks must be blank (a steady-state test) or a whole number from 1 to {MAX_LIFT_TEST_WEEKS}"
)


def _first_bad_weeks(values: pd.Series) -> int | None:
    """Position of the first weeks cell that is given but not a whole number from 1 to the
    maximum, or None."""
    w = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(w) & (w == np.round(w)) & (w >= 1) & (w <= MAX_LIFT_TEST_WEEKS)
    bad = np.flatnonzero(values.notna().to_numpy() & ~whole)
    return int(bad[0]) if bad.size else None


def lift_test_weeks(df: pd.DataFrame) -> np.ndarray:
    """Each lift test's length in weeks (:data:`LIFT_TEST_WEEKS`) as floats, NaN for a
    steady-state test (a missing cell, or a table without the column). A given value that is not
    a whole number from 1 to :data:`MAX_LIFT_TEST_WEEKS` is an error naming the row, so a table
    built in code cannot be misread either."""
    if LIFT_TEST_WEEKS not in df.columns:
        return np.full(len(df), np.nan)
    row = _first_bad_weeks(df[LIFT_TEST_WEEKS])
    if row is not None:
        raise ValueError(
            f"lift test {row} (channel {df['channel'].to_list()[row]!r}): "
            f"{LIFT_TEST_WEEKS} = {df[LIFT_TEST_WEEKS].to_list()[row]!r}: {_WEEKS_RULE}"
        )
    return pd.to_numeric(df[LIFT_TEST_WEEKS]).to_numpy(dtype=float)


def empty_lift_tests() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object if c == "channel" else float) for c in LIFT_TEST_COLUMNS}
    )


def lift_test_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A lift-test table from one dict per test (:data:`LIFT_TEST_COLUMNS`, and
    :data:`LIFT_TEST_WEEKS`: None or NaN for a steady-state test). The weeks column (floats, NaN
    for steady state) is kept only when some test has a length, so a table of steady-state tests
    keeps PyMC-Marketing's columns; no rows: :func:`empty_lift_tests`."""
    if not rows:
        return empty_lift_tests()
    timed = any(pd.notna(r.get(LIFT_TEST_WEEKS)) for r in rows)
    columns = [*LIFT_TEST_COLUMNS, *([LIFT_TEST_WEEKS] if timed else [])]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({LIFT_TEST_WEEKS: float}) if timed else table


def read_lift_tests(path: Path, channels: list[str] | None = None) -> pd.DataFrame:
    """A lift-test CSV (:data:`LIFT_TEST_COLUMNS`, and :data:`LIFT_TEST_WEEKS` if it has that
    column), checked: numbers, ``x >= 0``, ``x + delta_x >= 0``, ``delta_x != 0``,
    ``delta_y != 0``, ``sigma > 0``, ``weeks`` blank or a whole number from 1 to
    :data:`MAX_LIFT_TEST_WEEKS` and, given ``channels``, known channels.
    Errors name the file, row and column."""
    df = pd.read_csv(path)
    missing = [c for c in LIFT_TEST_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: lift tests need column(s) {missing}; columns are {list(df.columns)}"
        )
    # an unknown column would be dropped unread: a misspelt weeks would read timed tests as steady
    unknown = [c for c in df.columns if c not in (*LIFT_TEST_COLUMNS, LIFT_TEST_WEEKS)]
    if unknown:
        raise ValueError(
            f"{path}: unknown lift-test column(s) {unknown}; the columns are "
            f"{list(LIFT_TEST_COLUMNS)} and optionally {LIFT_TEST_WEEKS!r}"
        )
    has_weeks = LIFT_TEST_WEEKS in df.columns
    df = df[[*LIFT_TEST_COLUMNS, *([LIFT_TEST_WEEKS] if has_weeks else [])]].copy()
    df["channel"] = df["channel"].astype(str)
    row: int | None
    for c in LIFT_TEST_COLUMNS[1:]:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path}: row {row + 2}, column {c}: {df[c].iloc[row]!r} is not a number"
            )
        df[c] = values.astype(float)
    if has_weeks:
        row = _first_bad_weeks(df[LIFT_TEST_WEEKS])
        if row is not None:
            raise ValueError(
                f"{path}: row {row + 2}, column {LIFT_TEST_WEEKS} = "
                f"{df[LIFT_TEST_WEEKS].to_list()[row]!r}: {_WEEKS_RULE}"
            )
        df[LIFT_TEST_WEEKS] = pd.to_numeric(df[LIFT_TEST_WEEKS]).astype(float)
    checks = {
        "x": (df["x"] < 0, "x must be >= 0"),
        "delta_x": (
            (df["delta_x"] == 0) | (df["x"] + df["delta_x"] < 0),
            "delta_x must be non-zero with x + delta_x >= 0",
        ),
        "delta_y": (df["delta_y"] == 0, "delta_y must be non-zero (MAPE.LIFT divides by it)"),
        "sigma": (df["sigma"] <= 0, "sigma must be > 0"),
    }
    if channels is not None:
        checks["channel"] = (~df["channel"].isin(channels), f"not a channel of the data {channels}")
    for column, (bad, why) in checks.items():
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{path}: row {row + 2}, column {column} = {df[column].to_list()[row]!r}: {why}"
            )
    return df


def write_parquet(path: Path, df: pd.DataFrame) -> Path:
    return _write(path, lambda p: df.to_parquet(p, index=False))
