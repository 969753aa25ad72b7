"""Bring your own data: the Robyn-layout example round-trips; every bad input is one clear message
naming the file, the column and the line(s); nothing is written for a refused file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_recovery import byod
from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import SpecError, load_study


@pytest.fixture(scope="module")
def example(tmp_path_factory, smoke_study):
    path = tmp_path_factory.mktemp("byod") / "robyn.csv"
    byod.write_example(smoke_study, path)
    return path


def _study_for(smoke_study, path):
    ds = smoke_study.datasets["robyn_example"].model_copy(update={"path": str(path)})
    return smoke_study.model_copy(update={"datasets": {"robyn_example": ds}})


def test_example_has_robyn_layout_and_loads(example, smoke_study):
    df = pd.read_csv(example)
    assert list(df.columns) == [
        "DATE",
        "revenue",
        "tv_S",
        "search_S",
        "competitor_sales_B",
        "events",
        "newsletter",
    ]
    fi = byod.load(_study_for(smoke_study, example), "robyn_example")
    assert fi.channels == ["tv", "search"]
    assert fi.controls == ["competitor", "newsletter", "events_event"]
    assert set(np.unique(fi.data["events_event"])) <= {0.0, 1.0}
    assert fi.holdout_weeks == 8 and len(fi.curve_grid["tv"]) == 11


def _bad(tmp_path, example, smoke_study, mutate):
    df = pd.read_csv(example)
    df = mutate(df)
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(byod.DataError) as err:
        byod.load(_study_for(smoke_study, path), "robyn_example")
    return str(err.value), str(path)


def _set(col, row, value):
    def f(df):
        df[col] = df[col].astype(object) if isinstance(value, str) else df[col]
        df.loc[row, col] = value
        return df

    return f


CASES = [
    (
        "missing column",
        lambda df: df.drop(columns="search_S"),
        "column 'search_S' is named in the column map but absent",
    ),
    ("NaN in spend", _set("tv_S", 4, np.nan), "column 'tv_S' has a missing (NaN) value at line 6"),
    ("infinite spend", _set("tv_S", 9, np.inf), "column 'tv_S' is NaN or infinite at line 11"),
    (
        "NaN in target",
        _set("revenue", 10, np.nan),
        "column 'revenue' has a missing (NaN) value at line 12",
    ),
    (
        "astronomical spend",
        _set("tv_S", 12, 1e300),
        "column 'tv_S' is larger than 1e+12 in magnitude (a unit mistake? rescale the column, "
        "e.g. to thousands) at line 14",
    ),
    ("negative spend", _set("search_S", 3, -5.0), "column 'search_S' has negative spend at line 5"),
    (
        "non-numeric",
        _set("competitor_sales_B", 2, "abc"),
        "column 'competitor_sales_B' is not numeric at line 4",
    ),
    (
        "negative target",
        _set("revenue", 6, -10.0),
        "column 'revenue' is negative (revenue is a positive quantity",
    ),
    (
        "all-zero target",
        lambda df: df.assign(revenue=0.0),
        "column 'revenue' is zero in every week",
    ),
    (
        "channel spending in two weeks",
        lambda df: df.assign(tv_S=np.where(df.index.isin([3, 40]), 1000.0, 0.0)),
        "column 'tv_S' spends in fewer than min_active_weeks (8) weeks",
    ),
    (
        "an event level per week",
        lambda df: df.assign(events=[f"e{i}" for i in range(len(df))]),
        "event columns give 77 indicators ('events' 77) for 78 weeks",
    ),
    (
        "header only",
        lambda df: df.iloc[:0],
        "has a header but no data rows",
    ),
    (
        "dates with a time zone",
        lambda df: df.assign(DATE=pd.to_datetime(df["DATE"]).dt.tz_localize("Europe/Paris")),
        "column 'DATE': dates carry a time zone",
    ),
    ("all-zero channel", lambda df: df.assign(tv_S=0.0), "column 'tv_S' is all zero"),
    ("constant channel", lambda df: df.assign(search_S=500.0), "column 'search_S' is constant"),
    (
        "duplicated date",
        lambda df: df.assign(DATE=df["DATE"].where(df.index != 5, df["DATE"][4])),
        "column 'DATE': duplicated date at line 7",
    ),
    (
        "unsorted dates",
        lambda df: df.iloc[[0, 1, 3, 2, *range(4, len(df))]].reset_index(drop=True),
        "column 'DATE': dates not sorted ascending at line 5",
    ),
    (
        "gap",
        lambda df: df.drop(index=20).reset_index(drop=True),
        "column 'DATE': gap (more than 7 days since the previous row) at line 22",
    ),
    (
        "daily, not weekly",
        lambda df: df.assign(
            DATE=pd.date_range("2020-01-01", periods=len(df), freq="D").strftime("%Y-%m-%d")
        ),
        "column 'DATE': not weekly",
    ),
    (
        "bad date",
        _set("DATE", 7, "not-a-date"),
        "column 'DATE': missing or unparseable date at line 9",
    ),
    (
        "too few weeks",
        lambda df: df.iloc[:10],
        "10 weeks is too few: the estimators need at least 22",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_message(tmp_path, example, smoke_study, label, mutate, message):
    msg, path = _bad(tmp_path, example, smoke_study, mutate)
    assert message in msg
    assert msg.startswith(path), "every line names the file"


def test_swapped_rows_are_one_ordering_problem_not_false_gaps(tmp_path, example, smoke_study):
    def swap(df):
        return df.iloc[[0, 1, 3, 2, *range(4, len(df))]].reset_index(drop=True)

    msg, _ = _bad(tmp_path, example, smoke_study, swap)
    assert "not sorted ascending at line 5" in msg
    assert "gap" not in msg and "not weekly" not in msg


def test_an_empty_file_is_named_not_a_pandas_error(tmp_path, smoke_study):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(byod.DataError, match=r"empty\.csv: the file is empty"):
        byod.load(_study_for(smoke_study, path), "robyn_example")


def _write_bytes(tmp_path, data: bytes):
    path = tmp_path / "raw.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("label", "make", "message"),
    [
        (
            "a spreadsheet saved as .csv",
            lambda text: b"PK\x03\x04" + b"\x00" * 64,
            "is a spreadsheet workbook, not CSV text; save it as 'CSV UTF-8'",
        ),
        (
            "Latin-1 text",
            lambda text: text.replace("newsletter", "newslettér").encode("latin-1"),
            "line 1 is not UTF-8 text (byte 0xe9); save the file as 'CSV UTF-8'",
        ),
        (
            "a column named twice",
            lambda text: text.replace("newsletter", "tv_S", 1).encode(),
            "line 1: column 'tv_S' is named twice (columns 3 and 7)",
        ),
        (
            "semicolons for commas",
            lambda text: text.replace(",", ";").encode(),
            "line 1: columns are separated by ';', not commas",
        ),
        (
            "day-first dates",
            lambda text: _day_first_dates(text).encode(),
            "dates are day-first",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_unreadable_files_get_one_clear_message(
    tmp_path, example, smoke_study, label, make, message
):
    path = _write_bytes(tmp_path, make(example.read_text()))
    with pytest.raises(byod.DataError) as err:
        byod.load(_study_for(smoke_study, path), "robyn_example")
    assert message in str(err.value) and str(err.value).startswith(str(path)), label


def _day_first_dates(text: str) -> str:
    df = pd.read_csv(__import__("io").StringIO(text))
    df["DATE"] = pd.to_datetime(df["DATE"]).dt.strftime("%d/%m/%Y")
    return df.to_csv(index=False)


def test_a_bom_and_windows_line_endings_are_read(tmp_path, example, smoke_study):
    text = example.read_text().replace("\n", "\r\n")
    path = _write_bytes(tmp_path, b"\xef\xbb\xbf" + text.encode())
    fi = byod.load(_study_for(smoke_study, path), "robyn_example")
    assert fi.channels == ["tv", "search"] and len(fi.data) == len(pd.read_csv(example))


def test_a_dataset_name_cannot_reach_outside_data_byod(tmp_path):
    for name in ("../evil", "a/b", "my brand", ".hidden", ""):
        with pytest.raises(SpecError, match="a dataset name must be"):
            byod.byod_dir(name, tmp_path)
    assert byod.byod_dir("my_shop-2", tmp_path) == tmp_path / "byod" / "my_shop-2"


def test_all_problems_are_reported_together(tmp_path, example, smoke_study):
    msg, _ = _bad(
        tmp_path,
        example,
        smoke_study,
        lambda df: _set("tv_S", 4, np.nan)(df.assign(search_S=-df["search_S"])),
    )
    assert (
        "column 'tv_S' has a missing (NaN) value" in msg
        and "column 'search_S' has negative spend" in msg
    )


def test_undeclared_dataset_and_missing_file(smoke_study, tmp_path):
    with pytest.raises(byod.DataError, match=r"datasets.nope: not declared"):
        byod.load(smoke_study, "nope")
    with pytest.raises(byod.DataError, match=r"file not found \(datasets.robyn_example.path\)"):
        byod.load(_study_for(smoke_study, tmp_path / "absent.csv"), "robyn_example")


def test_refused_file_writes_nothing(tmp_path, example, smoke_study):
    df = pd.read_csv(example).assign(tv_S=0.0)
    path = tmp_path / "zero.csv"
    df.to_csv(path, index=False)
    with pytest.raises(byod.DataError):
        byod.fit_all(_study_for(smoke_study, path), "robyn_example", data_root=tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_fit_all_frequentist_on_example(tmp_path, example, smoke_study):
    study = _study_for(smoke_study, example)
    study = study.model_copy(
        update={"estimators": {"frequentist": study.estimators["frequentist"]}}
    )
    out = byod.fit_all(study, "robyn_example", data_root=tmp_path / "data")
    assert (tmp_path / "data" / "byod" / "robyn_example" / "frequentist" / "results.json").is_file()
    advice = out["advice"]["frequentist"]
    assert sum(advice["recommended"].values()) == pytest.approx(sum(advice["current"].values()))
    assert "no ground truth" in advice["note"]
    assert sorted(p.name for p in (tmp_path / "data" / "byod").iterdir()) == ["robyn_example"]


def test_results_folder_is_replaced_whole_or_not_at_all(tmp_path):
    """fit_all writes into files.atomic_dir: a run that fails part-way leaves the previous
    results as they were (DVC keeps them: the output persists), and no temporary folder."""
    out = tmp_path / "byod" / "brand"
    with files.atomic_dir(out) as tmp:
        (tmp / "frequentist").mkdir()
        (tmp / "frequentist" / "results.json").write_text("first")
    with pytest.raises(RuntimeError), files.atomic_dir(out) as tmp:
        (tmp / "frequentist").mkdir()
        (tmp / "frequentist" / "results.json").write_text("half")
        raise RuntimeError("the second estimator failed")
    assert (out / "frequentist" / "results.json").read_text() == "first"
    with files.atomic_dir(out) as tmp:
        (tmp / "bayesian").mkdir()
    assert [p.name for p in out.iterdir()] == ["bayesian"]  # replaced whole, nothing stale
    assert [p.name for p in out.parent.iterdir()] == ["brand"]


def test_smoke_and_default_study_declare_the_example(smoke_study):
    default = load_study("studies/recovery.yaml")
    for s in (smoke_study, default):
        assert s.datasets["robyn_example"].path == "data/byod/robyn_example.csv"


def test_declared_lift_tests_reach_the_estimators(tmp_path, example, smoke_study):
    """A dataset's lift tests (YAML, checked: channel of the column map, sigma > 0, a real spend
    change) are the FitInput's, so both estimators calibrate with them."""
    import yaml

    from mmm_recovery.estimators.frequentist.estimator import FrequentistMMM

    test = {
        "channel": "search",
        "x": 10000.0,
        "delta_x": -10000.0,
        "delta_y": -9000.0,
        "sigma": 1500.0,
    }
    study = _study_for(smoke_study, example)
    raw = yaml.safe_load(smoke_study.source.read_text())
    raw["datasets"]["robyn_example"].update(path=str(example), lift_tests=[test])
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(raw))
    fi = byod.load(load_study(f), "robyn_example")
    assert fi.lift_tests.to_dict("records") == [test]
    assert FrequentistMMM(smoke_study.estimators["frequentist"]).objective(fi).lift is not None
    assert not len(byod.load(study, "robyn_example").lift_tests)
    # a test of a given length keeps it (weeks column, blank for a steady-state test beside it)
    timed = {**test, "channel": "tv", "weeks": 4}
    raw["datasets"]["robyn_example"]["lift_tests"] = [test, timed]
    f.write_text(yaml.safe_dump(raw))
    tests = byod.load(load_study(f), "robyn_example").lift_tests
    assert list(tests.columns) == [*files.LIFT_TEST_COLUMNS, files.LIFT_TEST_WEEKS]
    np.testing.assert_array_equal(files.lift_test_weeks(tests), [np.nan, 4.0])
    for bad, message in [
        ({"weeks": 0}, "lift_tests.0.weeks"),
        ({"channel": "radio"}, "lift_tests[0].channel='radio' is not a channel of the column map"),
        ({"sigma": 0.0}, "lift_tests.0.sigma"),
        ({"delta_x": -12000.0}, "delta_x=-12000.0 must be non-zero with x + delta_x >= 0"),
        ({"delta_y": 0.0}, "delta_y=0 (no measured lift)"),
    ]:
        raw["datasets"]["robyn_example"]["lift_tests"] = [{**test, **bad}]
        f.write_text(yaml.safe_dump(raw))
        with pytest.raises(SpecError) as err:
            load_study(f)
        assert str(f) in str(err.value) and message in str(err.value)


# --- the dataset index (studies/datasets.yaml) and `byod check` -------------------------------


def _two_dataset_study(tmp_path, example):
    """A study file outside studies/recovery.yaml declaring a good and a bad dataset."""
    import yaml

    bad = tmp_path / "bad.csv"
    pd.read_csv(example).assign(tv_S=-1.0).to_csv(bad, index=False)
    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    good_decl = raw["datasets"]["robyn_example"]
    raw["datasets"] = {
        "bad_one": {**good_decl, "path": str(bad)},
        "good_one": {**good_decl, "path": str(example)},
    }
    study = tmp_path / "mine.yaml"
    study.write_text(yaml.safe_dump(raw, sort_keys=False))
    return study


def test_check_reports_every_dataset_one_line_per_problem(tmp_path, example, capsys):
    study = _two_dataset_study(tmp_path, example)
    assert byod.main(["check", "--study", str(study)]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines()
    heads = [line.split(":")[0] for line in lines]
    assert heads[-1] == "OK   good_one" and set(heads[:-1]) == {"FAIL bad_one"}, heads
    assert any("column 'tv_S' has negative spend" in line for line in lines[:-1])
    assert all("bad.csv" in line for line in lines[:-1]), "every problem names the file"
    assert "Traceback" not in out.out + out.err
    assert byod.main(["check", "--study", str(study), "--dataset", "good_one"]) == 0


def test_add_refuses_a_dataset_that_fails_check(tmp_path, example, capsys):
    """`byod add` listed a dataset whose fit stage could only fail; now it says why, and the
    index is left as it was."""
    from mmm_recovery.byod import index as byod_index

    study = _two_dataset_study(tmp_path, example)
    before = byod_index.INDEX.read_bytes()
    assert byod.main(["add", "--study", str(study), "--dataset", "bad_one"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "column 'tv_S' has negative spend" in err
    assert "Traceback" not in err
    assert byod_index.INDEX.read_bytes() == before


def test_check_of_a_bad_study_file_is_one_error_line(tmp_path, capsys):
    study = tmp_path / "broken.yaml"
    study.write_text("study: {replicates: true}\n")
    assert byod.main(["check", "--study", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.yaml" in err and "Traceback" not in err


def test_index_entries_come_from_the_declaration(tmp_path, example, monkeypatch):
    from mmm_recovery.byod import index as byod_index

    index = tmp_path / "datasets.yaml"
    study = _two_dataset_study(tmp_path, example)
    # the study file and CSVs here lie outside the project: DVC could not track them
    with pytest.raises(byod_index.DatasetIndexError, match="outside the project"):
        byod_index.add(study, "good_one", index=index)
    assert not index.exists()
    spec = load_study(study)
    monkeypatch.setattr(byod_index, "_label", lambda path: "studies/mine.yaml")
    with pytest.raises(byod_index.DatasetIndexError, match="outside the project"):
        byod_index.entry_for(spec, "good_one")  # the CSV is still absolute
    rel = {"good_one": spec.datasets["good_one"].model_copy(update={"path": "data/x.csv"})}
    spec = spec.model_copy(update={"datasets": rel})
    entry = byod_index.entry_for(spec, "good_one")
    assert entry == {"study": "studies/mine.yaml", "csv": "data/x.csv"}
    index.write_text("datasets:\n  good_one: {study: studies/mine.yaml, csv: data/y.csv}\n")
    with pytest.raises(byod_index.DatasetIndexError, match=r"byod add --study studies/mine"):
        byod_index.check_entry(spec, "good_one", index=index)
    index.write_text("datasets:\n  good_one: {study: studies/mine.yaml}\n")
    with pytest.raises(byod_index.DatasetIndexError, match=r"good_one: expected the keys"):
        byod_index.read_index(index)


def test_the_index_lists_the_default_example():
    from mmm_recovery.byod import index as byod_index

    default = load_study("studies/recovery.yaml")
    assert byod_index.read_index()["robyn_example"] == byod_index.entry_for(
        default, "robyn_example"
    )


def test_remove_drops_one_entry_and_refuses_an_unknown_name(tmp_path):
    from mmm_recovery.byod import index as byod_index

    index = tmp_path / "datasets.yaml"
    index.write_text(
        "datasets:\n  a: {study: studies/a.yaml, csv: data/a.csv}\n"
        "  b: {study: studies/b.yaml, csv: data/b.csv}\n"
    )
    byod_index.remove("a", index=index)
    assert byod_index.read_index(index) == {"b": {"study": "studies/b.yaml", "csv": "data/b.csv"}}
    with pytest.raises(byod_index.DatasetIndexError, match=r"datasets\.a: not in the index"):
        byod_index.remove("a", index=index)
    assert list(tmp_path.iterdir()) == [index], "a temporary file was left behind"
