"""The command-line tools answer a bad invocation with one ``error:`` line and a non-zero exit,
never a traceback: ``python -m mmm_recovery`` lists them, and each runs under it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mmm_recovery import __main__ as cli
from mmm_recovery.core import paths
from mmm_recovery.reporting import notebook


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=paths.ROOT, capture_output=True, text=True, check=False
    )


def test_the_package_lists_its_commands_and_dispatches(capsys):
    assert cli.main([]) == 2
    listing = capsys.readouterr().out
    for name, (module, _) in cli.COMMANDS.items():
        assert f"  {name} " in listing and module in listing
    assert cli.main(["schema", "studies/smoke.yaml"]) == 0
    assert "studies/smoke.yaml: OK" in capsys.readouterr().out
    assert cli.main(["verfiy"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown command 'verfiy'")


@pytest.mark.parametrize("module", sorted({m for m, _ in cli.COMMANDS.values()}))
def test_every_listed_command_has_a_main(module):
    import importlib

    assert callable(importlib.import_module(module).main)


def test_python_m_mmm_recovery_lists_and_runs_its_commands():
    listed = _run("mmm_recovery")
    assert listed.returncode == 2 and "commands:" in listed.stdout
    verify = _run("mmm_recovery", "verify", "--help")
    assert verify.returncode == 0 and "--reference-dir" in verify.stdout


def test_a_folder_for_a_study_file_names_the_files_in_it(capsys):
    from mmm_recovery.core import schema

    assert schema.main(["studies"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: studies: is a folder; name a study file in it")
    assert "smoke.yaml" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["notebooks/nope.py", "OUT"], "notebook source not found"),
        (["notebooks/01_simulate.py", "OUT", "-p", "bogus", "1"], "no parameter(s) ['bogus']"),
        (
            ["notebooks/01_simulate.py", "OUT", "-p", "study", "studies/none.yaml"],
            "studies/none.yaml: study file not found",
        ),
        (["notebooks/01_simulate.py", "FILE/out.ipynb", "-p", "study", "studies/smoke.yaml"], ""),
    ],
    ids=["no source", "unknown parameter", "no study file", "output under a file"],
)
def test_a_bad_notebook_run_is_one_error_line(tmp_path, capsys, argv, message):
    """Each is refused before a kernel starts; an output folder that cannot be made (here: a
    file in its place, as a read-only folder would) is named, and nothing is left behind."""
    (tmp_path / "FILE").write_text("")
    argv = [a.replace("OUT", str(tmp_path / "out.ipynb")) for a in argv]
    argv = [a.replace("FILE", str(tmp_path / "FILE")) for a in argv]
    assert notebook.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def test_a_failing_cell_is_named_with_its_error_and_the_kept_notebook(tmp_path, capsys):
    """A notebook that raises (e.g. the bring-your-own notebook on a dataset that fails its
    check) ends in one line with the cell, the error and where the executed notebook is."""
    src = tmp_path / "boom.py"
    src.write_text(
        '# %% tags=["parameters"]\nline = 1\n\n'
        "# %%\nraise ValueError(f\"x.csv: column 'tv_S' has negative spend at line {line}\")\n"
    )
    out = tmp_path / "out" / "boom.ipynb"
    assert notebook.main([str(src), str(out), "-p", "line", "5"]) == 1
    last = capsys.readouterr().err.strip().splitlines()
    assert last[-2].endswith("raised ValueError: x.csv: column 'tv_S' has negative spend at line 5")
    assert last[-1] == f"(the executed notebook is kept at {out.with_name('boom.failed.ipynb')})"
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "--metrics-dir", "NONE"], "NONE/study.json: not found"),
        (["render", "modelcard"], "no report named ['modelcard']"),
        (["render", "--study", "studies/none.yaml"], "studies/none.yaml: study file not found"),
        (["findings", "--metrics-dir", "NONE", "--out", "OUT"], "NONE/study.json: not found"),
        (["findings", "--study", "studies/none.yaml", "--out", "OUT"], "study file not found"),
    ],
    ids=[
        "render: no metrics",
        "render: no such report",
        "render: no study",
        "findings: no metrics",
        "findings: no study",
    ],
)
def test_reports_refuse_missing_inputs_before_a_kernel_starts(tmp_path, capsys, argv, message):
    """These were tracebacks (render's from inside a report kernel); nothing is written."""
    argv = [
        a.replace("NONE", str(tmp_path / "none")).replace("OUT", str(tmp_path / "f.md"))
        for a in argv
    ]
    message = message.replace("NONE", str(tmp_path / "none"))
    assert cli.main([*argv, "--out", str(tmp_path / "site")] if argv[0] == "render" else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_every_new_user_fault_gets_a_clear_answer(tmp_path, capsys):
    """scripts/new_user_faults.py's cases (bad study files, CSVs, metrics, commands, a silent
    scheduler) each end in a clear refusal naming what is wrong, or a correct acceptance."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "new_user_faults", paths.ROOT / "scripts" / "new_user_faults.py"
    )
    faults = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = faults  # its dataclass looks itself up there
    spec.loader.exec_module(faults)
    rc = faults.main(["--out", str(tmp_path / "faults.md")])
    out = capsys.readouterr().out
    assert rc == 0, [line for line in out.splitlines() if line.strip().startswith(faults.BAD)]
    assert "clear" in out and "accepted" in out
    for _, where in faults.FIT_CASES:  # the faults it leaves to tests name tests that exist
        file, name = where.split("::")
        assert f"def {name}(" in (paths.ROOT / "tests" / file).read_text(), where


def test_a_failing_report_names_the_report_cell_and_kept_notebook(tmp_path, capsys):
    """Metrics that read but do not hold a study's cells: the report's kernel fails, and render
    answers with one line naming the report, the cell and the kept notebook."""
    from mmm_recovery.reporting import render

    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "study.json").write_text('{"baseline": 1}')
    site = tmp_path / "site"
    assert render.main(["model_card", "--metrics-dir", str(metrics), "--out", str(site)]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: report model_card: cell ") and " raised " in last
    assert last.endswith(f"(the executed report is kept at {site / 'model_card.failed.ipynb'})")
    assert (site / "model_card.failed.ipynb").is_file()


def test_findings_names_an_unreadable_sbc_file(tmp_path, capsys):
    from mmm_recovery.reporting import findings

    metrics = tmp_path / "metrics"
    shutil.copytree(
        paths.ROOT / "reports" / "metrics", metrics, ignore=shutil.ignore_patterns("full")
    )
    (metrics / "sbc.json").write_text('{"quantities": ')
    out = tmp_path / "findings.md"
    assert findings.main(["--metrics-dir", str(metrics), "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {metrics / 'sbc.json'}: not valid JSON")
    assert not out.exists()
