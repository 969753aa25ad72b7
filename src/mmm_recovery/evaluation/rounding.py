"""Rounding of committed metrics: reruns agree to :data:`METRIC_DIGITS` significant digits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Significant digits kept in committed metrics: reruns agree to this precision (the Bayesian
#: sampler's floating-point summaries may differ in the last bits across machines).
METRIC_DIGITS = 6


def _round(x: float) -> float:
    return float(f"{x:.{METRIC_DIGITS}g}")


def _rounded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    if isinstance(obj, float) and np.isfinite(obj):
        return _round(obj)
    return obj


def _round_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].map(lambda v: _round(v) if np.isfinite(v) else v)
    return out
