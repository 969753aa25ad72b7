"""Contract tests run over every registered estimator (read from the registry, so a new
estimator is tested here automatically): it writes the common result format that the comparison
reads, honours its configured interval level, gives the same summary for the same seed, and
refuses bad data with :class:`~mmm_recovery.core.results.InputError` naming the column.

Each estimator is fitted twice in all (the smoke study's small settings, on one simulated
replicate): the first fit serves the format and level tests, the second the seed test.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest

from mmm_recovery.core.results import EstimatorResult, FitInput, InputError, load_result
from mmm_recovery.estimators import registry
from mmm_recovery.evaluation import score
from mmm_recovery.simulation.simulate import simulate

NAMES = registry.names()
SCENARIO = "base"
SEED = 20240611

#: a level no estimator has as its default, so a fit that ignores the setting is caught
CONFIGURED_LEVEL = 0.8

ESTIMATE_KEYS = {"estimate", "lower", "upper"}
CHANNEL_QUANTITIES = ("beta", "contribution_total", "contribution_share", "roas", "mroas")


def _level_path(name: str) -> tuple[str, ...]:
    """Where the estimator's settings hold its interval level: its settings model's
    ``level_setting``."""
    path = getattr(registry.settings_model(name), "level_setting", ())
    if not path:
        pytest.fail(
            f"registered estimator {name!r}: its settings model has no level_setting (the "
            "settings keys, outer first, that hold its interval level; docs/extending.md)"
        )
    return tuple(path)


def _settings(study, name: str) -> dict[str, Any]:
    """The study's block for ``name``, or the estimator's defaults where it has none: a new
    estimator is tested with no block of its own in the smoke study."""
    return dict(study.estimators.get(name) or {})


def _estimator(study, name: str):
    return registry.get(name)(registry.config_for(name, _settings(study, name)))


def _with_level(settings: dict[str, Any], path: tuple[str, ...], level: float) -> dict[str, Any]:
    out = copy.deepcopy(settings)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = level
    return out


def _read_level(config: Any, path: tuple[str, ...]) -> float:
    for key in path:
        config = getattr(config, key)
    return float(config)


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=lambda x: np.asarray(x).tolist())


def _estimates(obj: Any, where: str = ""):
    """Every ``{"estimate", "lower", "upper"}`` dict under ``obj``, with its path."""
    if isinstance(obj, dict):
        if ESTIMATE_KEYS <= set(obj) and not isinstance(obj["estimate"], list):
            yield where, obj
        for k, v in obj.items():
            yield from _estimates(v, f"{where}.{k}")


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def smoke_data(smoke_study):
    ds = simulate(smoke_study.scenario(SCENARIO), smoke_study.rng(SCENARIO, 0))
    settings = smoke_study.study
    return ds, FitInput.from_simulated(ds, settings.holdout_weeks, settings.calibration_levels)


@pytest.fixture(scope="module")
def configured(smoke_study):
    """``name -> estimator`` with the smoke settings and the interval level set to
    :data:`CONFIGURED_LEVEL`."""

    def make(name: str):
        settings = _with_level(_settings(smoke_study, name), _level_path(name), CONFIGURED_LEVEL)
        return registry.get(name)(registry.config_for(name, settings))

    return make


@pytest.fixture(scope="module")
def fits(configured, smoke_data):
    """``fits(name, i)``: fit ``i`` (0 or 1) of estimator ``name``, both seeded by :data:`SEED`;
    cached, so each estimator is fitted at most twice in this module."""
    _, fit_input = smoke_data
    cache: dict[tuple[str, int], tuple[Any, EstimatorResult]] = {}

    def get(name: str, i: int = 0):
        if (name, i) not in cache:
            est = configured(name)
            cache[name, i] = (est, est.fit(fit_input, np.random.default_rng(SEED)))
        return cache[name, i]

    return get


# --------------------------------------------------------------------- (a) the result format
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_writes_the_common_result_format(name, fits, smoke_data, smoke_study, tmp_path):
    ds, fit_input = smoke_data
    est, result = fits(name)
    assert isinstance(result, EstimatorResult)
    result.save(tmp_path)
    loaded = load_result(tmp_path)

    assert loaded["estimator"] == name == est.name
    assert set(loaded["interval"]) >= {"level", "kind"} and isinstance(
        loaded["interval"]["kind"], str
    )
    assert isinstance(loaded["diagnostics"]["converged"], bool)
    assert set(loaded["channels"]) == set(fit_input.channels)
    for ch, c in loaded["channels"].items():
        for part in ("adstock", "saturation"):
            assert isinstance(c[part]["family"], str), (ch, part)
            for pname, p in c[part]["params"].items():
                assert set(p) >= ESTIMATE_KEYS, (ch, part, pname)
        assert set(c["adstock"]) >= {"l_max", "normalize"}
        for q in CHANNEL_QUANTITIES:
            assert set(c[q]) >= ESTIMATE_KEYS, (ch, q)
            assert math.isfinite(c[q]["estimate"]), (ch, q)
        curve = c["curve"]
        assert set(curve) >= {"spend", "estimate", "lower", "upper"}
        np.testing.assert_allclose(curve["spend"], fit_input.curve_grid[ch])
        assert len(curve["estimate"]) == len(curve["spend"])
        assert np.all(np.isfinite(curve["estimate"]))

    # the tables every estimator's fit notebook and bring-your-own notebook show
    fitted, decomposition = result.tables["fitted"], result.tables["decomposition"]
    assert list(fitted.columns) == ["date", "y", "yhat", "split"]
    assert len(fitted) == len(fit_input.data) and set(fitted["split"]) <= {"train", "holdout"}
    assert np.isfinite(fitted["yhat"].to_numpy(dtype=float)).all()
    # date, every channel, and the rest of the fitted mean in any other columns
    assert decomposition.columns[0] == "date" and set(fit_input.channels) <= set(decomposition)
    assert fit_input.n_train <= len(decomposition) <= len(fit_input.data)  # training weeks, or all
    # the weeks a bring-your-own file needs follow from the estimator itself
    assert isinstance(est.min_train_weeks(), int) and est.min_train_weeks() >= 1

    # the comparison and the budget advice read it without error
    s = score.score(loaded, ds.data, ds.truth, smoke_study.study.budget_bound)
    cmp = s.comparison
    assert set(cmp["channel"]) == set(fit_input.channels)
    assert {"roas", "mroas", "contribution_share", "curve_error"} <= set(cmp["quantity"])
    assert cmp.loc[cmp["quantity"] == "roas", "estimate"].notna().all()
    assert (cmp["converged"] == loaded["diagnostics"]["converged"]).all()


# ------------------------------------------------------------------- (b) the interval level
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_configured_interval_level_is_used(name, smoke_study):
    """No fit: the smoke settings' level is the estimator's, and a configured level replaces it."""
    path = _level_path(name)
    plain = _estimator(smoke_study, name)
    assert plain.interval_level == _read_level(plain.config, path)
    assert plain.interval_level != CONFIGURED_LEVEL
    settings = _with_level(_settings(smoke_study, name), path, CONFIGURED_LEVEL)
    est = registry.get(name)(registry.config_for(name, settings))
    assert est.interval_level == CONFIGURED_LEVEL


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_honours_its_interval_level(name, fits, tmp_path, smoke_study):
    est, result = fits(name)
    assert est.interval_level == CONFIGURED_LEVEL
    assert result.interval["level"] == CONFIGURED_LEVEL
    result.save(tmp_path)
    loaded = load_result(tmp_path)
    assert loaded["interval"]["level"] == CONFIGURED_LEVEL

    n_intervals = 0
    for where, e in _estimates(loaded["channels"]):
        lo, hi = e["lower"], e["upper"]
        assert (lo is None) == (hi is None), where
        if lo is not None:
            n_intervals += 1
            assert lo <= hi, f"{name}{where}: lower {lo} > upper {hi}"
            _check_levels(f"{name}{where}", e, lo, hi, smoke_study.study.calibration_levels)
    assert n_intervals > 0, f"{name} reports no intervals at all"
    for ch, c in loaded["channels"].items():
        lo, hi = c["curve"]["lower"], c["curve"]["upper"]
        assert lo is not None and hi is not None, f"{name}: {ch} curve has no band"
        assert np.all(np.asarray(lo) <= np.asarray(hi)), f"{name}: {ch} curve band"


def _check_levels(where: str, e: dict[str, Any], lo: float, hi: float, wanted) -> None:
    """An estimate with an interval also has one at every calibration level of the study, the
    same as its own at its own level, and a higher level is never narrower (true of
    equal-tailed and of narrowest intervals alike)."""
    levels = {float(k): v for k, v in e["levels"].items()}
    assert sorted(levels) == sorted(wanted), where
    if CONFIGURED_LEVEL in levels:
        assert levels[CONFIGURED_LEVEL] == pytest.approx([lo, hi]), where
    levels[CONFIGURED_LEVEL] = [lo, hi]
    widths = [levels[q][1] - levels[q][0] for q in sorted(levels)]
    assert all(w >= 0 for w in widths), where
    assert widths == sorted(widths), f"{where}: widths {widths} shrink with the level"


# ------------------------------------------------------------------ (c) same seed, same summary
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_same_seed_gives_the_same_summary(name, fits):
    _, first = fits(name, 0)
    _, second = fits(name, 1)
    assert first is not second
    a, b = _json(first.to_dict()["channels"]), _json(second.to_dict()["channels"])
    assert a == b, f"{name}: two fits with seed {SEED} give different channel summaries"


# --------------------------------------------------------------------------- (d) bad input
def _with_nan(fit_input: FitInput) -> tuple[FitInput, str]:
    col = fit_input.channels[-1]
    data = fit_input.data.copy()
    data.loc[data.index[5], col] = np.nan
    return dataclasses.replace(fit_input, data=data), col


def _with_negative_spend(fit_input: FitInput) -> tuple[FitInput, str]:
    col = fit_input.channels[0]
    data = fit_input.data.copy()
    data.loc[data.index[3], col] = -1.0
    return dataclasses.replace(fit_input, data=data), col


@pytest.mark.parametrize("corrupt", [_with_nan, _with_negative_spend], ids=["nan", "negative"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_bad_input_raises_input_error_naming_the_column(name, corrupt, smoke_study, smoke_data):
    _, fit_input = smoke_data
    bad, col = corrupt(fit_input)
    est = _estimator(smoke_study, name)
    with pytest.raises(InputError, match=f"'{col}'"):
        est.fit(bad, np.random.default_rng(SEED))
    # the original data is untouched (the corruption was on a copy)
    assert np.isfinite(fit_input.spend).all() and (fit_input.spend >= 0).all()
