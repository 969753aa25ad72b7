"""Does the compiled Bayesian path give today's posterior? Both paths on the same datasets.

    python scripts/compiled_equivalence.py [--study studies/recovery.yaml] [--replicates 1]
        [--out docs/benchmarks/compiled_equivalence.md]

Fits the first ``--replicates`` replicates of every scenario of the study with the Bayesian
estimator's ``fit_path: pymc-marketing`` (today's path) and ``fit_path: compiled`` (same seeds,
settings, priors and thresholds). For every channel and every study quantity (decay, lam, beta,
ROAS, contribution share, marginal ROAS, from all posterior draws on the original scale) it
compares the posterior mean and the quantiles at the tails of every reported interval (the
study's HDI level and calibration levels, equal-tailed) and the median:
``z = (new - today) / sqrt(mcse_new**2 + mcse_today**2)``, each Monte Carlo standard error
from ArviZ (``mcse``, ``method="mean"`` / ``"quantile"``). If both paths sample the same
posterior, about 5% of |z| exceed 2 (the quantiles of one quantity are correlated, so the share
scatters more than a binomial's). It also counts how often each path meets every convergence
threshold. It writes a Markdown page; it never asserts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402

QUANTITIES = ("alpha", "lam", "beta", "roas", "contribution_share", "mroas")


def quantity_draws(est: Any, result: Any, fit_input: Any) -> dict[str, np.ndarray]:
    """``"<quantity>[<channel>]" -> (chain, draw)`` draws of every study quantity."""
    from mmm_recovery.core.response import ResponseDraws
    from mmm_recovery.estimators.bayesian.posterior import channel_draws

    idata = result.extras["idata"]
    post = idata["posterior"]
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    scales = result.extras["mmm"].get_scales_as_xarray()
    target_scale = float(scales["target_scale"].values)
    channel_scale = np.asarray(scales["channel_scale"].sel(channel=fit_input.channels).values)
    every = np.arange(chains * draws)
    per_channel = channel_draws(est.config, idata, fit_input, channel_scale, target_scale, every)
    spend = fit_input.spend
    stacked = {c: ResponseDraws.from_draws(per_channel[c]) for c in fit_input.channels}
    contrib = {
        c: stacked[c].contribution(spend[:, i]).sum(axis=1)
        for i, c in enumerate(fit_input.channels)
    }
    total = sum(contrib.values())
    out = {}
    for i, c in enumerate(fit_input.channels):
        s = stacked[c]
        values = {
            "alpha": s.adstock_params["alpha"][:, 0],
            "lam": s.saturation_params["lam"][:, 0],
            "beta": s.beta[:, 0],
            "roas": contrib[c] / spend[:, i].sum(),
            "contribution_share": contrib[c] / total,
            "mroas": s.marginal(float(spend[:, i].mean())),
        }
        for q, v in values.items():
            out[f"{q}[{c}]"] = v.reshape(chains, draws)
    return out


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], probs: list[float]) -> list[dict]:
    """One row per quantity and statistic (mean, each quantile): both values and the z."""
    import arviz as az

    rows = []
    for name in a:
        x, y = a[name], b[name]
        stats = [("mean", None)] + [(f"q{p:g}", p) for p in probs]
        for label, p in stats:
            if p is None:
                vx, vy = x.mean(), y.mean()
                sx = float(az.mcse(x, method="mean"))
                sy = float(az.mcse(y, method="mean"))
            else:
                vx, vy = np.quantile(x, p), np.quantile(y, p)
                sx = float(az.mcse(x, method="quantile", prob=p))
                sy = float(az.mcse(y, method="quantile", prob=p))
            se = np.hypot(sx, sy)
            rows.append(
                {"quantity": name, "stat": label, "today": vx, "new": vy, "z": (vy - vx) / se}
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from mmm_recovery.core.spec import load_study
    from mmm_recovery.estimators.registry import estimator_for
    from mmm_recovery.evaluation.fitting import fit_input, simulated

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument("--replicates", type=int, default=1)
    ap.add_argument("--estimator", default="bayesian")
    ap.add_argument("--out", default="docs/benchmarks/compiled_equivalence.md")
    args = ap.parse_args(argv)
    study = load_study(args.study)
    ests = {}
    for path in ("pymc-marketing", "compiled"):
        ests[path] = estimator_for(study, args.estimator)
        ests[path].config = ests[path].config.model_copy(update={"fit_path": path})
    level = ests["compiled"].config.hdi_level
    levels = sorted({level, *study.study.calibration_levels})
    probs = sorted({p for lv in levels for p in ((1 - lv) / 2, (1 + lv) / 2)} | {0.5})
    rows, checks, fitted = [], [], []
    for scenario in study.scenarios:
        for rep in range(args.replicates):
            fi = fit_input(study, simulated(study, scenario, rep))
            draws = {}
            for path, est in ests.items():
                result = est.fit(fi, study.estimator_rng(scenario, rep, args.estimator, 0))
                d = result.diagnostics
                checks.append(
                    {
                        "scenario": scenario,
                        "replicate": rep,
                        "path": path,
                        "converged": bool(d["converged"]),
                        "max_rhat": d["max_rhat"],
                        "min_ess": min(d["min_ess_bulk"], d["min_ess_tail"]),
                        "divergences": d["divergences"],
                        "steps": d["mean_leapfrog_steps"],
                        "start": d.get("adaptation_start", "identity"),
                    }
                )
                draws[path] = quantity_draws(est, result, fi)
                fitted.append(
                    {
                        "scenario": scenario,
                        "replicate": rep,
                        "path": path,
                        "yhat": result.tables["fitted"]["yhat"].to_numpy(),
                        "holdout_mape": result.fit.holdout.mape if result.fit.holdout else None,
                    }
                )
            for r in compare(draws["pymc-marketing"], draws["compiled"], probs):
                rows.append({"scenario": scenario, "replicate": rep, **r})
            z = pd.DataFrame(rows)["z"].abs()
            print(f"{scenario} {rep}: share |z| > 2 so far {np.mean(z > 2):.3f}", flush=True)
    df, ch = pd.DataFrame(rows), pd.DataFrame(checks)
    df["big"] = df["z"].abs() > 2
    by_stat = df.groupby("stat")["big"].agg(["mean", "size"])
    by_scenario = df.groupby("scenario")["big"].agg(["mean", "size"])
    by_quantity = df.assign(q=df["quantity"].str.split("[").str[0]).groupby("q")["big"].mean()
    conv = ch.groupby("path")[["converged", "max_rhat", "min_ess", "divergences", "steps"]].agg(
        {
            "converged": "mean",
            "max_rhat": "max",
            "min_ess": "min",
            "divergences": "sum",
            "steps": "mean",
        }
    )
    n_data = len(ch) // 2
    fit_rows = []
    for (scenario, rep), g in pd.DataFrame(fitted).groupby(["scenario", "replicate"], sort=False):
        today, new = (g[g["path"] == p].iloc[0] for p in ("pymc-marketing", "compiled"))
        fi = fit_input(study, simulated(study, scenario, rep))
        y = fi.data[fi.target].to_numpy(dtype=float)
        gap = np.abs(new["yhat"] - today["yhat"]) / y[: fi.n_train].std()
        fit_rows.append(
            {
                "scenario": scenario,
                "train": gap[: fi.n_train].max(),
                "holdout": gap[fi.n_train :].max() if len(y) > fi.n_train else np.nan,
                "mape_today": today["holdout_mape"],
                "mape_new": new["holdout_mape"],
            }
        )
    fits = pd.DataFrame(fit_rows)
    body = [
        f"{len(df)} comparisons (quantity x channel x statistic) on {n_data} datasets: "
        f"share with |z| > 2 = **{df['big'].mean():.3f}** (about 0.05 expected if both paths "
        f"sample the same posterior); mean z = {df['z'].mean():+.3f}, sd of z = "
        f"{df['z'].std():.2f} (1 expected).",
        "",
        "| statistic | share |z| > 2 | comparisons |",
        "|---|---|---|",
        *[f"| {s} | {r['mean']:.3f} | {int(r['size'])} |" for s, r in by_stat.iterrows()],
        "",
        "| scenario | share |z| > 2 | comparisons |",
        "|---|---|---|",
        *[f"| {s} | {r['mean']:.3f} | {int(r['size'])} |" for s, r in by_scenario.iterrows()],
        "",
        "| quantity | share |z| > 2 |",
        "|---|---|",
        *[f"| {q} | {v:.3f} |" for q, v in by_quantity.items()],
        "",
        "Convergence (thresholds of the study file, unchanged):",
        "",
        "| path | converged share | max R-hat | min ESS | divergences | mean leapfrog steps |",
        "|---|---|---|---|---|---|",
        *[
            f"| {p} | {r['converged']:.2f} | {r['max_rhat']:.4f} | {r['min_ess']:.0f} "
            f"| {int(r['divergences'])} | {r['steps']:.1f} |"
            for p, r in conv.iterrows()
        ],
        "",
        "The fitted values (`fitted` table; training and holdout weeks): today's is the mean of "
        "posterior predictive draws, the compiled path's the posterior mean of the model's mean "
        "(what those draws' mean estimates). Largest difference over the weeks, in training sds "
        "of the target, and the holdout MAPE of each:",
        "",
        "| scenario | max gap, training | max gap, holdout | holdout MAPE today | new |",
        "|---|---|---|---|---|",
        *[
            f"| {r['scenario']} | {r['train']:.4f} | {r['holdout']:.4f} | {r['mape_today']:.4f} "
            f"| {r['mape_new']:.4f} |"
            for _, r in fits.iterrows()
        ],
        "",
        "Adaptation starts of the compiled path: "
        + ", ".join(
            f"{k} {v}" for k, v in ch[ch["path"] == "compiled"]["start"].value_counts().items()
        ),
    ]
    page = write_page(
        args.out,
        "compiled_equivalence.py",
        "The compiled Bayesian path beside today's: the same posterior?",
        [
            f"- Datasets: replicates 0..{args.replicates - 1} of each scenario of `{args.study}`",
            f"- Statistics: mean and quantiles {', '.join(f'{p:g}' for p in probs)}",
        ],
        body,
        argv,
    )
    print("\n".join(body))
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
