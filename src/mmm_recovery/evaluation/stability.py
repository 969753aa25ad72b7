"""Seed stability: an estimator's seed-to-seed spread beside its error against the truth.

``study.seed_stability`` refits the first datasets of some scenarios with further estimator
seeds (:func:`~mmm_recovery.evaluation.tasks.tasks`). Per scenario x estimator x quantity x
channel (``channel == "all"`` pools the channels) :func:`summarize` reports

* ``seed_sd``: the root mean over datasets of the variance of the estimate across seeds (the
  part of an estimate a rerun with another seed changes), from datasets with two or more
  finished seeds, with its Monte Carlo SE by the delta method;
* ``rmse``: the root mean squared error against the truth over every finished fit of the
  subset, with its MC-SE;
* ``seed_share``: ``seed_sd / rmse``, the share of the error's scale that is seed noise;
* ``n_datasets``, ``n_fits`` and ``failed`` (fits that raised: counted, never dropped).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmm_recovery.core.spec import Study
from mmm_recovery.evaluation.score import root_mean_se

#: the metrics file (``reports/metrics/stability.csv``)
STABILITY_FILE = "stability.csv"
#: the quantities whose seed stability is reported
QUANTITIES = ("roas", "contribution_share")
COLUMNS = [
    "scenario",
    "estimator",
    "quantity",
    "channel",
    "seed_sd",
    "seed_sd_se",
    "rmse",
    "rmse_se",
    "seed_share",
    "n_datasets",
    "n_fits",
    "failed",
]


def in_subset(study: Study, record: dict[str, Any]) -> bool:
    """Whether ``record`` is a fit of the seed-stability subset (any of its seeds)."""
    stab = study.study.seed_stability
    return (
        stab is not None
        and record["scenario"] in stab.scenarios
        and record["replicate"] < stab.replicates
    )


def stability_rows(study: Study, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per fit of the subset x channel x quantity of :data:`QUANTITIES`: its keys, seed,
    status, estimate and truth (NaN for a failed fit)."""
    rows = []
    for r in (r for r in records if in_subset(study, r)):
        keys = {k: r[k] for k in ("scenario", "replicate", "estimator", "seed", "status")}
        if r["status"] != "ok":
            rows.append({**keys, "channel": None, "quantity": None})
            continue
        for c in r["comparison"]:
            if c["quantity"] in QUANTITIES:
                rows.append({**keys, **{k: c[k] for k in ("channel", "quantity", "estimate")}})
                rows[-1]["truth"] = c["truth"]
    cols = ["scenario", "replicate", "estimator", "seed", "status", "channel", "quantity"]
    return pd.DataFrame(rows, columns=[*cols, "estimate", "truth"])


def _cell(g: pd.DataFrame) -> dict[str, float]:
    rmse, rmse_se, n_fits = root_mean_se((g["estimate"] - g["truth"]) ** 2)
    var = g.groupby("replicate")["estimate"].var(ddof=1).dropna()
    sd, sd_se, n_datasets = root_mean_se(var)
    return {
        "seed_sd": sd,
        "seed_sd_se": sd_se,
        "rmse": rmse,
        "rmse_se": rmse_se,
        "seed_share": sd / rmse if rmse > 0 else np.nan,
        "n_datasets": n_datasets,
        "n_fits": n_fits,
    }


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x estimator x quantity x channel (and pooled, ``"all"``): see the module."""
    out = []
    for (scen, est), g in rows.groupby(["scenario", "estimator"], sort=False):
        failed = int((g.drop_duplicates(["replicate", "seed"])["status"] != "ok").sum())
        ok = g[g["status"] == "ok"]
        for quantity, q in ok.groupby("quantity", sort=False):
            pooled = q.assign(replicate=q["replicate"].astype(str) + "/" + q["channel"])
            cells = [("all", pooled), *q.groupby("channel", sort=False)]
            for channel, c in cells:
                out.append(
                    {
                        "scenario": scen,
                        "estimator": est,
                        "quantity": quantity,
                        "channel": channel,
                        **_cell(c),
                        "failed": failed,
                    }
                )
    return pd.DataFrame(out, columns=COLUMNS)


def metrics(summary: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """``scenario -> estimator -> {quantity: pooled cell}`` for ``study.json``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in summary[summary["channel"] == "all"].to_dict("records"):
        cell = {k: r[k] for k in COLUMNS[4:]}
        out.setdefault(r["scenario"], {}).setdefault(r["estimator"], {})[r["quantity"]] = cell
    return out
