"""DECOMP.RSSD's pull toward spend shares (score.share_pull) and estimator variants: the same
registered estimator under another name with other settings (frequentist without DECOMP.RSSD)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mmm_recovery.core import paths
from mmm_recovery.core.spec import SpecError, load_study
from mmm_recovery.estimators import registry
from mmm_recovery.evaluation.score import share_pull


def _truth_and_result(true, spend, est):
    names = [f"c{i}" for i in range(len(true))]
    truth = {
        "channel_names": names,
        "channels": {
            c: {"contribution_share": t, "spend_share": s}
            for c, t, s in zip(names, true, spend, strict=True)
        },
    }
    result = {
        "channels": {
            c: {"contribution_share": {"estimate": e}} for c, e in zip(names, est, strict=True)
        }
    }
    return truth, result


@pytest.mark.parametrize(
    ("est", "pull"),
    [
        ([0.2, 0.3, 0.5], 0.0),  # the truth
        ([0.5, 0.3, 0.2], 1.0),  # the spend shares
        ([0.35, 0.3, 0.35], 0.5),  # half way
        ([-0.1, 0.3, 0.8], -1.0),  # as far the other way
        ([0.25, 0.2, 0.55], 0.0),  # off, but across the direction to the spend shares
    ],
)
def test_share_pull_measures_the_move_toward_spend_shares(est, pull):
    truth, result = _truth_and_result([0.2, 0.3, 0.5], [0.5, 0.3, 0.2], est)
    out = share_pull(result, truth)
    assert out["spend_share_pull"] == pytest.approx(pull, abs=1e-12)
    assert out["decomp_rssd_true"] == pytest.approx(np.sqrt(0.18))
    assert out["decomp_rssd"] == pytest.approx(np.linalg.norm(np.subtract(est, [0.5, 0.3, 0.2])))


def test_share_pull_is_undefined_when_effects_follow_spend():
    truth, result = _truth_and_result([0.5, 0.5], [0.5, 0.5], [0.4, 0.6])
    assert np.isnan(share_pull(result, truth)["spend_share_pull"])


def _variant_study(tmp_path, variant):
    text = (paths.STUDIES / "smoke.yaml").read_text()
    raw = yaml.safe_load(text)
    raw["estimators"]["frequentist_nrmse"] = variant
    f = tmp_path / "variant.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


def test_a_variant_configures_its_registered_estimator_under_its_own_name(tmp_path):
    text = (paths.STUDIES / "smoke.yaml").read_text()
    anchored = text.replace("  frequentist:\n", "  frequentist: &frequentist\n", 1)
    assert anchored != text
    anchored = anchored.replace(
        "\n  bayesian:\n",
        "\n  frequentist_nrmse: {<<: *frequentist, estimator: frequentist, objective: nrmse}"
        "\n  bayesian:\n",
        1,
    )
    f = tmp_path / "variant.yaml"
    f.write_text(anchored)
    study = load_study(f)
    base, variant = (
        registry.config_for(n, study.estimators[n]) for n in ("frequentist", "frequentist_nrmse")
    )
    assert base.objective == "nrmse+decomp_rssd" and variant.objective == "nrmse"
    assert variant.model_dump(exclude={"objective"}) == base.model_dump(exclude={"objective"})
    assert registry.class_for("frequentist_nrmse", study.estimators["frequentist_nrmse"]) is (
        registry.get("frequentist")
    )


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"objective": "nrmse"}, "estimators.frequentist_nrmse: unknown estimator (registered:"),
        ({"estimator": "frequentst"}, "unknown estimator 'frequentst'"),
        ({"estimator": "frequentist", "objectiv": "nrmse"}, "objectiv"),
    ],
    ids=["no estimator key", "a misspelt one", "an unknown setting"],
)
def test_a_bad_variant_is_named(tmp_path, variant, message):
    with pytest.raises(SpecError) as err:
        load_study(_variant_study(tmp_path, variant))
    assert message in str(err.value) and "estimators.frequentist_nrmse" in str(err.value)
