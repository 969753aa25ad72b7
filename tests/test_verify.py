"""make verify: reproduced metrics against the committed ones, within their Monte Carlo error."""

from __future__ import annotations

import shutil

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
    table = verify.compare(verify.read_dir(committed), verify.read_dir(committed))
    n = int((table["verdict"] == "agree").sum())
    assert n and out[-1].startswith(f"{n} of {n} testable cells agree")


def _shift(folder, estimator, quantity, by):
    """Move every ``quantity`` estimate of ``estimator`` by ``by`` (and what follows from it, as
    the study writes it)."""
    comp = pd.read_csv(folder / "comparisons.csv")
    sel = (comp["estimator"] == estimator) & (comp["quantity"] == quantity)
    comp.loc[sel, "estimate"] += by
    comp.loc[sel, "error"] = comp.loc[sel, "estimate"] - comp.loc[sel, "truth"]
    comp.loc[sel, "rel_error"] = comp.loc[sel, "error"] / comp.loc[sel, "truth"].abs()
    comp.to_csv(folder / "comparisons.csv", index=False)


def test_a_cell_moved_beyond_its_mc_error_is_named_and_fails(committed, tmp_path, capsys):
    """A shift of half the pooled cell's MC-SE agrees; one of 8 SE (5.7 SE of a difference,
    beyond Holm's threshold over all cells) is named and fails."""
    moved = tmp_path / "moved"
    shutil.copytree(committed, moved)
    estimator = pd.read_csv(committed / "comparisons.csv").loc[0, "estimator"]
    cells = verify.cell_stats(*verify.read_dir(committed).values())
    se = cells[
        (cells["scenario"] == "all")
        & (cells["channel"] == "all")
        & (cells["estimator"] == estimator)
        & (cells["quantity"] == "roas")
        & (cells["metric"] == "bias")
    ]["se"].iloc[0]
    _shift(moved, estimator, "roas", 0.5 * se)
    assert verify.main(["--metrics-dir", str(moved), "--reference-dir", str(committed)]) == 0
    _shift(moved, estimator, "roas", 7.5 * se)
    assert verify.main(["--metrics-dir", str(moved), "--reference-dir", str(committed)]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert f"do not agree: all/{estimator}/roas/all bias" in last


def _with_coverage(committed, tmp_path, covered: int, channel: str):
    """The committed metrics with the first estimator's ROAS intervals of ``channel`` (every
    scenario) changed so that ``covered`` of them hold the truth (each interval moved to match,
    as a study would have written it)."""
    moved = tmp_path / f"moved_{covered}"
    shutil.copytree(committed, moved, dirs_exist_ok=True)
    comp = pd.read_csv(moved / "comparisons.csv")
    est = comp.loc[0, "estimator"]
    sel = comp["covered"].notna() & (comp["estimator"] == est) & (comp["quantity"] == "roas")
    rows = comp.index[sel & (comp["channel"] == channel)]
    inside = pd.Series(np.arange(len(rows)) < covered, index=rows)
    truth = comp.loc[rows, "truth"]
    comp.loc[rows, "covered"] = inside.astype(float)
    comp.loc[rows, "lower"] = np.where(inside, truth - 1, truth + 1)
    comp.loc[rows, "upper"] = np.where(inside, truth + 1, truth + 2)
    comp.to_csv(moved / "comparisons.csv", index=False)
    return moved, est, len(rows)


def _coverage_row(reference, reproduced, estimator, channel):
    table = verify.compare(verify.read_dir(reference), verify.read_dir(reproduced))
    return table[
        (table["scenario"] == "all")
        & (table["estimator"] == estimator)
        & (table["quantity"] == "roas")
        & (table["channel"] == channel)
        & (table["metric"] == "coverage")
    ].iloc[0]


def test_coverage_is_judged_by_the_se_of_a_difference_family_wise(committed, tmp_path):
    """The rule is symmetric (one interval more covered and one fewer are judged alike), a
    coverage of n/n has a nonzero SE of a difference, and a large change is named."""
    channel = pd.read_csv(committed / "comparisons.csv").loc[0, "channel"]
    full, est, n = _with_coverage(committed, tmp_path, 10**6, channel)
    one_less, *_ = _with_coverage(committed, tmp_path, n - 1, channel)
    up = _coverage_row(one_less, full, est, channel)
    down = _coverage_row(full, one_less, est, channel)
    assert up["verdict"] == down["verdict"] == "agree"
    assert abs(up["z"]) == pytest.approx(abs(down["z"])) and 0 < abs(up["z"]) < np.inf
    none, *_ = _with_coverage(committed, tmp_path, 0, channel)
    row = _coverage_row(full, none, est, channel)
    assert row["verdict"] == "DISAGREE" and row["p_adjusted"] <= 0.05  # the rule can fail


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "comparisons.csv: not a readable metrics CSV"),
        (
            "scenario,estimator,quantity\nbase,bayesian,roas\n",
            "missing column(s) channel, estimate, truth",
        ),
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
