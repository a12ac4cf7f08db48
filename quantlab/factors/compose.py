"""Composition by role: turn several factors into one trading signal in ``[-1, 1]``.

Each factor of a :class:`ComposeSpec` plays one role (:class:`~quantlab.factors.Role`):

- **Primary**: gives direction. Its raw value is mapped to ``[-1, 1]`` by a
  :class:`Normalizer` and weighted; the weighted values are the *contributions*.
- **Confirmation**: must agree in sign with the primary direction (beyond its
  ``threshold``), else there is no signal.
- **Filter**: a boolean gate on the factor's raw value (a :class:`Condition` like ``< 1.5``).
- **Observer**: computed and returned, no influence.

::

    from quantlab.factors.compose import ComposeSpec, compose
    spec = ComposeSpec.from_dict({"factors": [
        {"name": "momentum_z", "role": "primary", "weight": 0.6,
         "normalize": {"method": "tanh", "scale": 2.0}},
        {"name": "ema_spread", "role": "primary", "weight": 0.4},
        {"name": "flow_imbalance", "role": "confirmation"},
        {"name": "vol_ratio", "role": "filter", "condition": "< 1.5"},
        {"name": "hurst", "role": "observer"},
    ]})
    res = compose(df, spec)          # also takes the plain dict, list or YAML text
    res.signal, res.contributions, res.factors

Everything is causal: every factor is, the rolling z-score normaliser is, and the rest is
pointwise, so composing ``df[:t]`` equals the full composition truncated at ``t``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import ConfigError
from quantlab.factors.registry import FactorSpec, Role, compute, spec
from quantlab.kernels.rolling import rolling_zscore_nb

__all__ = [
    "ComposeResult",
    "ComposeSpec",
    "Condition",
    "FactorEntry",
    "Normalizer",
    "compose",
]

NORMALIZE_METHODS = ("zscore", "tanh", "clip", "sign", "none")
_DEFAULT_SCALE = {"zscore": 2.0, "tanh": 1.0, "clip": 1.0, "sign": 1.0, "none": 1.0}
CONDITION_OPS = (">", ">=", "<", "<=")


def _finite_float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ConfigError(f"{where} must be a number, got {type(value).__name__} {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(f"{where} must be finite, got {value!r}")
    return out


def _check_keys(obj: Any, allowed: Iterable[str], where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(obj).__name__} {obj!r}")
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed keys are {list(allowed)}")
    return obj


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """Map a factor's raw values to ``[-1, 1]``.

    Parameters
    ----------
    method : {"zscore", "tanh", "clip", "sign", "none"}
        ``zscore``: rolling z-score over ``window`` bars (ddof=1, causal), divided by
        ``scale`` and clipped; ``tanh``: :math:`\\tanh((x - c)/s)`; ``clip``:
        :math:`\\mathrm{clip}((x - c)/s, -1, 1)`; ``sign``: :math:`\\mathrm{sign}(x - c)`;
        ``none``: the raw value, clipped (for factors already in ``[-1, 1]``).
    window : int
        Bars of the rolling z-score (``zscore`` only).
    scale : float, optional
        Value (z for ``zscore``) that maps to full strength; default 2 for ``zscore``, 1
        otherwise.
    center : float
        Neutral raw value, subtracted first (not for ``zscore``), e.g. 1 for a ratio.

    Notes
    -----
    ``zscore`` adds ``window - 1`` bars of warm-up on top of the factor's own.
    """

    method: str = "zscore"
    window: int = 168
    scale: float | None = None
    center: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in NORMALIZE_METHODS:
            raise ConfigError(
                f"normalize.method {self.method!r} is unknown; expected one of "
                f"{list(NORMALIZE_METHODS)}"
            )
        w = self.window
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 2:
            raise ConfigError(f"normalize.window must be an int >= 2, got {w!r}")
        object.__setattr__(self, "window", int(w))
        scale = _DEFAULT_SCALE[self.method] if self.scale is None else self.scale
        scale = _finite_float(scale, "normalize.scale")
        if scale <= 0:
            raise ConfigError(f"normalize.scale must be > 0, got {scale!r}")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "center", _finite_float(self.center, "normalize.center"))
        if self.method == "zscore" and self.center != 0.0:
            raise ConfigError("normalize.center has no meaning for method 'zscore'")

    @classmethod
    def from_dict(cls, obj: str | Mapping[str, Any] | Normalizer, where: str = "normalize"):
        """Build from a method name (``"tanh"``) or a mapping of the fields."""
        if isinstance(obj, Normalizer):
            return obj
        if isinstance(obj, str):
            return cls(method=obj)
        obj = _check_keys(obj, ("method", "window", "scale", "center"), where)
        return cls(**obj)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Return the normalised values (NaN where ``x`` or the z-score window is NaN)."""
        x = np.asarray(x, dtype=np.float64)
        s = float(self.scale)  # type: ignore[arg-type]
        if self.method == "zscore":
            return np.clip(rolling_zscore_nb(x, self.window, 1) / s, -1.0, 1.0)
        y = x - self.center
        if self.method == "tanh":
            return np.tanh(y / s)
        if self.method == "clip":
            return np.clip(y / s, -1.0, 1.0)
        if self.method == "sign":
            return np.sign(y)
        return np.clip(y, -1.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Condition:
    """A Filter's gate on the raw factor value: ``value <op> threshold``.

    Parameters
    ----------
    op : {">", ">=", "<", "<="}
    value : float

    Examples
    --------
    ``Condition.parse("< 1.5")`` passes where the factor is below 1.5. A NaN factor value
    never passes.
    """

    op: str
    value: float

    def __post_init__(self) -> None:
        if self.op not in CONDITION_OPS:
            raise ConfigError(
                f"condition operator {self.op!r} is unknown; expected one of {list(CONDITION_OPS)}"
            )
        object.__setattr__(self, "value", _finite_float(self.value, "condition value"))

    @classmethod
    def parse(cls, obj: str | Mapping[str, Any] | Condition, where: str = "condition"):
        """Build from text like ``"> 0.5"`` / ``"<=2"`` or a mapping ``{op, value}``."""
        if isinstance(obj, Condition):
            return obj
        if isinstance(obj, str):
            text = obj.strip()
            for op in (">=", "<=", ">", "<"):
                if text.startswith(op):
                    rest = text[len(op) :].strip()
                    try:
                        value = float(rest)
                    except ValueError:
                        raise ConfigError(
                            f"{where} {obj!r}: {rest!r} is not a number (write e.g. '> 0.5')"
                        ) from None
                    return cls(op, value)
            raise ConfigError(
                f"{where} {obj!r} must start with one of {list(CONDITION_OPS)} (e.g. '< 1.5')"
            )
        obj = _check_keys(obj, ("op", "value"), where)
        if "op" not in obj or "value" not in obj:
            raise ConfigError(f"{where} needs both 'op' and 'value', got {dict(obj)!r}")
        return cls(obj["op"], obj["value"])

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Return a bool array: where the condition holds (False where ``x`` is NaN)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            if self.op == ">":
                return x > self.value
            if self.op == ">=":
                return x >= self.value
            if self.op == "<":
                return x < self.value
            return x <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


_ENTRY_KEYS = ("name", "role", "params", "weight", "normalize", "threshold", "condition", "label")


@dataclasses.dataclass(frozen=True)
class FactorEntry:
    """One factor of a composition, with its role.

    Parameters
    ----------
    name : str
        Registered factor name.
    role : Role or str, optional
        ``primary``, ``confirmation``, ``filter`` or ``observer``; default: the factor's
        own default role.
    params : mapping, optional
        Factor parameters (validated by the registry).
    weight : float
        Primary only: multiplies the normalised value (may be negative to fade a factor).
    normalize : Normalizer, str or mapping, optional
        Primary and Confirmation: how raw values map to ``[-1, 1]``.
    threshold : float
        Confirmation only: it agrees where ``normalized * direction > threshold``.
    condition : Condition or str, optional
        Filter only (required there): the gate on the raw value, e.g. ``"< 1.5"``.
    label : str, optional
        Column name in the results (default ``name``); needed to use a factor twice.
    """

    name: str
    role: Role | str | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    weight: float = 1.0
    normalize: Normalizer | str | Mapping[str, Any] | None = None
    threshold: float = 0.0
    condition: Condition | str | Mapping[str, Any] | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"factor entry name must be a non-empty str, got {self.name!r}")
        where = f"factor entry {self.label or self.name!r}"
        if not isinstance(self.params, Mapping):
            raise ConfigError(f"{where}: params must be a mapping, got {self.params!r}")
        params = MappingProxyType(dict(self.params))
        object.__setattr__(self, "params", params)
        fspec = spec(self.name, **params)  # unknown factor/parameter -> ConfigError
        role = fspec.role if self.role is None else self.role
        try:
            role = Role(role.lower() if isinstance(role, str) else role)
        except ValueError:
            raise ConfigError(
                f"{where}: role {self.role!r} is unknown; expected one of {[r.value for r in Role]}"
            ) from None
        object.__setattr__(self, "role", role)
        label = self.name if self.label is None else self.label
        if not isinstance(label, str) or not label:
            raise ConfigError(f"{where}: label must be a non-empty str, got {label!r}")
        object.__setattr__(self, "label", label)
        weight = _finite_float(self.weight, f"{where} weight")
        if role is not Role.PRIMARY and weight != 1.0:
            raise ConfigError(f"{where}: weight applies to primary factors only (role {role})")
        if role is Role.PRIMARY and weight == 0.0:
            raise ConfigError(f"{where}: a primary factor needs a nonzero weight")
        object.__setattr__(self, "weight", weight)
        threshold = _finite_float(self.threshold, f"{where} threshold")
        if role is not Role.CONFIRMATION and threshold != 0.0:
            raise ConfigError(f"{where}: threshold applies to confirmation factors only")
        if role is Role.CONFIRMATION and not 0.0 <= threshold < 1.0:
            raise ConfigError(f"{where}: threshold must be in [0, 1), got {threshold!r}")
        object.__setattr__(self, "threshold", threshold)
        if role in (Role.PRIMARY, Role.CONFIRMATION):
            norm = Normalizer() if self.normalize is None else self.normalize
            object.__setattr__(self, "normalize", Normalizer.from_dict(norm, f"{where} normalize"))
        elif self.normalize is not None:
            raise ConfigError(f"{where}: normalize applies to primary/confirmation factors only")
        if role is Role.FILTER:
            if self.condition is None:
                raise ConfigError(f"{where}: a filter needs a condition such as '< 1.5'")
            cond = Condition.parse(self.condition, f"{where} condition")
            object.__setattr__(self, "condition", cond)
        elif self.condition is not None:
            raise ConfigError(f"{where}: condition applies to filter factors only (role {role})")

    @property
    def factor(self) -> FactorSpec:
        """The registry spec instance (name and parameters)."""
        return spec(self.name, **self.params)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], where: str = "factor entry") -> FactorEntry:
        """Build from a plain mapping; an unknown key raises :class:`ConfigError`."""
        obj = _check_keys(obj, _ENTRY_KEYS, where)
        if "name" not in obj:
            raise ConfigError(f"{where}: missing required key 'name'")
        return cls(**obj)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = {"name": self.name, "role": str(self.role)}
        if self.params:
            out["params"] = dict(self.params)
        if self.role is Role.PRIMARY:
            out["weight"] = self.weight
        if isinstance(self.normalize, Normalizer):
            out["normalize"] = self.normalize.to_dict()
        if self.role is Role.CONFIRMATION:
            out["threshold"] = self.threshold
        if isinstance(self.condition, Condition):
            out["condition"] = str(self.condition)
        if self.label != self.name:
            out["label"] = self.label
        return out


@dataclasses.dataclass(frozen=True)
class ComposeSpec:
    """An ordered set of :class:`FactorEntry` with roles; at least one Primary.

    Build it from entries, or from a plain structure with :meth:`from_dict` (a mapping
    ``{"factors": [...]}`` or the list itself) or :meth:`from_yaml`.
    """

    entries: tuple[FactorEntry, ...]

    def __post_init__(self) -> None:
        entries = self.entries
        if isinstance(entries, FactorEntry | Mapping) or not isinstance(entries, Iterable):
            raise ConfigError("ComposeSpec.entries must be a sequence of factor entries")
        out = []
        for i, e in enumerate(entries):
            if isinstance(e, Mapping):
                e = FactorEntry.from_dict(e, f"compose spec factors[{i}]")
            if not isinstance(e, FactorEntry):
                raise ConfigError(
                    f"compose spec factors[{i}] must be a FactorEntry or a mapping, got {e!r}"
                )
            out.append(e)
        labels = [e.label for e in out]
        for lab in labels:
            if labels.count(lab) > 1:
                raise ConfigError(
                    f"compose spec: label {lab!r} is used twice; give repeated factors "
                    "distinct 'label's"
                )
        if not any(e.role is Role.PRIMARY for e in out):
            raise ConfigError("compose spec needs at least one primary factor (gives direction)")
        object.__setattr__(self, "entries", tuple(out))

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any] | Iterable[Any] | ComposeSpec) -> ComposeSpec:
        """Build from ``{"factors": [entry, ...]}`` or ``[entry, ...]`` (entries are dicts)."""
        if isinstance(obj, ComposeSpec):
            return obj
        if isinstance(obj, Mapping):
            obj = _check_keys(obj, ("factors",), "compose spec")
            if "factors" not in obj:
                raise ConfigError("compose spec: missing required key 'factors'")
            obj = obj["factors"]
        if isinstance(obj, str | bytes) or not isinstance(obj, Iterable):
            raise ConfigError(f"compose spec factors must be a list of entries, got {obj!r}")
        return cls(tuple(obj))

    @classmethod
    def from_yaml(cls, text: str) -> ComposeSpec:
        """Build from YAML text holding the structure :meth:`from_dict` takes."""
        import yaml

        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"compose spec: invalid YAML: {exc}") from None
        return cls.from_dict(obj)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"factors": [...]}`` of plain values (round-trips)."""
        return {"factors": [e.to_dict() for e in self.entries]}

    def by_role(self, role: Role | str) -> tuple[FactorEntry, ...]:
        """Return the entries of one role, in order."""
        r = Role(role)
        return tuple(e for e in self.entries if e.role is r)


@dataclasses.dataclass(frozen=True)
class ComposeResult:
    """The output of :func:`compose` (all on ``df.index``).

    Attributes
    ----------
    signal : pd.Series
        The composed signal in ``[-1, 1]``: ``clip(raw_signal, -1, 1)``.
    raw_signal : pd.Series
        The pre-clip signal, the row sum of ``contributions``.
    contributions : pd.DataFrame
        One column per Primary (by label): ``weight * normalized`` where ``gate`` is open,
        0 where it is shut. Rows sum to ``raw_signal`` (for P&L attribution).
    factors : pd.DataFrame
        Raw values of every entry, Observers included.
    normalized : pd.DataFrame
        Normalised values of the Primary and Confirmation entries.
    gates : pd.DataFrame
        One bool column per Confirmation (agrees with the direction) and Filter (its
        condition holds).
    ready : pd.Series
        True where every Primary, Confirmation and Filter input is past its warm-up.
    gate : pd.Series
        ``ready`` and every column of ``gates``.
    spec : ComposeSpec
    """

    signal: pd.Series
    raw_signal: pd.Series
    contributions: pd.DataFrame
    factors: pd.DataFrame
    normalized: pd.DataFrame
    gates: pd.DataFrame
    ready: pd.Series
    gate: pd.Series
    spec: ComposeSpec


def _as_spec(spec_: Any) -> ComposeSpec:
    if isinstance(spec_, ComposeSpec):
        return spec_
    if isinstance(spec_, str):
        return ComposeSpec.from_yaml(spec_)
    return ComposeSpec.from_dict(spec_)


def compose(
    df: pd.DataFrame, spec: ComposeSpec | Mapping[str, Any] | Iterable[Any] | str
) -> ComposeResult:
    """Compose factors by role into one causal signal in ``[-1, 1]``.

    Parameters
    ----------
    df : pd.DataFrame
        Bars (with every input column the factors need, e.g. ``funding_rate``).
    spec : ComposeSpec, mapping, list or str
        The composition: a :class:`ComposeSpec`, its plain form (``{"factors": [...]}`` or
        the list of entry dicts) or YAML text of it.

    Returns
    -------
    ComposeResult
        ``.signal``, ``.contributions`` (per Primary, summing to the pre-clip signal),
        ``.factors`` (raw values incl. Observers) and the gates.

    Raises
    ------
    ConfigError
        Unknown key, factor, parameter or role; a bad condition or normaliser; no
        Primary; a missing input column.

    Notes
    -----
    With :math:`n_i(t)` the normalised Primary values and weights :math:`w_i`, the
    direction is :math:`d_t = \\mathrm{sign}(\\sum_i w_i n_i(t))`. The gate is open when every
    input is past warm-up, every Confirmation has :math:`c_j(t)\\,d_t > \\theta_j` (a zero
    direction confirms nothing) and every Filter condition holds on its raw value. Then

    .. math:: k_i(t) = g_t\\,w_i n_i(t), \\quad s_t = \\mathrm{clip}\\left(\\sum_i k_i(t),
              -1, 1\\right)

    Weights are used as given: with :math:`\\sum |w_i| \\le 1` the clip never binds.
    Before warm-up and where the gate is shut the signal is 0 (flat), never NaN.
    """
    cspec = _as_spec(spec)
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"df must be a pandas DataFrame of bars, got {type(df).__name__}")
    n = len(df)
    raw: dict[str, np.ndarray] = {}
    for e in cspec.entries:
        raw[e.label] = compute(e.factor, df).to_numpy()  # type: ignore[index]
    factors = pd.DataFrame(raw, index=df.index, columns=[e.label for e in cspec.entries])

    primaries = cspec.by_role(Role.PRIMARY)
    confirmations = cspec.by_role(Role.CONFIRMATION)
    filters = cspec.by_role(Role.FILTER)

    normalized: dict[str, np.ndarray] = {}
    for e in (*primaries, *confirmations):
        normalized[e.label] = e.normalize.apply(raw[e.label])  # type: ignore[union-attr,index]

    ready = np.ones(n, dtype=bool)
    for e in (*primaries, *confirmations):
        ready &= np.isfinite(normalized[e.label])  # type: ignore[index]
    for e in filters:
        ready &= np.isfinite(raw[e.label])  # type: ignore[index]

    weighted = np.column_stack(
        [e.weight * normalized[e.label] for e in primaries]  # type: ignore[index]
    )
    direction = np.sign(np.where(ready, weighted.sum(axis=1), 0.0))

    gates: dict[str, np.ndarray] = {}
    for e in confirmations:
        with np.errstate(invalid="ignore"):
            gates[e.label] = normalized[e.label] * direction > e.threshold  # type: ignore[index]
    for e in filters:
        gates[e.label] = e.condition.evaluate(raw[e.label])  # type: ignore[union-attr,index]
    gate = ready.copy()
    for g in gates.values():
        gate &= g

    contrib = np.where(gate[:, None], weighted, 0.0)
    raw_signal = contrib.sum(axis=1)
    signal = np.clip(raw_signal, -1.0, 1.0)

    idx = df.index
    return ComposeResult(
        signal=pd.Series(signal, index=idx, name="signal"),
        raw_signal=pd.Series(raw_signal, index=idx, name="raw_signal"),
        contributions=pd.DataFrame(contrib, index=idx, columns=[e.label for e in primaries]),
        factors=factors,
        normalized=pd.DataFrame(normalized, index=idx, columns=list(normalized)),
        gates=pd.DataFrame(gates, index=idx, columns=list(gates), dtype=bool),
        ready=pd.Series(ready, index=idx, name="ready"),
        gate=pd.Series(gate, index=idx, name="gate"),
        spec=cspec,
    )
