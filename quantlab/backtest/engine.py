"""``run``: the pandas face of the numba event engine (:mod:`quantlab.kernels.backtest`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import Fill, Gaps
from quantlab.backtest.costs import Costs
from quantlab.backtest.options import RunOptions, resolve_options
from quantlab.backtest.result import TRADE_COLUMNS, BacktestResult
from quantlab.backtest.stats import compute_stats, periods_per_year
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.data.intervals import interval_seconds
from quantlab.data.schema import infer_interval, validate
from quantlab.errors import ConfigError, DataError
from quantlab.kernels import backtest as _bt

__all__ = [
    "PARAM_FIELDS",
    "PreparedBars",
    "aux_inputs",
    "build_inputs",
    "build_params",
    "prepare_bars",
    "run",
]

_SIZING = {
    "fixed": _bt.SIZING_FIXED,
    "kelly": _bt.SIZING_KELLY,
    "vol_target": _bt.SIZING_VOL_TARGET,
}


def _nan_if_none(x: float | None) -> float:
    return np.nan if x is None else float(x)


def _bps(x: float) -> float:
    return float(x) * 1e-4


def _sizing_code(kind: str) -> float:
    return float(_SIZING[kind])


#: Every config field the engine's parameter row reads: dotted path (``costs.`` for the
#: costs, else inside the strategy) -> (``P_*`` column, value -> float). The one map from
#: configs to parameter rows: :func:`build_params` applies it to one configuration, a
#: parameter sweep to whole arrays of values.
PARAM_FIELDS: dict[str, tuple[int, Callable[[Any], float]]] = {
    "costs.maker_fee": (_bt.P_MAKER_FEE, float),
    "costs.taker_fee": (_bt.P_TAKER_FEE, float),
    "costs.slippage_bps": (_bt.P_SLIP_FIXED, _bps),
    "costs.vol_slippage": (_bt.P_SLIP_VOL, float),
    "costs.impact": (_bt.P_SLIP_IMPACT, float),
    "costs.max_slippage_bps": (_bt.P_SLIP_MAX, _bps),
    "limits.max_leverage": (_bt.P_MAX_LEVERAGE, float),
    "limits.maintenance_margin": (_bt.P_MMR, float),
    "sizing.kind": (_bt.P_SIZING, _sizing_code),
    "sizing.fraction": (_bt.P_FRACTION, float),
    "sizing.kelly_scale": (_bt.P_KELLY_SCALE, float),
    "sizing.min_fraction": (_bt.P_KELLY_MIN, float),
    "sizing.max_fraction": (_bt.P_KELLY_MAX, float),
    "edge.win_rate": (_bt.P_WIN_RATE, _nan_if_none),
    "edge.payoff": (_bt.P_PAYOFF, _nan_if_none),
    "edge.min_trades": (_bt.P_MIN_TRADES, float),
    "sizing.target_vol": (_bt.P_TARGET_VOL, float),
    "sizing.regime_floor": (_bt.P_REGIME_FLOOR, float),
    "stops.stop_loss": (_bt.P_STOP_FRAC, _nan_if_none),
    "stops.atr_mult": (_bt.P_ATR_MULT, _nan_if_none),
    "stops.trail_activation": (_bt.P_TRAIL_ACT, _nan_if_none),
    "stops.trail_distance": (_bt.P_TRAIL_DIST, _nan_if_none),
    "stops.take_profit": (_bt.P_TP_FRAC, _nan_if_none),
    "stops.validate_tp_sl": (_bt.P_VALIDATE_TPSL, float),
    "breaker.threshold": (_bt.P_BREAKER_THRESHOLD, _nan_if_none),
    "breaker.pause_bars": (_bt.P_BREAKER_PAUSE, float),
    "limits.daily_loss_limit": (_bt.P_DAILY_LOSS, _nan_if_none),
    "limits.max_drawdown": (_bt.P_MAX_DD, _nan_if_none),
    "limits.cooldown_bars": (_bt.P_COOLDOWN, float),
    "limits.rearm_after_exit": (_bt.P_REARM, float),
}

#: Config fields read by :func:`aux_inputs` (the per-bar series beside the target).
AUX_FIELDS = frozenset(
    {
        "costs.funding",
        "costs.vol_slippage",
        "costs.vol_window",
        "costs.impact",
        "stops.atr_mult",
        "stops.atr_window",
        "sizing.kind",
        "sizing.vol_window",
    }
)


def _field(strategy: StrategyBase, costs: Costs, path: str) -> Any:
    obj: Any = costs if path.startswith("costs.") else strategy
    for part in path.removeprefix("costs.").split("."):
        obj = getattr(obj, part)
    return obj


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

    The config fields enter through :data:`PARAM_FIELDS`; a sweep applies the same map to
    arrays of values.
    """
    if fill not in ("next_open", "close"):
        raise ConfigError(f"fill: must be 'next_open' or 'close', got {fill!r}")
    if not (np.isfinite(init_cash) and init_cash > 0):
        raise ConfigError(f"init_cash: must be a positive number, got {init_cash!r}")
    p = np.zeros(_bt.N_PARAMS)
    p[_bt.P_FILL] = _bt.FILL_CLOSE if fill == "close" else _bt.FILL_NEXT_OPEN
    for path, (col, convert) in PARAM_FIELDS.items():
        p[col] = convert(_field(strategy, costs, path))
    p[_bt.P_OPTIMISTIC] = float(optimistic)
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


@dataclass(frozen=True)
class PreparedBars:
    """Bars validated once, with the arrays every run and sweep over them reads.

    Build with :func:`prepare_bars`; walk-forward folds, search trials and sweep chunks
    share one instead of validating the same frame again.
    """

    df: pd.DataFrame
    bar_seconds: float
    open_: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    day: np.ndarray
    funding_rate: np.ndarray | None

    def __len__(self) -> int:
        return len(self.df)

    @property
    def bars(self) -> tuple[np.ndarray, ...]:
        """``(open_, high, low, close, day)`` as the kernels take them (read-only)."""
        return (self.open_, self.high, self.low, self.close, self.day)

    def slice(self, start: int, stop: int) -> PreparedBars:
        """Return rows ``start:stop`` (already valid: a slice of valid bars is valid)."""
        if stop - start < 2:
            raise DataError(f"bars: need at least 2 rows to backtest, got {stop - start}")
        return _prepared(self.df.iloc[start:stop], self.bar_seconds)


def _prepared(df: pd.DataFrame, bar_seconds: float) -> PreparedBars:
    ns = df.index.as_unit("ns").asi8
    funding = frozen(_f64(df["funding_rate"])) if "funding_rate" in df.columns else None
    return PreparedBars(
        df=df,
        bar_seconds=float(bar_seconds),
        open_=frozen(_f64(df["open"])),
        high=frozen(_f64(df["high"])),
        low=frozen(_f64(df["low"])),
        close=frozen(_f64(df["close"])),
        volume=frozen(_f64(df["volume"])),
        day=frozen((ns // (86_400 * 10**9)).astype(np.int64)),
        funding_rate=funding,
    )


def prepare_bars(
    df: pd.DataFrame | PreparedBars, interval: str | None = None, gaps: Gaps = "error"
) -> PreparedBars:
    """Validate bars once and infer their interval; return what the engine reads.

    Parameters
    ----------
    df : pd.DataFrame or PreparedBars
        Bars (checked with :func:`quantlab.data.validate`); prepared bars pass through.
    interval : str, optional
        Bar interval (``"1h"``); inferred from the index when None.
    gaps : {"error", "ffill", "allow"}
        Passed to :func:`quantlab.data.validate`.

    Raises
    ------
    DataError
        Invalid bars, fewer than 2 rows, or an interval that cannot be inferred.
    """
    if isinstance(df, PreparedBars):
        return df
    df = validate(df, interval=interval, gaps=gaps)
    if len(df) < 2:
        raise DataError(f"bars: need at least 2 rows to backtest, got {len(df)}")
    if interval is not None:
        return _prepared(df, float(interval_seconds(interval)))
    step = infer_interval(df.index)
    if step is None:
        raise DataError("index: cannot infer the bar interval; pass interval='1h' etc.")
    return _prepared(df, step.total_seconds())


def check_target(strategy: StrategyBase, df: pd.DataFrame, target: Any) -> np.ndarray:
    """Return a strategy's target as a float array, or raise naming the first bad bar."""
    arr = _f64(target)
    if arr.shape != (len(df),):
        raise DataError(
            f"strategy {strategy.kind!r}: target has {arr.shape[0] if arr.ndim else 0} rows, "
            f"bars {len(df)}"
        )
    bad = ~np.isfinite(arr) | (np.abs(arr) > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"strategy {strategy.kind!r}: target at {df.index[i]} is {arr[i]!r}; "
            "must be -1, 0 or +1"
        )
    return arr


def aux_inputs(bars: PreparedBars, strategy: StrategyBase, costs: Costs) -> dict[str, np.ndarray]:
    """Return the per-bar series beside the target (funding, ATR, realised volatility,
    regime, slippage volatility, reference volume), all causal (known at their bar)."""
    df = bars.df
    n = len(df)
    close = np.asarray(bars.close)
    if strategy.sizing.kind == "vol_target":
        r = pd.Series(np.log(close)).diff()
        sd = r.rolling(strategy.sizing.vol_window).std(ddof=1)
        realized_vol = _f64(sd * np.sqrt(periods_per_year(bars.bar_seconds)))
    else:
        realized_vol = np.full(n, np.nan)
    regime = strategy.regime(df)
    regime_arr = np.full(n, np.nan) if regime is None else _f64(regime)
    if bars.funding_rate is not None and costs.funding:
        funding = _f64(bars.funding_rate)
    else:
        funding = np.zeros(n)
    return {
        "funding_rate": funding,
        "atr": _f64(strategy.atr(df)),
        "realized_vol": realized_vol,
        "regime": regime_arr,
        "bar_vol": _f64(costs.bar_volatility(close)),
        "volume_ref": _f64(costs.volume_reference(np.asarray(bars.volume))),
    }


def build_inputs(
    df: pd.DataFrame | PreparedBars, strategy: StrategyBase, costs: Costs, bar_seconds: float
) -> dict[str, np.ndarray]:
    """Return the per-bar arrays the engine reads, all causal (known at their bar)."""
    bars = df if isinstance(df, PreparedBars) else _prepared(df, bar_seconds)
    target = check_target(strategy, bars.df, strategy.target(bars.df))
    return {
        "open_": _f64(bars.open_),
        "high": _f64(bars.high),
        "low": _f64(bars.low),
        "close": _f64(bars.close),
        "day": np.asarray(bars.day),
        "target": target,
        **aux_inputs(bars, strategy, costs),
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
    costs: Costs,
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
        costs=costs,
    )


def run(
    df: pd.DataFrame | PreparedBars,
    strategy: StrategyBase | dict | str,
    costs: Costs | float | dict | str | RunOptions | None = None,
    *,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    options: RunOptions | None = None,
) -> BacktestResult:
    """Backtest a strategy on bars with fees, slippage, funding, margin and risk rules.

    Parameters
    ----------
    df : pd.DataFrame or PreparedBars
        Bars (checked with :func:`quantlab.data.validate`); a ``funding_rate`` column
        (per hour) is charged on the position held through each bar.
    strategy : StrategyBase, mapping, YAML path or registered name
        See :mod:`quantlab.backtest.strategy`.
    costs : Costs, float, mapping, str or RunOptions, optional
        Fees and slippage; a number is one fee rate for every fill. Default: the venue's
        (:meth:`Costs.hyperliquid`); ``0`` for none. A :class:`RunOptions` here is taken
        as ``options``.
    fill : {"next_open", "close"}
        Fill orders decided at a close at the next bar's open (default, no look-ahead) or
        at that close (vectorbt ``from_signals`` parity).
    init_cash : float
        Starting equity (default 10,000).
    interval : str, optional
        Bar interval (e.g. ``"1h"``); inferred from the index when omitted.
    gaps : {"error", "ffill", "allow"}
        Passed to :func:`quantlab.data.validate` (default ``"error"``).
    options : RunOptions, optional
        The five settings above as one object; keywords given beside it win.

    Returns
    -------
    BacktestResult
        ``.equity``, ``.positions``, ``.trades``, ``.stats`` (pessimistic ordering of
        bars where the stop and the target both lie in the bar's range), ``.optimistic``
        (the other ordering), ``.ambiguous_bars`` and ``.costs``.
    """
    strategy = load_strategy(strategy)
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    costs_used = opts.costs
    bars = prepare_bars(df, opts.interval, opts.gaps)
    df = bars.df
    bar_seconds = bars.bar_seconds
    init_cash = opts.init_cash
    fill = opts.fill
    inputs = build_inputs(bars, strategy, costs_used, bar_seconds)
    target = pd.Series(inputs["target"], index=df.index, name="target")
    common = {
        "strategy": strategy,
        "target": target,
        "fill": fill,
        "init_cash": init_cash,
        "bar_seconds": bar_seconds,
        "costs": costs_used,
    }
    params = build_params(
        strategy, costs_used, fill=fill, init_cash=init_cash, bar_seconds=bar_seconds
    )
    pess = _simulate(df, inputs, params, ordering="pessimistic", **common)
    if pess.ambiguous_bars == 0:
        return pess
    params_opt = params.copy()
    params_opt[_bt.P_OPTIMISTIC] = 1.0
    opt = _simulate(df, inputs, params_opt, ordering="optimistic", **common)
    object.__setattr__(opt, "_other", pess)
    object.__setattr__(pess, "_other", opt)
    return pess
