"""Shared fixtures. Tests never write into the project's data/: they use tmp_path."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from mmm_recovery.core import paths  # noqa: E402
from mmm_recovery.core.spec import load_study  # noqa: E402


@pytest.fixture(scope="session")
def smoke_study():
    return load_study(paths.STUDIES / "smoke.yaml")


@pytest.fixture(scope="session")
def default_study():
    return load_study(paths.DEFAULT_STUDY)
