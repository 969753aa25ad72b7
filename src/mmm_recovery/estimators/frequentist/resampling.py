"""Resampling of training weeks: moving-block bootstrap rows and rolling-origin CV folds."""

from __future__ import annotations

import numpy as np

from mmm_recovery.estimators.frequentist.config import CVConfig


def block_bootstrap_rows(rng: np.random.Generator, n: int, block: int) -> np.ndarray:
    """Moving-block bootstrap: concatenate random blocks of ``block`` consecutive weeks, cut to ``n``."""
    block = min(block, n)
    starts = rng.integers(0, n - block + 1, size=int(np.ceil(n / block)))
    return (starts[:, None] + np.arange(block)).ravel()[:n]


def cv_folds(n_train: int, cfg: CVConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds ``(train_rows, test_rows)`` inside the first ``n_train`` weeks."""
    folds = []
    end = cfg.initial_train_weeks
    while end + cfg.test_weeks <= n_train:
        folds.append((np.arange(end), np.arange(end, end + cfg.test_weeks)))
        end += cfg.step_weeks
    return folds
