"""Base class of the typed, frozen risk and strategy configs.

A config is a pydantic model that refuses unknown keys and is immutable. Invalid input
raises :class:`~quantlab.errors.ConfigError` naming the field and the rule, never a bare
pydantic ``ValidationError``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from quantlab.errors import ConfigError


def config_error_message(where: str, exc: ValidationError) -> str:
    """Return one readable line per pydantic error, each naming the field and the rule."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        field = f"{where}.{loc}" if loc else where
        if err["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown key")
        else:
            parts.append(f"{field}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


class FrozenConfig(BaseModel):
    """A frozen pydantic model whose validation errors are :class:`ConfigError`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(config_error_message(type(self).__name__, exc)) from None

    # Tell pydantic this __init__ adds nothing to validation, so nested configs are
    # validated in one pass and errors keep their full location (``sizing.fraction``).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        """Build the config from a mapping (e.g. parsed YAML); unknown keys are errors."""
        if data is None:
            return cls()
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        return cls(**data)


def check_range(
    name: str,
    value: float,
    low: float = float("-inf"),
    high: float = float("inf"),
    *,
    low_open: bool = False,
) -> float:
    """Return ``value`` as float, or raise ConfigError naming ``name`` and the range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    below = v <= low if low_open else v < low
    if v != v or below or v > high:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name}: must lie in {bracket}{low}, {high}], got {value!r}")
    return v
