"""Frequentist estimator: the vectorised objective equals the loop reference; search, selection,
bootstrap, CV; clear errors on bad input; seeded determinism; recovery on the default scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmm_recovery.core.results import FitInput, InputError
from mmm_recovery.estimators.frequentist.config import FrequentistConfig
from mmm_recovery.estimators.frequentist.estimator import FrequentistMMM
from mmm_recovery.estimators.frequentist.reference import reference_losses
from mmm_recovery.estimators.frequentist.resampling import block_bootstrap_rows, cv_folds
from mmm_recovery.estimators.frequentist.search import (
    bounds_vectors,
    contenders,
    de_search,
    mark_front,
    objective_columns,
    pareto_mask,
    reselect,
    search,
    select,
    two_point_crossover,
)
from mmm_recovery.simulation.simulate import simulate


@pytest.fixture(scope="module")
def baseline(default_study):
    ds = simulate(default_study.scenario("baseline"), default_study.rng("baseline", 0))
    return ds, FitInput.from_simulated(ds, default_study.study.holdout_weeks)


@pytest.mark.parametrize("family", ["geometric", "weibull_cdf", "weibull_pdf"])
@pytest.mark.parametrize("normalize", [True, False])
def test_vectorised_objective_equals_loop_reference(baseline, family, normalize):
    _, fi = baseline
    est = FrequentistMMM({"adstock": family, "normalize_adstock": normalize, "l_max": 8})
    obj = est.objective(fi)
    lo, hi = bounds_vectors(est.config, obj.n_channels)
    cands = np.random.default_rng(3).uniform(lo, hi, size=(12, lo.size))
    rows = block_bootstrap_rows(np.random.default_rng(0), fi.n_train, 8)
    for r in (None, rows):
        nrmse, rssd = obj.losses(cands, r)
        ref = np.array([reference_losses(obj, h[None], r) for h in cands])
        np.testing.assert_allclose(nrmse, ref[:, 0], rtol=1e-9)
        np.testing.assert_allclose(rssd, ref[:, 1], rtol=1e-7, atol=1e-12)


def test_batched_active_set_matches_exact_bounded_fit(baseline):
    _, fi = baseline
    est = FrequentistMMM({})
    obj = est.objective(fi)
    lo, hi = bounds_vectors(est.config, obj.n_channels)
    cands = np.random.default_rng(5).uniform(lo, hi, size=(30, lo.size))
    nrmse, _ = obj.losses(cands)
    exact = np.array([obj.exact_fit(h)["nrmse"] for h in cands])
    assert (exact >= 0).all()
    # the exact BVLS optimum can only be as good or better (lower RSS + penalty); NRMSE agrees closely
    np.testing.assert_allclose(nrmse, exact, rtol=2e-2)
    fit = obj.exact_fit(cands[0])
    assert (fit["coef"][: obj.n_channels] >= 0).all()


@pytest.mark.parametrize("m", [2, 3])
def test_pareto_mask_matches_brute_force(m):
    pts = np.random.default_rng(1).random((600, m))
    pts[1] = pts[0]  # a tie: neither dominates the other
    brute = np.array([not np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)) for p in pts])
    mask = pareto_mask(pts)
    if m == 2:  # the sweep keeps one of two equal points
        brute[1] = False
    np.testing.assert_array_equal(mask, brute)


def test_selection_rules():
    evals = pd.DataFrame(
        {"nrmse": [0.10, 0.11, 0.20, 0.12], "decomp_rssd": [0.50, 0.10, 0.00, 0.30]}
    )
    evals["pareto"] = pareto_mask(evals[["nrmse", "decomp_rssd"]].to_numpy())
    assert evals["pareto"].tolist() == [True, True, True, False]
    assert select(evals, "nrmse") == 0
    # scaled front: (0, 1), (0.1, 0.2), (1, 0) -> closest to origin is row 1
    assert select(evals, "nrmse+decomp_rssd") == 1


def test_contenders_are_the_distinct_models_ranked_by_the_selection_rule():
    evals = pd.DataFrame(
        {"nrmse": [0.10, 0.11, 0.20, 0.12, 0.11], "decomp_rssd": [0.50, 0.10, 0.00, 0.30, 0.10]}
    )
    evals["h"] = [np.full(3, float(i)) for i in (0, 1, 2, 3, 1)]  # row 4 re-evaluates row 1
    mark_front(evals, ["nrmse", "decomp_rssd"])
    # scaled over the front: distances 1, 0.22, 1, 0.63 (row 3 is dominated but still a model)
    pool = contenders(evals, ["nrmse", "decomp_rssd"], 10)
    np.testing.assert_array_equal(pool[:, 0], [1.0, 3.0, 0.0, 2.0])
    assert len(contenders(evals, ["nrmse", "decomp_rssd"], 2)) == 2
    np.testing.assert_array_equal(contenders(evals, ["nrmse"], 1)[0], np.zeros(3))


@pytest.mark.parametrize("objective", ["nrmse", "nrmse+decomp_rssd"])
def test_reselect_over_every_evaluation_on_the_training_weeks_is_the_search_s_choice(
    baseline, objective
):
    """The bootstrap's reselection, given all the search's models and the original weeks,
    chooses what the search chose: one rule, one objective."""
    _, fi = baseline
    est = FrequentistMMM({"budget": 96, "trials": 2, "objective": objective})
    obj = est.objective(fi)
    evals = search(obj, est.config, np.random.default_rng(4))
    columns = objective_columns(objective, False)
    pool = contenders(evals, columns, len(evals))
    chosen = pool[reselect(obj, pool, obj.features(pool), obj.rows, columns, 32)]
    np.testing.assert_array_equal(chosen, evals.loc[evals["chosen"], "h"].iloc[0])


def test_two_point_crossover_mixes_both_sides():
    rng = np.random.default_rng(0)
    for d in (3, 4, 16):
        donor, parent = np.zeros((2000, d)), np.ones((2000, d))
        child = two_point_crossover(rng, donor, parent)
        from_parent = child.sum(axis=1)
        assert (from_parent < d).all()  # the donor always gives a coordinate
        if d >= 4:  # a contiguous stretch or its complement: at most two changes along a row
            assert (from_parent >= 1).all()
            assert (np.abs(np.diff(child, axis=1)).sum(axis=1) <= 2).all()
        assert 0.3 < from_parent.mean() / d < 0.7


def test_de_re_search_starts_from_the_start_improves_and_is_seeded(baseline):
    _, fi = baseline
    est = FrequentistMMM({})
    obj = est.objective(fi)
    lo, hi = bounds_vectors(est.config, obj.n_channels)
    start = lo + 0.3 * (hi - lo)
    rows = block_bootstrap_rows(np.random.default_rng(0), fi.n_train, 8)
    ev = de_search(obj, est.config, np.random.default_rng(1), 300, rows, start)
    assert len(ev) == 300 and ev["step"].tolist() == list(range(300))
    h = np.stack(ev["h"].to_numpy())
    np.testing.assert_array_equal(h[0], start)
    assert ((h >= lo) & (h <= hi)).all()
    front = mark_front(ev, ["nrmse", "decomp_rssd"])
    chosen = select(front, "nrmse+decomp_rssd")
    assert chosen != 0  # from a poor start, the re-search finds better models
    assert ev["nrmse"].iloc[-32:].min() < ev["nrmse"].iloc[:32].min()
    again = de_search(obj, est.config, np.random.default_rng(1), 300, rows, start)
    pd.testing.assert_frame_equal(ev[again.columns[:-1]], again[again.columns[:-1]])
    np.testing.assert_array_equal(h, np.stack(again["h"].to_numpy()))


def test_bootstrap_methods_and_the_ridge_only_limit(baseline):
    """One candidate holds the chosen hyperparameters in every replicate (reported as such);
    more let the choice move; the Nevergrad re-search stays available."""
    _, fi = baseline
    base = {"budget": 96, "trials": 1, "cv": {"initial_train_weeks": 150}}
    out = {}
    for name, boot in {
        "fixed": {"replicates": 6, "method": "reselect", "candidates": 1},
        "reselect": {"replicates": 6, "method": "reselect", "candidates": 200},
        "research": {"replicates": 2, "method": "research", "budget": 40},
        "de": {"replicates": 2, "method": "de", "budget": 40},
    }.items():
        result = FrequentistMMM({**base, "bootstrap": boot}).fit(fi, np.random.default_rng(2))
        out[name] = result.diagnostics["bootstrap"]
        assert len(result.tables["bootstrap"]) == boot["replicates"]
    assert out["fixed"] == {
        "method": "reselect",
        "distinct": 1,
        "at_point": 1.0,
        "median_move": 0.0,
    }
    assert out["reselect"]["distinct"] > 1 and out["reselect"]["median_move"] > 0
    assert out["research"]["method"] == "research" and out["de"]["method"] == "de"


def test_block_bootstrap_and_cv_folds():
    rows = block_bootstrap_rows(np.random.default_rng(0), 50, 8)
    assert rows.shape == (50,) and rows.min() >= 0 and rows.max() < 50
    assert np.all(np.diff(rows[:8]) == 1), "blocks are consecutive weeks"
    cfg = FrequentistConfig().cv.model_copy(
        update={"initial_train_weeks": 20, "test_weeks": 5, "step_weeks": 10}
    )
    folds = cv_folds(47, cfg)
    assert [(len(tr), te[0], te[-1]) for tr, te in folds] == [
        (20, 20, 24),
        (30, 30, 34),
        (40, 40, 44),
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"optimizer": "NoSuchOpt"}, "optimizer 'NoSuchOpt' is not a Nevergrad optimiser"),
        ({"bounds": {"alpha": [0.5, 0.2]}}, "bounds.alpha: lower 0.5 must be < upper 0.2"),
        ({"bounds": {"alpha": [0.0, 1.0]}}, "bounds.alpha must lie in [0, 1)"),
        ({"budgett": 10}, "budgett"),
    ],
)
def test_config_errors(settings, message):
    with pytest.raises(
        Exception, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        FrequentistMMM(settings)


def _bad(fi: FitInput, **changes) -> FitInput:
    data = fi.data.copy()
    for col, fn in changes.items():
        data[col] = fn(data[col])
    return FitInput(data, fi.channels, fi.controls, fi.holdout_weeks, fi.curve_grid)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tv": lambda s: s * 0}, "channel 'tv' is all zero"),
        ({"ooh": lambda s: s * 0 + 5.0}, "channel 'ooh' is constant"),
        ({"print": lambda s: s.where(s.index != 7)}, "column 'print' has NaN/inf at row(s) [7]"),
        ({"search": lambda s: -s}, "channel 'search' has negative spend"),
        ({"competitor": lambda s: s.astype(str)}, "column 'competitor' is not numeric"),
    ],
)
def test_bad_input_names_the_column(baseline, change, message):
    _, fi = baseline
    with pytest.raises(InputError) as err:
        FrequentistMMM({}).fit(_bad(fi, **change), np.random.default_rng(0))
    assert message in str(err.value)


def test_too_few_weeks_is_a_clear_error(baseline):
    _, fi = baseline
    short = FitInput(
        fi.data.iloc[:30].reset_index(drop=True), fi.channels, fi.controls, 13, fi.curve_grid
    )
    with pytest.raises(
        InputError,
        match=r"30 weeks is too few: need at least l_max \(12\) \+ holdout \(13\) \+ test window \(13\) = 38",
    ):
        FrequentistMMM({}).fit(short, np.random.default_rng(0))


def test_same_seed_same_result(tmp_path, smoke_study):
    from mmm_recovery.evaluation.fitting import fit_dataset

    ds = simulate(smoke_study.scenario("base"), smoke_study.rng("base", 0))
    a = fit_dataset(smoke_study, "base", 0, "frequentist", dataset=ds)
    b = fit_dataset(smoke_study, "base", 0, "frequentist", dataset=ds)
    a.runtime_seconds = b.runtime_seconds = 0.0
    pa, pb = a.save(tmp_path / "a"), b.save(tmp_path / "b")
    assert pa.read_bytes() == pb.read_bytes()
    pd.testing.assert_frame_equal(a.tables["evaluations"], b.tables["evaluations"])
    c = fit_dataset(smoke_study, "base", 1, "frequentist", dataset=ds)
    assert not a.tables["evaluations"]["nrmse"].equals(c.tables["evaluations"]["nrmse"])


# Recovery. Which channels can the data identify? Those that drive a sizeable share of revenue:
# the default scenario's tv, facebook and search each carry >= 15% of the media contribution,
# ooh (~8%) and print (~2%) do not, and their decays are not pinned by 195 training weeks.
IDENTIFIABLE_SHARE = 0.15
# Issue 3's acceptance tolerance on the geometric decay (retention rate per week).
DECAY_TOLERANCE = 0.10


def test_recovers_decays_of_identifiable_channels_on_default_scenario(default_study, baseline):
    ds, fi = baseline
    settings = {**default_study.estimators["frequentist"], "bootstrap": {"replicates": 0}}
    result = FrequentistMMM(settings).fit(
        fi, default_study.estimator_rng("baseline", 0, "frequentist")
    )
    identifiable = [
        c for c, t in ds.truth["channels"].items() if t["contribution_share"] >= IDENTIFIABLE_SHARE
    ]
    assert sorted(identifiable) == ["facebook", "search", "tv"]
    errors = {
        c: result.channels[c].adstock.params["alpha"].estimate
        - ds.truth["channels"][c]["adstock"]["alpha"]
        for c in identifiable
    }
    assert all(abs(e) <= DECAY_TOLERANCE for e in errors.values()), errors
    assert result.converged


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="a documented finding: in some replicates of the default scenario an identifiable "
    "channel's decay (facebook's in replicate 2) misses the tolerance; the study's decay "
    "coverage and error measure how often. Strict: if all replicates pass, XPASS fails the "
    "suite.",
)
def test_recovery_across_replicates_with_bootstrap(default_study):
    """Every replicate of the default scenario, with the full bootstrap: decays of identifiable
    channels within tolerance, and ROAS intervals contain the truth for those channels."""
    from mmm_recovery.evaluation.fitting import fit_dataset

    misses = []
    for r in range(default_study.study.replicates):
        ds = simulate(default_study.scenario("baseline"), default_study.rng("baseline", r))
        res = fit_dataset(default_study, "baseline", r, "frequentist", dataset=ds)
        for c, t in ds.truth["channels"].items():
            if t["contribution_share"] < IDENTIFIABLE_SHARE:
                continue
            a = res.channels[c].adstock.params["alpha"].estimate
            if abs(a - t["adstock"]["alpha"]) > DECAY_TOLERANCE:
                misses.append((r, c, "alpha", a, t["adstock"]["alpha"]))
    assert not misses, misses


def test_the_optimizer_list_is_nevergrad_s():
    """A study file's optimiser is checked against a list, not Nevergrad (validation imports no
    Nevergrad): the list must be exactly the pinned Nevergrad's registry."""
    import nevergrad as ng

    from mmm_recovery.estimators.frequentist.optimizers import NEVERGRAD_OPTIMIZERS

    assert sorted(set(ng.optimizers.registry) ^ NEVERGRAD_OPTIMIZERS) == []
