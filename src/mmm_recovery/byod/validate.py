"""Reading and checking a bring-your-own weekly CSV against its declaration (column map): every
problem is reported at once, each naming the file, the column and the lines."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core.spec import CsvDatasetSpec

#: pandera's built-in check names -> the words of our messages
_CHECK_TEXT = {"not_nullable": "has a missing (NaN) value"}


#: the largest weekly value (in magnitude) accepted in a numeric column. Every value is written to
#: the cent (core.files), float64 holds cents exactly only below about 9e13, and the models sum
#: and square these values (1e300 overflowed to inf in the fit); real weekly revenue and spend
#: are far below it, so a larger value is a unit mistake: rescale the column (e.g. to thousands).
MAX_ABS_VALUE = 1e12


class DataError(ValueError):
    """A bring-your-own CSV that cannot be fitted; the message lists every problem found."""


def _lines(index: pd.Index | np.ndarray | list[int], limit: int = 10) -> str:
    rows = sorted({int(i) + 2 for i in index})  # +1 for the header, +1 for 1-based lines
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"line{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows[:limit]))}{more}"


def schema(spec: CsvDatasetSpec, present: set[str]):
    """The pandera schema of a dataset's ``present`` columns (dates are checked separately)."""
    import pandera.pandas as pa

    def numeric(s: pd.Series) -> bool:
        return pd.api.types.is_numeric_dtype(s)

    def each(test: Any, error: str) -> Any:
        """A check of every value of a numeric column (a non-numeric one fails ``is_numeric``)."""
        return pa.Check(
            lambda s: test(s.astype(float)) if numeric(s) else pd.Series(True, index=s.index),
            element_wise=False,
            error=error,
        )

    finite = each(np.isfinite, "is NaN or infinite")
    bounded = each(
        lambda v: ~np.isfinite(v) | (v.abs() <= MAX_ABS_VALUE),
        f"is larger than {MAX_ABS_VALUE:.0e} in magnitude (a unit mistake? rescale the column, "
        "e.g. to thousands)",
    )
    is_numeric = pa.Check(numeric, element_wise=False, error="is not numeric")
    columns: dict[str, Any] = {
        spec.target: pa.Column(
            nullable=False,
            checks=[
                is_numeric,
                finite,
                bounded,
                each(
                    lambda v: v >= 0,
                    "is negative (revenue is a positive quantity; the models' attribution "
                    "and budget advice assume it)",
                ),
                pa.Check(
                    lambda s: not numeric(s) or bool((s.astype(float) > 0).any()),
                    element_wise=False,
                    error="is zero in every week: there is nothing to attribute",
                ),
            ],
        )
    }
    for col in spec.channels.values():
        columns[col] = pa.Column(
            nullable=False,
            checks=[
                is_numeric,
                finite,
                bounded,
                each(lambda v: v >= 0, "has negative spend"),
                pa.Check(
                    lambda s: not numeric(s) or not bool((s.fillna(0) == 0).all()),
                    element_wise=False,
                    error="is all zero: its effect cannot be estimated",
                ),
                pa.Check(
                    lambda s: (
                        not numeric(s)
                        or s.nunique(dropna=True) > 1
                        or bool((s.fillna(0) == 0).all())
                    ),
                    element_wise=False,
                    error="is constant: its effect is not identified",
                ),
                pa.Check(
                    lambda s: (
                        not numeric(s)
                        or bool((s.fillna(0) == 0).all())
                        or int((s.fillna(0) > 0).sum()) >= spec.min_active_weeks
                    ),
                    element_wise=False,
                    error=f"spends in fewer than min_active_weeks ({spec.min_active_weeks}) "
                    "weeks: its curve and ROAS are not identified",
                ),
            ],
        )
    for col in spec.controls.values():
        columns[col] = pa.Column(checks=[is_numeric, finite, bounded], nullable=False)
    for col in spec.events.values():
        columns[col] = pa.Column(nullable=False)
    return pa.DataFrameSchema({c: v for c, v in columns.items() if c in present}, strict=False)


def _day_first(dates: pd.Series) -> str | None:
    """The first date written day-first (``31/01/2024``: a first number above 12 in dates of the
    form ``a/b/yyyy``), as ``'value' at line N``, or None."""
    parts = dates.astype(str).str.extract(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})\s*$")
    first = pd.to_numeric(parts[0], errors="coerce")
    hit = first.index[first > 12]
    return f"{dates.loc[hit[0]]!r} at {_lines(hit[:1])}" if len(hit) else None


def validate(df: pd.DataFrame, spec: CsvDatasetSpec, label: str, min_weeks: int) -> pd.DataFrame:
    """Check ``df`` (as read from the CSV) against the dataset's column map; return it with a
    parsed date column. Raises :class:`DataError` listing every problem."""
    import pandera.pandas as pa

    problems: list[str] = []
    mapped = [
        spec.date,
        spec.target,
        *spec.channels.values(),
        *spec.controls.values(),
        *spec.events.values(),
    ]
    missing = [c for c in mapped if c not in df.columns]
    for c in missing:
        problems.append(
            f"{label}: column {c!r} is named in the column map but absent (columns: {list(df.columns)})"
        )
    if not len(df):
        raise DataError(f"{label}: has a header but no data rows")
    day_first = _day_first(df[spec.date]) if spec.date not in missing else None
    if day_first is not None:
        problems.append(
            f"{label}: column {spec.date!r}: dates are day-first ({day_first}), which would be "
            "read month-first where the day is 12 or less; write them as YYYY-MM-DD, e.g. 2024-01-07"
        )
    elif spec.date not in missing:
        try:
            dates = pd.to_datetime(df[spec.date], errors="coerce")
            zoned = getattr(dates.dtype, "tz", None) is not None
        except ValueError:  # mixed UTC offsets (e.g. across daylight saving) do not parse
            dates, zoned = pd.Series(pd.NaT, index=df.index), True
        bad = df.index[dates.isna()]
        if zoned:
            problems.append(
                f"{label}: column {spec.date!r}: dates carry a time zone (line 2: "
                f"{df[spec.date].iloc[0]!r}); give calendar dates without one, e.g. 2024-01-07"
            )
        elif len(bad):
            problems.append(
                f"{label}: column {spec.date!r}: missing or unparseable date at {_lines(bad)}"
            )
        else:
            dup = df.index[dates.duplicated(keep="first")]
            if len(dup):
                problems.append(f"{label}: column {spec.date!r}: duplicated date at {_lines(dup)}")
            step = dates.diff().dt.days.iloc[1:]
            back = step.index[step <= 0].difference(dup)
            if len(back):
                problems.append(
                    f"{label}: column {spec.date!r}: dates not sorted ascending at {_lines(back)} "
                    "(sort the rows by date)"
                )
            # gaps and short steps on the calendar, not the file order: two swapped rows are
            # one ordering problem, not two false gaps
            step = dates.drop(dup).sort_values().diff().dt.days.iloc[1:]
            gaps = step.index[step > 7]
            if len(gaps):
                problems.append(
                    f"{label}: column {spec.date!r}: gap (more than 7 days since the previous row) at {_lines(gaps)}"
                )
            odd = step.index[(step > 0) & (step < 7)]
            if len(odd):
                problems.append(
                    f"{label}: column {spec.date!r}: not weekly (less than 7 days since the previous row) at {_lines(odd)}"
                )
            df = df.assign(**{spec.date: dates})

    try:
        schema(spec, set(df.columns)).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        for (col, check), g in fc.groupby(["column", "check"], sort=False, dropna=False):
            if col == spec.date:
                continue
            idx = g["index"].dropna()
            if check == "is not numeric" and col in df.columns:  # the rows that are not numbers
                values = df[col]
                idx = values.index[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
            where = f" at {_lines(idx.astype(int))}" if len(idx) else ""
            problems.append(f"{label}: column {col!r} {_CHECK_TEXT.get(check, check)}{where}")
    indicators = {
        col: df[col].astype(str).nunique() - 1 for col in spec.events.values() if col in df.columns
    }
    if sum(indicators.values()) > spec.max_event_share * len(df):
        listed = ", ".join(f"{c!r} {n}" for c, n in indicators.items())
        problems.append(
            f"{label}: event columns give {sum(indicators.values())} indicators ({listed}) for "
            f"{len(df)} weeks, more than max_event_share ({spec.max_event_share:g}) of them: "
            "the fit could explain every week by its own event"
        )
    if len(df) < min_weeks:
        problems.append(
            f"{label}: {len(df)} weeks is too few: the estimators need at least {min_weeks} "
            f"(l_max + holdout_weeks + a CV test window)"
        )
    if problems:
        raise DataError("\n".join(problems))
    return df


#: the first bytes of spreadsheet files saved under a .csv name: xlsx (a zip), legacy xls (OLE)
_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def read_csv(file: Path, label: str) -> pd.DataFrame:
    """A CSV as pandas reads it, with a clear :class:`DataError` (naming the line where there is
    one) for a spreadsheet saved as .csv, text that is not UTF-8, an empty file, a malformed row
    or a column name given twice."""
    import csv

    data = file.read_bytes()
    if data.startswith(_SPREADSHEET_MAGIC):
        raise DataError(
            f"{label}: is a spreadsheet workbook, not CSV text; save it as 'CSV UTF-8' and retry"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{label}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
            "file as 'CSV UTF-8'"
        ) from None
    header = next(csv.reader([text.splitlines()[0]])) if text.strip() else []
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in seen and name:
            raise DataError(
                f"{label}: line 1: column {name!r} is named twice (columns {seen[name]} and {i}); "
                "give every column its own name"
            )
        seen[name] = i
    try:
        df = pd.read_csv(io.StringIO(text))  # the text checked above, read once
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: the file is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{label}: not a readable CSV: {exc}") from exc
    for sep in (";", "\t"):
        if len(df.columns) == 1 and sep in str(df.columns[0]):
            raise DataError(
                f"{label}: line 1: columns are separated by {sep!r}, not commas; save the file "
                "as comma-separated CSV"
            )
    return df
