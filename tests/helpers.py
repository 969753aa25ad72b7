"""Test helpers: a throw-away copy of the project wired to a study, and dvc.yaml parsing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from mmm_recovery.core import paths

PROJECT_FILES = ["dvc.yaml", "pyproject.toml", ".dvcignore", "requirements.lock"]
PROJECT_DIRS = ["src", "notebooks", "studies", "reports"]


def project_copy(dest: Path, study: str = "smoke.yaml") -> Path:
    """Copy the project's sources to ``dest`` with ``studies/<study>`` in place of the default
    study, initialise git + DVC there (analytics off), and return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (paths.ROOT / name).exists():
            shutil.copy2(paths.ROOT / name, dest / name)
    for name in PROJECT_DIRS:
        if (paths.ROOT / name).exists():
            shutil.copytree(
                paths.ROOT / name,
                dest / name,
                ignore=shutil.ignore_patterns("__pycache__", "_freeze", "_site", "*.egg-info"),
            )
    shutil.copy2(paths.ROOT / "studies" / study, dest / "studies" / "recovery.yaml")
    # the committed records are the default study's: the copy's study has none of them
    (dest / "records").mkdir(exist_ok=True)
    shutil.copy2(paths.ROOT / "records" / "README.md", dest / "records" / "README.md")
    env = project_env(dest)
    for cmd in (
        ["git", "init", "-q"],
        [_bin("dvc"), "init", "-q"],
        [_bin("dvc"), "config", "core.analytics", "false"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, env=env, capture_output=True)
    return dest


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def project_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MMM_RECOVERY_ROOT"] = str(root)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    env.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    return env


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [_bin("dvc"), *args], cwd=root, env=project_env(root), capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def notebook_stages() -> dict[str, tuple[str, dict[str, str]]]:
    """``stage -> (notebook source, {parameter: value})`` for each stage that runs a notebook."""
    spec = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())
    out = {}
    for name, stage in spec["stages"].items():
        cmd = (stage.get("do") or stage)["cmd"]
        argv = shlex.split(cmd.replace("\n", " "))
        if "mmm_recovery.reporting.notebook" not in argv:
            continue
        i = argv.index("mmm_recovery.reporting.notebook")
        source = argv[i + 1]
        params = {}
        j = i + 3
        while j < len(argv):
            assert argv[j] in ("-p", "--parameter"), f"{name}: unexpected {argv[j]!r}"
            params[argv[j + 1]] = argv[j + 2]
            j += 3
        out[name] = (source, params)
    return out


def default_study_with(tmp_path: Path, **scenarios: dict) -> Path:
    """The default study file with further named scenarios (merged over its defaults), written
    into ``tmp_path``: a test's own one-factor contrast of the baseline."""
    import yaml

    raw = yaml.safe_load((paths.STUDIES / "recovery.yaml").read_text())
    raw["scenarios"] |= scenarios
    f = tmp_path / "recovery_plus.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f
