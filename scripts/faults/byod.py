"""Bad bring-your-own CSVs and dataset declarations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from faults.common import Case, cli
from faults.study import SMOKE, study_text


def byod_cases() -> list[Case]:
    def csv_case(
        name: str,
        mutate: Callable[[pd.DataFrame], pd.DataFrame | bytes],
        *names: str,
        expect: str = "refuse",
    ) -> Case:
        def run(tmp: Path) -> tuple[int, str]:
            example = tmp / "example.csv"
            if not example.is_file():
                rc, out = cli(
                    "byod", "example", "--study", "studies/smoke.yaml", "--out", str(example)
                )
                assert rc == 0, out
            f = tmp / "mine.csv"
            got = mutate(pd.read_csv(example))
            if isinstance(got, bytes):
                f.write_bytes(got)
            else:
                got.to_csv(f, index=False)
            study = SMOKE.replace("path: data/byod/robyn_example.csv", f"path: {f}")
            return cli("byod", "check", "--study", str(study_text(tmp, study)))

        return Case("bring your own data", name, expect, names, run)

    def cell(col: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
        def f(df: pd.DataFrame) -> pd.DataFrame:
            df[col] = df[col].astype(object)
            df.loc[row, col] = value
            return df

        return f

    def text(df: pd.DataFrame) -> str:
        return df.to_csv(index=False)

    def weekly_to_daily(df: pd.DataFrame) -> pd.DataFrame:
        df["DATE"] = pd.date_range("2020-01-01", periods=len(df), freq="D").strftime("%Y-%m-%d")
        return df

    return [
        csv_case("the example as written", lambda d: d, expect="accept"),
        csv_case("a 0-byte file", lambda d: b"", "empty"),
        csv_case("a header and no rows", lambda d: d.iloc[:0], "no data rows"),
        csv_case(
            "a word in a spend column", cell("tv_S", 5, "twelve"), "tv_S", "not numeric", "line 7"
        ),
        csv_case("an empty cell", cell("tv_S", 5, None), "tv_S", "line 7"),
        csv_case("'inf' in a spend column", cell("tv_S", 5, "inf"), "tv_S"),
        csv_case(
            "dates with a time zone",
            lambda d: d.assign(DATE=d["DATE"] + "T00:00:00+01:00"),
            "time zone",
        ),
        csv_case(
            "day-first dates",
            lambda d: d.assign(DATE=pd.to_datetime(d["DATE"]).dt.strftime("%d/%m/%Y")),
            "day-first",
        ),
        csv_case("an unparseable date", cell("DATE", 3, "soon"), "DATE", "line 5"),
        csv_case(
            "a duplicated date",
            lambda d: d.assign(DATE=d["DATE"].where(d.index != 4, d["DATE"][3])),
            "duplicated",
        ),
        csv_case("rows not sorted by date", lambda d: d.iloc[[1, 0, *range(2, len(d))]], "sorted"),
        csv_case("a missing week", lambda d: d.drop(index=10), "gap"),
        csv_case("daily rows", weekly_to_daily, "weekly"),
        csv_case("the target column missing", lambda d: d.drop(columns="revenue"), "revenue"),
        csv_case("negative spend", cell("tv_S", 2, -100.0), "tv_S", "negative"),
        csv_case("an all-zero target", lambda d: d.assign(revenue=0.0), "revenue", "zero"),
        csv_case(
            "an all-negative target",
            lambda d: d.assign(revenue=-d["revenue"]),
            "revenue",
            "negative",
        ),
        csv_case(
            "a channel that spends in 2 weeks",
            lambda d: d.assign(tv_S=[1000.0 if i < 2 else 0.0 for i in range(len(d))]),
            "tv_S",
            "min_active_weeks",
        ),
        csv_case(
            "a channel that spends the same every week",
            lambda d: d.assign(tv_S=500.0),
            "tv_S",
            "constant",
        ),
        csv_case("a channel that never spends", lambda d: d.assign(tv_S=0.0), "tv_S", "zero"),
        csv_case(
            "an event in every week",
            lambda d: d.assign(events=[f"e{i}" for i in range(len(d))]),
            "max_event_share",
        ),
        csv_case("spend of 1e13 (a unit mistake)", cell("tv_S", 3, 1e13), "tv_S", "larger"),
        csv_case("too few weeks", lambda d: d.iloc[:20], "too few"),
        csv_case(
            "text that is not UTF-8",
            lambda d: text(d).replace("DATE", "DAT\xc9", 1).encode("latin-1"),
            "UTF-8",
        ),
        csv_case("semicolon-separated", lambda d: text(d).replace(",", ";").encode(), "';'"),
        csv_case(
            "a UTF-8 byte-order mark", lambda d: b"\xef\xbb\xbf" + text(d).encode(), expect="accept"
        ),
        csv_case(
            "a column named twice",
            lambda d: text(d).replace("newsletter", "tv_S", 1).encode(),
            "named twice",
        ),
        csv_case("an xlsx saved as .csv", lambda d: b"PK\x03\x04" + b"\0" * 64, "spreadsheet"),
        Case(
            "bring your own data",
            "a dataset the study does not declare",
            "refuse",
            ("not declared",),
            lambda t: cli("byod", "check", "--study", "studies/smoke.yaml", "--dataset", "nope"),
        ),
        Case(
            "bring your own data",
            "a dataset name that leaves data/byod",
            "refuse",
            ("letters, digits",),
            lambda t: cli(
                "byod",
                "check",
                "--study",
                str(study_text(t, SMOKE.replace("  robyn_example:", "  ../x:"))),
            ),
        ),
    ]
