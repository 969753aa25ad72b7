"""The power of the SBC uniformity test, by number of simulations: how many a study needs.

    python scripts/sbc_power.py [--study studies/recovery.yaml] [--grid 100 800 50]

For each arm of the study's ``sbc:`` block, the test's quantities are counted on one prior draw
of the arm's design (their number sets the Bonferroni threshold), then for each number of
simulations on the grid the test actually run (the ECDF test with the block's reference draws,
ranks and alpha) is applied to ranks of a posterior ``power.narrow`` too narrow and one
``power.bias`` sd off (:func:`mmm_recovery.evaluation.sbc_uniformity.power`, ``power.repeats``
runs each). The smallest grid size at which every arm reaches ``power.target`` against both is
the powered N. Writes ``docs/benchmarks/sbc_power.md``; prints the table.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import pandas as pd

from mmm_recovery.core import files, paths
from mmm_recovery.core.spec import load_study
from mmm_recovery.estimators import registry
from mmm_recovery.evaluation.sbc_draw import design_input, draw, quantities_of, simulation_seeds
from mmm_recovery.evaluation.sbc_uniformity import ECDFTest, power
from mmm_recovery.reporting.tables import markdown


def quantities(study, arm: str) -> list[str]:
    """The test quantities of ``arm`` (names), from one prior draw of its design."""
    settings = study.sbc
    cfg = registry.config_for(settings.estimator, study.estimators[settings.estimator])
    rng, prior_seed, _ = simulation_seeds(study.study.base_seed, 0)
    drawn = draw(cfg, design_input(study, arm, rng), prior_seed)
    return list(quantities_of({k: np.asarray(v)[None] for k, v in drawn.values.items()}, drawn))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument(
        "--grid", nargs=3, type=int, default=(100, 800, 50), metavar=("FROM", "TO", "STEP")
    )
    ap.add_argument("--out", default="docs/benchmarks/sbc_power.md")
    args = ap.parse_args()
    study = load_study(args.study)
    s = study.sbc
    p = s.power
    counts = {arm: len(quantities(study, arm)) for arm in s.arms}
    rows = []
    for n in range(args.grid[0], args.grid[1] + 1, args.grid[2]):
        test = ECDFTest(n, s.reference_draws, study.study.base_seed)
        for arm, q in counts.items():
            threshold = s.alpha / q
            rng = np.random.default_rng([study.study.base_seed, n, q])
            narrow = power(test, s.ranks, threshold, rng, narrow=p.narrow, repeats=p.repeats)
            bias = power(test, s.ranks, threshold, rng, bias=p.bias, repeats=p.repeats)
            rows.append(
                {
                    "simulations": n,
                    "arm": arm,
                    "quantities": q,
                    "threshold": f"{threshold:.2e}",
                    f"power, sd {p.narrow:g} too narrow": f"{narrow[0]:.3f} ({narrow[1]:.3f})",
                    f"power, bias {p.bias:g} sd": f"{bias[0]:.3f} ({bias[1]:.3f})",
                    "met": narrow[0] >= p.target and bias[0] >= p.target,
                }
            )
        print(rows[-len(counts) :], flush=True)
    table = pd.DataFrame(rows)
    met = table.groupby("simulations")["met"].all()
    powered = int(met[met].index.min()) if met.any() else None
    lines = [
        "# How many SBC simulations: the power of the uniformity test",
        "",
        "Written by `scripts/sbc_power.py`; do not edit by hand.",
        "",
        f"- Command: `python scripts/sbc_power.py --study {args.study}`",
        f"- Machine: {platform.machine()}, {platform.python_version()}; pure NumPy (no fits)",
        f"- Test: the ECDF test of the `sbc` stage with {s.reference_draws} reference draws, "
        f"ranks among {s.ranks} draws, family-wise alpha {s.alpha} per arm (Bonferroni over the "
        "arm's quantities, counted on one prior draw of its design)",
        f"- Miscalibrations: a posterior sd {p.narrow:g} too narrow (nominal 90% intervals cover "
        f"{2 * _phi(1.6449 * (1 - p.narrow)) - 1:.0%}) and a posterior {p.bias:g} sd off; "
        f"{p.repeats} simulated SBC runs per cell (Monte Carlo SE in brackets)",
        f"- Target power: {p.target:g} against both, in every arm",
        "",
        markdown(table),
        "",
        f"**Powered N: {powered}** simulations per arm"
        if powered is not None
        else "**No grid size reaches the target power.**",
        f"(the study file sets {s.simulations}).",
        "",
    ]
    out = paths.resolve(args.out)
    with files.atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def _phi(x: float) -> float:
    from scipy.stats import norm

    return float(norm.cdf(x))


if __name__ == "__main__":
    raise SystemExit(main())
