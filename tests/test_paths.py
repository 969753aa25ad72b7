"""Where the library reads and writes: the checkout it is installed from, or the one named by
MMM_RECOVERY_ROOT; a misdirected environment is named, not followed silently."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mmm_recovery.core import paths


def _checkout(folder):
    (folder / "src" / "mmm_recovery").mkdir(parents=True)
    (folder / "dvc.yaml").write_text("stages: {}\n")
    return folder


def test_a_second_checkout_sharing_the_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("MMM_RECOVERY_ROOT", raising=False)
    other = _checkout(tmp_path / "other")
    (other / "studies").mkdir()
    with pytest.warns(UserWarning, match="installed from") as record:
        message = paths.warn_other_checkout(paths.ROOT, other / "studies")
    assert str(other) in message and str(paths.ROOT) in message
    assert "MMM_RECOVERY_ROOT" in str(record[0].message)


def test_no_warning_inside_the_installed_checkout_or_outside_any(tmp_path, monkeypatch):
    monkeypatch.delenv("MMM_RECOVERY_ROOT", raising=False)
    assert paths.warn_other_checkout(paths.ROOT, paths.ROOT / "src") is None
    assert paths.warn_other_checkout(paths.ROOT, tmp_path) is None


def test_no_warning_when_the_root_is_set_explicitly(tmp_path, monkeypatch):
    other = _checkout(tmp_path / "other")
    monkeypatch.setenv("MMM_RECOVERY_ROOT", str(other))
    assert paths.warn_other_checkout(paths.ROOT, other) is None


def test_a_root_without_dvc_yaml_names_the_variable_and_value(tmp_path):
    env = {**os.environ, "MMM_RECOVERY_ROOT": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", "import mmm_recovery.core.paths"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert run.stderr.startswith(f"error: MMM_RECOVERY_ROOT={str(tmp_path)!r} has no dvc.yaml")
    assert "Traceback" not in run.stderr
