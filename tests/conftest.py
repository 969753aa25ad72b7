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


#: the modules that take longest, run first: `make test` runs pytest-xdist with --dist loadscope,
#: which hands whole modules to its processes in collection order, so the long ones must not start
#: last (measured: the pipeline module alone takes about half of one process's time)
LONGEST_FIRST = (
    "test_pipeline.py",
    "test_batched.py",
    "test_sbc_study_path.py",
    "test_sbc_negative_control.py",
    "test_sbc.py",
    "test_determinism.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable
