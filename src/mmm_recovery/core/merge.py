"""Reading a study file: YAML that refuses a key given twice, and the merge of a scenario's
overrides into the defaults."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from mmm_recovery.core.scenario import SpecError


def deep_merge(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base``.

    ``None`` in ``override`` deletes a key (a key that is not there is an error naming it: a
    misspelt removal must not leave the key in place); a block whose ``family`` changes (e.g. an
    adstock going from geometric to weibull_pdf) replaces the base block instead of merging
    into it. ``where`` is the dotted path of ``override``, for errors.
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            if key not in out:
                known = ", ".join(map(str, out)) or "none"
                raise SpecError(
                    f"{where}{key}: null removes a key, but there is no {key!r} to remove "
                    f"(there: {known})"
                )
            del out[key]
        elif (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and value.get("family", out[key].get("family")) == out[key].get("family")
        ):
            out[key] = deep_merge(out[key], value, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    one without a word, so an edit above an older copy of a key would be silently lost)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be
                continue  # overridden by the mapping's own (an estimator variant's settings)
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); "
                    "keep one",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)
