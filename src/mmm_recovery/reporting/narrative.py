"""The reports' narrative of what the project is made of, from the classes themselves: every
registered curve family's and every study estimator's own description, so a new family or
estimator appears in the text of the methodology report, not only in its tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mmm_recovery.reporting.tables import settings


def family_descriptions(kind: str) -> str:
    """The ``description`` of every registered ``kind`` (``adstock``/``saturation``) family, one
    paragraph: the reports' narrative names each family from its own class."""
    from mmm_recovery.families import registry as families

    if kind == "adstock":
        return " ".join(families.adstock(n).description for n in families.adstock_names())
    return " ".join(families.saturation(n).description for n in families.saturation_names())


def estimator_sections(study: Any) -> list[tuple[str, str, str, pd.DataFrame]]:
    """``(heading, summary, description, settings)`` for each estimator block of ``study``: the
    one-line ``summary`` and the ``description`` of the registered estimator it configures (its
    settings model's) and its settings as the study sets them (:func:`settings`)."""
    from mmm_recovery.estimators import registry

    out = []
    for name, raw in study.estimators.items():
        base, _ = registry.resolve(name, raw)
        model = registry.settings_model(base)
        summary, description = getattr(model, "summary", ""), getattr(model, "description", "")
        heading = name if base == name else f"{name} (the {base} estimator, other settings)"
        config = registry.config_for(name, raw).model_dump()
        out.append((heading, summary, description, settings(config)))
    return out
