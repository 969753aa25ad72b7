"""Bad study files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from faults.common import ROOT, Case, cli

SMOKE = (ROOT / "studies/smoke.yaml").read_text()


def study_text(tmp: Path, text: str | bytes, name: str = "study.yaml") -> Path:
    f = tmp / name
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    return f


def edit(old: str, new: str) -> Callable[[Path], tuple[int, str]]:
    """A study case: ``studies/smoke.yaml`` with its first ``old`` replaced by ``new``."""
    assert old in SMOKE, old

    def run(tmp: Path) -> tuple[int, str]:
        return cli("schema", str(study_text(tmp, SMOKE.replace(old, new, 1))))

    return run


def raw(text: str | bytes) -> Callable[[Path], tuple[int, str]]:
    return lambda tmp: cli("schema", str(study_text(tmp, text)))


def study_cases() -> list[Case]:
    def c(name: str, run: Callable, *names: str, expect: str = "refuse") -> Case:
        return Case("study file", name, expect, names, run)

    tv = "      beta: 30000.0\n    search:"
    return [
        c("the smoke study as shipped", edit("name: smoke", "name: smoke"), expect="accept"),
        c(
            "a key given twice",
            edit("  replicates: 2\n", "  replicates: 2\n  replicates: 3\n"),
            "replicates",
        ),
        c("replicates: true", edit("replicates: 2", "replicates: true"), "replicates"),
        c("replicates: 0", edit("replicates: 2", "replicates: 0"), "replicates"),
        c("replicates: 2.5", edit("replicates: 2", "replicates: 2.5"), "replicates"),
        c(
            'replicates: "3" (a quoted number)',
            edit("replicates: 2", 'replicates: "3"'),
            "replicates",
            expect="either",
        ),
        c("beta: .inf", edit(tv, tv.replace("30000.0", ".inf")), "beta"),
        c("beta: .nan", edit(tv, tv.replace("30000.0", ".nan")), "beta"),
        c("a misspelt top-level key", edit("scenarios:", "scenarioz:"), "scenarioz"),
        c(
            "a misspelt scenario key",
            edit("    noise: {kind: multiplicative}", "    noize: {kind: multiplicative}"),
            "noize",
        ),
        c(
            "channels: {tvv: null} (meant to drop tv)",
            edit("  base: {}", "  base: {channels: {tvv: null}}"),
            "tvv",
        ),
        c(
            "a misspelt prior distribution",
            edit(
                "{distribution: HalfNormal, parameters: {sigma: 0.5}",
                "{distribution: HalfNormall, parameters: {sigma: 0.5}",
            ),
            "HalfNormall",
        ),
        c(
            "a misspelt prior parameter",
            edit("parameters: {sigma: 0.5}", "parameters: {sigmaa: 0.5}"),
            "sigmaa",
        ),
        c(
            "a !!python tag",
            edit("name: smoke", "name: !!python/object/apply:os.getcwd []"),
            "python",
        ),
        c("an empty file", raw(""), "mapping"),
        c("a list, not a mapping", raw("- study\n- defaults\n"), "mapping"),
        c("bytes that are not UTF-8", raw(b"study:\n  name: sm\xf6ke\n"), "utf-8"),
        c(
            "broken YAML (unclosed bracket)",
            edit("[[5000.0, 2000.0]]", "[[5000.0, 2000.0]"),
            "line",
        ),
        c(
            "a study file that does not exist",
            lambda t: cli("schema", str(t / "nope.yaml")),
            "nope.yaml",
            "not found",
        ),
        c("a folder for a study file", lambda t: cli("schema", "studies"), "folder"),
        c(
            "an estimator variant of an unknown estimator",
            edit("  bayesian:\n", "  freq2: {estimator: frequentis}\n  bayesian:\n"),
            "frequentis",
        ),
        c(
            "extends: a missing file",
            edit("study:\n", "extends: nope.yaml\nstudy:\n"),
            "nope.yaml",
            "not found",
        ),
        c(
            "extends: itself",
            lambda t: cli("schema", str(study_text(t, f"extends: {t / 'study.yaml'}\n" + SMOKE))),
            "cycle",
        ),
        c(
            "no estimator",
            raw(
                SMOKE[: SMOKE.index("estimators:\n")]
                + "estimators: {}\n"
                + SMOKE[SMOKE.index("\nsbc:") :]
            ),
            "names no estimator",
        ),
        c(
            "scheduler without tcp://",
            edit("scheduler: processes", "scheduler: localhost:8786"),
            "scheduler",
        ),
        c(
            "n_weeks too short for l_max, holdout and CV",
            edit("n_weeks: 78", "n_weeks: 20"),
            "n_weeks",
        ),
        c(
            "a calibration level of 1.5",
            edit("[0.5, 0.8, 0.9]", "[0.5, 0.8, 1.5]"),
            "calibration_levels",
        ),
        c("noise snr: 0", edit("snr: 5.0", "snr: 0"), "snr"),
        c("geometric decay alpha: 1.5", edit("alpha: 0.5", "alpha: 1.5"), "alpha"),
        c(
            "a misspelt adstock family",
            edit("{family: geometric, alpha: 0.5", "{family: geometrc, alpha: 0.5"),
            "geometrc",
        ),
        c("saturation lam: -1", edit("lam: 5.0e-5", "lam: -1"), "lam"),
        c("workers: 0", edit("workers: 2", "workers: 0"), "workers"),
        c("base_seed: -1", edit("base_seed: 7", "base_seed: -1"), "base_seed"),
        c(
            "holdout_weeks above n_weeks",
            edit("holdout_weeks: 8", "holdout_weeks: 100"),
            "holdout_weeks",
        ),
        c(
            "a lift test of an unknown channel",
            edit("{channel: tv, spend_change: 0.5", "{channel: tvv, spend_change: 0.5"),
            "tvv",
        ),
        c("an unknown estimator option", edit("    draws: 200", "    drawz: 200"), "drawz"),
        c("chains: 0", edit("chains: 2", "chains: 0"), "chains"),
        c("trials: 0", edit("trials: 2", "trials: 0"), "trials"),
        c("an SBC of 0 simulations", edit("simulations: 16", "simulations: 0"), "simulations"),
        c(
            "an SBC channel that does not exist",
            edit("channels: [tv, search]", "channels: [tv, radio]"),
            "radio",
        ),
        c(
            "a scenario named like a pipeline folder (study)",
            edit("scenarios:\n  base: {}", "scenarios:\n  study: {}\n  base: {}"),
            "scenarios.study",
            "reserved",
        ),
        c(
            "a 300-character scenario name",
            edit("scenarios:\n  base: {}", "scenarios:\n  " + "s" * 300 + ": {}\n  base: {}"),
            "too long",
        ),
        c(
            "a scheduler address without a port",
            edit("scheduler: processes", "scheduler: tcp://127.0.0.1"),
            "study.scheduler",
            "port",
        ),
        c("an unknown command-line option", lambda t: cli("schema", "--strict"), "--strict"),
    ]
