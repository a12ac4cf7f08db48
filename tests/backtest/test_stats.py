"""Backtest statistics against vectorbt's returns accessor and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.backtest.stats import compute_stats, periods_per_year

EMPTY_TRADES = pd.DataFrame({"pnl": pd.Series(dtype=np.float64)})


def equity_curve(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0005, 0.01, n)
    r[0] = abs(r[0]) + 0.001  # first bar up: vectorbt's drawdown ignores the initial capital
    index = pd.date_range("2024-01-01", periods=n, freq="1h")
    return pd.Series(1000.0 * np.cumprod(1.0 + r), index=index)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_vectorbt_returns_accessor(seed):
    pytest.importorskip("vectorbt")  # registers the .vbt accessor
    eq = equity_curve(2000, seed)
    stats = compute_stats(eq, EMPTY_TRADES, init_cash=1000.0, bar_seconds=3600.0)
    returns = eq.pct_change()
    returns.iloc[0] = eq.iloc[0] / 1000.0 - 1.0
    acc = returns.vbt.returns(freq="1h", year_freq="365 days")
    assert stats["sharpe"] == pytest.approx(acc.sharpe_ratio(), rel=1e-10)
    assert stats["sortino"] == pytest.approx(acc.sortino_ratio(), rel=1e-10)
    assert stats["cagr"] == pytest.approx(acc.annualized(), rel=1e-10)
    assert stats["max_drawdown"] == pytest.approx(-acc.max_drawdown(), rel=1e-10)
    assert stats["calmar"] == pytest.approx(acc.calmar_ratio(), rel=1e-10)
    assert stats["volatility"] == pytest.approx(acc.annualized_volatility(), rel=1e-10)
    assert stats["total_return"] == pytest.approx(acc.total(), rel=1e-10)


def test_hand_cases():
    # 365 daily bars doubling the money: CAGR 100 %
    eq = np.linspace(1010.0, 2000.0, 365)
    s = compute_stats(eq, EMPTY_TRADES, init_cash=1000.0, bar_seconds=86400.0)
    assert s["cagr"] == pytest.approx(1.0)
    assert s["total_return"] == pytest.approx(1.0)
    assert s["max_drawdown"] == 0.0 and np.isnan(s["calmar"])
    # drawdown measured from the initial cash too: 1000 -> 900 -> 1200 -> 960
    s = compute_stats([900.0, 1200.0, 960.0], EMPTY_TRADES, init_cash=1000.0, bar_seconds=3600.0)
    assert s["max_drawdown"] == pytest.approx(0.2)
    # returns -10 %, +33.3 %, -20 %: mean / std(ddof=1) * sqrt(8760)
    r = np.array([-0.1, 1200.0 / 900.0 - 1.0, -0.2])
    assert s["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(8760.0))
    downside = np.sqrt((0.1**2 + 0.2**2) / 3.0)
    assert s["sortino"] == pytest.approx(r.mean() / downside * np.sqrt(8760.0))
    assert periods_per_year(3600.0) == 8760.0 and periods_per_year(86400.0) == 365.0


def test_trade_statistics():
    trades = pd.DataFrame({"pnl": [30.0, -10.0, 20.0, -20.0, 0.0]})
    s = compute_stats(
        [1000.0, 1020.0],
        trades,
        init_cash=1000.0,
        bar_seconds=3600.0,
        positions=[0.0, 1.0],
        turnover_notional=3030.0,
        fees_paid=3.0,
        funding_paid=-1.5,
    )
    assert s["n_trades"] == 5
    assert s["win_rate"] == pytest.approx(0.4)  # a zero P&L is not a win
    assert s["profit_factor"] == pytest.approx(50.0 / 30.0)
    assert s["expectancy"] == pytest.approx(4.0)
    assert s["avg_win"] == pytest.approx(25.0) and s["avg_loss"] == pytest.approx(-10.0)
    assert s["exposure"] == pytest.approx(0.5)
    assert s["turnover"] == pytest.approx(3.0)
    assert (s["fees_paid"], s["funding_paid"]) == (3.0, -1.5)


def test_flat_equity_gives_nan_ratios():
    s = compute_stats(np.full(10, 1000.0), EMPTY_TRADES, init_cash=1000.0, bar_seconds=60.0)
    assert s["total_return"] == 0.0 and np.isnan(s["sharpe"]) and np.isnan(s["sortino"])
    assert np.isnan(s["win_rate"]) and s["n_trades"] == 0


def test_result_stats_are_consistent_with_the_run():
    from conftest import random_bars

    df = random_bars(500, seed=5)
    res = ql.backtest.run(df, ql.backtest.ma_cross(fast=5, slow=20), costs=0.001)
    s = res.stats
    assert s["end_value"] == res.equity.iloc[-1]
    assert s["n_trades"] == len(res.trades)
    assert s["fees_paid"] == pytest.approx(res.trades["fees"].sum())
    assert s["exposure"] == pytest.approx((res.positions != 0).mean())
    notional = (res.trades["size"].abs() * res.trades["entry_price"]).sum()
    closed = res.trades[~res.trades["is_open"]]
    notional += (closed["size"].abs() * closed["exit_price"]).sum()
    assert s["turnover"] == pytest.approx(notional / res.equity.mean())
    assert res.returns.iloc[0] == pytest.approx(res.equity.iloc[0] / 10_000.0 - 1.0)
    assert res.drawdown.min() == pytest.approx(-s["max_drawdown"])
