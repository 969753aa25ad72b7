"""How long a fresh clone's pipeline takes, and whether it writes the committed bytes.

    python scripts/bench_reproduce.py [--out docs/benchmarks/reproduce.md]

Clones the repository's ``HEAD`` into a temporary folder (no ``data/``, no DVC cache: what a
reviewer gets), then runs what ``make reproduce`` runs there -- the stage deps check and
``dvc repro`` -- with this checkout's ``.venv`` (installing the pinned stack is not timed) and
the clone's own code. It records the wall time, the CPU seconds of every process it started,
each stage's wall time from the log, and which committed files the run changed (``git status``
in the clone: every output should come back byte for byte; ``dvc.lock`` only where it was
stale). It writes a Markdown page; it asserts no time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batched import write_page  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from mmm_recovery.core import paths

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/benchmarks/reproduce.md")
    args = ap.parse_args(argv)
    venv_bin = paths.ROOT / ".venv" / "bin"
    with tempfile.TemporaryDirectory(prefix="mmm-fresh-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(clone)], check=True)
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
        ).stdout.strip()
        env = {
            **os.environ,
            "PATH": f"{venv_bin}:{os.environ['PATH']}",
            "PYTHONPATH": str(clone / "src"),  # the clone's code, not this checkout's
            "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
            "MPLBACKEND": "Agg",
        }
        env.pop("MMM_RECOVERY_ROOT", None)
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            [str(venv_bin / "python"), "-m", "mmm_recovery.core.sources", "--write"],
            cwd=clone,
            env=env,
            check=False,
        )
        stamps: list[tuple[str, float]] = []
        proc = subprocess.Popen(
            [str(venv_bin / "dvc"), "repro"],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.match(r"Running stage '([^']+)'", line)
            if m:
                stamps.append((m.group(1), time.perf_counter()))
        code = proc.wait()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        changed = subprocess.run(
            ["git", "status", "--short"], cwd=clone, capture_output=True, text=True
        ).stdout.split("\n")
        changed = [c for c in changed if c.strip()]
    rows = ["| stage | wall (s) |", "|---|---|"]
    for i, (stage, start) in enumerate(stamps):
        stop = stamps[i + 1][1] if i + 1 < len(stamps) else t0 + wall
        rows.append(f"| `{stage}` | {stop - start:.0f} |")
    facts = [
        f"- Commit: `{head}`; `dvc repro` exit status {code}",
        f"- Load average {load:.1f} when it started, {os.getloadavg()[0]:.1f} at the end",
        f"- Wall time: **{wall / 60:.1f} min**; CPU time of every process: {cpu / 60:.1f} min",
        "- Files the run changed in the clone (`git status`): "
        + (", ".join(f"`{c[3:]}`" for c in changed) if changed else "none"),
    ]
    write_page(
        args.out,
        "bench_reproduce.py",
        "A fresh clone's `make reproduce`",
        facts,
        [
            "The clone has no `data/` and no DVC cache. The study stage restores the committed "
            "records (`records/`) and the SBC stage the committed SBC tables, so neither "
            "refits; every other stage runs. `.venv` is this checkout's (installing it is "
            "not timed).",
            "",
            *rows,
        ],
        argv,
        with_jax=False,
    )
    print(f"wall {wall:.0f} s, cpu {cpu:.0f} s, exit {code}, changed: {changed}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
