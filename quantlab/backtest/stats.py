"""Performance statistics of a backtest, annualised from the bar interval (365-day year).

Oracle: ``vectorbt``'s returns accessor (``sharpe_ratio``, ``sortino_ratio``,
``annualized_return``, ``max_drawdown``, ``calmar_ratio`` with ``year_freq='365 days'``)
on the same per-bar returns; the tests compare them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.kernels import sweep as _sw

__all__ = [
    "METRIC_DIRECTIONS",
    "STAT_NAMES",
    "compute_stats",
    "periods_per_year",
    "stats_from_metrics",
]

SECONDS_PER_YEAR = 365.0 * 86400.0

STAT_NAMES = (
    "start_value",
    "end_value",
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "volatility",
    "n_trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_win",
    "avg_loss",
    "exposure",
    "turnover",
    "fees_paid",
    "funding_paid",
    "slippage_paid",
)


#: Which way each statistic is better: +1 larger, -1 smaller. Every ranking of runs (sweep
#: ``top``, ``best_params``, ``quantlab sweep --metric``, search, selection) reads it.
METRIC_DIRECTIONS: dict[str, int] = {
    "start_value": 1,
    "end_value": 1,
    "total_return": 1,
    "cagr": 1,
    "sharpe": 1,
    "sortino": 1,
    "calmar": 1,
    "max_drawdown": -1,
    "volatility": -1,
    "n_trades": 1,
    "win_rate": 1,
    "profit_factor": 1,
    "expectancy": 1,
    "avg_win": 1,
    "avg_loss": 1,  # a negative number: closer to zero is better
    "exposure": 1,
    "turnover": -1,
    "fees_paid": -1,
    "funding_paid": -1,
    "slippage_paid": -1,
    "ambiguous_bars": -1,
}


def periods_per_year(bar_seconds: float) -> float:
    """Return the number of bars in a 365-day year (crypto trades every day)."""
    return SECONDS_PER_YEAR / float(bar_seconds)


def _returns(equity: FloatArray, init_cash: float) -> FloatArray:
    prev = np.concatenate([[init_cash], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return equity / prev - 1.0


def _max_drawdown(equity: FloatArray, init_cash: float) -> float:
    """Return the largest peak-to-trough loss as a positive fraction (peak includes the start)."""
    if equity.size == 0:
        return np.nan
    peak = np.maximum.accumulate(np.concatenate([[init_cash], equity]))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = 1.0 - equity / peak
    return float(np.nanmax(dd))


def compute_stats(
    equity: pd.Series | FloatArray,
    trades: pd.DataFrame,
    *,
    init_cash: float,
    bar_seconds: float,
    positions: pd.Series | FloatArray | None = None,
    fees_paid: float = 0.0,
    funding_paid: float = 0.0,
    slippage_paid: float = 0.0,
    turnover_notional: float = 0.0,
) -> pd.Series:
    """Return the performance statistics of an equity curve and its trades.

    Parameters
    ----------
    equity : pd.Series or ndarray
        Equity at each bar's close.
    trades : pd.DataFrame
        The trades table (``pnl`` column); a trade still open at the end counts with its
        mark-to-market P&L.
    init_cash : float
        Equity before the first bar.
    bar_seconds : float
        Bar interval, for annualisation.
    positions : pd.Series or ndarray, optional
        Position at each close, for the exposure.
    fees_paid, funding_paid, slippage_paid, turnover_notional : float
        Totals from the engine.

    Returns
    -------
    pd.Series
        Indexed by :data:`STAT_NAMES`.

    Notes
    -----
    With per-bar returns :math:`r_t = E_t / E_{t-1} - 1` (:math:`E_{-1}` the initial cash)
    and :math:`A` bars per 365-day year:

    - total return :math:`E_T / E_{-1} - 1`; CAGR :math:`(E_T / E_{-1})^{A / T} - 1`;
    - Sharpe :math:`\\bar r / s_r \\sqrt{A}` (sample std, ddof 1; NaN when :math:`s_r = 0`);
    - Sortino :math:`A \\bar r / (\\sqrt{\\overline{\\min(r, 0)^2}} \\sqrt{A})`;
    - max drawdown :math:`\\max_t (1 - E_t / \\max_{s \\le t} E_s)`, the running peak
      including the initial cash; Calmar = CAGR / max drawdown;
    - volatility :math:`s_r \\sqrt{A}`;
    - win rate = share of trades with positive P&L; profit factor = gross profit / gross
      loss; expectancy = mean trade P&L;
    - exposure = share of bars closing with a position; turnover = traded notional / mean
      equity.
    """
    eq = np.asarray(equity, dtype=np.float64)
    n = eq.size
    if n == 0:
        out = dict.fromkeys(STAT_NAMES, np.nan)
        pnl0 = np.asarray(trades["pnl"], dtype=np.float64) if len(trades) else np.empty(0)
        out.update(
            start_value=float(init_cash),
            fees_paid=float(fees_paid),
            funding_paid=float(funding_paid),
            slippage_paid=float(slippage_paid),
            n_trades=float(pnl0.size),
        )
        if pnl0.size:
            row = _metrics_row(eq, pnl0, init_cash, None, 0.0, 0.0, 0.0, 0.0)
            cols = stats_from_metrics(row[None, :], init_cash, bar_seconds)
            for k in ("win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss"):
                out[k] = float(cols[k][0])
        return pd.Series(out, name="stats", dtype=np.float64)
    pnl = np.asarray(trades["pnl"], dtype=np.float64) if len(trades) else np.empty(0)
    row = _metrics_row(
        eq, pnl, init_cash, positions, fees_paid, funding_paid, slippage_paid, turnover_notional
    )
    cols = stats_from_metrics(row[None, :], init_cash, bar_seconds)
    return pd.Series({k: float(cols[k][0]) for k in STAT_NAMES}, name="stats", dtype=np.float64)


def _metrics_row(
    eq: FloatArray,
    pnl: FloatArray,
    init_cash: float,
    positions: pd.Series | FloatArray | None,
    fees_paid: float,
    funding_paid: float,
    slippage_paid: float,
    turnover_notional: float,
) -> FloatArray:
    """Sum one run into the ``M_*`` row the sweep kernel streams."""
    n = eq.size
    m = np.zeros(_sw.N_METRICS)
    m[_sw.M_N_BARS] = n
    if n:
        r = _returns(eq, init_cash)
        m[_sw.M_END_VALUE] = eq[-1]
        m[_sw.M_SUM_R] = float(np.sum(r))
        m[_sw.M_SUM_R2] = float(np.sum(r * r))
        m[_sw.M_SUM_DOWN2] = float(np.sum(np.minimum(r, 0.0) ** 2))
        m[_sw.M_MAX_DD] = _max_drawdown(eq, init_cash)
        m[_sw.M_SUM_EQUITY] = float(np.sum(eq))
    if positions is None:
        m[_sw.M_BARS_IN_MKT] = np.nan
    else:
        pos = np.asarray(positions, dtype=np.float64)
        m[_sw.M_BARS_IN_MKT] = float(np.count_nonzero(pos)) if pos.size else np.nan
    wins = pnl[pnl > 0]
    m[_sw.M_N_TRADES] = pnl.size
    m[_sw.M_N_WINS] = wins.size
    m[_sw.M_SUM_WIN] = float(wins.sum())
    m[_sw.M_SUM_LOSS] = float(-pnl[pnl <= 0].sum())
    m[_sw.M_FEES] = fees_paid
    m[_sw.M_FUNDING] = funding_paid
    m[_sw.M_SLIPPAGE] = slippage_paid
    m[_sw.M_TURNOVER] = turnover_notional
    return m


def stats_from_metrics(
    m: np.ndarray, init_cash: float, bar_seconds: float
) -> dict[str, np.ndarray]:
    """Return the statistics of runs from their summed metrics (``M_*`` rows, one per run).

    The one definition of every statistic: :func:`compute_stats` sums one run's equity
    curve and trades into such a row, the sweep kernel streams them bar by bar
    (:mod:`quantlab.kernels.sweep`). Columns: :data:`STAT_NAMES` and ``ambiguous_bars``;
    the formulas are in :func:`compute_stats`' Notes.
    """
    ann = periods_per_year(bar_seconds)
    n = m[:, _sw.M_N_BARS]
    end = m[:, _sw.M_END_VALUE]
    out: dict[str, np.ndarray] = {}
    k = m.shape[0]
    nan = np.full(k, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = end / init_cash
        mean = m[:, _sw.M_SUM_R] / n
        var = (m[:, _sw.M_SUM_R2] - m[:, _sw.M_SUM_R] * mean) / (n - 1.0)
        std = np.sqrt(np.maximum(var, 0.0))
        downside = np.sqrt(m[:, _sw.M_SUM_DOWN2] / n) * np.sqrt(ann)
        cagr = np.where(growth > 0, np.abs(growth) ** (ann / n) - 1.0, -1.0)
        mdd = m[:, _sw.M_MAX_DD]
        trades = m[:, _sw.M_N_TRADES]
        wins = m[:, _sw.M_N_WINS]
        losses = trades - wins
        sum_win = m[:, _sw.M_SUM_WIN]
        sum_loss = m[:, _sw.M_SUM_LOSS]
        mean_eq = m[:, _sw.M_SUM_EQUITY] / n
        has = trades > 0
        out["start_value"] = np.full(k, float(init_cash))
        out["end_value"] = end
        out["total_return"] = growth - 1.0
        out["cagr"] = cagr
        out["sharpe"] = np.where((n >= 2) & (std > 0), mean / std * np.sqrt(ann), nan)
        out["sortino"] = np.where((n >= 2) & (downside > 0), mean * ann / downside, nan)
        out["calmar"] = np.where(mdd > 0, cagr / mdd, nan)
        out["max_drawdown"] = mdd
        out["volatility"] = np.where(n >= 2, std * np.sqrt(ann), nan)
        out["n_trades"] = trades
        out["win_rate"] = np.where(has, wins / trades, nan)
        out["profit_factor"] = np.where(
            has, np.where(sum_loss > 0, sum_win / sum_loss, np.inf), nan
        )
        out["expectancy"] = np.where(has, (sum_win - sum_loss) / trades, nan)
        out["avg_win"] = np.where(wins > 0, sum_win / wins, nan)
        out["avg_loss"] = np.where(losses > 0, -sum_loss / losses, nan)
        out["exposure"] = m[:, _sw.M_BARS_IN_MKT] / n
        out["turnover"] = np.where(mean_eq > 0, m[:, _sw.M_TURNOVER] / mean_eq, nan)
        out["fees_paid"] = m[:, _sw.M_FEES]
        out["funding_paid"] = m[:, _sw.M_FUNDING]
        out["slippage_paid"] = m[:, _sw.M_SLIPPAGE]
        out["ambiguous_bars"] = m[:, _sw.M_AMBIGUOUS]
    return {c: np.ascontiguousarray(out[c]) for c in (*STAT_NAMES, "ambiguous_bars")}
