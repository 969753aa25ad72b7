"""The design meta-model: planted effects recovered, Firth's finite estimates under separation,
cluster-robust SEs that respect common random numbers, and the edge cases.

Data are simulated from a model whose answer is known by construction. A row's latent standard
normal ``z = sqrt(0.5) u_r + sqrt(0.3) e_rc + sqrt(0.2) v`` has a part ``u_r`` shared by every
row of replicate ``r``, a part ``e_rc`` shared by its channel ``c`` in every cell (common random
numbers: the same draw in each cell) and a part ``v`` of its own. A 0/1 response is
``Phi(z) < expit(eta)``: its marginal probability is exactly ``expit(eta)``, so a logistic
meta-model with the planted ``eta`` is correctly specified (no random-effect attenuation); a
positive response is ``exp(eta + z)``, whose log is linear in the planted ``eta``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from mmm_recovery.evaluation import metamodel as mm

F3 = {"a": ["a0", "a1"], "b": ["b0", "b1"], "c": ["c0", "c1"]}
#: the planted model: logit (or log) intercept, channel offsets, main effect of a and a x b
MU, A_EFFECT, AB_EFFECT = 0.8, 1.0, 0.8


def planted(x: Mapping[str, np.ndarray | float | pd.Series]) -> np.ndarray:
    """The planted linear predictor of effect-coded factors (+-0.5): a +1.0, a x b +0.8, the
    other factors 0."""
    return np.asarray(MU + A_EFFECT * x["a"] + AB_EFFECT * x["a"] * x["b"], dtype=float)


def simulate(
    rng: np.random.Generator,
    factors: dict[str, list[str]],
    reps: int,
    channels: int,
    mix: tuple[float, float, float] = (0.5, 0.3, 0.2),
) -> pd.DataFrame:
    """Every cell of the two-level ``factors`` design x ``reps`` replicates x ``channels``
    channels, with the planted predictor ``eta`` (channel offsets included), the latent ``z``
    mixed as ``mix`` (variance shares of replicate, replicate x channel, own; module docstring),
    and the responses ``covered`` (0/1) and ``abs_error`` (positive)."""
    u = rng.normal(size=(reps, 1))
    e = rng.normal(size=(reps, channels))
    offset = np.linspace(-0.5, 0.5, channels)
    frames = []
    for cell in itertools.product(*(range(len(v)) for v in factors.values())):
        x = {f: np.full((reps, channels), i - 0.5) for f, i in zip(factors, cell, strict=True)}
        x |= {f: np.zeros((reps, channels)) for f in ("a", "b") if f not in x}
        own = rng.normal(size=(reps, channels))
        z = math.sqrt(mix[0]) * u + math.sqrt(mix[1]) * e + math.sqrt(mix[2]) * own
        eta = planted(x) + offset
        frame = pd.DataFrame(
            {
                "replicate": np.repeat(np.arange(reps), channels),
                "channel": np.tile([f"ch{k}" for k in range(channels)], reps),
                "eta": eta.ravel(),
                "covered": (stats.norm.cdf(z) < special.expit(eta)).astype(float).ravel(),
                "abs_error": np.exp(eta + z).ravel(),
            }
        )
        frames.append(
            frame.assign(**{f: factors[f][i] for f, i in zip(factors, cell, strict=True)})
        )
    return pd.concat(frames, ignore_index=True)


def term(table: pd.DataFrame, name: str) -> pd.Series:
    return table.set_index("term").loc[name]


def covers(row: pd.Series, value: float, lo: str = "lower", hi: str = "upper") -> bool:
    return bool(row[lo] <= value <= row[hi])


# --- planted effects ----------------------------------------------------------------------------


def test_the_output_has_the_documented_columns_and_terms():
    out = mm.factor_effects(
        simulate(np.random.default_rng(0), F3, 10, 2), F3, "covered", "binomial"
    )
    assert list(out.columns) == list(mm.COLUMNS)
    assert list(out["term"]) == [
        "a:a1", "b:b1", "c:c1", "a:a1 x b:b1", "a:a1 x c:c1", "b:b1 x c:c1",
    ]  # fmt: skip
    assert list(out["kind"]) == ["main"] * 3 + ["interaction"] * 3
    assert set(out["scale"]) == {"logit"} and out["ratio"].isna().all()
    assert out.loc[out["kind"] == "interaction", "ame"].isna().all()


def test_a_planted_binomial_effect_is_recovered():
    """2^3 design, 40 replicates, 5 channels: the planted effects' 95% intervals cover them, a
    null factor's covers 0, and the average marginal effect's covers its truth (the mean over
    the rows of expit(eta at a1) - expit(eta at a0))."""
    d = simulate(np.random.default_rng(1), F3, 40, 5)
    out = mm.factor_effects(d, F3, "covered", "binomial")
    assert covers(term(out, "a:a1"), A_EFFECT)
    assert covers(term(out, "a:a1 x b:b1"), AB_EFFECT)
    assert covers(term(out, "c:c1"), 0.0) and covers(term(out, "b:b1 x c:c1"), 0.0)
    offset = d["eta"] - planted({f: (d[f] == F3[f][1]) - 0.5 for f in ("a", "b")})
    x_b = (d["b"] == "b1") - 0.5
    hi = special.expit(planted({"a": 0.5, "b": x_b}) + offset)
    truth = float(np.mean(hi - special.expit(planted({"a": -0.5, "b": x_b}) + offset)))
    assert covers(term(out, "a:a1"), truth, "ame_lower", "ame_upper")
    assert term(out, "a:a1")["n_clusters"] == 40 and term(out, "a:a1")["df"] == 39


def test_binomial_interval_coverage_is_nominal():
    """200 seeded repetitions of a 2^2 design (60 replicates, 3 channels): the 95% interval of
    the planted effect covers it in a share within 3 binomial SEs (3 sqrt(.95 .05 / 200) =
    0.046) of 0.95. Sixty clusters, not fewer: with about 30, CR1 t-intervals under-cover a
    little (the known small-G bias of cluster-robust SEs), which would sit near the bound."""
    rng = np.random.default_rng(2)
    factors = {f: F3[f] for f in ("a", "b")}
    n, hits = 200, 0
    for _ in range(n):
        out = mm.factor_effects(simulate(rng, factors, 60, 3), factors, "covered", "binomial")
        hits += covers(term(out, "a:a1"), A_EFFECT)
    tolerance = 3 * math.sqrt(0.95 * 0.05 / n)
    assert abs(hits / n - 0.95) <= tolerance, hits / n


def test_a_planted_log_ratio_is_recovered():
    """log|error| is linear in the planted predictor: the ratio interval of a covers exp(1.0)
    (the geometric mean error is e times larger at a1), a null factor's covers 1."""
    out = mm.factor_effects(simulate(np.random.default_rng(3), F3, 40, 5), F3, "abs_error", "log")
    assert set(out["scale"]) == {"log"} and out["ame"].isna().all()
    assert covers(term(out, "a:a1"), math.exp(A_EFFECT), "ratio_lower", "ratio_upper")
    assert covers(term(out, "a:a1 x b:b1"), math.exp(AB_EFFECT), "ratio_lower", "ratio_upper")
    assert covers(term(out, "c:c1"), 1.0, "ratio_lower", "ratio_upper")
    assert term(out, "a:a1")["ratio"] == pytest.approx(math.exp(term(out, "a:a1")["estimate"]))


# --- Firth's penalised likelihood ---------------------------------------------------------------


def one_factor(counts: dict[str, tuple[int, int]], reps: int = 5) -> pd.DataFrame:
    """Per level, ``(k, n)``: ``k`` ones of ``n`` rows, over ``reps`` replicates."""
    rows = [
        {"f": lv, "y": float(i < k), "replicate": i % reps, "channel": "x"}
        for lv, (k, n) in counts.items()
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def firth_p(k: int, n: int) -> float:
    """Firth's estimate of a saturated cell's probability: its hat values sum to 1, so the
    modified score k - n p + (1/2 - p) = 0 gives p = (k + 1/2) / (n + 1)."""
    return (k + 0.5) / (n + 1)


def test_firth_matches_its_closed_form_in_a_saturated_design_even_when_separated():
    """Every row at f1 is 1 (ordinary ML diverges); Firth's estimate is the closed form."""
    counts = {"f0": (3, 10), "f1": (12, 12)}
    out = mm.factor_effects(one_factor(counts), {"f": ["f0", "f1"]}, "y", "binomial", strata=())
    p0, p1 = firth_p(*counts["f0"]), firth_p(*counts["f1"])
    assert term(out, "f:f1")["estimate"] == pytest.approx(special.logit(p1) - special.logit(p0))
    assert term(out, "f:f1")["ame"] == pytest.approx(p1 - p0)


def test_a_three_level_factor_follows_the_documented_coding():
    """Simple coding (1{level = j} - 1/L): logit p_j - logit p_ref = b_j (module docstring);
    the average marginal effect is p_j - p_ref."""
    counts = {"f0": (4, 10), "f1": (7, 10), "f2": (9, 10)}
    out = mm.factor_effects(
        one_factor(counts), {"f": ["f0", "f1", "f2"]}, "y", "binomial", strata=()
    )
    p = {lv: firth_p(*kn) for lv, kn in counts.items()}
    b1, b2 = term(out, "f:f1")["estimate"], term(out, "f:f2")["estimate"]
    assert special.logit(p["f1"]) - special.logit(p["f0"]) == pytest.approx(b1)
    assert special.logit(p["f2"]) - special.logit(p["f0"]) == pytest.approx(b2)
    assert term(out, "f:f2")["ame"] == pytest.approx(p["f2"] - p["f0"])
    assert "f:f1 x" not in " ".join(out["term"])  # one factor: no interaction


def test_a_cell_that_always_covers_gives_finite_estimates():
    """The a1 x b1 cell covers every time (quasi-separation: ordinary ML drives its logit to
    infinity); Firth's estimates, SEs and marginal effects stay finite."""
    d = simulate(np.random.default_rng(4), F3, 20, 3)
    d.loc[(d["a"] == "a1") & (d["b"] == "b1"), "covered"] = 1.0
    out = mm.factor_effects(d, F3, "covered", "binomial")
    assert np.isfinite(out[["estimate", "se", "lower", "upper"]].to_numpy(dtype=float)).all()
    mains = out[out["kind"] == "main"]
    assert np.isfinite(mains[["ame", "ame_se"]].to_numpy(dtype=float)).all()
    assert term(out, "a:a1 x b:b1")["estimate"] > 0


def test_non_convergence_raises_naming_the_response(monkeypatch):
    monkeypatch.setattr(mm, "MAX_ITER", 1)
    d = simulate(np.random.default_rng(5), F3, 5, 2)
    with pytest.raises(RuntimeError, match="covered"):
        mm.factor_effects(d, F3, "covered", "binomial")


# --- clustering ---------------------------------------------------------------------------------


def test_the_cluster_se_of_a_paired_design_is_the_paired_se():
    """One row per replicate per level, no strata: the coefficient is the mean paired
    difference d_r, cluster r's influence on it is (d_r - mean d) / G, so the CR1 variance is
    var(d) / G times the OLS factor (N - 1) / (N - K): the paired SE, N = 2G, K = 2."""
    rng = np.random.default_rng(6)
    g = 25
    lo, hi = np.exp(rng.normal(size=g)), np.exp(rng.normal(size=g))
    d = pd.DataFrame(
        {"f": ["f0"] * g + ["f1"] * g, "y": np.r_[lo, hi], "replicate": np.r_[range(g), range(g)]}
    )
    out = mm.factor_effects(d, {"f": ["f0", "f1"]}, "y", "log", strata=())
    paired, _ = mm.paired_vs_unpaired_se(pd.Series(np.log(hi)), pd.Series(np.log(lo)))
    n, k = 2 * g, 2
    assert term(out, "f:f1")["se"] == pytest.approx(paired * math.sqrt((n - 1) / (n - k)))


@pytest.mark.parametrize(("kind", "response"), [("log", "abs_error"), ("binomial", "covered")])
def test_clustering_by_replicate_matters(kind, response):
    """Strong replicate effect (90% of the latent variance). Factor a varies within replicate
    (each replicate sees both levels with the same draws): the shared part cancels from the
    contrast, so the SE clustered by replicate is below the SE that treats rows as independent
    (each row its own cluster, the heteroskedasticity-robust SE). Factor ``arm`` varies between
    replicates (one level per replicate): a replicate's rows move together, so the clustered SE
    exceeds the row-level SE (about sqrt(rows per replicate) times it)."""
    factors = {"a": F3["a"], "arm": ["arm0", "arm1"]}
    d = simulate(np.random.default_rng(7), {"a": F3["a"]}, 40, 5, mix=(0.9, 0.05, 0.05))
    d = d.assign(arm=np.where(d["replicate"] % 2 == 0, "arm0", "arm1"), row=np.arange(len(d)))
    clustered = mm.factor_effects(d, factors, response, kind, interactions=False)
    naive = mm.factor_effects(d, factors, response, kind, cluster="row", interactions=False)
    assert term(clustered, "a:a1")["se"] < term(naive, "a:a1")["se"]
    assert term(clustered, "arm:arm1")["se"] > term(naive, "arm:arm1")["se"]


def test_paired_se_is_smaller_under_positive_correlation():
    """Correlation 0.8: Var(a - b) = 0.4 of var(a) + var(b). Independent draws (n = 400): the
    SE ratio is about 1 - r/2 with r the sample correlation (sd 1/sqrt(400)), so within
    4 x 0.025 = 0.1 of 1."""
    rng = np.random.default_rng(8)
    n = 400
    a = pd.Series(rng.normal(size=n))
    b = 0.8 * a + 0.6 * pd.Series(rng.normal(size=n))
    paired, unpaired = mm.paired_vs_unpaired_se(a, b)
    assert paired < unpaired
    c = pd.Series(rng.normal(size=n))
    paired, unpaired = mm.paired_vs_unpaired_se(a, c)
    assert abs(paired / unpaired - 1) < 0.1


def test_pairs_are_matched_by_replicate_not_position():
    rng = np.random.default_rng(9)
    a = pd.Series(rng.normal(size=30))
    b = a + 0.1 * pd.Series(rng.normal(size=30))
    extra = pd.concat([b.sample(frac=1.0, random_state=1), pd.Series([50.0], index=[99])])
    assert mm.paired_vs_unpaired_se(a, extra)[0] == pytest.approx(mm.paired_vs_unpaired_se(a, b)[0])
    assert mm.paired_vs_unpaired_se(a, extra)[1] != mm.paired_vs_unpaired_se(a, b)[1]


# --- edge cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "response"), [("log", "abs_error"), ("binomial", "covered")])
def test_one_cluster_gives_nan_se_with_a_note(kind, response):
    d = simulate(np.random.default_rng(10), F3, 1, 20)
    out = mm.factor_effects(d, F3, response, kind)
    assert np.isfinite(out["estimate"].to_numpy(dtype=float)).all()
    assert out[["se", "lower", "upper", "p", "df"]].isna().all().all()
    assert (out["note"] == mm.ONE_CLUSTER).all() and (out["n_clusters"] == 1).all()


def test_a_factor_with_one_level_present_is_left_out():
    d = simulate(np.random.default_rng(11), F3, 10, 2)
    with_d = mm.factor_effects(d.assign(d="d0"), F3 | {"d": ["d0", "d1"]}, "covered", "binomial")
    without = mm.factor_effects(d, F3, "covered", "binomial")
    assert not any("d:" in t for t in with_d["term"])
    pd.testing.assert_frame_equal(with_d, without)


def test_an_aliased_term_is_dropped_with_its_reason():
    """b is a copy of a: its column is a's, and a x b is constant (0.25)."""
    factors = {"a": F3["a"], "b": F3["b"]}
    d = simulate(np.random.default_rng(12), {"a": F3["a"]}, 10, 2)
    d = d.assign(b=d["a"].map({"a0": "b0", "a1": "b1"}))
    out = mm.factor_effects(d, factors, "covered", "binomial")
    assert np.isfinite(term(out, "a:a1")[["estimate", "se", "ame"]].to_numpy(dtype=float)).all()
    assert term(out, "b:b1")["note"] == "dropped: aliased with a:a1"
    assert "constant" in term(out, "a:a1 x b:b1")["note"]
    assert out.loc[out["term"] != "a:a1", ["estimate", "se"]].isna().all().all()


def test_missing_responses_and_floored_values_are_counted():
    d = simulate(np.random.default_rng(13), F3, 10, 2)
    d.loc[[0, 5, 17], "abs_error"] = np.nan
    d.loc[[1, 2], "abs_error"] = 0.0
    d.loc[3, "abs_error"] = 1e-9
    out = mm.factor_effects(d, F3, "abs_error", "log", floor=1e-6)
    assert (out["n_dropped"] == 3).all() and (out["n_floored"] == 3).all()
    assert (out["n_rows"] == len(d) - 3).all()
    assert np.isfinite(out["estimate"].to_numpy(dtype=float)).all()


def test_bad_inputs_raise():
    d = simulate(np.random.default_rng(14), F3, 3, 2)
    with pytest.raises(ValueError, match="not listed"):
        mm.factor_effects(d, {"a": ["a0"], "b": F3["b"]}, "covered", "binomial")
    with pytest.raises(ValueError, match="0 or 1"):
        mm.factor_effects(d, F3, "abs_error", "binomial")
    with pytest.raises(ValueError, match="lack"):
        mm.factor_effects(d, F3, "covered", "binomial", cluster="fit")
