"""Transforms: hand-computed constants, and equality with PyMC-Marketing 1.3's own functions."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_recovery.families import registry as families
from mmm_recovery.families import transforms as T

IMPULSE = np.array([1.0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 0.9])
def test_geometric_impulse_response_is_alpha_to_the_k(alpha):
    out = T.geometric_adstock(IMPULSE, alpha, l_max=4)
    np.testing.assert_allclose(out, [1, alpha, alpha**2, alpha**3, 0, 0], atol=1e-15)


def test_geometric_normalised_weights_sum_to_one_and_hand_values():
    w = T.geometric_weights(0.5, 3, normalize=True)[:, 0]
    np.testing.assert_allclose(w, np.array([1, 0.5, 0.25]) / 1.75)
    # constant spend -> normalised adstock converges to the same level
    out = T.geometric_adstock(np.full(10, 7.0), 0.5, 3, normalize=True)
    np.testing.assert_allclose(out[2:], 7.0)
    np.testing.assert_allclose(out[0], 7.0 / 1.75)


def test_geometric_per_channel_and_batched():
    x = np.column_stack([IMPULSE, 2 * IMPULSE])
    out = T.geometric_adstock(x, np.array([0.5, 0.1]), 3)
    np.testing.assert_allclose(out[:3, 0], [1, 0.5, 0.25])
    np.testing.assert_allclose(out[:3, 1], [2, 0.2, 0.02])
    batch = T.convolve_adstock(x, T.geometric_weights(np.array([[0.5, 0.1], [0.0, 0.9]]), 3))
    assert batch.shape == (2, 6, 2)
    np.testing.assert_allclose(batch[0], out)
    np.testing.assert_allclose(batch[1][:3, 1], [2, 1.8, 1.62])


def test_weibull_cdf_hand_values():
    # shape 1 -> exponential survival: w_k = prod_{i<=k} exp(-i/scale) = exp(-k(k+1)/(2 scale))
    w = T.weibull_weights(1.0, 2.0, 4, "cdf")[:, 0]
    np.testing.assert_allclose(w, [1, np.exp(-0.5), np.exp(-1.5), np.exp(-3.0)])


def test_weibull_pdf_is_min_max_normalised_density():
    w = T.weibull_weights(2.0, 3.0, 6, "pdf")[:, 0]
    t = np.arange(1, 7)
    dens = (2 / 3) * (t / 3) * np.exp(-((t / 3) ** 2))
    np.testing.assert_allclose(w, (dens - dens.min()) / (dens.max() - dens.min()))
    assert w.max() == 1.0 and w.min() == 0.0


def test_robyn_weibull_scale_quantile():
    assert T.robyn_weibull_scale(0.0, 10) == 1.0
    assert T.robyn_weibull_scale(1.0, 10) == 10.0
    assert T.robyn_weibull_scale(0.5, 9) == 5.0


def test_logistic_hand_values():
    lam = 2.0
    x = np.array([0.0, 0.5, 1.0])
    expected = (1 - np.exp(-lam * x)) / (1 + np.exp(-lam * x))
    np.testing.assert_allclose(T.logistic_saturation(x, lam), expected)
    assert T.logistic_saturation(np.log(3) / lam, lam) == pytest.approx(0.5)


def test_hill_hand_values():
    assert T.hill_saturation(5.0, 2.0, 5.0) == pytest.approx(0.5)
    assert T.hill_saturation(10.0, 2.0, 5.0) == pytest.approx(100 / 125)
    assert T.hill_saturation(0.0, 2.0, 5.0) == 0.0


def test_unknown_family_names_it():
    with pytest.raises(ValueError, match="'gamma'"):
        families.saturate("gamma", np.ones(3), {})
    with pytest.raises(ValueError, match="'delayed'"):
        families.adstock_weights("delayed", {}, 3, False)


# ----------------------------------------------------------- PyMC-Marketing equality
pt = pytest.importorskip("pytensor.tensor")
ptx = pytest.importorskip("pytensor.xtensor")
mmm = pytest.importorskip("pymc_marketing.mmm")


def _x(a, dims):
    return ptx.as_xtensor(pt.as_tensor_variable(np.asarray(a, dtype=float)), dims=dims)


def _eval(expr):
    return expr.transpose("date", "channel").eval()


@pytest.fixture(scope="module")
def spend():
    return np.random.default_rng(42).gamma(2.0, 1.0, size=(40, 3))


@pytest.mark.parametrize("normalize", [True, False])
def test_geometric_equals_pymc_marketing(spend, normalize):
    alpha = np.array([0.05, 0.5, 0.93])
    ours = T.geometric_adstock(spend, alpha, 7, normalize)
    theirs = _eval(
        mmm.GeometricAdstock(l_max=7, normalize=normalize).function(
            _x(spend, ("date", "channel")), alpha=_x(alpha, ("channel",)), dim="date"
        )
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("component", "kind"), [("WeibullCDFAdstock", "cdf"), ("WeibullPDFAdstock", "pdf")]
)
@pytest.mark.parametrize("normalize", [True, False])
def test_weibull_equals_pymc_marketing(spend, component, kind, normalize):
    shape, scale = np.array([0.7, 1.5, 4.0]), np.array([1.0, 3.0, 6.0])
    ours = T.weibull_adstock(spend, shape, scale, 8, kind, normalize)
    theirs = _eval(
        getattr(mmm, component)(l_max=8, normalize=normalize).function(
            _x(spend, ("date", "channel")),
            lam=_x(scale, ("channel",)),
            k=_x(shape, ("channel",)),
            dim="date",
        )
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_logistic_equals_pymc_marketing(spend):
    lam = np.array([0.1, 1.0, 4.0])
    theirs = _eval(
        mmm.LogisticSaturation().function(
            _x(spend, ("date", "channel")), lam=_x(lam, ("channel",)), beta=1.0
        )
    )
    np.testing.assert_allclose(T.logistic_saturation(spend, lam), theirs, rtol=1e-12, atol=1e-15)


def test_hill_equals_pymc_marketing(spend):
    slope, kappa = np.array([0.5, 1.0, 3.0]), np.array([0.5, 2.0, 4.0])
    theirs = _eval(
        mmm.HillSaturation().function(
            _x(spend, ("date", "channel")),
            slope=_x(slope, ("channel",)),
            kappa=_x(kappa, ("channel",)),
            beta=1.0,
        )
    )
    np.testing.assert_allclose(
        T.hill_saturation(spend, slope, kappa), theirs, rtol=1e-12, atol=1e-15
    )
