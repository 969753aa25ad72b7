"""Synthetic weekly MMM data with its answer key.

``simulate(spec, rng) -> SimulatedDataset(data, truth, weekly)``:

* ``data``: what an analyst would see -- ``date, y, <channel spend...>, competitor, event``;
* ``truth``: the answer key (JSON-ready): per-channel adstock/saturation parameters and beta,
  spend and contribution totals and shares, ROAS, marginal ROAS at mean weekly spend and the
  steady-state response curve on an absolute spend grid, plus the base components;
* ``weekly``: the true weekly decomposition (base, each channel's contribution, control
  effects, an unobserved demand shock's effect, noiseless target ``mu``) so that
  ``mu == base + sum(contributions) + controls + shock``;
* ``lift_tests``: the scenario's lift tests as an analyst would get them (PyMC-Marketing's
  columns ``channel, x, delta_x, delta_y, sigma``, and ``weeks`` when a test has a length;
  :class:`~mmm_recovery.core.scenario.LiftTestSpec`), empty without any; their true lifts are in ``truth["lift_tests"]``.

All amounts are on the original (currency) scale. Every source of randomness draws from its own
named stream (:mod:`mmm_recovery.simulation.streams`), week by week, so one Generator seed gives
one dataset byte for byte, and scenarios that differ in one factor share every other draw
(common random numbers). Confounding (spend that follows demand, bursts at seasonal peaks, an
unobserved demand shock) and truths drawn per replicate (``random_truth``) are scenario settings
(:mod:`mmm_recovery.core.scenario`).
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
from mmm_recovery.simulation.streams import streams
from mmm_recovery.simulation.truth_draw import draw_truth

_BURN_IN = 52  # weeks discarded so AR(1) series start from their stationary distribution
DEMAND_INDEX = "demand_index"  # the control column of a demand shock's proxy


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


def _ar1(eps: np.ndarray, phi: float) -> np.ndarray:
    """Stationary AR(1) series with unit marginal variance along axis 0 from the shocks ``eps``
    (shape ``(n + _BURN_IN, k)``; the first ``_BURN_IN`` rows are discarded)."""
    z = lfilter([np.sqrt(1.0 - phi**2)], [1.0, -phi], eps, axis=0)
    return z[_BURN_IN:]


def _standardised(x: np.ndarray) -> np.ndarray:
    sd = float(np.std(x))
    return (x - float(np.mean(x))) / sd if sd > 0 else np.zeros_like(x)


def _flighting(
    u: np.ndarray,
    active_share: np.ndarray,
    persistence: np.ndarray,
    timing: np.ndarray,
    season: np.ndarray,
) -> np.ndarray:
    """On/off weeks from uniforms ``u`` (shape ``(n, 2, k)``): each week keeps last week's state
    with prob ``persistence``, else redraws it, on with prob ``active_share`` -- shifted on the
    log-odds scale by ``timing`` x the standardised seasonality (bursts timed with peaks). Without
    timing the stationary share of on-weeks is ``active_share``."""
    n = u.shape[0]
    redraw = u[:, 0] >= persistence
    redraw[0] = True
    logit = np.log(active_share) - np.log1p(-np.minimum(active_share, 1.0 - 1e-12))
    p_on = 1.0 / (1.0 + np.exp(-(logit + timing * season[:, None])))
    fresh = u[:, 1] < np.where(active_share >= 1.0, 1.0, p_on)
    last = np.maximum.accumulate(np.where(redraw, np.arange(n)[:, None], 0), axis=0)
    return np.take_along_axis(fresh, last, axis=0)


def simulate_spend(
    spec: ScenarioSpec,
    draws: dict[str, np.random.Generator],
    demand: np.ndarray,
    shock: np.ndarray,
    season: np.ndarray,
) -> np.ndarray:
    """Weekly spend (currency), shape (n_weeks, n_channels): log-normal AR(1) with cross-channel
    correlation of the latent log-spend, loaded on the standardised base ``demand`` and the
    demand ``shock`` where a channel follows them (rescaled to unit variance, so the mean spend
    is kept), times on/off flighting (timed with the standardised ``season`` where set)."""
    chans = list(spec.channels.values())
    k, n = len(chans), spec.n_weeks
    cov = np.full((k, k), spec.spend_correlation)
    np.fill_diagonal(cov, 1.0)
    # shocks week by week, correlated through one Cholesky factor: the same shocks at every
    # correlation and (their first weeks) at every data length
    eps = draws["spend"].standard_normal((n + _BURN_IN, k)) @ np.linalg.cholesky(cov).T
    z = _ar1(eps, spec.spend_autocorrelation)
    conf = [c.confounding for c in chans]
    a_season = np.array([c.season if c else 0.0 for c in conf])
    a_shock = np.array([c.shock if c else 0.0 for c in conf])
    z = (z + demand[:, None] * a_season + shock[:, None] * a_shock) / np.sqrt(
        1.0 + a_season**2 + a_shock**2
    )
    cv = np.array([c.spend_cv for c in chans])
    sigma = np.sqrt(np.log1p(cv**2))
    mean = np.array([c.mean_spend for c in chans])
    active_spend = mean * np.exp(sigma * z - 0.5 * sigma**2)
    on = _flighting(
        draws["flighting"].random((n, 2, k)),
        np.array([c.active_share for c in chans]),
        np.array([c.burst_persistence for c in chans]),
        np.array([c.peak_timing if c else 0.0 for c in conf]),
        season,
    )
    return np.where(on, active_spend, 0.0)


def simulate(spec: ScenarioSpec, rng: np.random.Generator) -> SimulatedDataset:
    """Simulate one dataset of a scenario. Same ``spec`` and Generator seed -> same bytes; the
    draws come from ``rng``'s named streams (:func:`~mmm_recovery.simulation.streams.streams`)."""
    draws = streams(rng)
    spec = draw_truth(spec, draws["truth"])
    n = spec.n_weeks
    names = spec.channel_names
    dates = pd.date_range(pd.Timestamp(spec.start_date), periods=n, freq="7D")

    time_index = np.arange(n) / max(n - 1, 1)
    amplitudes = np.asarray(spec.seasonality, dtype=float).reshape(-1)
    seasonality = transforms.fourier_features(dates, len(spec.seasonality)) @ amplitudes
    trend = spec.trend * time_index
    base = spec.intercept + trend + seasonality
    shock_spec = spec.demand_shock
    shock = (
        _ar1(draws["shock"].standard_normal((n + _BURN_IN, 1)), shock_spec.ar)[:, 0]
        if shock_spec
        else np.zeros(n)
    )

    # observed series at a fixed precision (files.CURRENCY_DECIMALS), before anything is
    # computed from them: the truth is that of the data as written
    spend = np.round(
        simulate_spend(spec, draws, _standardised(base), shock, _standardised(seasonality)),
        files.CURRENCY_DECIMALS,
    )
    competitor = np.round(
        _ar1(draws["competitor"].standard_normal((n + _BURN_IN, 1)), spec.competitor.ar)[:, 0],
        files.INDEX_DECIMALS,
    )
    event = (draws["events"].random(n) < spec.event.probability).astype(float)

    competitor_effect = spec.competitor.coef * competitor
    event_effect = spec.event.effect * event
    shock_effect = shock_spec.effect * shock if shock_spec else np.zeros(n)

    responses = {name: ChannelResponse.from_spec(ch) for name, ch in spec.channels.items()}
    contributions = np.column_stack(
        [responses[c].contribution(spend[:, i]) for i, c in enumerate(names)]
    )
    mu = base + competitor_effect + event_effect + shock_effect + contributions.sum(axis=1)

    noise_sd = float(spec.noise.sd if spec.noise.sd is not None else np.std(mu) / spec.noise.snr)
    eps = draws["noise"].standard_normal(n)
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
    if shock_spec and shock_spec.proxy_noise is not None:  # the analyst's noisy demand index
        proxy = shock + shock_spec.proxy_noise * draws["proxy"].standard_normal(n)
        data[DEMAND_INDEX] = np.round(proxy, files.INDEX_DECIMALS)

    weekly = pd.DataFrame(
        {
            files.DATE_COLUMN: dates,
            "base": base,
            "trend": trend,
            "seasonality": seasonality,
            "competitor_effect": competitor_effect,
            "event_effect": event_effect,
            "demand_shock_effect": shock_effect,
        }
    )
    for i, c in enumerate(names):
        weekly[f"contribution_{c}"] = contributions[:, i]
    weekly["mu"] = mu

    truth = _truth(spec, responses, spend, contributions, float(np.std(mu)), noise_sd)
    truth["controls"] = [c for c in data.columns if c in ("competitor", "event", DEMAND_INDEX)]
    lift_tests, true_lifts = simulate_lift_tests(spec, responses, data, draws["lift_tests"])
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
    signal_sd: float,
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
        "n_weeks": spec.n_weeks,
        "base": {
            "intercept": spec.intercept,
            "trend": spec.trend,
            "seasonality": [list(p) for p in spec.seasonality],
            "competitor_coef": spec.competitor.coef,
            "event_effect": spec.event.effect,
            "demand_shock_effect": spec.demand_shock.effect if spec.demand_shock else 0.0,
        },
        # the realised signal-to-noise ratio, whichever of snr and sd the scenario set
        "noise": {"kind": spec.noise.kind, "snr": signal_sd / noise_sd, "sd": noise_sd},
    }


def simulate_scenario(
    study: Any, scenario: str, data_root: Path | None = None
) -> list[SimulatedDataset]:
    """Simulate every replicate of ``scenario`` and save each under
    ``data/<scenario>/simulated/rep_<NNN>/`` (seed: ``study.rng(scenario, replicate)``)."""
    from mmm_recovery.core import paths

    spec = study.scenario(scenario)
    out = []
    for r in range(study.replicates_of(scenario)):
        ds = simulate(spec, study.rng(scenario, r))
        ds.save(paths.replicate_dir(scenario, r, data_root))
        out.append(ds)
    return out
