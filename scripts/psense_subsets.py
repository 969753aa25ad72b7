"""How much does a prior sensitivity vary with the draws it is computed from?

The Bayesian estimator computes each quantity's power-scaling sensitivity
(:mod:`mmm_recovery.estimators.bayesian.sensitivity`) from its summary draws (``summary_draws``, 1,000 of the 4,000
by default). This script reads a saved posterior (which holds the log prior and pointwise log
likelihood groups the fit added), and for each channel's training-window contribution (the
posterior's ``channel_contribution`` summed over the training weeks: ROAS's numerator, not the
reported ROAS itself, which also counts the holdout weeks) and adstock decay prints the prior
sensitivity from all draws,
and the mean, standard deviation and range over ``--subsets`` random subsets of ``--draws``
draws (seeded). Reads only; prints a table.

Usage: ``python scripts/psense_subsets.py [posterior.nc] [--draws 1000] [--subsets 20]``
(default: ``data/baseline/fits/bayesian/posterior.nc``, written by ``dvc repro``).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import xarray as xr

from mmm_recovery.core import paths
from mmm_recovery.core.sensitivity import PRIOR_KEY
from mmm_recovery.estimators.bayesian.diagnostics import per_draw_total
from mmm_recovery.estimators.bayesian.sensitivity import power_scaling_sensitivity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "posterior", nargs="?", default=str(paths.DATA / "baseline" / "bayesian" / "posterior.nc")
    )
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--subsets", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tree = xr.open_datatree(args.posterior, engine="h5netcdf")
    for group in ("log_prior", "log_likelihood"):
        if group not in tree.children:
            raise SystemExit(f"{args.posterior}: no {group} group (fitted with prior_sensitivity?)")
    post = tree["posterior"].to_dataset()
    lp = per_draw_total(tree["log_prior"].to_dataset()).ravel()
    ll = per_draw_total(tree["log_likelihood"].to_dataset()).ravel()
    n = lp.size
    channels = [str(c) for c in post["channel"].values]

    def flat(da: xr.DataArray) -> np.ndarray:
        return da.transpose("chain", "draw", "channel").values.reshape(n, -1)

    quantities = {
        "training contribution": flat(post["channel_contribution"].sum("date")),
        "adstock alpha": flat(post["adstock_alpha"]),
    }

    def sens(idx: np.ndarray) -> dict[tuple[str, str], float]:
        q = {(k, c): v[idx, i] for k, v in quantities.items() for i, c in enumerate(channels)}
        out = power_scaling_sensitivity(q, lp[idx], ll[idx])
        return {k: v[PRIOR_KEY] for k, v in out.items()}

    full = sens(np.arange(n))
    rng = np.random.default_rng(args.seed)
    subs = pd.DataFrame(
        [sens(np.sort(rng.choice(n, size=args.draws, replace=False))) for _ in range(args.subsets)]
    )
    table = pd.DataFrame(
        {
            f"all {n} draws": pd.Series(full),
            f"{args.draws}-draw subsets: mean": subs.mean(),
            "sd": subs.std(ddof=1),
            "min": subs.min(),
            "max": subs.max(),
        }
    )
    table.index = pd.MultiIndex.from_tuples(table.index, names=["quantity", "channel"])
    print(f"prior sensitivity, {args.posterior}, {args.subsets} subsets (seed {args.seed})")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
