"""make verify: reproduced metrics against the committed ones, within their Monte Carlo error."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from mmm_recovery.core import paths
from mmm_recovery.evaluation import verify


@pytest.fixture
def committed(tmp_path):
    """The metrics files as committed at HEAD, in a folder (read through git, as verify does)."""
    folder = tmp_path / "committed"
    folder.mkdir()
    for name, df in verify.read_reference("HEAD").items():
        df.to_csv(folder / name, index=False)
    return folder


def test_the_committed_metrics_agree_with_themselves(committed, capsys):
    assert verify.main(["--metrics-dir", str(committed), "--reference", "HEAD"]) == 0
    out = capsys.readouterr().out.splitlines()
    n = len(verify.compare(verify.read_dir(committed), verify.read_dir(committed)))
    assert out[-1].startswith(f"{n} of {n} cells agree")


def _shift(folder, scenario, estimator, quantity, by_se):
    """Move one cell's errors so its mean moves by ``by_se`` of its Monte Carlo SE."""
    comp = pd.read_csv(folder / "comparisons.csv")
    sel = (
        (comp["scenario"] == scenario)
        & (comp["estimator"] == estimator)
        & (comp["quantity"] == quantity)
    )
    err = comp.loc[sel, "error"]
    se = err.std(ddof=1) / np.sqrt(err.notna().sum())
    comp.loc[sel, "estimate"] += by_se * se  # and what follows from it, as the study writes it
    comp.loc[sel, "error"] = comp.loc[sel, "estimate"] - comp.loc[sel, "truth"]
    comp.loc[sel, "rel_error"] = comp.loc[sel, "error"] / comp.loc[sel, "truth"].abs()
    comp.to_csv(folder / "comparisons.csv", index=False)


def test_a_cell_moved_beyond_its_mc_error_is_named_and_fails(committed, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(committed, moved)
    comp = pd.read_csv(committed / "comparisons.csv")
    scenario, estimator = comp.loc[0, ["scenario", "estimator"]]
    _shift(moved, scenario, estimator, "roas", 0.5)
    assert verify.main(["--metrics-dir", str(moved), "--reference-dir", str(committed)]) == 0
    _shift(moved, scenario, estimator, "roas", 3.0)
    assert verify.main(["--metrics-dir", str(moved), "--reference-dir", str(committed)]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert f"1 do not: {scenario}/{estimator}/roas bias" in last


def _with_coverage(committed, tmp_path, covered: int):
    """The committed metrics with the first cell's ROAS intervals changed so that ``covered`` of
    them hold the truth (each interval moved to match, as a study would have written it)."""
    moved = tmp_path / f"moved_{covered}"
    shutil.copytree(committed, moved, dirs_exist_ok=True)
    comp = pd.read_csv(moved / "comparisons.csv")
    sel = comp["covered"].notna() & (comp["scenario"] == comp.loc[0, "scenario"])
    sel &= (comp["estimator"] == comp.loc[0, "estimator"]) & (comp["quantity"] == "roas")
    rows = comp.index[sel]
    inside = pd.Series(np.arange(len(rows)) < covered, index=rows)
    truth = comp.loc[rows, "truth"]
    comp.loc[rows, "covered"] = inside.astype(float)
    comp.loc[rows, "lower"] = np.where(inside, truth - 1, truth + 1)
    comp.loc[rows, "upper"] = np.where(inside, truth + 1, truth + 2)
    comp.to_csv(moved / "comparisons.csv", index=False)
    return moved, comp.loc[0, "scenario"], comp.loc[0, "estimator"], len(rows)


def _coverage_row(reference, reproduced, scenario, estimator):
    table = verify.compare(verify.read_dir(reference), verify.read_dir(reproduced))
    return table[
        (table["scenario"] == scenario)
        & (table["estimator"] == estimator)
        & (table["quantity"] == "roas")
        & (table["metric"] == "coverage")
    ].iloc[0]


def test_coverage_agrees_within_two_se_of_a_difference_of_shares(committed, tmp_path):
    """The rule is symmetric: one interval more covered and one fewer are judged alike (the
    committed share's exact interval called 14/15 -> 15/15 a disagreement, 15/15 -> 14/15 not),
    and a change beyond 2 SE of the difference is named."""
    full, scen, est, n = _with_coverage(committed, tmp_path, covered=10**6)
    n_all = int(n)
    one_less, *_ = _with_coverage(committed, tmp_path, covered=n_all - 1)
    up = _coverage_row(one_less, full, scen, est)
    down = _coverage_row(full, one_less, scen, est)
    assert up["verdict"] == down["verdict"] and abs(up["z"]) == pytest.approx(abs(down["z"]))
    for k in range(n_all, -1, -1):
        moved, *_ = _with_coverage(committed, tmp_path, covered=k)
        row = _coverage_row(full, moved, scen, est)
        p = (n_all + k) / (2 * n_all)
        se = (p * (1 - p) * 2 / n_all) ** 0.5
        z = (k / n_all - 1) / se if se > 0 else 0.0
        assert row["z"] == pytest.approx(z)
        assert row["verdict"] == ("agree" if abs(z) <= verify.MEAN_SE_RULE else "DISAGREE")
    assert row["verdict"] == "DISAGREE"  # k = 0 of n: the rule can fail


def test_missing_metrics_and_bad_revisions_are_one_error_line(tmp_path, capsys):
    assert verify.main(["--metrics-dir", str(tmp_path), "--reference", "HEAD"]) == 2
    assert "comparisons.csv: not found (run: make reproduce)" in capsys.readouterr().err
    assert verify.main(["--reference", "no-such-revision"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: git show no-such-revision:reports/metrics/") and "\n" == err[-1]


def test_make_verify_runs_the_module():
    out = subprocess.run(
        ["make", "-n", "verify"], cwd=paths.ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "-m mmm_recovery.evaluation.verify" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "comparisons.csv: not a readable metrics CSV"),
        ("scenario,estimator,quantity\nbase,bayesian,roas\n", "missing column(s) estimate, truth"),
    ],
    ids=["empty", "a column missing"],
)
def test_a_broken_reference_file_is_named_not_a_traceback(tmp_path, capsys, content, message):
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "comparisons.csv").write_text(content)
    (ref / "fits.csv").write_text((paths.ROOT / "reports/metrics/fits.csv").read_text())
    assert verify.main(["--reference-dir", str(ref)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.parametrize("column", ["estimate", "error", "covered"])
def test_a_hand_edited_comparison_is_refused_with_its_line(committed, tmp_path, capsys, column):
    """verify judged the derived columns only, so an edited estimate passed unseen; now any
    column that no longer follows from the others is named with its line."""
    edited = tmp_path / "edited"
    shutil.copytree(committed, edited)
    comp = pd.read_csv(edited / "comparisons.csv")
    row = int(comp.index[comp["covered"].notna() & (comp["truth"].abs() > 0)][3])
    if column == "covered":
        comp.loc[row, "covered"] = 1.0 - comp.loc[row, "covered"]
    else:
        comp.loc[row, column] += 0.1 * (abs(comp.loc[row, column]) + 1)
    comp.to_csv(edited / "comparisons.csv", index=False)
    assert verify.main(["--metrics-dir", str(edited), "--reference-dir", str(committed)]) == 2
    err = capsys.readouterr().err
    assert f"comparisons.csv: line {row + 2}: column" in err and "was the file edited?" in err


def test_an_unreadable_study_json_is_named(committed, tmp_path, capsys):
    """verify compares the rows, but the reports and `dvc metrics show` read study.json: a
    truncated one passed unseen."""
    broken = tmp_path / "broken"
    shutil.copytree(committed, broken)
    (broken / "study.json").write_text('{"baseline": ')
    assert verify.main(["--metrics-dir", str(broken), "--reference-dir", str(committed)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken / 'study.json'}: not valid JSON")
