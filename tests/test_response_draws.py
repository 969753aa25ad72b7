"""Many draws of a channel's response at once (:class:`mmm_recovery.core.response.ResponseDraws`)
give what each draw gives alone, for every registered family."""

from __future__ import annotations

import numpy as np
import pytest

from mmm_recovery.core.response import ChannelResponse, ResponseDraws
from mmm_recovery.families import registry as families

#: all draws at once against one at a time: the same arithmetic up to summation order
RTOL = 1e-12


def _draws(adstock: str, saturation: str, n: int, rng: np.random.Generator):
    a, s = families.adstock(adstock), families.saturation(saturation)
    a_ex, s_ex = a.examples[0], s.examples[0]
    out = []
    for _ in range(n):
        ap = {k: float(v) * rng.uniform(0.7, 1.3) for k, v in a_ex.items()}
        sp = {k: float(v) * rng.uniform(0.7, 1.3) for k, v in s_ex.items()}
        out.append(ChannelResponse(adstock, ap, 8, True, saturation, sp, rng.uniform(1e4, 9e4)))
    return out


@pytest.mark.parametrize("adstock", families.adstock_names())
@pytest.mark.parametrize("saturation", families.saturation_names())
def test_all_draws_at_once_equal_each_draw_alone(adstock, saturation):
    rng = np.random.default_rng(0)
    draws = _draws(adstock, saturation, 50, rng)
    stacked = ResponseDraws.from_draws(draws)
    assert stacked is not None
    spend = rng.uniform(0, 4e4, 60)
    grid = np.linspace(0, 8e4, 9)
    np.testing.assert_allclose(
        stacked.contribution(spend), [d.contribution(spend) for d in draws], rtol=RTOL, atol=1e-9
    )
    np.testing.assert_allclose(
        stacked.steady_state(grid), [d.steady_state(grid) for d in draws], rtol=RTOL, atol=1e-9
    )
    np.testing.assert_allclose(
        stacked.marginal(2e4), [d.marginal(2e4) for d in draws], rtol=RTOL, atol=1e-15
    )
    totals = np.array([d.contribution(spend).sum() for d in draws]) * 3
    totals[0] = 0.0  # no media at all in that draw: its share is undefined
    q = stacked.quantities(spend, totals, float(spend.mean()))
    for i, d in enumerate(draws[:5]):
        c = d.contribution(spend).sum()
        assert q["contribution_total"][i] == pytest.approx(c, rel=RTOL)
        assert q["roas"][i] == pytest.approx(c / spend.sum(), rel=RTOL)
        assert q["beta"][i] == d.beta
    assert np.isnan(q["contribution_share"][0])
    assert q["contribution_share"][1] == pytest.approx(1 / 3, rel=RTOL)


def test_draws_of_different_families_are_not_stacked():
    rng = np.random.default_rng(1)
    names = families.saturation_names()
    mixed = _draws("geometric", names[0], 3, rng) + _draws("geometric", names[1], 3, rng)
    assert ResponseDraws.from_draws(mixed) is None
