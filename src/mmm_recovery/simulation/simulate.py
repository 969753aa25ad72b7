"""Synthetic weekly MMM data with its answer key.

``simulate(spec, rng) -> SimulatedDataset(data, truth, weekly)``:

* ``data``: what an analyst would see -- ``date, y, <channel spend...>, competitor, event``;
* ``truth``: the answer key (JSON-ready): per-channel adstock/saturation parameters and beta,
  spend and contribution totals and shares, ROAS, marginal ROAS at mean weekly spend and the
  steady-state response curve on an absolute spend grid, plus the base components;
* ``weekly``: the true weekly decomposition (base, each channel's contribution, control
  effects, noiseless target ``mu``) so that ``mu == base + sum(contributions) + controls``;
* ``lift_tests``: the scenario's lift tests as an analyst would get them (PyMC-Marketing's
  columns ``channel, x, delta_x, delta_y, sigma``, and ``weeks`` when a test has a length;
  :class:`~mmm_recovery.core.scenario.LiftTestSpec`), empty without any; their true lifts are in ``truth["lift_tests"]``.

All amounts are on the original (currency) scale. Draw order is fixed (latent spend, flighting,
competitor, events, noise, lift-test errors last, so a scenario without lift tests draws the
same data), so one Generator state gives one dataset, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from mmm_recovery.core import files
from mmm_recovery.core.response import ChannelResponse
from mmm_recovery.core.spec import ScenarioSpec
from mmm_recovery.families import transforms

_BURN_IN = 52  # weeks discarded so AR(1) series start from their stationary distribution


@dataclass(frozen=True)
class SimulatedDataset:
    """A simulated dataset and its answer key (see module docstring)."""

    data: pd.DataFrame
    truth: dict[str, Any]
    weekly: pd.DataFrame
    lift_tests: pd.DataFrame = field(default_factory=files.empty_lift_tests)

    def save(self, folder: Path) -> dict[str, Path]:
        """Write ``data.csv``, ``truth.json``, ``truth_weekly.csv`` and, with lift tests,
        ``lift_tests.csv`` atomically into ``folder``."""
        folder = Path(folder)
        out = {
            "data": files.write_csv(folder / "data.csv", self.data),
            "truth": files.write_json(folder / "truth.json", self.truth),
            # the weekly truth in memory is exact; its file at files.TRUTH_DECIMALS
            "weekly": files.write_csv(
                folder / "truth_weekly.csv",
                self.weekly.round(
                    dict.fromkeys(self.weekly.columns.drop(files.DATE_COLUMN), files.TRUTH_DECIMALS)
                ),
            ),
        }
        if len(self.lift_tests):
            out["lift_tests"] = files.write_csv(folder / "lift_tests.csv", self.lift_tests)
        else:  # a stale file from an earlier simulation would be fitted as this one's
            (folder / "lift_tests.csv").unlink(missing_ok=True)
        return out

    @classmethod
    def load(cls, folder: Path) -> SimulatedDataset:
        folder = Path(folder)
        lift = folder / "lift_tests.csv"
        truth = files.read_json(folder / "truth.json")
        return cls(
            data=files.read_weekly_csv(folder / "data.csv"),
            truth=truth,
            weekly=files.read_weekly_csv(folder / "truth_weekly.csv"),
            lift_tests=files.read_lift_tests(lift, truth["channel_names"])
            if lift.exists()
            else files.empty_lift_tests(),
        )


def _ar1(
    rng: np.random.Generator, phi: float, shape: tuple[int, int], cov: np.ndarray | None = None
) -> np.ndarray:
    """Stationary AR(1) series with unit marginal variance along axis 0 (optionally correlated columns)."""
    n, k = shape
    if cov is None:
        eps = rng.standard_normal((n + _BURN_IN, k))
    else:
        eps = rng.multivariate_normal(np.zeros(k), cov, size=n + _BURN_IN, method="cholesky")
    z = lfilter([np.sqrt(1.0 - phi**2)], [1.0, -phi], eps, axis=0)
    return z[_BURN_IN:]


def _flighting(
    rng: np.random.Generator, active_share: np.ndarray, persistence: np.ndarray, n: int
) -> np.ndarray:
    """On/off weeks: each week keeps last week's state with prob ``persistence``, else redraws it
    (on with prob ``active_share``). The stationary share of on-weeks is ``active_share``."""
    k = active_share.size
    redraw = rng.random((n, k)) >= persistence
    redraw[0] = True
    fresh = rng.random((n, k)) < active_share
    last = np.maximum.accumulate(np.where(redraw, np.arange(n)[:, None], 0), axis=0)
    return np.take_along_axis(fresh, last, axis=0)


def simulate_spend(spec: ScenarioSpec, rng: np.random.Generator) -> np.ndarray:
    """Weekly spend (currency), shape (n_weeks, n_channels): log-normal AR(1) with cross-channel
    correlation of the latent log-spend, times on/off flighting."""
    chans = list(spec.channels.values())
    k = len(chans)
    cov = np.full((k, k), spec.spend_correlation)
    np.fill_diagonal(cov, 1.0)
    z = _ar1(rng, spec.spend_autocorrelation, (spec.n_weeks, k), cov)
    cv = np.array([c.spend_cv for c in chans])
    sigma = np.sqrt(np.log1p(cv**2))
    mean = np.array([c.mean_spend for c in chans])
    active_spend = mean * np.exp(sigma * z - 0.5 * sigma**2)
    on = _flighting(
        rng,
        np.array([c.active_share for c in chans]),
        np.array([c.burst_persistence for c in chans]),
        spec.n_weeks,
    )
    return np.where(on, active_spend, 0.0)


def simulate(spec: ScenarioSpec, rng: np.random.Generator) -> SimulatedDataset:
    """Simulate one dataset of a scenario. Same ``spec`` and Generator state -> same bytes."""
    n = spec.n_weeks
    names = spec.channel_names
    dates = pd.date_range(pd.Timestamp(spec.start_date), periods=n, freq="7D")

    # observed series at a fixed precision (files.CURRENCY_DECIMALS), before anything is
    # computed from them: the truth is that of the data as written
    spend = np.round(simulate_spend(spec, rng), files.CURRENCY_DECIMALS)
    competitor = np.round(_ar1(rng, spec.competitor.ar, (n, 1))[:, 0], files.INDEX_DECIMALS)
    event = (rng.random(n) < spec.event.probability).astype(float)

    time_index = np.arange(n) / max(n - 1, 1)
    amplitudes = np.asarray(spec.seasonality, dtype=float).reshape(-1)
    seasonality = transforms.fourier_features(dates, len(spec.seasonality)) @ amplitudes
    trend = spec.trend * time_index
    base = spec.intercept + trend + seasonality
    competitor_effect = spec.competitor.coef * competitor
    event_effect = spec.event.effect * event

    responses = {name: ChannelResponse.from_spec(ch) for name, ch in spec.channels.items()}
    contributions = np.column_stack(
        [responses[c].contribution(spend[:, i]) for i, c in enumerate(names)]
    )
    mu = base + competitor_effect + event_effect + contributions.sum(axis=1)

    noise_sd = float(np.std(mu) / spec.noise.snr)
    eps = rng.standard_normal(n)
    if spec.noise.kind == "gaussian":
        y = mu + noise_sd * eps
    else:  # multiplicative: y = mu * (1 + e), sd(e) chosen so the noise sd averages noise_sd
        y = mu * (1.0 + noise_sd / float(np.mean(mu)) * eps)

    y = np.round(y, files.CURRENCY_DECIMALS)
    data = pd.DataFrame({files.DATE_COLUMN: dates, files.TARGET_COLUMN: y})
    for i, c in enumerate(names):
        data[c] = spend[:, i]
    data["competitor"] = competitor
    data["event"] = event

    weekly = pd.DataFrame(
        {
            files.DATE_COLUMN: dates,
            "base": base,
            "trend": trend,
            "seasonality": seasonality,
            "competitor_effect": competitor_effect,
            "event_effect": event_effect,
        }
    )
    for i, c in enumerate(names):
        weekly[f"contribution_{c}"] = contributions[:, i]
    weekly["mu"] = mu

    truth = _truth(spec, responses, spend, contributions, noise_sd)
    lift_tests, true_lifts = simulate_lift_tests(spec, responses, data, rng)
    if true_lifts:
        truth["lift_tests"] = true_lifts
    # the answer key at a stated precision, in memory as in its file (files.TRUTH_SIGNIFICANT_DIGITS)
    truth = files.round_significant(truth, files.TRUTH_SIGNIFICANT_DIGITS)
    return SimulatedDataset(data=data, truth=truth, weekly=weekly, lift_tests=lift_tests)


def simulate_lift_tests(
    spec: ScenarioSpec,
    responses: dict[str, ChannelResponse],
    data: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The scenario's lift tests (:class:`~mmm_recovery.core.scenario.LiftTestSpec`): the measured table
    and, for the answer key, each test's true lift. No draws without lift tests."""
    truth: list[dict[str, Any]]
    rows, truth = [], []
    if not spec.lift_tests:
        return files.empty_lift_tests(), truth
    eps = rng.standard_normal(len(spec.lift_tests))
    cents = files.CURRENCY_DECIMALS  # a test is measured in currency, like the data
    for test, e in zip(spec.lift_tests, eps, strict=True):
        x = round(float(data[test.channel].mean()), cents)
        dx = round(test.spend_change * x, cents)
        r = responses[test.channel]
        lift = true_lift(r, x, dx, test.weeks)
        sigma = round(test.standard_error * abs(lift), cents)
        rows.append(
            {
                "channel": test.channel,
                "x": x,
                "delta_x": dx,
                "delta_y": round(lift + sigma * e, cents),
                "sigma": sigma,
                files.LIFT_TEST_WEEKS: test.weeks,
            }
        )
        truth_row = {"channel": test.channel, "x": x, "delta_x": dx, "delta_y": lift}
        if test.weeks is not None:
            truth_row["weeks"] = test.weeks
            truth_row["steady_state_delta_y"] = true_lift(r, x, dx, None)
        truth.append(truth_row)
    return files.lift_test_table(rows), truth


def true_lift(r: ChannelResponse, x: float, dx: float, weeks: int | None) -> float:
    """True lift (currency per week) of moving weekly spend from ``x`` to ``x + dx``: the
    steady-state response difference when ``weeks`` is None, else the mean weekly change over a
    test of ``weeks`` weeks that starts from steady state at ``x``."""
    if weeks is None:
        return float(r.steady_state(x + dx) - r.steady_state(x))
    path = np.concatenate([np.full(r.l_max, x), np.full(weeks, x + dx)])
    during = r.contribution(path)[r.l_max :]
    return float(np.mean(during) - r.steady_state(x))


def _truth(
    spec: ScenarioSpec,
    responses: dict[str, ChannelResponse],
    spend: np.ndarray,
    contributions: np.ndarray,
    noise_sd: float,
) -> dict[str, Any]:
    names = spec.channel_names
    spend_tot = spend.sum(axis=0)
    contrib_tot = contributions.sum(axis=0)
    channels = {}
    for i, c in enumerate(names):
        r = responses[c]
        mean_weekly = float(spend[:, i].mean())
        grid = np.linspace(
            0.0, spec.curve_max_multiple * spec.channels[c].mean_spend, spec.curve_points
        )
        channels[c] = {
            **r.to_dict(),
            "spend_total": float(spend_tot[i]),
            "spend_share": float(spend_tot[i] / spend_tot.sum()),
            "mean_weekly_spend": mean_weekly,
            "contribution_total": float(contrib_tot[i]),
            "contribution_share": float(contrib_tot[i] / contrib_tot.sum())
            if contrib_tot.sum() > 0
            else 0.0,
            "roas": float(contrib_tot[i] / spend_tot[i]) if spend_tot[i] > 0 else float("nan"),
            "mroas": float(r.marginal(mean_weekly)),
            "curve": {"spend": grid, "response": r.steady_state(grid)},
        }
    return {
        "channels": channels,
        "channel_names": names,
        "controls": ["competitor", "event"],
        "n_weeks": spec.n_weeks,
        "base": {
            "intercept": spec.intercept,
            "trend": spec.trend,
            "seasonality": [list(p) for p in spec.seasonality],
            "competitor_coef": spec.competitor.coef,
            "event_effect": spec.event.effect,
        },
        "noise": {"kind": spec.noise.kind, "snr": spec.noise.snr, "sd": noise_sd},
    }


def simulate_scenario(
    study: Any, scenario: str, data_root: Path | None = None
) -> list[SimulatedDataset]:
    """Simulate every replicate of ``scenario`` and save each under
    ``data/<scenario>/simulated/rep_<NNN>/`` (seed: ``study.rng(scenario, replicate)``)."""
    from mmm_recovery.core import paths

    spec = study.scenario(scenario)
    out = []
    for r in range(study.study.replicates):
        ds = simulate(spec, study.rng(scenario, r))
        ds.save(paths.replicate_dir(scenario, r, data_root))
        out.append(ds)
    return out
