"""Backtests: declarative strategies, the perp-correct numba event engine, statistics.

    import quantlab as ql
    s = ql.backtest.ma_cross(fast=10, slow=30, stop_loss=0.02)
    res = ql.backtest.run(df, s, costs=ql.backtest.Costs.hyperliquid())
    res.equity; res.trades; res.stats; res.optimistic.stats; res.to_vectorbt().plot()

The per-bar logic lives in :func:`quantlab.kernels.backtest.backtest_step_nb`;
:func:`build_params` and :func:`build_inputs` give its inputs, for sweeps.
"""

from __future__ import annotations

from quantlab.backtest import attribution, overfitting, validation, verdict
from quantlab.backtest.attribution import Attribution, attribute_backtest, attribute_pnl
from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import PreparedBars, build_inputs, build_params, prepare_bars, run
from quantlab.backtest.grid import GridPlan, plan_grid
from quantlab.backtest.options import RunOptions
from quantlab.backtest.overfitting import (
    DeflatedSharpe,
    PBOResult,
    deflated_sharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo,
    probabilistic_sharpe_ratio,
    sharpe_moments,
)
from quantlab.backtest.result import TRADE_COLUMNS, BacktestResult
from quantlab.backtest.search import SearchResult, search
from quantlab.backtest.selection import Selection, select_best
from quantlab.backtest.stats import (
    METRIC_DIRECTIONS,
    STAT_NAMES,
    compute_stats,
    periods_per_year,
)
from quantlab.backtest.strategy import (
    STRATEGIES,
    STRATEGY_REGISTRY,
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
from quantlab.backtest.sweeps import (
    SweepResult,
    apply_params,
    best_params,
    parse_grid,
    rank_table,
    sweep,
)
from quantlab.backtest.validation import (
    Split,
    WalkForwardResult,
    candidate_returns,
    expand_grid,
    holdout,
    holdout_split,
    purged_kfold_splits,
    scale_costs,
    stress,
    walk_forward,
    walk_forward_splits,
)
from quantlab.backtest.verdict import (
    GateConfig,
    Verdict,
    canonical_json,
    evaluate_gates,
    make_verdict,
    read_verdict,
    run_validation,
    strategy_config,
    strategy_hash,
    write_verdict,
)

__all__ = [
    "METRIC_DIRECTIONS",
    "STAT_NAMES",
    "STRATEGIES",
    "STRATEGY_REGISTRY",
    "TRADE_COLUMNS",
    "Attribution",
    "BacktestResult",
    "Costs",
    "DeflatedSharpe",
    "DonchianBreakout",
    "EMATrend",
    "FactorComposite",
    "GateConfig",
    "GridPlan",
    "MACross",
    "MeanReversion",
    "PBOResult",
    "PreparedBars",
    "RunOptions",
    "SearchResult",
    "Selection",
    "Split",
    "StrategyBase",
    "SweepResult",
    "Verdict",
    "WalkForwardResult",
    "apply_params",
    "attribute_backtest",
    "attribute_pnl",
    "attribution",
    "best_params",
    "build_inputs",
    "build_params",
    "candidate_returns",
    "canonical_json",
    "compute_stats",
    "deflated_sharpe",
    "deflated_sharpe_ratio",
    "donchian_breakout",
    "ema_trend",
    "evaluate_gates",
    "expand_grid",
    "expected_max_sharpe",
    "factor_composite",
    "holdout",
    "holdout_split",
    "load_strategy",
    "ma_cross",
    "make_costs",
    "make_verdict",
    "mean_reversion",
    "overfitting",
    "parse_grid",
    "pbo",
    "periods_per_year",
    "plan_grid",
    "prepare_bars",
    "probabilistic_sharpe_ratio",
    "purged_kfold_splits",
    "rank_table",
    "read_verdict",
    "register_strategy",
    "run",
    "run_validation",
    "scale_costs",
    "search",
    "select_best",
    "sharpe_moments",
    "strategy_config",
    "strategy_hash",
    "stress",
    "sweep",
    "validation",
    "verdict",
    "walk_forward",
    "walk_forward_splits",
    "write_verdict",
]


from quantlab._lazy import lazy_submodules

__getattr__ = lazy_submodules(__name__, globals())
