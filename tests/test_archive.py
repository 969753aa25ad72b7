"""The committed record archive: a fresh data folder is restored byte for byte from it, the study
refits only what a change made stale, and a fit is stored once however many studies share it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmm_recovery.core.spec import load_study
from mmm_recovery.evaluation import archive, audit
from mmm_recovery.evaluation.study import run_study, write_record_tables
from mmm_recovery.evaluation.tasks import fingerprint, read_record, tasks


def _study(folder: Path, name: str = "arch", replicates: int = 3, **frequentist) -> Path:
    """A frequentist-only smoke study (fast fits)."""
    from mmm_recovery.core import paths

    raw = yaml.safe_load((paths.STUDIES / "smoke.yaml").read_text())
    raw["study"] |= {"name": name, "replicates": replicates, "workers": 1}
    raw.pop("sbc", None)
    raw["estimators"] = {
        "frequentist": {
            **raw["estimators"]["frequentist"],
            "bootstrap": {"replicates": 3, "budget": 40},
            **frequentist,
        }
    }
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / f"{name}.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The smoke study fitted once, and its records exported to an archive."""
    tmp = tmp_path_factory.mktemp("archive")
    study = load_study(_study(tmp))
    data = tmp / "data"
    run_study(study, data_root=data, progress=False, archive=None)
    parts = archive.export(study, data, tmp / "records")
    return tmp, study, data, parts


def _bytes(study, root: Path) -> dict:
    return {t: t.path(root).read_bytes() for t in tasks(study)}


def test_an_export_writes_one_part_per_estimator_and_never_again(fitted):
    tmp, study, data, parts = fitted
    assert [p.relative_to(tmp / "records").parts[:2] for p in parts] == [("arch", "frequentist")]
    df = pd.read_parquet(parts[0])
    assert list(df.columns) == list(archive.COLUMNS)
    assert sorted(df["fingerprint"]) == sorted({fingerprint(study, t) for t in tasks(study)})
    assert (df["status"] == "ok").all()
    assert archive.export(study, data, tmp / "records") == []  # nothing new: nothing written
    # compact: the part is at most half the size of the records it holds
    raw = sum(len(t) for t in df["record"])
    assert parts[0].stat().st_size * 2 < raw


def test_a_fresh_data_folder_is_restored_byte_for_byte_and_nothing_is_refitted(fitted):
    tmp, study, data, _ = fitted
    fresh = tmp / "fresh"
    ran = run_study(study, data_root=fresh, progress=False, archive=tmp / "records")
    assert ran == [], "every record came from the archive"
    assert _bytes(study, fresh) == _bytes(study, data)
    # and the tables written from the restored records are those of the fitted ones
    write_record_tables(study, tmp / "m1", data)
    write_record_tables(study, tmp / "m2", fresh)
    for name in ("comparisons.csv", "fits.csv"):
        assert (tmp / "m1" / name).read_bytes() == (tmp / "m2" / name).read_bytes()


def test_a_changed_setting_refits_only_what_it_changes(fitted, tmp_path):
    tmp, study, data, _ = fitted
    changed = load_study(_study(tmp_path, trials=3))  # another search: every fit is stale
    assert archive.restore(changed, tmp_path / "data", tmp / "records") == []
    # a study that adds a replicate gets the first from the archive and fits only the second
    raw = yaml.safe_load(Path(study.source).read_text())
    raw["study"]["replicates"] += 1
    grown = tmp_path / "grown.yaml"
    grown.write_text(yaml.safe_dump(raw, sort_keys=False))
    g = load_study(grown)
    ran = run_study(g, data_root=tmp_path / "grown", progress=False, archive=tmp / "records")
    assert sorted({r["replicate"] for r in ran}) == [raw["study"]["replicates"] - 1]
    for t in tasks(study):
        assert t.path(tmp_path / "grown").read_bytes() == t.path(data).read_bytes()


def test_another_study_with_the_same_fit_is_restored_under_its_own_scenario(fitted, tmp_path):
    tmp, study, data, _ = fitted
    raw = yaml.safe_load(Path(study.source).read_text())
    raw["scenarios"] = {"renamed": raw["scenarios"]["base"]}
    raw["study"]["name"] = "other"
    f = tmp_path / "other.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    other = load_study(f)
    held = archive.index(tmp / "records")
    assert all(fingerprint(other, t) in held for t in tasks(other))
    assert archive.restore(other, tmp_path / "d", tmp / "records") == tasks(other)
    for t in tasks(other):
        record = read_record(other, t, tmp_path / "d")
        assert record is not None and record["scenario"] == "renamed"


def test_a_stale_or_edited_archive_row_is_not_restored(fitted, tmp_path):
    tmp, study, data, parts = fitted
    copy = tmp_path / "records"
    shutil.copytree(tmp / "records", copy)
    [part] = archive.parts(copy)
    df = pd.read_parquet(part)
    df.loc[0, "record"] = df.loc[0, "record"].replace("0.", "1.", 1)  # a value changed by hand
    df.to_parquet(part, index=False)
    restored = archive.restore(study, tmp_path / "d", copy)
    assert len(restored) == len(tasks(study)) - 1, "the edited record is refitted, not trusted"


def test_an_unreadable_part_is_named(tmp_path):
    bad = tmp_path / "records" / "s" / "frequentist" / "part-0.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_text("not parquet")
    with pytest.raises(ValueError, match="part-0.parquet: not a readable record table"):
        archive.index(tmp_path / "records")


def _tampered(archive_dir: Path, to: Path, factor: float) -> Path:
    """A copy of the archive whose records claim every true ROAS ``factor`` times its value,
    with the checksums made to match (a consistent forgery, not a torn file)."""
    from mmm_recovery.evaluation.tasks import checksum

    shutil.copytree(archive_dir, to)
    for part in archive.parts(to):
        df = pd.read_parquet(part)
        out = []
        for text in df["record"]:
            r = json.loads(text)
            for c in r["truth"]["channels"].values():
                c["roas"] *= factor
            r = {k: v for k, v in r.items() if k != "checksum"}
            r["checksum"] = checksum(r)
            out.append(archive._text(r))
        df["record"] = out
        df.to_parquet(part, index=False)
    return to


def test_an_audit_of_faithful_records_passes_and_of_forged_ones_fails(fitted, tmp_path, capsys):
    tmp, study, data, _ = fitted
    n = len(tasks(study))
    assert audit.audit(study, seed=3, n=n, archive=tmp / "records", progress=False) == 0
    out = capsys.readouterr().out
    assert f"{n} of {n} refitted records byte-identical" in out
    assert "do not agree" not in out
    forged = _tampered(tmp / "records", tmp_path / "forged", 3.0)
    assert audit.audit(study, seed=3, n=n, archive=forged, progress=False) == 1
    out = capsys.readouterr().out
    assert "differs at truth.channels." in out and "do not agree" in out


def test_an_audit_sample_is_drawn_from_its_seed(fitted):
    tmp, study, _, _ = fitted
    a = audit.sample(study, 1, seed=1, archive=tmp / "records")
    assert a == audit.sample(study, 1, seed=1, archive=tmp / "records")
    assert {t for s in range(60) for t in audit.sample(study, 1, s, tmp / "records")} == set(
        tasks(study)
    ), "every record can be drawn"


def test_records_scored_in_worker_processes_give_the_same_tables(fitted, monkeypatch):
    from mmm_recovery.evaluation import study as study_mod

    tmp, study, data, _ = fitted
    write_record_tables(study, tmp / "serial", data, workers=1)
    monkeypatch.setattr(study_mod, "SCORE_ALONE", 0)
    write_record_tables(study, tmp / "pooled", data, workers=2)
    for name in ("comparisons.csv", "fits.csv", "truths.csv"):
        assert (tmp / "serial" / name).read_bytes() == (tmp / "pooled" / name).read_bytes()
