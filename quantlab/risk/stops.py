"""Exit levels: hard stop, ATR stop, trailing stop, take profit, TP:SL validation.

Prices are levels for a position of ``direction`` +1 (long) or -1 (short); NaN means the
rule does not apply. Fill prices follow the engine's convention: a level touched inside
a bar fills at the level, a bar that opens beyond it fills at the open.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from quantlab.config import FrozenConfig, GridRule, check_range
from quantlab.errors import ConfigError
from quantlab.kernels import risk as _k

__all__ = [
    "Stops",
    "atr_stop_price",
    "hard_stop_price",
    "liquidation_price",
    "stop_fill_price",
    "take_profit_price",
    "target_fill_price",
    "trailing_stop_price",
    "validate_tp_sl",
]


class Stops(FrozenConfig):
    """Protective exits of a strategy (all off by default).

    Attributes
    ----------
    stop_loss : float, optional
        Hard stop distance, fraction of the entry price (0.02 = 2 %).
    atr_mult, atr_window : float, int
        ATR stop: ``atr_mult`` Wilder ATRs (window ``atr_window``) from the entry; with a
        hard stop too, the tighter level wins.
    trail_activation, trail_distance : float, optional
        Trailing stop: active once the best price is ``trail_activation`` beyond the entry
        (e.g. +0.5 %), then ``trail_distance`` behind the best price (e.g. 2 %).
    take_profit : float, optional
        Target distance, fraction of the entry price.
    validate_tp_sl : bool
        Refuse entries whose payoff cannot pay for the win rate (needs ``take_profit``, a
        stop, and a win rate from :class:`~quantlab.risk.sizing.Edge`).
    """

    stop_loss: float | None = Field(None, gt=0.0, lt=1.0)
    atr_mult: float | None = Field(None, gt=0.0)
    atr_window: int = Field(14, ge=1)
    trail_activation: float | None = Field(None, ge=0.0)
    trail_distance: float | None = Field(None, gt=0.0, lt=1.0)
    take_profit: float | None = Field(None, gt=0.0)
    validate_tp_sl: bool = False

    grid_rules: ClassVar[tuple[GridRule, ...]] = (
        GridRule(
            ("trail_activation", "trail_distance"),
            lambda a, d: np.equal(a, None) | ~np.equal(d, None),
            "trail_activation needs trail_distance",
            "_trail_needs_distance",
        ),
    )

    @model_validator(mode="after")
    def _trail_needs_distance(self) -> Stops:
        if self.trail_activation is not None and self.trail_distance is None:
            raise ValueError("trail_activation needs trail_distance")
        return self


def _direction(direction: int) -> float:
    if direction not in (1, -1):
        raise ConfigError(f"direction: must be +1 (long) or -1 (short), got {direction!r}")
    return float(direction)


def _price(name: str, value: float) -> float:
    return check_range(name, value, 0.0, math.inf, low_open=True)


def hard_stop_price(entry_price: float, direction: int, stop_loss: float) -> float:
    """Return ``entry * (1 - direction * stop_loss)``."""
    sl = check_range("stop_loss", stop_loss, 0.0, 1.0, low_open=True)
    return float(
        _k.hard_stop_price_nb(_price("entry_price", entry_price), _direction(direction), sl)
    )


def atr_stop_price(entry_price: float, direction: int, atr: float, multiple: float) -> float:
    """Return ``entry - direction * multiple * atr``."""
    a = check_range("atr", atr, 0.0, math.inf, low_open=True)
    m = check_range("multiple", multiple, 0.0, math.inf, low_open=True)
    return float(
        _k.atr_stop_price_nb(_price("entry_price", entry_price), _direction(direction), a, m)
    )


def trailing_stop_price(
    entry_price: float,
    direction: int,
    extreme: float,
    *,
    activation: float = 0.005,
    distance: float = 0.02,
) -> float:
    """Return the trailing stop behind the best price ``extreme``, NaN while inactive.

    The trail activates once ``direction * (extreme - entry) >= activation * entry`` and
    then sits at ``extreme * (1 - direction * distance)``.
    """
    act = check_range("activation", activation, 0.0)
    dist = check_range("distance", distance, 0.0, 1.0, low_open=True)
    return float(
        _k.trailing_stop_price_nb(
            _price("entry_price", entry_price),
            _direction(direction),
            _price("extreme", extreme),
            act,
            dist,
        )
    )


def take_profit_price(entry_price: float, direction: int, take_profit: float) -> float:
    """Return ``entry * (1 + direction * take_profit)``."""
    tp = check_range("take_profit", take_profit, 0.0, math.inf, low_open=True)
    return float(
        _k.take_profit_price_nb(_price("entry_price", entry_price), _direction(direction), tp)
    )


def stop_fill_price(level: float, direction: int, open_: float, low: float, high: float) -> float:
    """Return where a protective stop at ``level`` fills in a bar, NaN if not touched."""
    return float(_k.stop_fill_price_nb(float(level), _direction(direction), open_, low, high))


def target_fill_price(level: float, direction: int, open_: float, low: float, high: float) -> float:
    """Return where a take-profit at ``level`` fills in a bar, NaN if not touched."""
    return float(_k.target_fill_price_nb(float(level), _direction(direction), open_, low, high))


def validate_tp_sl(
    win_rate: float, take_profit: float, stop_loss: float, costs: float = 0.0
) -> bool:
    """Tell whether a TP:SL pair pays for its win rate: ``p TP - (1 - p) SL - costs > 0``.

    Parameters
    ----------
    win_rate : float
        Measured probability that the target is hit before the stop.
    take_profit, stop_loss : float
        Distances as fractions of the entry price.
    costs : float
        Round-trip costs as a fraction of the entry price (fees and slippage).
    """
    p = check_range("win_rate", win_rate, 0.0, 1.0)
    tp = check_range("take_profit", take_profit, 0.0, math.inf, low_open=True)
    sl = check_range("stop_loss", stop_loss, 0.0, math.inf, low_open=True)
    c = check_range("costs", costs, 0.0)
    return bool(_k.tp_sl_valid_nb(p, tp, sl, c))


def liquidation_price(cash: float, qty: float, maintenance_margin: float = 0.005) -> float:
    """Return the price where equity ``cash + qty * P`` falls to the maintenance margin.

    ``cash`` is the account's cash after paying for the position (negative for a long on
    borrowed money); NaN when the position cannot be liquidated.
    """
    m = check_range("maintenance_margin", maintenance_margin, 0.0, 1.0)
    return float(_k.liquidation_price_nb(float(cash), float(qty), m))
