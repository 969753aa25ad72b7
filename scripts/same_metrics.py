"""Do two revisions of the code give byte-identical study metrics? For a refactor that claims to
preserve behaviour.

    python scripts/same_metrics.py --base HEAD~1 [--head HEAD] [--study studies/recovery.yaml]
        [--scenarios baseline,core-w208-snr4-r0-search] [--replicates 1] [--workers 1]

Runs the same study -- the study file of ``--head`` cut to the scenarios and replicates given,
without its seed-stability, SBC and dataset blocks -- once with the code of revision ``--base``
and once with the code of revision ``--head`` (each a temporary git worktree, so editing this
checkout meanwhile changes nothing), each into a temporary data folder, writes each one's
metrics files (``write_outputs``), and compares them byte by byte. Prints one line per file
and exits 1 if any differ. The fits run anew on both sides, so the answer holds on this machine
(frequentist fits are not yet byte-identical across machines: docs/reproducibility.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

RUN = (
    "import sys; from pathlib import Path; "
    "from mmm_recovery.core.spec import load_study; "
    "from mmm_recovery.evaluation.study import run_study, write_outputs; "
    "s = load_study(sys.argv[1]); d = Path(sys.argv[2]); "
    "run_study(s, data_root=d / 'data', progress=False); "
    "write_outputs(s, d / 'metrics', d / 'data')"
)


def cut_study(src: Path, out: Path, scenarios: list[str], replicates: int, workers: int) -> Path:
    raw = yaml.safe_load(src.read_text())
    missing = [s for s in scenarios if s not in raw["scenarios"]]
    if missing:
        raise SystemExit(f"error: {src}: scenarios {missing} not in {sorted(raw['scenarios'])}")
    raw["scenarios"] = {k: v for k, v in raw["scenarios"].items() if k in scenarios}
    raw["study"]["replicates"] = replicates
    raw["study"]["workers"] = workers
    raw["study"].pop("seed_stability", None)
    raw.pop("sbc", None)
    raw.pop("datasets", None)
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def run(tree: Path, study: Path, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "MMM_RECOVERY_ROOT": str(tree)}
    subprocess.run([sys.executable, "-c", RUN, str(study), str(out)], env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the git revision to compare with")
    ap.add_argument("--head", default="HEAD", help="the git revision to compare (default HEAD)")
    ap.add_argument("--study", default="studies/recovery.yaml")
    ap.add_argument(
        "--scenarios", default="baseline,core-w208-snr4-r0-search,misspecification-weibull-hill"
    )
    ap.add_argument("--replicates", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        trees = {"base": tmp_path / "base", "head": tmp_path / "head"}
        for side, rev in (("base", args.base), ("head", args.head)):
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(trees[side]), rev],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        try:
            study = cut_study(
                trees["head"] / args.study,
                tmp_path / "study.yaml",
                args.scenarios.split(","),
                args.replicates,
                args.workers,
            )
            for side, tree in trees.items():
                run(tree, study, tmp_path / f"out_{side}")
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
                )
        differ = 0
        base_files = sorted((tmp_path / "out_base" / "metrics").iterdir())
        head_names = sorted(p.name for p in (tmp_path / "out_head" / "metrics").iterdir())
        if [p.name for p in base_files] != head_names:
            print(f"the metrics files differ: {[p.name for p in base_files]} vs {head_names}")
            differ += 1
        for f in base_files:
            other = tmp_path / "out_head" / "metrics" / f.name
            same = other.is_file() and other.read_bytes() == f.read_bytes()
            differ += not same
            print(f"{'identical' if same else 'DIFFERENT'}  {f.name}")
    print(
        f"{args.study} cut to {args.scenarios} x {args.replicates} replicate(s): "
        f"{'byte-identical' if not differ else f'{differ} file(s) differ'} ({args.base} vs {args.head})"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
