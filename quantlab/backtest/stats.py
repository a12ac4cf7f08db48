"""Performance statistics of a backtest, annualised from the bar interval (365-day year).

Oracle: ``vectorbt``'s returns accessor (``sharpe_ratio``, ``sortino_ratio``,
``annualized_return``, ``max_drawdown``, ``calmar_ratio`` with ``year_freq='365 days'``)
on the same per-bar returns; the tests compare them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray

__all__ = ["METRIC_DIRECTIONS", "STAT_NAMES", "compute_stats", "periods_per_year"]

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
    ann = periods_per_year(bar_seconds)
    out = dict.fromkeys(STAT_NAMES, np.nan)
    out["start_value"] = float(init_cash)
    out["fees_paid"] = float(fees_paid)
    out["funding_paid"] = float(funding_paid)
    out["slippage_paid"] = float(slippage_paid)
    pnl = np.asarray(trades["pnl"], dtype=np.float64) if len(trades) else np.empty(0)
    out["n_trades"] = float(pnl.size)
    if pnl.size:
        wins = pnl[pnl > 0]
        losses = pnl[pnl <= 0]
        out["win_rate"] = wins.size / pnl.size
        gross_loss = -losses.sum()
        out["profit_factor"] = wins.sum() / gross_loss if gross_loss > 0 else np.inf
        out["expectancy"] = float(pnl.mean())
        out["avg_win"] = float(wins.mean()) if wins.size else np.nan
        out["avg_loss"] = float(losses.mean()) if losses.size else np.nan
    if n == 0:
        return pd.Series(out, name="stats", dtype=np.float64)
    end = float(eq[-1])
    out["end_value"] = end
    growth = end / init_cash
    out["total_return"] = growth - 1.0
    out["cagr"] = growth ** (ann / n) - 1.0 if growth > 0 else -1.0
    r = _returns(eq, init_cash)
    if n >= 2:
        mean = float(np.mean(r))
        std = float(np.std(r, ddof=1))
        out["volatility"] = std * np.sqrt(ann)
        out["sharpe"] = mean / std * np.sqrt(ann) if std > 0 else np.nan
        downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * np.sqrt(ann)
        out["sortino"] = mean * ann / downside if downside > 0 else np.nan
    mdd = _max_drawdown(eq, init_cash)
    out["max_drawdown"] = mdd
    out["calmar"] = out["cagr"] / mdd if mdd > 0 else np.nan
    if positions is not None:
        pos = np.asarray(positions, dtype=np.float64)
        out["exposure"] = float(np.mean(pos != 0.0)) if pos.size else np.nan
    mean_equity = float(np.mean(eq))
    out["turnover"] = turnover_notional / mean_equity if mean_equity > 0 else np.nan
    return pd.Series(out, name="stats", dtype=np.float64)
