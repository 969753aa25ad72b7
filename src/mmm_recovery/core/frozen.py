"""The base of every spec model: frozen, unknown keys are errors, numbers are not booleans."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class SpecError(ValueError):
    """A study file is missing, malformed, or has an unknown key or an out-of-range value."""


class NumbersNotBooleans(BaseModel):
    """Refuses ``true``/``false`` where a number is expected (pydantic would read ``replicates:
    true`` as 1 and ``snr: false`` as 0), and ``.inf``/``.nan`` anywhere a number is (``beta:
    .inf`` simulated an empty target)."""

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object, info: ValidationInfo) -> object:
        field = cls.model_fields.get(info.field_name or "")
        annotation = field.annotation if field else None
        numeric = annotation in (int, float)
        if isinstance(value, bool) and numeric:
            raise ValueError(f"expected a number, got {str(value).lower()}")
        if annotation in (dict[str, float], dict[str, int]) and isinstance(value, dict):
            bad = [k for k, v in value.items() if isinstance(v, bool)]
            if bad:
                raise ValueError(f"{bad[0]}: expected a number, got {str(value[bad[0]]).lower()}")
        return value


class Frozen(NumbersNotBooleans):
    """Base of every spec model: frozen, unknown keys are errors, no booleans for numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
