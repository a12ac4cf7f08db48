"""``run``: the pandas face of the numba event engine (:mod:`quantlab.kernels.backtest`)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.result import TRADE_COLUMNS, BacktestResult
from quantlab.backtest.stats import compute_stats, periods_per_year
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.data.intervals import interval_seconds
from quantlab.data.schema import infer_interval, validate
from quantlab.errors import ConfigError, DataError
from quantlab.kernels import backtest as _bt

__all__ = ["build_inputs", "build_params", "run"]

Fill = Literal["next_open", "close"]
_SIZING = {
    "fixed": _bt.SIZING_FIXED,
    "kelly": _bt.SIZING_KELLY,
    "vol_target": _bt.SIZING_VOL_TARGET,
}


def _nan_if_none(x: float | None) -> float:
    return np.nan if x is None else float(x)


def build_params(
    strategy: StrategyBase,
    costs: Costs,
    *,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    bar_seconds: float = 3600.0,
    optimistic: bool = False,
) -> np.ndarray:
    """Return the engine's parameter row (``P_*`` layout) for a strategy and costs.

    A sweep builds one row per combination and loops :func:`backtest_step_nb` over them.
    """
    if fill not in ("next_open", "close"):
        raise ConfigError(f"fill: must be 'next_open' or 'close', got {fill!r}")
    if not (np.isfinite(init_cash) and init_cash > 0):
        raise ConfigError(f"init_cash: must be a positive number, got {init_cash!r}")
    p = np.zeros(_bt.N_PARAMS)
    sz, st, lim, brk, edge = (
        strategy.sizing,
        strategy.stops,
        strategy.limits,
        strategy.breaker,
        strategy.edge,
    )
    p[_bt.P_FILL] = _bt.FILL_CLOSE if fill == "close" else _bt.FILL_NEXT_OPEN
    p[_bt.P_MAKER_FEE] = costs.maker_fee
    p[_bt.P_TAKER_FEE] = costs.taker_fee
    p[_bt.P_SLIP_FIXED] = costs.slippage_bps * 1e-4
    p[_bt.P_SLIP_VOL] = costs.vol_slippage
    p[_bt.P_SLIP_IMPACT] = costs.impact
    p[_bt.P_SLIP_MAX] = costs.max_slippage_bps * 1e-4
    p[_bt.P_MAX_LEVERAGE] = lim.max_leverage
    p[_bt.P_MMR] = lim.maintenance_margin
    p[_bt.P_SIZING] = _SIZING[sz.kind]
    p[_bt.P_FRACTION] = sz.fraction
    p[_bt.P_KELLY_SCALE] = sz.kelly_scale
    p[_bt.P_KELLY_MIN] = sz.min_fraction
    p[_bt.P_KELLY_MAX] = sz.max_fraction
    p[_bt.P_WIN_RATE] = _nan_if_none(edge.win_rate)
    p[_bt.P_PAYOFF] = _nan_if_none(edge.payoff)
    p[_bt.P_MIN_TRADES] = edge.min_trades
    p[_bt.P_TARGET_VOL] = sz.target_vol
    p[_bt.P_REGIME_FLOOR] = sz.regime_floor
    p[_bt.P_STOP_FRAC] = _nan_if_none(st.stop_loss)
    p[_bt.P_ATR_MULT] = _nan_if_none(st.atr_mult)
    p[_bt.P_TRAIL_ACT] = _nan_if_none(st.trail_activation)
    p[_bt.P_TRAIL_DIST] = _nan_if_none(st.trail_distance)
    p[_bt.P_TP_FRAC] = _nan_if_none(st.take_profit)
    p[_bt.P_VALIDATE_TPSL] = float(st.validate_tp_sl)
    p[_bt.P_BREAKER_THRESHOLD] = _nan_if_none(brk.threshold)
    p[_bt.P_BREAKER_PAUSE] = brk.pause_bars
    p[_bt.P_DAILY_LOSS] = _nan_if_none(lim.daily_loss_limit)
    p[_bt.P_MAX_DD] = _nan_if_none(lim.max_drawdown)
    p[_bt.P_COOLDOWN] = lim.cooldown_bars
    p[_bt.P_OPTIMISTIC] = float(optimistic)
    p[_bt.P_REARM] = float(lim.rearm_after_exit)
    p[_bt.P_INIT_CASH] = init_cash
    p[_bt.P_BAR_HOURS] = bar_seconds / 3600.0
    return p


def _f64(x: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64))


def frozen(a: np.ndarray) -> np.ndarray:
    """Return a read-only view of ``a`` (no copy).

    The kernels are compiled once per combination of argument types, and numba types a
    read-only array apart from a writable one; handing them read-only views of every
    series keeps that to one compilation whatever mix of pandas (read-only) and numpy
    (writable) arrays a strategy's inputs are built from.
    """
    view = a.view()
    view.flags.writeable = False
    return view


def build_inputs(
    df: pd.DataFrame, strategy: StrategyBase, costs: Costs, bar_seconds: float
) -> dict[str, np.ndarray]:
    """Return the per-bar arrays the engine reads, all causal (known at their bar)."""
    n = len(df)
    close = _f64(df["close"])
    target = strategy.target(df)
    if len(target) != n:
        raise DataError(f"strategy {strategy.kind!r}: target has {len(target)} rows, bars {n}")
    target_arr = _f64(target)
    bad = ~np.isfinite(target_arr) | (np.abs(target_arr) > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"strategy {strategy.kind!r}: target at {df.index[i]} is {target_arr[i]!r}; "
            "must be -1, 0 or +1"
        )
    if strategy.sizing.kind == "vol_target":
        r = pd.Series(np.log(close)).diff()
        sd = r.rolling(strategy.sizing.vol_window).std(ddof=1)
        realized_vol = _f64(sd * np.sqrt(periods_per_year(bar_seconds)))
    else:
        realized_vol = np.full(n, np.nan)
    regime = strategy.regime(df)
    regime_arr = np.full(n, np.nan) if regime is None else _f64(regime)
    if "funding_rate" in df.columns and costs.funding:
        funding = _f64(df["funding_rate"])
    else:
        funding = np.zeros(n)
    ns = df.index.as_unit("ns").asi8
    day = (ns // (86_400 * 10**9)).astype(np.int64)
    return {
        "open_": _f64(df["open"]),
        "high": _f64(df["high"]),
        "low": _f64(df["low"]),
        "close": close,
        "funding_rate": funding,
        "day": day,
        "target": target_arr,
        "atr": _f64(strategy.atr(df)),
        "realized_vol": realized_vol,
        "regime": regime_arr,
        "bar_vol": _f64(costs.bar_volatility(close)),
        "volume_ref": _f64(costs.volume_reference(_f64(df["volume"]))),
    }


def _trades_frame(records: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    if records.shape[0] == 0:
        frame = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in TRADE_COLUMNS})
        frame["entry_time"] = pd.Series(dtype=index.dtype)
        frame["exit_time"] = pd.Series(dtype=index.dtype)
        frame["direction"] = pd.Series(dtype=object)
        frame["exit_reason"] = pd.Series(dtype=object)
        frame["is_open"] = pd.Series(dtype=bool)
        return frame
    entry_idx = records[:, _bt.T_ENTRY_IDX].astype(np.int64)
    exit_idx = records[:, _bt.T_EXIT_IDX].astype(np.int64)
    size = records[:, _bt.T_SIZE]
    reason = records[:, _bt.T_REASON].astype(np.int64)
    entry_price = records[:, _bt.T_ENTRY_PRICE]
    frame = pd.DataFrame(
        {
            "entry_time": index[entry_idx],
            "exit_time": index[exit_idx],
            "entry_idx": entry_idx,
            "exit_idx": exit_idx,
            "direction": np.where(size > 0, "long", "short").astype(object),
            "size": size,
            "entry_price": entry_price,
            "exit_price": records[:, _bt.T_EXIT_PRICE],
            "entry_fee": records[:, _bt.T_ENTRY_FEE],
            "exit_fee": records[:, _bt.T_EXIT_FEE],
            "fees": records[:, _bt.T_ENTRY_FEE] + records[:, _bt.T_EXIT_FEE],
            "funding": records[:, _bt.T_FUNDING],
            "slippage": records[:, _bt.T_SLIPPAGE],
            "pnl": records[:, _bt.T_PNL],
            "return": records[:, _bt.T_PNL] / (np.abs(size) * entry_price),
            "exit_reason": np.asarray(_bt.EXIT_REASONS, dtype=object)[reason],
            "is_open": reason == _bt.EXIT_END,
        }
    )
    return frame


def _simulate(
    df: pd.DataFrame,
    inputs: dict[str, np.ndarray],
    params: np.ndarray,
    *,
    strategy: StrategyBase,
    target: pd.Series,
    fill: str,
    init_cash: float,
    bar_seconds: float,
    ordering: str,
) -> BacktestResult:
    equity, cash, qty, fees, funding, records, state = _bt.backtest_nb(
        **{k: frozen(v) for k, v in inputs.items()}, params=params
    )
    index = df.index
    trades = _trades_frame(records, index)
    stats = compute_stats(
        equity,
        trades,
        init_cash=init_cash,
        bar_seconds=bar_seconds,
        positions=qty,
        fees_paid=state[_bt.S_FEES],
        funding_paid=state[_bt.S_FUNDING],
        slippage_paid=state[_bt.S_SLIPPAGE],
        turnover_notional=state[_bt.S_TURNOVER],
    )
    ambiguous = int(state[_bt.S_AMBIGUOUS])
    stats["ambiguous_bars"] = float(ambiguous)
    return BacktestResult(
        equity=pd.Series(equity, index=index, name="equity"),
        cash=pd.Series(cash, index=index, name="cash"),
        positions=pd.Series(qty, index=index, name="position"),
        fees=pd.Series(fees, index=index, name="fees"),
        funding=pd.Series(funding, index=index, name="funding"),
        trades=trades,
        stats=stats,
        target=target,
        close=pd.Series(inputs["close"], index=index, name="close"),
        init_cash=float(init_cash),
        bar_seconds=float(bar_seconds),
        fill=fill,
        ambiguous_bars=ambiguous,
        ordering=ordering,
        strategy=strategy,
    )


def run(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    costs: Costs | float | dict | None = None,
    *,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    interval: str | None = None,
    gaps: Literal["error", "ffill", "allow"] = "error",
) -> BacktestResult:
    """Backtest a strategy on bars with fees, slippage, funding, margin and risk rules.

    Parameters
    ----------
    df : pd.DataFrame
        Bars (checked with :func:`quantlab.data.validate`); a ``funding_rate`` column
        (per hour) is charged on the position held through each bar.
    strategy : StrategyBase, mapping or YAML path
        See :mod:`quantlab.backtest.strategy`.
    costs : Costs, float or mapping, optional
        Fees and slippage; a number is one fee rate for every fill. Default: none.
    fill : {"next_open", "close"}
        Fill orders decided at a close at the next bar's open (default, no look-ahead) or
        at that close (vectorbt ``from_signals`` parity).
    init_cash : float
        Starting equity.
    interval : str, optional
        Bar interval (e.g. ``"1h"``); inferred from the index when omitted.
    gaps : {"error", "ffill", "allow"}
        Passed to :func:`quantlab.data.validate`.

    Returns
    -------
    BacktestResult
        ``.equity``, ``.positions``, ``.trades``, ``.stats`` (pessimistic ordering of
        bars where the stop and the target both lie in the bar's range), ``.optimistic``
        (the other ordering) and ``.ambiguous_bars``.
    """
    strategy = load_strategy(strategy)
    costs = make_costs(costs)
    df = validate(df, interval=interval, gaps=gaps)
    if len(df) < 2:
        raise DataError(f"bars: need at least 2 rows to backtest, got {len(df)}")
    if interval is not None:
        bar_seconds = float(interval_seconds(interval))
    else:
        step = infer_interval(df.index)
        if step is None:
            raise DataError("index: cannot infer the bar interval; pass interval='1h' etc.")
        bar_seconds = step.total_seconds()
    inputs = build_inputs(df, strategy, costs, bar_seconds)
    target = pd.Series(inputs["target"], index=df.index, name="target")
    common = {
        "strategy": strategy,
        "target": target,
        "fill": fill,
        "init_cash": init_cash,
        "bar_seconds": bar_seconds,
    }
    params = build_params(strategy, costs, fill=fill, init_cash=init_cash, bar_seconds=bar_seconds)
    pess = _simulate(df, inputs, params, ordering="pessimistic", **common)
    if pess.ambiguous_bars == 0:
        return pess
    params_opt = params.copy()
    params_opt[_bt.P_OPTIMISTIC] = 1.0
    opt = _simulate(df, inputs, params_opt, ordering="optimistic", **common)
    object.__setattr__(opt, "_other", pess)
    object.__setattr__(pess, "_other", opt)
    return pess
