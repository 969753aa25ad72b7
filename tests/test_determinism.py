"""Same spec + seed -> same outputs: the smoke pipeline run twice into two fresh project copies
gives byte-identical simulated data and identical frequentist results; a Bayesian fit repeated
gives identical summaries to the printed precision."""

from __future__ import annotations

import json

import pytest
from helpers import dvc, project_copy

TIMING_KEYS = {"runtime_seconds", "sample_seconds", "ess_bulk_per_second"}


def _strip_timing(obj):
    if isinstance(obj, dict):
        return {k: _strip_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    roots = []
    for name in ("run_a", "run_b"):
        root = project_copy(tmp_path_factory.mktemp(name))
        dvc(root, "repro", "--glob", "simulate", "fit@*-frequentist", "example_csv")
        roots.append(root)
    return roots


def test_every_stage_output_byte_identical(two_runs):
    """Data, answer keys, frequentist results and tables, and the executed notebooks: the same
    bytes, so dvc.lock is the same after a rerun (wall times live in data/timing/, untracked)."""
    a, b = two_runs
    files = sorted(
        p.relative_to(a)
        for p in (a / "data").rglob("*")
        if p.is_file() and "timing" not in p.relative_to(a).parts and p.name != ".gitignore"
    )
    assert any(f.suffix == ".ipynb" for f in files) and any(f.name == "truth.json" for f in files)
    assert len(files) >= 20
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert dvc(a, "status").stdout == dvc(b, "status").stdout
    # same hashes for every stage (the file's stage order follows execution order)
    import yaml

    assert yaml.safe_load((a / "dvc.lock").read_text()) == yaml.safe_load(
        (b / "dvc.lock").read_text()
    )


def test_frequentist_results_identical(two_runs):
    a, b = two_runs
    for scenario in ("base", "hill_truth"):
        ra = json.loads(
            (a / "data" / scenario / "fits" / "frequentist" / "results.json").read_text()
        )
        rb = json.loads(
            (b / "data" / scenario / "fits" / "frequentist" / "results.json").read_text()
        )
        assert _strip_timing(ra) == _strip_timing(rb)
        for table in ("evaluations", "bootstrap", "cv", "fitted", "decomposition"):
            pa = a / "data" / scenario / "fits" / "frequentist" / f"{table}.parquet"
            pb = b / "data" / scenario / "fits" / "frequentist" / f"{table}.parquet"
            assert pa.read_bytes() == pb.read_bytes(), table


def test_bayesian_summaries_identical_to_printed_precision(smoke_study):
    from mmm_recovery.evaluation.fitting import fit_dataset
    from mmm_recovery.evaluation.rounding import _rounded
    from mmm_recovery.simulation.simulate import simulate

    ds = simulate(smoke_study.scenario("base"), smoke_study.rng("base", 0))
    a = fit_dataset(smoke_study, "base", 0, "bayesian", dataset=ds)
    b = fit_dataset(smoke_study, "base", 0, "bayesian", dataset=ds)
    da, db = (
        json.loads(json.dumps(_strip_timing(r.to_dict()), default=lambda x: x.tolist()))
        for r in (a, b)
    )
    assert _rounded(da) == _rounded(db)


FIT_TO_FILE = """
import sys
from pathlib import Path
from mmm_recovery.evaluation.fitting import fit_dataset
from mmm_recovery.simulation.simulate import simulate
from mmm_recovery.core.spec import load_study
study = load_study(sys.argv[1])
ds = simulate(study.scenario("base"), study.rng("base", 0))
fit_dataset(study, "base", 0, "bayesian", dataset=ds, artifacts_dir=Path(sys.argv[2]))
"""


def test_bayesian_posterior_file_is_reproducible_across_processes(smoke_study, tmp_path):
    """Two processes with different string-hash seeds (PyMC orders some groups by set iteration)
    write the same posterior.nc bytes, as two checkouts' Bayesian fit stages must; a fit
    prints nothing on stdout (a study worker's stdout reaches the executed 04_study notebook);
    and it leaves the temp folder as it found it (PyTensor's numba backend would leave a file
    per compiled function there)."""
    import os
    import subprocess
    import sys

    files = []
    for seed in ("1", "2"):
        files.append(tmp_path / seed / "posterior.nc")
        temp = tmp_path / f"temp_{seed}"
        temp.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed, "TMPDIR": str(temp)}
        proc = subprocess.run(
            [sys.executable, "-c", FIT_TO_FILE, str(smoke_study.source), str(files[-1].parent)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert proc.stdout == ""
        assert sorted(p.name for p in temp.iterdir()) == []
    assert files[0].read_bytes() == files[1].read_bytes()
