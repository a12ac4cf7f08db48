"""Typed configuration: pydantic models loaded from YAML through a merge chain.

The chain is ``defaults <- global <- per-symbol``: each later layer overrides the keys it
names, nested mappings merge key by key, and an unknown key anywhere is an error naming
its dotted path, never a silent default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from quantlab._typing import PathLikeStr
from quantlab.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class GridRule:
    """A cross-field rule of a config, written over whole arrays of values.

    ``check(*values)`` receives one numpy array (or scalar) per name in ``fields``, all
    broadcastable, and returns True where the rule holds. ``validator`` names the pydantic
    model validator the rule mirrors (a parameter grid validates each field once and applies
    these rules to arrays instead of building one config per combination; a validator
    without its rule makes the grid fall back to one config per combination).
    """

    fields: tuple[str, ...]
    check: Callable[..., Any]
    text: str
    validator: str


class FrozenConfig(BaseModel):
    """Base of every quantlab config: frozen, unknown keys refused, errors as ConfigError.

    Constructing one directly (``Sizing(fraction=2)``) raises :class:`ConfigError` naming
    the dotted field path and the rule, never a bare pydantic ``ValidationError``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    #: The cross-field validators as array rules (see :class:`GridRule`).
    grid_rules: ClassVar[tuple[GridRule, ...]] = ()

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, type(self).__name__)) from None

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
        if not isinstance(data, Mapping):
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


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as int, or raise ConfigError unless it is an integer >= ``minimum``.

    Python and numpy integers are accepted; bools and floats (even whole) are not.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``; nested mappings merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: PathLikeStr) -> dict[str, Any]:
    """Read a YAML mapping from ``path`` (an empty file is an empty mapping)."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping, got {type(data).__name__}")
    return dict(data)


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Turn a pydantic error into one part per field: ``source.a.b: rule (got x)``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{source}.{loc}" if loc else source
        rule = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        got = (
            f" (got {err['input']!r})" if err["type"] not in ("missing", "extra_forbidden") else ""
        )
        lines.append(f"{where}: {rule}{got}")
    return "; ".join(lines)


def build(model: type[ModelT], *layers: Mapping[str, Any] | PathLikeStr | None) -> ModelT:
    """Merge config layers in order and validate them into ``model``.

    Parameters
    ----------
    model : type of pydantic BaseModel
        The config class (use :class:`FrozenConfig` as its base).
    *layers : mapping, path or None
        ``defaults, global, per-symbol, ...``: mappings or YAML files; ``None`` is skipped.

    Raises
    ------
    ConfigError
        Unknown keys or invalid values, naming the dotted field path and the layer.
    """
    merged: dict[str, Any] = {}
    names = []
    for layer in layers:
        if layer is None:
            continue
        if isinstance(layer, Mapping):
            data, name = dict(layer), "config"
        else:
            data, name = read_yaml(layer), str(layer)
        merged = deep_merge(merged, data)
        names.append(name)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        source = " <- ".join(names) or model.__name__
        raise ConfigError(format_validation_error(exc, source)) from None
