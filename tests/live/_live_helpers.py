"""Shared builders of the live tests: strategies that exercise every engine rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import random_bars

import quantlab as ql

COSTS = ql.backtest.Costs(maker_fee=0.0002, taker_fee=0.0005, slippage_bps=2.0, vol_slippage=0.1)

#: name -> strategy; together they use every rule of the step (both directions, hard /
#: ATR / trailing stops, take profit, TP:SL validation, Kelly sizing, the binomial
#: breaker, the daily loss limit, the drawdown kill switch, leverage caps, cooldown).
STRATEGIES = {
    "ma_stops_tp_trail": ql.backtest.ma_cross(
        fast=5, slow=20, direction="both",
        stops={"stop_loss": 0.01, "take_profit": 0.02, "trail_activation": 0.005,
               "trail_distance": 0.01},
    ),
    "donchian_atr_kelly_breaker": ql.backtest.donchian_breakout(
        entry_window=20, exit_window=10, direction="both",
        stops={"atr_mult": 2.0, "atr_window": 14, "take_profit": 0.03, "validate_tp_sl": True},
        sizing={"kind": "kelly", "kelly_scale": 0.5, "max_fraction": 0.5},
        edge={"win_rate": 0.55, "payoff": 1.2, "min_trades": 5},
        breaker={"threshold": 0.2, "pause_bars": 12},
    ),
    "meanrev_limits_cooldown": ql.backtest.mean_reversion(
        window=20, k=1.5, direction="both",
        stops={"stop_loss": 0.008},
        limits={"daily_loss_limit": 0.01, "max_drawdown": 0.08, "cooldown_bars": 3,
                "max_leverage": 2.0},
        sizing={"fraction": 1.5},
    ),
}  # fmt: skip


def bars_with_funding(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Return hourly random-walk bars with a per-hour funding rate column."""
    df = random_bars(n, seed=seed)
    rng = np.random.default_rng(seed)
    df["funding_rate"] = rng.normal(1e-5, 2e-5, len(df))
    return df
