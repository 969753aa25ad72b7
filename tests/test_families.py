"""Contract tests run over every registered adstock and saturation family.

The families are read from :mod:`mmm_recovery.families.registry`, so a new family class is tested
here automatically, on the representative parameters (``examples``) and the hand-computed case
(``hand_case``) the class carries (the tests fail, naming the family, until it has them).
"""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from mmm_recovery.families import base, registry, transforms

ADSTOCK_NAMES = registry.adstock_names()
SATURATION_NAMES = registry.saturation_names()

# ------------------------------------------------------------------- per-family test cases
# Each family class carries its own cases (``examples``, ``hand_case``, ``pymc_arg_names``): a new
# family is tested here with no edit to this file.


def _family(kind: str, name: str):
    return registry.adstock(name) if kind == "adstock" else registry.saturation(name)


def _entry(kind: str, name: str, attr: str):
    value = getattr(type(_family(kind, name)), attr, None)
    if value is None:
        pytest.fail(
            f"registered {kind} family {name!r} has no class attribute {attr!r}: a family "
            "carries its contract-test cases (see mmm_recovery.families.base)"
        )
    return value


def _stacked(sets: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Parameter sets -> per-channel arrays ``{param: array (C,)}``."""
    return {k: np.array([p[k] for p in sets]) for k in sets[0]}


# ------------------------------------------------------------------------------ the tables
@pytest.mark.parametrize("name", ADSTOCK_NAMES, ids=ADSTOCK_NAMES)
def test_adstock_family_has_examples(name):
    sets = _entry("adstock", name, "examples")
    _entry("adstock", name, "hand_case")
    assert len(sets) >= 2
    assert all(tuple(p) == registry.adstock(name).parameters for p in sets)


@pytest.mark.parametrize("name", SATURATION_NAMES, ids=SATURATION_NAMES)
def test_saturation_family_has_examples(name):
    sets = _entry("saturation", name, "examples")
    _entry("saturation", name, "hand_case")
    assert len(sets) >= 2
    assert all(tuple(p) == registry.saturation(name).parameters for p in sets)


def test_registry_instances_carry_their_name():
    assert ADSTOCK_NAMES and SATURATION_NAMES
    for name in ADSTOCK_NAMES:
        f = registry.adstock(name)
        assert isinstance(f, base.AdstockFamily) and f.name == name
    for name in SATURATION_NAMES:
        f = registry.saturation(name)
        assert isinstance(f, base.SaturationFamily) and f.name == name


def test_unknown_family_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="'no_such_adstock'"):
        registry.adstock("no_such_adstock")
    with pytest.raises(ValueError, match="'no_such_saturation'"):
        registry.saturation("no_such_saturation")


# ------------------------------------------------------------------------ (a) hand cases
@pytest.mark.parametrize("name", ADSTOCK_NAMES, ids=ADSTOCK_NAMES)
def test_adstock_weights_hand_case(name):
    params, l_max, normalize, expected = _entry("adstock", name, "hand_case")
    w = registry.adstock(name).weights(params, l_max, normalize)
    assert w.shape == (l_max, 1)
    np.testing.assert_allclose(w[:, 0], expected, rtol=1e-12, atol=1e-15)


def test_weibull_pdf_hand_case_is_min_max_normalised():
    """The pdf form's window is min-max normalised: the largest weight is 1, the smallest 0."""
    params, l_max, normalize, _ = registry.adstock("weibull_pdf").hand_case
    w = registry.adstock("weibull_pdf").weights(params, l_max, normalize)[:, 0]
    assert w.max() == pytest.approx(1.0, abs=1e-15) and int(np.argmax(w)) == 1
    assert w.min() == pytest.approx(0.0, abs=1e-15) and int(np.argmin(w)) == 5


@pytest.mark.parametrize("name", SATURATION_NAMES, ids=SATURATION_NAMES)
def test_saturation_apply_hand_case(name):
    params, x, expected = _entry("saturation", name, "hand_case")
    out = registry.saturation(name).apply(np.array(x), params)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------- (b) derivative vs finite differences
X_POSITIVE = np.array([0.05, 0.3, 1.0, 2.0, 4.5])


@pytest.mark.parametrize("name", SATURATION_NAMES, ids=SATURATION_NAMES)
def test_saturation_derivative_matches_central_differences(name):
    fam = registry.saturation(name)
    for params in _entry("saturation", name, "examples"):
        h = 1e-5 * X_POSITIVE
        fd = (fam.apply(X_POSITIVE + h, params) - fam.apply(X_POSITIVE - h, params)) / (2 * h)
        d = fam.derivative(X_POSITIVE, params)
        assert d.shape == X_POSITIVE.shape
        np.testing.assert_allclose(d, fd, rtol=1e-6, err_msg=f"{name} {params}")


# --------------------------------------------------------------- (c) currency scale mapping
SCALES = [0.01, 3.0, 2.5e4]


@pytest.mark.parametrize("name", SATURATION_NAMES, ids=SATURATION_NAMES)
def test_currency_round_trip(name):
    fam = registry.saturation(name)
    params = _stacked(_entry("saturation", name, "examples"))
    for s in [*SCALES, np.linspace(0.5, 4e3, len(next(iter(params.values()))))]:
        currency = fam.to_currency(params, s)
        assert set(currency) == set(fam.parameters)
        back = fam.from_currency(currency, s)
        assert set(back) == set(fam.parameters)
        for k in fam.parameters:
            np.testing.assert_allclose(back[k], params[k], rtol=1e-12, err_msg=f"{name}.{k}")


@pytest.mark.parametrize("name", SATURATION_NAMES, ids=SATURATION_NAMES)
def test_currency_parameters_give_the_same_curve(name):
    """f(x / s; scaled params) == f(x; to_currency(scaled params, s)), scalar and per-channel s."""
    fam = registry.saturation(name)
    sets = _entry("saturation", name, "examples")
    for params in sets:
        for s in SCALES:
            x = s * X_POSITIVE
            np.testing.assert_allclose(
                fam.apply(x, fam.to_currency(params, s)),
                fam.apply(x / s, params),
                rtol=1e-12,
                err_msg=f"{name} {params} s={s}",
            )
    per_channel = _stacked(sets)
    s = np.geomspace(0.01, 2.5e4, len(sets))
    x = X_POSITIVE[:, None] * s  # (T, C)
    lhs = fam.apply(x, fam.to_currency(per_channel, s))
    np.testing.assert_allclose(lhs, fam.apply(x / s, per_channel), rtol=1e-12)
    # and the mapping does change the parameters (a wrong-direction map would fail above)
    assert not np.allclose(fam.apply(x, per_channel), lhs)


# ------------------------------------------------------------------- (d) weights shapes
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalized"])
@pytest.mark.parametrize("name", ADSTOCK_NAMES, ids=ADSTOCK_NAMES)
def test_adstock_weights_shapes_and_normalisation(name, normalize):
    fam = registry.adstock(name)
    sets = _entry("adstock", name, "examples")
    l_max, n_ch = 7, len(sets)
    per_channel = _stacked(sets)
    w = fam.weights(per_channel, l_max, normalize)
    assert w.shape == (l_max, n_ch)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    for c, p in enumerate(sets):  # each column is that channel's parameters alone
        np.testing.assert_allclose(w[:, c], fam.weights(p, l_max, normalize)[:, 0], rtol=1e-14)
    # a leading batch dimension: two parameter sets per channel (the second reversed)
    batch = {k: np.stack([v, v[::-1]]) for k, v in per_channel.items()}
    wb = fam.weights(batch, l_max, normalize)
    assert wb.shape == (2, l_max, n_ch)
    np.testing.assert_allclose(wb[0], w, rtol=1e-14)
    np.testing.assert_allclose(wb[1], w[:, ::-1], rtol=1e-14)
    if normalize:
        np.testing.assert_allclose(w.sum(axis=-2), 1.0, rtol=1e-12)
        np.testing.assert_allclose(wb.sum(axis=-2), 1.0, rtol=1e-12)
    else:
        raw_sums = w.sum(axis=-2)
        assert not np.allclose(raw_sums, 1.0), "example weights should not already sum to 1"


# -------------------------------------------------------------------------- (e) spec model
def _validate(fam, params):
    return fam.spec.model_validate({"family": fam.name, **params})


@pytest.mark.parametrize("name", ADSTOCK_NAMES, ids=ADSTOCK_NAMES)
def test_adstock_spec_validates_examples(name):
    fam = registry.adstock(name)
    assert issubclass(fam.spec, base.FamilySpec)
    for params in _entry("adstock", name, "examples"):
        spec = _validate(fam, params)
        assert spec.family == name
        assert tuple(spec.params) == fam.parameters
        assert spec.params == params
    with pytest.raises(pydantic.ValidationError):
        fam.spec.model_validate({"family": f"not_{name}", **registry.adstock(name).examples[0]})
    with pytest.raises(pydantic.ValidationError):
        fam.spec.model_validate(
            {"family": name, **registry.adstock(name).examples[0], "unknown_key": 1}
        )


@pytest.mark.parametrize("name", SATURATION_NAMES, ids=SATURATION_NAMES)
def test_saturation_spec_validates_examples(name):
    fam = registry.saturation(name)
    assert issubclass(fam.spec, base.FamilySpec)
    for params in _entry("saturation", name, "examples"):
        spec = _validate(fam, params)
        assert spec.family == name
        assert tuple(spec.params) == fam.parameters
        assert spec.params == params
    with pytest.raises(pydantic.ValidationError):
        fam.spec.model_validate({"family": f"not_{name}", **registry.saturation(name).examples[0]})
    with pytest.raises(pydantic.ValidationError):
        fam.spec.model_validate(
            {"family": name, **registry.saturation(name).examples[0], "unknown_key": 1}
        )


def test_spec_unions_cover_every_family():
    adstock_specs, saturation_specs = registry.adstock_specs(), registry.saturation_specs()
    for name in ADSTOCK_NAMES:
        assert registry.adstock(name).spec in adstock_specs
    for name in SATURATION_NAMES:
        assert registry.saturation(name).spec in saturation_specs


# ------------------------------------------------------------- (f) PyMC-Marketing equality
PYMC_ADSTOCK = [
    n
    for n in ADSTOCK_NAMES
    if type(registry.adstock(n)).pymc_component is not base.AdstockFamily.pymc_component
]
PYMC_SATURATION = [
    n
    for n in SATURATION_NAMES
    if type(registry.saturation(n)).pymc_component is not base.SaturationFamily.pymc_component
]


WITHOUT_COMPONENT = [("adstock", n) for n in ADSTOCK_NAMES if n not in PYMC_ADSTOCK] + [
    ("saturation", n) for n in SATURATION_NAMES if n not in PYMC_SATURATION
]


@pytest.mark.parametrize(
    ("kind", "name"), WITHOUT_COMPONENT, ids=[f"{k}-{n}" for k, n in WITHOUT_COMPONENT]
)
def test_family_without_component_says_so(kind, name):
    with pytest.raises(NotImplementedError, match=repr(name)):
        if kind == "adstock":
            registry.adstock(name).pymc_component(4, True)
        else:
            registry.saturation(name).pymc_component()


def _pymc():
    return (
        pytest.importorskip("pytensor.tensor"),
        pytest.importorskip("pytensor.xtensor"),
    )


def _x(a, dims):
    pt, ptx = _pymc()
    return ptx.as_xtensor(pt.as_tensor_variable(np.asarray(a, dtype=float)), dims=dims)


def _eval(expr):
    return expr.transpose("date", "channel").eval()


def _pymc_kwargs(name: str, component, params: dict[str, np.ndarray]) -> dict:
    names = _family("adstock" if name in ADSTOCK_NAMES else "saturation", name).pymc_arg_names
    kwargs = {names.get(k, k): _x(v, ("channel",)) for k, v in params.items()}
    expected = set(component.default_priors) - {"beta"}
    assert set(kwargs) == expected, (
        f"{name}: family parameters {sorted(params)} map to {sorted(kwargs)}, but the "
        f"PyMC-Marketing component's are {sorted(expected)} (set the family's pymc_arg_names)"
    )
    return kwargs


@pytest.fixture(scope="module")
def spend():
    return np.random.default_rng(7).gamma(2.0, 1.0, size=(30, 3))


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "raw"])
@pytest.mark.parametrize("name", PYMC_ADSTOCK, ids=PYMC_ADSTOCK)
def test_adstock_equals_pymc_marketing_component(name, normalize, spend):
    fam = registry.adstock(name)
    sets = _entry("adstock", name, "examples")
    params = _stacked((sets * 3)[: spend.shape[1]])
    l_max = 5
    comp = fam.pymc_component(l_max=l_max, normalize=normalize)
    theirs = _eval(
        comp.function(
            _x(spend, ("date", "channel")), **_pymc_kwargs(name, comp, params), dim="date"
        )
    )
    ours = transforms.convolve_adstock(spend, fam.weights(params, l_max, normalize))
    assert ours.shape == theirs.shape == spend.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", PYMC_SATURATION, ids=PYMC_SATURATION)
def test_saturation_equals_pymc_marketing_component(name, spend):
    fam = registry.saturation(name)
    sets = _entry("saturation", name, "examples")
    params = _stacked((sets * 3)[: spend.shape[1]])
    comp = fam.pymc_component()
    theirs = _eval(
        comp.function(_x(spend, ("date", "channel")), **_pymc_kwargs(name, comp, params), beta=1.0)
    )
    ours = fam.apply(spend, params)
    assert ours.shape == theirs.shape == spend.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
