"""Risk rules: sizing, stops, breakers and limits, as pure functions and typed configs.

The functions are thin, checked wrappers over the numba kernels in
:mod:`quantlab.kernels.risk`; the backtest engine calls those kernels directly, and the
live runner calls these functions, so research and trading apply the same rules::

    import quantlab as ql
    ql.risk.kelly_fraction(0.55, 1.5)              # 0.05: half Kelly 0.125, capped at 5 %
    ql.risk.trailing_stop_price(100, 1, 110)       # 107.8: +0.5 % activation, 2 % trail
    ql.risk.breaker_tripped(0.6, 5, threshold=0.02)  # True: 0.4**5 = 0.01 < 0.02
"""

from __future__ import annotations

from quantlab.risk.breakers import Breaker, breaker_tripped, losing_streak_probability
from quantlab.risk.limits import (
    Limits,
    cap_exposure,
    daily_loss_breached,
    drawdown_kill,
    in_cooldown,
)
from quantlab.risk.sizing import (
    Edge,
    Sizing,
    fixed_fraction,
    kelly_fraction,
    position_size,
    regime_scale,
    vol_target_fraction,
)
from quantlab.risk.stops import (
    Stops,
    atr_stop_price,
    hard_stop_price,
    liquidation_price,
    stop_fill_price,
    take_profit_price,
    target_fill_price,
    trailing_stop_price,
    validate_tp_sl,
)

__all__ = [
    "Breaker",
    "Edge",
    "Limits",
    "Sizing",
    "Stops",
    "atr_stop_price",
    "breaker_tripped",
    "cap_exposure",
    "daily_loss_breached",
    "drawdown_kill",
    "fixed_fraction",
    "hard_stop_price",
    "in_cooldown",
    "kelly_fraction",
    "liquidation_price",
    "losing_streak_probability",
    "position_size",
    "regime_scale",
    "stop_fill_price",
    "take_profit_price",
    "target_fill_price",
    "trailing_stop_price",
    "validate_tp_sl",
    "vol_target_fraction",
]
