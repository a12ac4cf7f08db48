"""Backtests: declarative strategies, the perp-correct numba event engine, statistics.

    import quantlab as ql
    s = ql.backtest.ma_cross(fast=10, slow=30, stop_loss=0.02)
    res = ql.backtest.run(df, s, costs=ql.backtest.Costs.hyperliquid())
    res.equity; res.trades; res.stats; res.optimistic.stats; res.to_vectorbt().plot()

The per-bar logic lives in :func:`quantlab.kernels.backtest.backtest_step_nb`;
:func:`build_params` and :func:`build_inputs` give its inputs, for sweeps.
"""

from __future__ import annotations

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import build_inputs, build_params, run
from quantlab.backtest.result import TRADE_COLUMNS, BacktestResult
from quantlab.backtest.stats import STAT_NAMES, compute_stats, periods_per_year
from quantlab.backtest.strategy import (
    STRATEGIES,
    DonchianBreakout,
    EMATrend,
    FactorComposite,
    MACross,
    MeanReversion,
    StrategyBase,
    donchian_breakout,
    ema_trend,
    factor_composite,
    load_strategy,
    ma_cross,
    mean_reversion,
    register_strategy,
)

__all__ = [
    "STAT_NAMES",
    "STRATEGIES",
    "TRADE_COLUMNS",
    "BacktestResult",
    "Costs",
    "DonchianBreakout",
    "EMATrend",
    "FactorComposite",
    "MACross",
    "MeanReversion",
    "StrategyBase",
    "build_inputs",
    "build_params",
    "compute_stats",
    "donchian_breakout",
    "ema_trend",
    "factor_composite",
    "load_strategy",
    "ma_cross",
    "make_costs",
    "mean_reversion",
    "periods_per_year",
    "register_strategy",
    "run",
]
