"""Figures and display tables. Every function returns a Figure (or a DataFrame) and never saves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmm_recovery.core.response import ChannelResponse


def truth_table(truth: dict[str, Any]) -> pd.DataFrame:
    """One row per channel: true parameters and the derived ROAS figures."""
    rows = {}
    for name, ch in truth["channels"].items():
        ad = {f"adstock_{k}": v for k, v in ch["adstock"].items() if k not in ("normalize",)}
        sat = {f"saturation_{k}": v for k, v in ch["saturation"].items()}
        rows[name] = {
            **ad,
            **sat,
            "beta": ch["beta"],
            "spend_share": ch["spend_share"],
            "contribution_share": ch["contribution_share"],
            "roas": ch["roas"],
            "mroas": ch["mroas"],
        }
    return pd.DataFrame(rows).T


def adstock_kernels(truth: dict[str, Any]) -> Figure:
    """True adstock weights per channel (lag 0 first)."""
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    for name, ch in truth["channels"].items():
        w = ChannelResponse.from_dict(ch).weights()
        ax.plot(np.arange(w.size), w, marker="o", label=f"{name} ({ch['adstock']['family']})")
    ax.set(xlabel="lag (weeks)", ylabel="weight", title="True adstock kernels")
    ax.legend(fontsize="small")
    return fig


def response_curves(
    truth: dict[str, Any], estimates: dict[str, dict[str, Any]] | None = None
) -> Figure:
    """True steady-state response curves (weekly revenue vs constant weekly spend), optionally with
    estimated curves ``{estimator: {channel: {"spend", "estimate", "lower", "upper"}}}`` overlaid."""
    names = list(truth["channels"])
    fig = Figure(figsize=(3.2 * len(names), 3), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ch = truth["channels"][name]
        ax.plot(ch["curve"]["spend"], ch["curve"]["response"], color="k", lw=2, label="truth")
        ax.axvline(ch["mean_weekly_spend"], color="grey", ls=":", lw=1)
        for est, curves in (estimates or {}).items():
            c = curves[name]
            line = ax.plot(c["spend"], c["estimate"], label=est)[0]
            if c.get("lower") is not None:
                ax.fill_between(
                    c["spend"], c["lower"], c["upper"], color=line.get_color(), alpha=0.2
                )
        ax.set(title=name, xlabel="weekly spend")
    axes[0, 0].set_ylabel("weekly revenue (steady state)")
    axes[0, -1].legend(fontsize="small")
    return fig


def spend_and_target(data: pd.DataFrame, truth: dict[str, Any]) -> Figure:
    """Weekly spend per channel (top) and the target (bottom)."""
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for name in truth["channel_names"]:
        ax1.plot(data["date"], data[name], lw=1, label=name)
    ax1.set(ylabel="spend / week")
    ax1.legend(fontsize="small", ncol=len(truth["channel_names"]))
    ax2.plot(data["date"], data["y"], color="k", lw=1)
    ax2.set(ylabel="revenue / week (y)")
    return fig


def decomposition(weekly: pd.DataFrame, truth: dict[str, Any]) -> Figure:
    """True decomposition: base (intercept+trend+seasonality), controls, and each channel, stacked."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    parts = {
        "base": weekly["base"],
        "controls": weekly["competitor_effect"] + weekly["event_effect"],
    }
    parts |= {name: weekly[f"contribution_{name}"] for name in truth["channel_names"]}
    ax.stackplot(weekly["date"], *parts.values(), labels=list(parts), alpha=0.8)
    ax.plot(weekly["date"], weekly["mu"], color="k", lw=1, label="mu (noiseless)")
    ax.set(ylabel="revenue / week", title="True decomposition")
    ax.legend(fontsize="x-small", ncol=4, loc="lower left")
    return fig


def recovery_table(result: dict[str, Any], truth: dict[str, Any]) -> pd.DataFrame:
    """Estimate, interval and truth per channel for adstock params, ROAS, marginal ROAS and
    contribution share (quantities present in both)."""
    rows = []
    for ch, est in result["channels"].items():
        t = truth["channels"][ch]
        pairs = [
            (f"adstock.{k}", v, t["adstock"].get(k)) for k, v in est["adstock"]["params"].items()
        ]
        pairs += [
            (f"saturation.{k}", v, t["saturation"].get(k))
            for k, v in est["saturation"]["params"].items()
            if est["saturation"]["family"] == t["saturation"]["family"]
        ]
        pairs += [(q, est[q], t[q]) for q in ("roas", "mroas", "contribution_share")]
        for name, e, true in pairs:
            lo, hi = e["lower"], e["upper"]
            rows.append(
                {
                    "channel": ch,
                    "quantity": name,
                    "estimate": e["estimate"],
                    "lower": lo,
                    "upper": hi,
                    "truth": true,
                    "covered": None if lo is None or true is None else bool(lo <= true <= hi),
                }
            )
    return pd.DataFrame(rows)


def fitted_vs_actual(fitted: pd.DataFrame) -> Figure:
    """Observed and fitted target over time; the holdout weeks shaded."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(fitted["date"], fitted["y"], color="k", lw=1, label="observed")
    ax.plot(fitted["date"], fitted["yhat"], color="tab:blue", lw=1, label="fitted")
    hold = fitted[fitted["split"] == "holdout"]
    if len(hold):
        ax.axvspan(hold["date"].min(), hold["date"].max(), color="grey", alpha=0.2, label="holdout")
    ax.set(ylabel="revenue / week")
    ax.legend(fontsize="small")
    return fig


def estimated_decomposition(decomp: pd.DataFrame, channels: list[str]) -> Figure:
    """Estimated weekly contributions: base (intercept + other regressors) and each channel."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax = fig.subplots()
    other = [c for c in decomp.columns if c not in ("date", *channels)]
    parts = {"base + controls": decomp[other].sum(axis=1)} | {c: decomp[c] for c in channels}
    ax.stackplot(decomp["date"], *parts.values(), labels=list(parts), alpha=0.8)
    ax.set(ylabel="revenue / week", title="Estimated decomposition")
    ax.legend(fontsize="x-small", ncol=4, loc="lower left")
    return fig


def interval_vs_truth(
    results: dict[str, dict[str, Any]], truth: dict[str, Any], quantity: str
) -> Figure:
    """Point estimate and interval of ``quantity`` (e.g. roas) per channel and estimator, with the
    truth. The interval is drawn from its own bounds, not as error bars around the estimate: a
    bootstrap interval need not contain the full-data estimate, and the figure shows when not."""
    names = list(truth["channel_names"])
    fig = Figure(figsize=(7, 0.6 * len(names) + 1.2), layout="constrained")
    ax = fig.subplots()
    offsets = np.linspace(-0.15, 0.15, max(len(results), 1))
    for off, (est, res) in zip(offsets, results.items(), strict=True):
        for i, ch in enumerate(names):
            e = res["channels"][ch][quantity]
            color = f"C{list(results).index(est)}"
            if e["lower"] is not None:
                ax.hlines(i + off, e["lower"], e["upper"], color=color)
            ax.plot(e["estimate"], i + off, "o", color=color, label=est if i == 0 else None)
    ax.scatter(
        [truth["channels"][ch][quantity] for ch in names],
        range(len(names)),
        marker="x",
        color="k",
        s=60,
        zorder=5,
        label="truth",
    )
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel=quantity, title=f"{quantity}: estimates and intervals vs truth")
    ax.legend(fontsize="small")
    return fig


def _channel_average(df: pd.DataFrame) -> pd.DataFrame:
    """The channel-averaged rows of a per-channel metrics table (``channel == "all"``)."""
    return df[df["channel"] == "all"] if "channel" in df else df


def coverage_by_scenario(
    coverage: pd.DataFrame, quantity: str, nominal: dict[str, float]
) -> Figure:
    """Interval coverage of ``quantity`` per scenario and estimator with exact 95% CIs, against
    each estimator's nominal level."""
    d = _channel_average(coverage[coverage["quantity"] == quantity])
    scen = list(dict.fromkeys(d["scenario"]))
    ests = list(dict.fromkeys(d["estimator"]))
    fig = Figure(figsize=(8, 0.5 * len(scen) + 1.5), layout="constrained")
    ax = fig.subplots()
    for k, est in enumerate(ests):
        e = d[d["estimator"] == est].set_index("scenario").reindex(scen)
        y = np.arange(len(scen)) + (k - (len(ests) - 1) / 2) * 0.2
        ax.errorbar(
            e["coverage"],
            y,
            xerr=[e["coverage"] - e["coverage_lo"], e["coverage_hi"] - e["coverage"]],
            fmt="o",
            color=f"C{k}",
            label=est,
        )
        if est in nominal:
            ax.axvline(nominal[est], color=f"C{k}", ls=":", lw=1)
    ax.set_yticks(range(len(scen)), scen)
    ax.set(xlim=(-0.02, 1.02), xlabel=f"coverage of {quantity} (exact 95% CI); dotted = nominal")
    ax.legend(fontsize="small")
    return fig


def calibration_curves(calibration: pd.DataFrame, quantity: str) -> Figure:
    """Empirical coverage of ``quantity``'s intervals against their nominal level, one panel per
    estimator and one line per scenario, each point with its exact 95% binomial interval
    (``calibration.csv``, channel averages). Every scenario pooled (scenario ``all``), where
    present, is the thick black line. On the diagonal an estimator's intervals are calibrated;
    below it they are too narrow, above it too wide."""
    d = calibration[calibration["quantity"] == quantity]
    if "channel" in d:
        d = d[d["channel"] == "all"]
    ests = list(dict.fromkeys(d["estimator"]))
    scen = sorted(dict.fromkeys(d["scenario"]), key=lambda s: s == "all")
    fig = Figure(figsize=(4 * max(len(ests), 1) + 1.5, 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(len(ests), 1), sharey=True))
    for ax, est in zip(axes, ests, strict=False):
        ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--")
        for k, sc in enumerate(scen):
            e = d[(d["estimator"] == est) & (d["scenario"] == sc)].sort_values("nominal")
            jitter = (k - (len(scen) - 1) / 2) * 0.004
            ax.errorbar(
                e["nominal"] + jitter,
                e["coverage"],
                yerr=[e["coverage"] - e["coverage_lo"], e["coverage_hi"] - e["coverage"]],
                fmt="o-",
                ms=3 if sc != "all" else 5,
                lw=1 if sc != "all" else 2.5,
                color=f"C{k % 10}" if sc != "all" else "black",
                label=sc if sc != "all" else "all scenarios",
                zorder=3 if sc == "all" else 2,
            )
        ax.set(
            title=est,
            xlim=(0.4, 1.0),
            ylim=(-0.02, 1.02),
            xlabel="nominal level",
            ylabel=f"empirical coverage of {quantity}",
        )
    if ests:
        fig.legend(
            *axes[0].get_legend_handles_labels(), loc="outside right center", fontsize="small"
        )
    return fig


def error_by_scenario(bias: pd.DataFrame, quantity: str, column: str = "bias") -> Figure:
    """Bias (or RMSE / mean abs relative error) of ``quantity`` per scenario and estimator."""
    d = _channel_average(bias[bias["quantity"] == quantity])
    scen = list(dict.fromkeys(d["scenario"]))
    ests = list(dict.fromkeys(d["estimator"]))
    fig = Figure(figsize=(8, 0.5 * len(scen) + 1.5), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(ests), 1)
    for k, est in enumerate(ests):
        e = d[d["estimator"] == est].set_index("scenario").reindex(scen)
        ax.barh(
            np.arange(len(scen)) + (k - (len(ests) - 1) / 2) * width,
            e[column],
            height=width,
            label=est,
        )
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(scen)), scen)
    ax.set(xlabel=f"{column} of {quantity}")
    ax.legend(fontsize="small")
    return fig


def headline(
    coverage: pd.DataFrame, bias: pd.DataFrame, quantity: str, nominal: dict[str, float]
) -> Figure:
    """The study's answer for ``quantity`` in one figure, per scenario and estimator, channel
    averages.

    Left: interval coverage with its exact 95% interval at the effective number of intervals
    (``coverage.csv``), dotted at each estimator's nominal level. Right: mean absolute relative
    error with +-2 fit-clustered Monte Carlo SE (``bias.csv``); no bar where too few fits make
    the SE not estimable.
    """
    cov = _channel_average(coverage[coverage["quantity"] == quantity])
    b = _channel_average(bias[bias["quantity"] == quantity])
    err = b.set_index(["scenario", "estimator"])[
        ["mean_abs_rel_error", "mean_abs_rel_error_se"]
    ].set_axis(["mean", "sem"], axis=1)
    scen = list(dict.fromkeys([*cov["scenario"], *err.index.get_level_values(0)]))
    ests = list(dict.fromkeys([*cov["estimator"], *err.index.get_level_values(1)]))
    fig = Figure(figsize=(9, 0.45 * len(scen) + 1.6), layout="constrained")
    ax_cov, ax_err = fig.subplots(1, 2, sharey=True)
    for k, est in enumerate(ests):
        y = np.arange(len(scen)) + (k - (len(ests) - 1) / 2) * 0.25
        c = cov[cov["estimator"] == est].set_index("scenario").reindex(scen)
        ax_cov.errorbar(
            c["coverage"],
            y,
            xerr=[c["coverage"] - c["coverage_lo"], c["coverage_hi"] - c["coverage"]],
            fmt="o",
            color=f"C{k}",
            label=est,
        )
        if est in nominal:
            ax_cov.axvline(nominal[est], color=f"C{k}", ls=":", lw=1)
        e = err.xs(est, level="estimator").reindex(scen) if est in err.index.levels[1] else None
        if e is not None:
            ax_err.errorbar(
                e["mean"], y, xerr=2 * e["sem"].fillna(0), fmt="s", color=f"C{k}", label=est
            )
    ax_cov.set_yticks(range(len(scen)), scen)
    ax_cov.invert_yaxis()
    ax_cov.set(xlim=(-0.02, 1.02), xlabel=f"{quantity} interval coverage (exact 95% CI)")
    ax_err.set(xlabel=f"{quantity} mean |relative error| (+-2 SE)")
    ax_err.set_xlim(left=0)
    ax_cov.legend(fontsize="small", loc="lower left")
    return fig


def seed_stability(stability: pd.DataFrame, quantity: str = "roas") -> Figure:
    """Per estimator and channel of the seed-stability subset (``stability.csv``): the
    seed-to-seed spread of ``quantity`` (root mean variance across seeds) beside its error
    against the truth (RMSE), each +-2 MC-SE."""
    d = stability[(stability["quantity"] == quantity) & (stability["channel"] != "all")]
    rows = list(dict.fromkeys(zip(d["scenario"], d["channel"], strict=True)))
    ests = list(dict.fromkeys(d["estimator"]))
    fig = Figure(figsize=(7, 0.3 * len(rows) * max(len(ests), 1) + 1.4), layout="constrained")
    ax = fig.subplots()
    for k, est in enumerate(ests):
        e = d[d["estimator"] == est].set_index(["scenario", "channel"]).reindex(rows)
        y = np.arange(len(rows)) + (k - (len(ests) - 1) / 2) * 0.8 / max(len(ests), 1)
        for stat, marker in (("rmse", "o"), ("seed_sd", "|")):
            ax.errorbar(
                e[stat],
                y,
                xerr=2 * e[f"{stat}_se"].fillna(0),
                fmt=marker,
                color=f"C{k}",
                ms=9,
                label=f"{est}: {'error (RMSE)' if stat == 'rmse' else 'seed-to-seed sd'}",
            )
    ax.set_yticks(range(len(rows)), [f"{s}: {c}" for s, c in rows])
    ax.invert_yaxis()
    ax.set(xlabel=f"{quantity}: seed-to-seed sd (|) and RMSE against the truth (o), +-2 MC-SE")
    ax.set_xlim(left=0)
    ax.legend(fontsize="x-small", loc="lower right")
    return fig


def family_curves(kind: str) -> Figure:
    """One panel per registered ``kind`` family (``"adstock"``: normalised lag weights over 12
    weeks; ``"saturation"``: ``f(x)`` for ``x`` of order 1), one line per example parameter set
    the family carries (``examples``), so a new family appears with no edit here."""
    from mmm_recovery.families import registry as families

    names = families.adstock_names() if kind == "adstock" else families.saturation_names()
    fig = Figure(figsize=(3.2 * len(names), 3), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    x = np.linspace(0.0, 5.0, 200)
    for ax, name in zip(axes, names, strict=True):
        fam = families.adstock(name) if kind == "adstock" else families.saturation(name)
        for params in fam.examples:
            label = ", ".join(f"{k}={v:g}" for k, v in params.items())
            if kind == "adstock":
                w = families.adstock_weights(name, params, 12, True)[:, 0]
                ax.plot(w, marker="o", ms=3, label=label)
            else:
                ax.plot(x, families.saturate(name, x, params), label=label)
        xlabel = "lag (weeks)" if kind == "adstock" else "adstocked spend x"
        ax.set(title=name, xlabel=xlabel)
        ax.legend(fontsize="x-small")
    return fig
