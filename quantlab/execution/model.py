"""The typed order model of the execution layer: intents, orders, fills, positions, account.

Every object is a frozen dataclass, validated on construction (a bad field raises
:class:`~quantlab.errors.ConfigError` naming the field and the rule). Sizes are in coins
(base units), prices in USD, times in UTC milliseconds since the epoch (``time_ms``) with a
:class:`pandas.Timestamp` view (``time``).

Client order ids follow Hyperliquid's ``Cloid`` format (``0x`` and 32 hex digits) on every
backend, so that an id chosen once is valid everywhere. :func:`make_client_order_id`
derives one deterministically from the decision (strategy, symbol, bar, purpose), so a
runner that restarts and re-decides the same bar sends the same id and the venue, not
luck, prevents a duplicate.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd

from quantlab.errors import ConfigError

__all__ = [
    "Account",
    "Bar",
    "Fill",
    "Liquidity",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "TimeInForce",
    "TriggerKind",
    "check_bracket",
    "make_client_order_id",
    "stop_market",
    "to_ms",
]

_CLOID = re.compile(r"^0x[0-9a-f]{32}$")


class Side(StrEnum):
    """Order side. ``sign`` is +1 for a buy and -1 for a sell."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """Return +1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def is_buy(self) -> bool:
        """Return True for a buy."""
        return self is Side.BUY

    @property
    def opposite(self) -> Side:
        """Return the other side."""
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def of(cls, value: Side | str | bool) -> Side:
        """Return a side from a Side, ``"buy"``/``"sell"``/``"B"``/``"A"`` or ``is_buy``."""
        if isinstance(value, Side):
            return value
        if isinstance(value, bool):
            return cls.BUY if value else cls.SELL
        text = str(value).strip().lower()
        if text in ("buy", "b", "long", "bid"):
            return cls.BUY
        if text in ("sell", "a", "s", "short", "ask"):
            return cls.SELL
        raise ConfigError(f"side: expected 'buy' or 'sell', got {value!r}")


class OrderType(StrEnum):
    """Order type: market (an aggressive IOC limit on Hyperliquid), limit, or trigger."""

    MARKET = "market"
    LIMIT = "limit"
    TRIGGER = "trigger"


class TimeInForce(StrEnum):
    """Time in force of a limit order (Hyperliquid's names)."""

    GTC = "Gtc"
    IOC = "Ioc"
    ALO = "Alo"  # add liquidity only (post-only)


class TriggerKind(StrEnum):
    """What a trigger order is: a stop-loss (``sl``) or a take-profit (``tp``)."""

    STOP_LOSS = "sl"
    TAKE_PROFIT = "tp"


class OrderStatus(StrEnum):
    """Life-cycle status of an order.

    ``partially_filled`` is a *live* order with some fills; an order whose unfilled rest
    was cancelled (an IOC/market order that filled in part) is ``canceled`` with a
    ``filled_size`` above 0, as the venue reports it.
    """

    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    TRIGGERED = "triggered"

    @property
    def is_final(self) -> bool:
        """Return True when the order can no longer fill."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)

    @property
    def is_live(self) -> bool:
        """Return True when the order rests on the book (or waits for its trigger)."""
        return self in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.TRIGGERED)


class Liquidity(StrEnum):
    """Whether a fill added liquidity (maker) or took it (taker)."""

    MAKER = "maker"
    TAKER = "taker"


def to_ms(time: Any) -> int:
    """Return UTC milliseconds since the epoch from a timestamp, datetime, string or int."""
    if isinstance(time, bool):
        raise ConfigError(f"time: expected a timestamp or epoch milliseconds, got {time!r}")
    if isinstance(time, int):
        return time
    try:
        ts = pd.Timestamp(time)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"time: cannot read {time!r} as a timestamp ({exc})") from None
    if ts is pd.NaT:
        raise ConfigError("time: NaT is not a timestamp")
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.value // 1_000_000)


def _ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def make_client_order_id(
    strategy_id: str, symbol: str, decision_bar: Any, purpose: str = "entry", seq: int = 0
) -> str:
    """Return a deterministic client order id (``0x`` + 32 hex) for one decision.

    The same strategy, symbol, decided bar, purpose (``"entry"``, ``"exit"``, ``"stop"``,
    ``"tp"``...) and sequence number always give the same id, so re-deciding a bar after a
    restart re-sends the *same* order, which the venue de-duplicates.
    """
    bar = to_ms(decision_bar) if decision_bar is not None else -1
    text = f"{strategy_id}|{symbol}|{bar}|{purpose}|{seq}"
    return "0x" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _check_cloid(value: str, where: str) -> str:
    if not isinstance(value, str) or not _CLOID.match(value):
        raise ConfigError(
            f"{where}.client_order_id: expected '0x' followed by 32 lowercase hex digits "
            f"(Hyperliquid Cloid), got {value!r}; use make_client_order_id(...)"
        )
    return value


def _check_positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise ConfigError(f"{name}: must be a finite number > 0, got {value!r}")
    return v


def _check_finite(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{name}: must be finite, got {value!r}")
    return v


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants sent: one order, before sizing checks and venue rounding.

    Attributes
    ----------
    strategy_id, symbol : str
        Who decided and the coin (``"BTC"``).
    side : Side
        Buy or sell (strings accepted).
    size : float
        Size in coins, > 0.
    order_type : OrderType
        ``market``, ``limit`` (needs ``limit_px``) or ``trigger`` (needs ``trigger_px``
        and ``trigger_kind``; a stop-market order when ``limit_px`` is None).
    limit_px, trigger_px : float or None
        Limit price; trigger price of a trigger order.
    trigger_kind : TriggerKind or None
        ``sl`` or ``tp`` (trigger orders only).
    reduce_only : bool
        The order may only reduce a position (never open or flip one).
    tif : TimeInForce
        ``Gtc``, ``Ioc`` or ``Alo`` (limit orders).
    client_order_id : str
        ``0x`` + 32 hex; derived from the decision by :func:`make_client_order_id` when
        empty.
    decision_bar : pandas.Timestamp or None
        Open time (UTC) of the bar the decision was taken on.
    reason : str
        Why (``"signal"``, ``"stop"``, ...); journaled, never sent.
    impact_size : float or None
        Coins the cost model measures the order's market impact on (the participation
        ``q / V`` of the square-root impact term), when it is not ``size``: the backtest
        engine sizes an entry as ``fraction * equity / (fill price * (1 + fee))`` but
        charges its impact on the size before costs, ``fraction * equity / reference
        price``, so an entry that must fill as the backtest's carries that size here
        (:meth:`quantlab.live.decision.DecisionEngine.preview_open` returns it). Only the
        paper backend reads it (a venue's impact is real); None: ``size``. Never sent.
    """

    strategy_id: str
    symbol: str
    side: Side
    size: float
    order_type: OrderType = OrderType.MARKET
    limit_px: float | None = None
    trigger_px: float | None = None
    trigger_kind: TriggerKind | None = None
    reduce_only: bool = False
    tif: TimeInForce = TimeInForce.GTC
    client_order_id: str = ""
    decision_bar: pd.Timestamp | None = None
    reason: str = ""
    impact_size: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ConfigError(
                f"OrderIntent.symbol: expected a non-empty coin name, got {self.symbol!r}"
            )
        if not isinstance(self.strategy_id, str):
            raise ConfigError(
                f"OrderIntent.strategy_id: expected a string, got {self.strategy_id!r}"
            )
        set_(self, "side", Side.of(self.side))
        set_(self, "size", _check_positive(self.size, "OrderIntent.size"))
        try:
            set_(self, "order_type", OrderType(self.order_type))
            set_(self, "tif", TimeInForce(self.tif))
            if self.trigger_kind is not None:
                set_(self, "trigger_kind", TriggerKind(self.trigger_kind))
        except ValueError as exc:
            raise ConfigError(f"OrderIntent: {exc}") from None
        if self.limit_px is not None:
            set_(self, "limit_px", _check_positive(self.limit_px, "OrderIntent.limit_px"))
        if self.trigger_px is not None:
            set_(self, "trigger_px", _check_positive(self.trigger_px, "OrderIntent.trigger_px"))
        if self.impact_size is not None:
            set_(self, "impact_size", _check_positive(self.impact_size, "OrderIntent.impact_size"))
        if self.order_type is OrderType.LIMIT and self.limit_px is None:
            raise ConfigError("OrderIntent.limit_px: a limit order needs a limit price")
        if self.order_type is OrderType.TRIGGER:
            if self.trigger_px is None:
                raise ConfigError("OrderIntent.trigger_px: a trigger order needs a trigger price")
            if self.trigger_kind is None:
                raise ConfigError(
                    "OrderIntent.trigger_kind: a trigger order needs 'sl' (stop) or 'tp'"
                )
        elif self.trigger_px is not None or self.trigger_kind is not None:
            raise ConfigError(
                f"OrderIntent.trigger_px: only trigger orders have one "
                f"(order_type={self.order_type.value})"
            )
        if self.decision_bar is not None:
            set_(self, "decision_bar", _ts(to_ms(self.decision_bar)))
        if not self.client_order_id:
            purpose = (
                f"{self.reason}|{self.order_type.value}|{self.side.value}|{self.size!r}|"
                f"{self.limit_px!r}|{self.trigger_px!r}|{self.tif.value}|{self.reduce_only}"
            )
            set_(
                self,
                "client_order_id",
                make_client_order_id(self.strategy_id, self.symbol, self.decision_bar, purpose),
            )
        else:
            _check_cloid(self.client_order_id, "OrderIntent")

    @property
    def signed_size(self) -> float:
        """Return the size with the side's sign (+ buy, - sell)."""
        return self.side.sign * self.size

    def replace(self, **changes: Any) -> OrderIntent:
        """Return a copy with some fields changed (validated again)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return OrderIntent(**values)


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the backend knows it.

    ``status`` is the life-cycle state, ``filled_size`` the size filled so far (coins) and
    ``avg_px`` its average price (NaN before a fill). ``oid`` is the exchange's order id;
    ``message`` the venue's text for a rejection or cancellation.
    """

    symbol: str
    side: Side
    size: float
    client_order_id: str | None
    oid: int | None
    status: OrderStatus
    order_type: OrderType = OrderType.LIMIT
    limit_px: float | None = None
    trigger_px: float | None = None
    trigger_kind: TriggerKind | None = None
    reduce_only: bool = False
    tif: TimeInForce = TimeInForce.GTC
    filled_size: float = 0.0
    avg_px: float = float("nan")
    time_ms: int = 0
    message: str = ""

    @property
    def remaining(self) -> float:
        """Return the size not yet filled."""
        return max(self.size - self.filled_size, 0.0)

    @property
    def time(self) -> pd.Timestamp:
        """Return the order's (last update) time as a UTC timestamp."""
        return _ts(self.time_ms)

    @classmethod
    def from_intent(cls, intent: OrderIntent, **fields: Any) -> Order:
        """Return an order that carries the intent's fields plus ``fields``."""
        base = dict(
            symbol=intent.symbol,
            side=intent.side,
            size=intent.size,
            client_order_id=intent.client_order_id,
            order_type=intent.order_type,
            limit_px=intent.limit_px,
            trigger_px=intent.trigger_px,
            trigger_kind=intent.trigger_kind,
            reduce_only=intent.reduce_only,
            tif=intent.tif,
        )
        base.update(fields)
        return cls(**base)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution: ``tid`` the exchange's fill id, ``closed_pnl`` the realised P&L.

    ``fee`` is positive when paid. ``size`` is in coins (unsigned; ``side`` gives the
    direction).
    """

    tid: int
    oid: int | None
    client_order_id: str | None
    symbol: str
    side: Side
    size: float
    price: float
    fee: float
    time_ms: int
    closed_pnl: float = 0.0
    liquidity: Liquidity = Liquidity.TAKER
    reason: str = ""

    @property
    def time(self) -> pd.Timestamp:
        """Return the fill time as a UTC timestamp."""
        return _ts(self.time_ms)

    @property
    def signed_size(self) -> float:
        """Return the size with the side's sign."""
        return self.side.sign * self.size

    @property
    def notional(self) -> float:
        """Return ``size * price``."""
        return self.size * self.price


@dataclass(frozen=True, slots=True)
class Position:
    """An open perp position: ``size`` signed (+ long, - short), in coins."""

    symbol: str
    size: float
    entry_px: float
    unrealized_pnl: float = 0.0
    margin_used: float = 0.0
    liquidation_px: float | None = None
    leverage: float | None = None

    @property
    def side(self) -> Side | None:
        """Return the side of the position, None when flat."""
        if self.size > 0:
            return Side.BUY
        if self.size < 0:
            return Side.SELL
        return None

    @property
    def notional(self) -> float:
        """Return ``|size| * entry_px``."""
        return abs(self.size) * self.entry_px


@dataclass(frozen=True, slots=True)
class Account:
    """A perp account: equity (account value), withdrawable cash, margin in use, positions."""

    equity: float
    withdrawable: float
    margin_used: float
    positions: dict[str, Position] = field(default_factory=dict)
    time_ms: int = 0

    @property
    def cash(self) -> float:
        """Return the withdrawable cash (alias)."""
        return self.withdrawable


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed bar of one symbol, as a feed hands it to a backend (paper) or a runner."""

    symbol: str
    time: pd.Timestamp
    open: float
    high: float
    low: float
    close: float
    volume: float = float("nan")
    funding_rate: float = float("nan")  # per hour, NaN when unknown
    time_ms: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ms = to_ms(self.time)
        object.__setattr__(self, "time_ms", ms)
        object.__setattr__(self, "time", _ts(ms))
        for name in ("open", "high", "low", "close"):
            _check_positive(getattr(self, name), f"Bar.{name}")
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise ConfigError(
                f"Bar at {self.time}: needs low <= open, close <= high, got "
                f"o={self.open} h={self.high} l={self.low} c={self.close}"
            )


def stop_market(
    strategy_id: str,
    symbol: str,
    position: float,
    stop_px: float,
    *,
    decision_bar: Any = None,
    reason: str = "backstop",
    client_order_id: str = "",
) -> OrderIntent:
    """Return the reduce-only stop-market order that closes ``position`` at ``stop_px``.

    The exchange-side backstop of a position: it rests on the venue (a trigger order) and
    fires even when the runner is gone. ``position`` is signed (+ long, - short).
    """
    if not position:
        raise ConfigError("stop_market: position is 0; there is nothing to protect")
    side = Side.SELL if position > 0 else Side.BUY
    return OrderIntent(
        strategy_id,
        symbol,
        side,
        abs(position),
        order_type=OrderType.TRIGGER,
        trigger_px=stop_px,
        trigger_kind=TriggerKind.STOP_LOSS,
        reduce_only=True,
        client_order_id=client_order_id,
        decision_bar=decision_bar,
        reason=reason,
    )


def check_bracket(entry: OrderIntent, protective: Sequence[OrderIntent]) -> None:
    """Refuse protective children that are not reduce-only triggers against ``entry``.

    Raises
    ------
    ConfigError
        Naming the child's client order id and the rule it broke.
    """
    for child in protective:
        ok = (
            child.order_type is OrderType.TRIGGER
            and child.reduce_only
            and child.symbol == entry.symbol
            and child.side is not entry.side
        )
        if not ok:
            raise ConfigError(
                f"submit_bracket: {child.client_order_id} must be a reduce-only trigger "
                f"order of {entry.symbol} on the side opposite the entry"
            )
