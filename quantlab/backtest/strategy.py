"""Declarative, typed strategies: a signal, a sizing rule, stops and limits.

A strategy is a frozen pydantic model. Its :meth:`~StrategyBase.target` is the target
direction (-1, 0, +1) decided at each bar's close from bars up to that close only (the
prefix test holds for it); the engine turns changes of target into orders and applies the
risk rules. Build one in a notebook or load it from YAML::

    s = ql.backtest.ma_cross(fast=10, slow=30, stop_loss=0.02)
    s = ql.backtest.load_strategy("strategies/breakout.yaml")
    s = ql.backtest.load_strategy("ma_cross")        # a registered name, its defaults

    # strategies/breakout.yaml
    kind: donchian_breakout
    entry_window: 55
    exit_window: 20
    direction: both
    stops: {atr_mult: 2.0, atr_window: 14}
    limits: {daily_loss_limit: 0.05, max_drawdown: 0.25}

Unknown keys raise :class:`~quantlab.errors.ConfigError`. Strategies are looked up by
``kind`` in :data:`STRATEGY_REGISTRY` (a :class:`quantlab.registry.Registry`; the built-ins
are registered below their definitions); new kinds plug in with :func:`register_strategy`
or through the ``quantlab.strategies`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from quantlab._typing import FloatArray
from quantlab.config import FrozenConfig, GridRule
from quantlab.errors import ConfigError
from quantlab.kernels import rolling as _roll
from quantlab.kernels import strategy_signals as _sig
from quantlab.kernels import ta as _ta
from quantlab.registry import Registry
from quantlab.risk import Breaker, Edge, Limits, Sizing, Stops

__all__ = [
    "STRATEGIES",
    "STRATEGY_REGISTRY",
    "DonchianBreakout",
    "EMATrend",
    "FactorComposite",
    "MACross",
    "MeanReversion",
    "StrategyBase",
    "donchian_breakout",
    "ema_trend",
    "factor_composite",
    "load_strategy",
    "ma_cross",
    "mean_reversion",
    "register_strategy",
]


def _column(df: pd.DataFrame, name: str) -> FloatArray:
    return np.ascontiguousarray(df[name].to_numpy(dtype=np.float64))


class StrategyBase(FrozenConfig):
    """Common fields and the contract of every strategy.

    Subclasses set ``kind`` (a ``Literal``), add their parameters as fields and implement
    :meth:`warmup` and :meth:`_target`.
    """

    kind: str
    direction: Literal["long", "short", "both"] = "long"
    sizing: Sizing = Field(default_factory=Sizing)
    stops: Stops = Field(default_factory=Stops)
    limits: Limits = Field(default_factory=Limits)
    breaker: Breaker = Field(default_factory=Breaker)
    edge: Edge = Field(default_factory=Edge)

    description: ClassVar[str] = ""

    @property
    def allow_long(self) -> bool:
        return self.direction in ("long", "both")

    @property
    def allow_short(self) -> bool:
        return self.direction in ("short", "both")

    def warmup(self) -> int:
        """Return the number of leading bars on which the target is always 0."""
        raise NotImplementedError

    def _target(self, df: pd.DataFrame) -> FloatArray:
        raise NotImplementedError

    def target(self, df: pd.DataFrame) -> pd.Series:
        """Return the target direction decided at each bar's close (-1, 0 or +1).

        Causal: ``target(df[:t])`` equals ``target(df)[:t]``.
        """
        out = np.asarray(self._target(df), dtype=np.float64)
        return pd.Series(out, index=df.index, name="target")

    def atr(self, df: pd.DataFrame) -> FloatArray:
        """Return Wilder's ATR for the ATR stop (NaN when the stop is off)."""
        if self.stops.atr_mult is None:
            return np.full(len(df), np.nan)
        return _ta.atr_nb(
            _column(df, "high"), _column(df, "low"), _column(df, "close"), self.stops.atr_window
        )

    def regime(self, df: pd.DataFrame) -> pd.Series | None:
        """Return the favourable-regime probability in [0, 1] for sizing, or None.

        Override to scale positions by a regime model (e.g. an IMM trend probability);
        the value at ``t`` must use bars up to ``t`` only.
        """
        return None


#: ``fast < slow`` over arrays (the ``_fast_below_slow`` validators, for parameter grids).
_FAST_BELOW_SLOW = GridRule(("fast", "slow"), lambda f, s: f < s, "fast < slow", "_fast_below_slow")


class MACross(StrategyBase):
    """Moving-average cross: long after SMA(fast) crosses above SMA(slow), out (or short)
    after it crosses below. The vectorbt parity reference."""

    kind: Literal["ma_cross"] = "ma_cross"
    fast: int = Field(10, ge=1)
    slow: int = Field(30, ge=2)
    description: ClassVar[str] = "SMA(fast) / SMA(slow) cross"
    grid_rules: ClassVar[tuple[GridRule, ...]] = (_FAST_BELOW_SLOW,)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MACross:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self

    def warmup(self) -> int:
        return self.slow  # the first cross can happen at t = slow (SMA(slow) from slow - 1)

    def _target(self, df: pd.DataFrame) -> FloatArray:
        close = _column(df, "close")
        fast = _roll.rolling_mean_nb(close, self.fast)
        slow = _roll.rolling_mean_nb(close, self.slow)
        return _sig.cross_target_nb(fast, slow, self.allow_long, self.allow_short)


class EMATrend(StrategyBase):
    """Trend following: EMA(fast) over EMA(slow), gated by the close against EMA(gate)."""

    kind: Literal["ema_trend"] = "ema_trend"
    fast: int = Field(20, ge=1)
    slow: int = Field(50, ge=2)
    gate: int = Field(200, ge=1)
    description: ClassVar[str] = "EMA trend with an EMA gate"
    grid_rules: ClassVar[tuple[GridRule, ...]] = (_FAST_BELOW_SLOW,)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EMATrend:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self

    def warmup(self) -> int:
        return max(self.slow, self.gate) - 1

    def _target(self, df: pd.DataFrame) -> FloatArray:
        close = _column(df, "close")
        ema = [_roll.ewm_mean_nb(close, 2.0 / (n + 1.0)) for n in (self.fast, self.slow, self.gate)]
        return _sig.ema_trend_target_nb(
            close, ema[0], ema[1], ema[2], self.warmup(), self.allow_long, self.allow_short
        )


class MeanReversion(StrategyBase):
    """Bollinger/RSI mean reversion: buy below the lower band when RSI is oversold, exit at
    the middle band (shorts mirror it above the upper band)."""

    kind: Literal["mean_reversion"] = "mean_reversion"
    window: int = Field(20, ge=2)
    k: float = Field(2.0, gt=0.0)
    rsi_window: int = Field(14, ge=2)
    rsi_low: float = Field(30.0, ge=0.0, le=100.0)
    rsi_high: float = Field(70.0, ge=0.0, le=100.0)
    description: ClassVar[str] = "Bollinger band + RSI mean reversion"

    def warmup(self) -> int:
        return max(self.window - 1, self.rsi_window)

    def _target(self, df: pd.DataFrame) -> FloatArray:
        close = _column(df, "close")
        mid = _roll.rolling_mean_nb(close, self.window)
        sd = _roll.rolling_std_nb(close, self.window, 0)
        rsi = _ta.rsi_nb(close, self.rsi_window)
        return _sig.mean_reversion_target_nb(
            close,
            mid,
            mid + self.k * sd,
            mid - self.k * sd,
            rsi,
            self.rsi_low,
            self.rsi_high,
            self.allow_long,
            self.allow_short,
        )


class DonchianBreakout(StrategyBase):
    """Donchian channel breakout with an ATR stop (2 ATR by default)."""

    kind: Literal["donchian_breakout"] = "donchian_breakout"
    entry_window: int = Field(20, ge=1)
    exit_window: int = Field(10, ge=1)
    stops: Stops = Field(default_factory=lambda: Stops(atr_mult=2.0, atr_window=14))
    description: ClassVar[str] = "Donchian breakout, ATR stop"

    def warmup(self) -> int:
        return max(self.entry_window, self.exit_window)

    def _target(self, df: pd.DataFrame) -> FloatArray:
        return _sig.donchian_target_nb(
            _column(df, "close"),
            _column(df, "high"),
            _column(df, "low"),
            self.entry_window,
            self.exit_window,
            self.allow_long,
            self.allow_short,
        )


class FactorComposite(StrategyBase):
    """Trade a composite factor score with entry/exit thresholds (hysteresis).

    The score is ``ql.factors.compose(df, composition).signal``: a causal signal in
    [-1, 1] built from factors by role (Primary, Confirmation, Filter, Observer);
    ``composition`` is a compose spec mapping (``{"factors": [...]}``).
    """

    kind: Literal["factor_composite"] = "factor_composite"
    composition: dict[str, Any] = Field(default_factory=dict)
    entry: float = Field(0.5, ge=0.0)
    exit: float = Field(0.0, ge=0.0)
    warmup_bars: int = Field(0, ge=0)
    description: ClassVar[str] = "composite factor score with thresholds"
    grid_rules: ClassVar[tuple[GridRule, ...]] = (
        GridRule(("exit", "entry"), lambda x, e: x <= e, "exit <= entry", "_exit_inside_entry"),
    )

    @model_validator(mode="after")
    def _exit_inside_entry(self) -> FactorComposite:
        if self.exit > self.entry:
            raise ValueError(f"exit ({self.exit}) must not exceed entry ({self.entry})")
        return self

    def warmup(self) -> int:
        return self.warmup_bars

    def score(self, df: pd.DataFrame) -> pd.Series:
        """Return the composite signal in [-1, 1] from :func:`quantlab.factors.compose`."""
        from quantlab.factors.compose import compose

        return compose(df, self.composition).signal

    def _target(self, df: pd.DataFrame) -> FloatArray:
        score = np.asarray(self.score(df), dtype=np.float64)
        out = _sig.threshold_target_nb(
            score, self.entry, self.exit, self.allow_long, self.allow_short
        )
        out[: self.warmup_bars] = 0.0
        return out


class _StrategyRegistry(Registry[type[StrategyBase]]):
    """The strategy registry: a plug-in class is registered under its own ``kind``."""

    def _register_plugin(self, name: str, obj: Any) -> None:
        register_strategy(obj)


#: The strategy registry: kind -> strategy class. Plug-ins arrive through the
#: ``quantlab.strategies`` entry-point group (an entry point names a StrategyBase subclass,
#: registered under its ``kind``, or a module that calls :func:`register_strategy`).
STRATEGY_REGISTRY: Registry[type[StrategyBase]] = _StrategyRegistry(
    "strategy", entry_point_group="quantlab.strategies"
)

#: Read-only view of the registry (``kind -> class``), kept for code that reads a dict.
STRATEGIES: Mapping[str, type[StrategyBase]] = STRATEGY_REGISTRY.view()


def register_strategy(cls: type[StrategyBase] | None = None, *, replace: bool = False) -> Any:
    """Register a strategy class under its ``kind`` (usable as a decorator).

    Parameters
    ----------
    cls
        A subclass of :class:`StrategyBase` whose ``kind`` field has a string default.
    replace
        Replace an existing registration of that kind instead of refusing it.

    Returns
    -------
    type
        ``cls`` (so the decorator leaves the name bound to the class).

    Raises
    ------
    ConfigError
        Not a StrategyBase subclass, no string ``kind`` default, or a kind already taken.
    """
    if cls is None:
        return lambda c: register_strategy(c, replace=replace)
    if not (isinstance(cls, type) and issubclass(cls, StrategyBase)) or cls is StrategyBase:
        raise ConfigError(f"register_strategy() needs a subclass of StrategyBase, got {cls!r}")
    kind = cls.model_fields["kind"].default
    if not isinstance(kind, str):
        raise ConfigError(f"{cls.__name__}: 'kind' needs a string default")
    return STRATEGY_REGISTRY.register(kind, cls, replace=replace)


# The built-in strategies, registered here (the one place).
for _cls in (MACross, EMATrend, MeanReversion, DonchianBreakout, FactorComposite):
    register_strategy(_cls)


def load_strategy(source: StrategyBase | Mapping[str, Any] | str | Path) -> StrategyBase:
    """Return a strategy from a model, a registered name, a mapping with ``kind``, or YAML.

    Parameters
    ----------
    source
        - a :class:`StrategyBase` instance: returned as is;
        - a registered strategy name (``"ma_cross"``): that strategy with its defaults;
        - a mapping with ``kind`` (``{"kind": "ma_cross", "fast": 5}``);
        - a path (``str`` or :class:`~pathlib.Path`) of a YAML file holding such a mapping.

    Raises
    ------
    ConfigError
        A string that is neither a registered name nor an existing file (the message lists
        the registered names), invalid YAML, an unknown ``kind`` or a bad parameter.
    """
    if isinstance(source, StrategyBase):
        return source
    if isinstance(source, str) and source in STRATEGY_REGISTRY:
        return STRATEGY_REGISTRY.get(source)()
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(
                f"strategy: {str(source)!r} is neither a registered strategy (known: "
                f"{', '.join(STRATEGY_REGISTRY.names())}) nor an existing file"
            )
        import yaml

        try:
            source = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"strategy: {path}: not valid YAML ({exc})") from None
    if not isinstance(source, Mapping):
        raise ConfigError(f"strategy: expected a mapping with 'kind', got {type(source).__name__}")
    kind = source.get("kind")
    if not isinstance(kind, str) or kind not in STRATEGY_REGISTRY:
        raise ConfigError(
            f"strategy.kind: unknown kind {kind!r}; known: {', '.join(STRATEGY_REGISTRY.names())}"
        )
    return STRATEGY_REGISTRY.get(kind).from_dict(dict(source))


def _with_stops(kwargs: dict[str, Any], default: Stops | None = None) -> dict[str, Any]:
    """Move the ``Stops`` shortcut keys (``stop_loss=...``) into ``kwargs["stops"]``."""
    keys = tuple(Stops.model_fields)
    stops = {k: kwargs.pop(k) for k in keys if k in kwargs}
    stops = {k: v for k, v in stops.items() if v is not None}
    if stops:
        base = kwargs.get("stops", default)
        base = base.model_dump() if isinstance(base, Stops) else dict(base or {})
        kwargs["stops"] = {**base, **stops}
    return kwargs


def ma_cross(
    fast: int = 10, slow: int = 30, stop_loss: float | None = None, **kwargs: Any
) -> MACross:
    """Return an SMA cross strategy; ``stop_loss`` (and other ``Stops`` keys) as shortcuts."""
    return MACross(**_with_stops({"fast": fast, "slow": slow, "stop_loss": stop_loss, **kwargs}))


def ema_trend(fast: int = 20, slow: int = 50, gate: int = 200, **kwargs: Any) -> EMATrend:
    """Return an EMA-gated trend strategy."""
    return EMATrend(**_with_stops({"fast": fast, "slow": slow, "gate": gate, **kwargs}))


def mean_reversion(window: int = 20, k: float = 2.0, **kwargs: Any) -> MeanReversion:
    """Return a Bollinger/RSI mean-reversion strategy."""
    return MeanReversion(**_with_stops({"window": window, "k": k, **kwargs}))


def donchian_breakout(
    entry_window: int = 20, exit_window: int = 10, **kwargs: Any
) -> DonchianBreakout:
    """Return a Donchian breakout strategy with an ATR stop."""
    return DonchianBreakout(
        **_with_stops(
            {"entry_window": entry_window, "exit_window": exit_window, **kwargs},
            default=Stops(atr_mult=2.0, atr_window=14),
        )
    )


def factor_composite(
    composition: dict[str, Any], entry: float = 0.5, exit: float = 0.0, **kwargs: Any
) -> FactorComposite:
    """Return a composite-factor strategy (needs ``ql.factors.compose``)."""
    return FactorComposite(
        **_with_stops({"composition": composition, "entry": entry, "exit": exit, **kwargs})
    )
