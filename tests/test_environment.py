"""The three descriptions of the stack agree: pyproject pins, requirements.lock, environment.yml."""

from __future__ import annotations

import re
import tomllib

import yaml

from mmm_recovery.core import paths


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            out[_norm(name)] = version
    return out


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    deps = _pins(pyproject["project"]["dependencies"])
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.12" in conda
    assert "quarto" in conda
    assert env["channels"] == ["conda-forge"]
    dev = _pins(pyproject["project"]["optional-dependencies"]["dev"])
    assert _pins(pip_section) == deps | dev


def test_lock_pins_every_direct_dependency_at_the_same_version():
    """Runtime dependencies in requirements.lock, the dev extra in requirements-dev.lock (and
    no test or lint tool among the runtime dependencies)."""
    pyproject = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    for group, lock_file in (
        (pyproject["project"]["dependencies"], "requirements.lock"),
        (pyproject["project"]["optional-dependencies"]["dev"], "requirements-dev.lock"),
    ):
        lock = _pins((paths.ROOT / lock_file).read_text().splitlines())
        for name, version in _pins(group).items():
            assert lock.get(name) == version, f"{name}: pyproject {version} vs {lock_file}"
    runtime = _pins(pyproject["project"]["dependencies"])
    assert not {"pytest", "ruff", "mypy"} & set(runtime)


def test_python_version_and_dvc_analytics_off():
    assert (paths.ROOT / ".python-version").read_text().strip() == "3.12"
    assert re.search(r"analytics\s*=\s*false", (paths.ROOT / ".dvc" / "config").read_text())
