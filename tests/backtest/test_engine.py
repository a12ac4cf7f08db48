"""The event engine: hand-computed cases for every rule, invariants, causality, oracles."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.backtest import StrategyBase
from quantlab.errors import ConfigError, DataError
from quantlab.kernels import backtest as kbt
from quantlab.kernels import strategy_signals as sig
from quantlab.kernels import ta


class Scripted(StrategyBase):
    """A strategy whose target is given bar by bar (test helper)."""

    kind: Literal["scripted"] = "scripted"
    values: tuple[float, ...] = ()

    def warmup(self) -> int:
        return 0

    def _target(self, df):
        return np.asarray(self.values[: len(df)], dtype=np.float64)


def bars(close, open_=None, high=None, low=None, *, freq="1h", start="2024-01-01", funding=None):
    close = np.asarray(close, dtype=np.float64)
    open_ = close.copy() if open_ is None else np.asarray(open_, dtype=np.float64)
    high = np.maximum(open_, close) if high is None else np.asarray(high, dtype=np.float64)
    low = np.minimum(open_, close) if low is None else np.asarray(low, dtype=np.float64)
    index = pd.date_range(start, periods=len(close), freq=freq, tz="UTC", name="time", unit="ns")
    df = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.full(len(close), 10.0),
        },
        index=index,
    )
    if funding is not None:
        df["funding_rate"] = np.broadcast_to(
            np.asarray(funding, dtype=np.float64), len(close)
        ).copy()
    return df


def scripted(values, **kw) -> Scripted:
    return Scripted(values=tuple(float(v) for v in values), **kw)


# ------------------------------------------------------------------ fills and funding


def test_next_open_versus_close_fills():
    o = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    c = [10.5, 11.5, 12.5, 13.5, 14.5, 15.5]
    df = bars(c, o)
    s = scripted([0, 1, 1, 0, 0, 0])
    at_close = ql.backtest.run(df, s, fill="close", init_cash=1000.0, costs=0).trades
    at_open = ql.backtest.run(df, s, fill="next_open", init_cash=1000.0, costs=0).trades
    # decided at the close of bar 1, exited at the close of bar 3 ...
    assert list(at_close[["entry_idx", "exit_idx"]].iloc[0]) == [1, 3]
    assert at_close["entry_price"].iloc[0] == 11.5 and at_close["exit_price"].iloc[0] == 13.5
    assert at_close["pnl"].iloc[0] == pytest.approx(1000.0 / 11.5 * 2.0)
    # ... or at the next bar's open
    assert list(at_open[["entry_idx", "exit_idx"]].iloc[0]) == [2, 4]
    assert at_open["entry_price"].iloc[0] == 12.0 and at_open["exit_price"].iloc[0] == 14.0
    assert at_open["pnl"].iloc[0] == pytest.approx(1000.0 / 12.0 * 2.0)


@pytest.mark.parametrize(
    ("side", "freq", "hours"), [(1, "1h", 1.0), (-1, "1h", 1.0), (1, "4h", 4.0)]
)
def test_funding_sign_and_magnitude(side, freq, hours):
    # flat price 100, 1x from 10 000 -> 100 units; rate 1e-4 per hour.
    # next-open fills: in at the open of bar 2, out at the open of bar 7, so the position
    # is held through bars 2..6: 5 bars * 100 units * 100 * 1e-4 * hours = 5 * hours.
    df = bars(np.full(10, 100.0), freq=freq, funding=1e-4)
    s = scripted([0, side, side, side, side, side, 0, 0, 0, 0], direction="both")
    res = ql.backtest.run(df, s, fill="next_open", init_cash=10_000.0, costs=0)
    paid = 5.0 * hours * side  # longs pay a positive rate, shorts receive it
    assert res.trades["funding"].iloc[0] == pytest.approx(paid)
    assert res.funding.sum() == pytest.approx(paid)
    assert res.stats["funding_paid"] == pytest.approx(paid)
    assert res.equity.iloc[-1] == pytest.approx(10_000.0 - paid)
    np.testing.assert_allclose(res.funding.to_numpy()[2:7], 100.0 * 100.0 * 1e-4 * hours * side)
    assert (res.funding.to_numpy()[[0, 1, 7, 8, 9]] == 0).all()


def test_funding_column_ignored_when_costs_say_so():
    df = bars(np.full(10, 100.0), funding=1e-4)
    s = scripted([0, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    res = ql.backtest.run(df, s, costs={"funding": False}, init_cash=10_000.0)
    assert res.funding.sum() == 0.0 and res.equity.iloc[-1] == 10_000.0


def test_fees_and_fixed_slippage():
    df = bars(np.full(8, 100.0))
    s = scripted([0, 1, 1, 0, 0, 0, 0, 0])
    costs = ql.backtest.Costs(taker_fee=0.001, maker_fee=0.0002, slippage_bps=10.0)
    t = ql.backtest.run(df, s, costs=costs, init_cash=1000.0).trades.iloc[0]
    assert t["entry_price"] == pytest.approx(100.1) and t["exit_price"] == pytest.approx(99.9)
    qty = 1000.0 / (100.1 * 1.001)  # fraction 1 of equity including the entry fee
    assert t["size"] == pytest.approx(qty)
    assert t["entry_fee"] == pytest.approx(qty * 100.1 * 0.001)
    assert t["exit_fee"] == pytest.approx(qty * 99.9 * 0.001)
    assert t["slippage"] == pytest.approx(qty * 0.2)
    assert t["pnl"] == pytest.approx(qty * (99.9 - 100.1) - t["fees"])


# ------------------------------------------------------------ stops, targets, orderings


def one_bar_case(o, h, lo, stops, **kw):
    """Entry at the close of bar 1 at 100 (10 units from 1000); bar 2 is the test bar."""
    c = min(max(100.0, lo), h)
    df = bars(
        [100.0, 100.0, c, c], [100.0, 100.0, o, c], [100.0, 100.0, h, c], [100.0, 100.0, lo, c]
    )
    s = scripted([0, 1, 1, 1], stops=stops, **kw)
    return ql.backtest.run(df, s, fill="close", init_cash=1000.0, costs=0)


def test_stop_and_target_in_one_bar_report_both_orderings():
    res = one_bar_case(100.0, 104.0, 97.0, {"stop_loss": 0.02, "take_profit": 0.03})
    assert res.ambiguous_bars == 1 and res.stats["ambiguous_bars"] == 1
    pess, opt = res.trades.iloc[0], res.optimistic.trades.iloc[0]
    assert (pess["exit_reason"], pess["exit_price"]) == ("stop", 98.0)
    assert pess["pnl"] == pytest.approx(-20.0)
    assert (opt["exit_reason"], opt["exit_price"]) == ("take_profit", 103.0)
    assert opt["pnl"] == pytest.approx(30.0)
    assert res.optimistic.pessimistic is res
    assert res.equity.iloc[-1] == pytest.approx(980.0)
    assert res.optimistic.equity.iloc[-1] == pytest.approx(1030.0)


def test_gap_through_target_fills_at_open():
    # the bar opens above the target: the target fills at the open, before the low comes.
    # (vectorbt 1.2 fills the stop here because it always checks the stop first.)
    res = one_bar_case(104.0, 105.0, 97.0, {"stop_loss": 0.02, "take_profit": 0.03})
    t = res.trades.iloc[0]
    assert (t["exit_reason"], t["exit_price"], res.ambiguous_bars) == ("take_profit", 104.0, 0)


def test_gap_through_stop_fills_at_open():
    res = one_bar_case(97.0, 104.0, 96.0, {"stop_loss": 0.02, "take_profit": 0.03})
    t = res.trades.iloc[0]
    assert (t["exit_reason"], t["exit_price"], res.ambiguous_bars) == ("stop", 97.0, 0)
    assert t["pnl"] == pytest.approx(-30.0)


def test_atr_stop_takes_the_tighter_level():
    # ATR(3) on these bars is known at the entry close; a 1-ATR stop vs a 10 % hard stop
    df = bars(
        [100, 101, 99, 100, 100, 100, 100],
        high=[101, 102, 100, 101, 100, 100, 100],
        low=[99, 100, 98, 99, 100, 100, 96],
    )
    atr = ta.atr_nb(df["high"].to_numpy(), df["low"].to_numpy(), df["close"].to_numpy(), 3)
    s = scripted([0, 0, 0, 1, 1, 1, 1], stops={"atr_mult": 1.0, "atr_window": 3, "stop_loss": 0.1})
    t = ql.backtest.run(df, s, fill="close", init_cash=1000.0, costs=0).trades.iloc[0]
    assert t["exit_reason"] == "stop" and t["exit_idx"] == 6
    assert t["exit_price"] == pytest.approx(100.0 - atr[3])


def test_trailing_stop_with_activation():
    # in at 100; bar 2 runs to 110 (trail inactive at its start); bar 3 falls to 107
    df = bars(
        [100, 100, 108, 107, 107],
        [100, 100, 100, 108, 107],
        [100, 100, 110, 108, 107],
        [100, 100, 100, 107, 107],
    )
    stops = {"trail_activation": 0.005, "trail_distance": 0.02}
    t = ql.backtest.run(
        df, scripted([0, 1, 1, 1, 1], stops=stops), fill="close", init_cash=1000.0, costs=0
    ).trades.iloc[0]
    assert (t["exit_reason"], t["exit_idx"]) == ("trailing", 3)
    assert t["exit_price"] == pytest.approx(110.0 * 0.98)


def test_liquidation():
    # 5x long: 50 units at 100 from 1000 (cash -4000); m = 0.5 %: liquidation at 4000 / 49.75
    liq = 4000.0 / (50 * 0.995)
    kw = {"sizing": {"fraction": 5.0}, "limits": {"max_leverage": 5.0}}
    res = one_bar_case(100.0, 100.0, 75.0, {}, **kw)
    t = res.trades.iloc[0]
    assert (t["exit_reason"], t["exit_price"]) == ("liquidation", pytest.approx(liq))
    assert res.equity.iloc[2] == pytest.approx(0.005 * 50 * liq)  # equity = maintenance margin
    # a gap through the liquidation price fills at the open: equity goes negative
    gap = one_bar_case(70.0, 70.0, 65.0, {}, **kw)
    assert gap.trades["exit_price"].iloc[0] == 70.0
    assert gap.equity.iloc[-1] == pytest.approx(-4000.0 + 50 * 70.0)
    # the exposure cap clips a fraction above max_leverage
    capped = one_bar_case(100.0, 100.0, 100.0, {}, sizing={"fraction": 5.0})
    assert capped.trades["size"].iloc[0] == pytest.approx(10.0)


# ------------------------------------------------------------------- account limits

LIMIT_CLOSE = [100, 100, 100, 96, 94, 94, 94, 95, 96, 97]


def limit_case(limits):
    df = bars(LIMIT_CLOSE, [100, *LIMIT_CLOSE[:-1]], start="2024-01-01 18:00")
    s = scripted([0] + [1] * 9, limits=limits)
    return ql.backtest.run(df, s, fill="next_open", init_cash=1000.0, costs=0)


def test_daily_loss_limit_halts_until_next_day():
    # in at 100 (bar 2); the close of bar 4 (22:00) is 94: -6 % of the day's 1000 -> halt,
    # exit at the next open (94); bar 6 opens the new UTC day: re-entry at bar 7's open
    res = limit_case({"daily_loss_limit": 0.05, "rearm_after_exit": False})
    t = res.trades
    assert list(t["exit_reason"]) == ["daily_loss", "end"]
    assert list(t["entry_idx"]) == [2, 7] and t["exit_idx"].iloc[0] == 5
    assert t["pnl"].iloc[0] == pytest.approx(-60.0)


def test_drawdown_kill_switch_stops_for_good():
    res = limit_case({"max_drawdown": 0.05, "rearm_after_exit": False})
    assert list(res.trades["exit_reason"]) == ["kill_switch"]
    assert (res.positions.iloc[5:] == 0).all()


def test_cooldown_after_stop():
    low = [100, 100, 100, 97, 100, 100, 100, 100, 100, 100]
    df = bars(np.full(10, 100.0), low=low)
    base = {"stops": {"stop_loss": 0.02}}
    free = ql.backtest.run(
        df,
        scripted([0] + [1] * 9, limits={"rearm_after_exit": False}, **base),
        fill="close",
        init_cash=1000.0,
        costs=0,
    )
    # the stop bar itself (3) takes no new order, as in vectorbt; re-entry at bar 4
    assert list(free.trades["entry_idx"]) == [1, 4]
    cool = ql.backtest.run(
        df,
        scripted([0] + [1] * 9, limits={"rearm_after_exit": False, "cooldown_bars": 3}, **base),
        fill="close",
        init_cash=1000.0,
        costs=0,
    )
    assert list(cool.trades["entry_idx"]) == [1, 7]  # bars 4-6 cool down
    rearm = ql.backtest.run(
        df, scripted([0] + [1] * 9, **base), fill="close", init_cash=1000.0, costs=0
    )
    assert list(rearm.trades["entry_idx"]) == [1]  # a new entry needs the target to reset


def test_binomial_breaker_pauses_entries():
    # every trade loses (falling closes); prior p = 0.5, threshold 0.2: the third loss
    # (0.5**3 = 0.125 < 0.2) at bar 6 pauses entries for 5 bars (7 and 9 are skipped)
    n = 16
    df = bars(100.0 - np.arange(n), [100.0, *(100.0 - np.arange(n - 1))])
    s = scripted(
        [k % 2 for k in range(n)],
        breaker={"threshold": 0.2, "pause_bars": 5},
        edge={"win_rate": 0.5, "min_trades": 100},
    )
    res = ql.backtest.run(df, s, fill="close", init_cash=1000.0, costs=0)
    assert list(res.trades["entry_idx"]) == [1, 3, 5, 11, 13, 15]
    no_breaker = ql.backtest.run(df, scripted([k % 2 for k in range(n)]), fill="close", costs=0)
    assert list(no_breaker.trades["entry_idx"]) == [1, 3, 5, 7, 9, 11, 13, 15]


def test_kelly_sizing_in_engine():
    df = bars(np.full(6, 100.0))
    s = scripted(
        [0, 1, 1, 0, 0, 0], sizing={"kind": "kelly"}, edge={"win_rate": 0.55, "payoff": 1.5}
    )
    t = ql.backtest.run(df, s, costs=0.001, init_cash=1000.0).trades.iloc[0]
    assert t["size"] == pytest.approx(0.05 * 1000.0 / (100.0 * 1.001))  # capped at 5 %
    no_edge = scripted(
        [0, 1, 1, 0, 0, 0], sizing={"kind": "kelly"}, edge={"win_rate": 0.4, "payoff": 1.0}
    )
    assert len(ql.backtest.run(df, no_edge, costs=0).trades) == 0


def test_vol_target_sizing_in_engine():
    df = random_bars(200, seed=3)
    s = ql.backtest.ma_cross(
        fast=5,
        slow=20,
        sizing={"kind": "vol_target", "target_vol": 0.3, "vol_window": 30, "fraction": 3.0},
        limits={"max_leverage": 3.0},
    )
    res = ql.backtest.run(df, s, costs={"funding": False}, init_cash=1000.0)
    t = res.trades.iloc[0]
    i = int(t["entry_idx"]) - 1  # decided at the previous close
    sd = np.log(df["close"]).diff().rolling(30).std().iloc[i] * np.sqrt(365 * 24)
    frac = min(0.3 / sd, 3.0)
    equity = res.equity.iloc[i]
    assert t["size"] == pytest.approx(frac * equity / df["open"].iloc[i + 1], rel=1e-12)


def test_tp_sl_validation_blocks_entries():
    df = random_bars(300, seed=4)

    def n_trades(tp):
        s = ql.backtest.ma_cross(
            fast=5,
            slow=20,
            stops={"stop_loss": 0.02, "take_profit": tp, "validate_tp_sl": True},
            edge={"win_rate": 0.4},
        )
        costs = ql.backtest.Costs(taker_fee=0.0005, maker_fee=0.0005, funding=False)
        return len(ql.backtest.run(df, s, costs=costs).trades)

    assert n_trades(0.03) == 0  # 0.4*0.03 - 0.6*0.02 - 0.001 < 0
    assert n_trades(0.035) > 0  # 0.4*0.035 - 0.6*0.02 - 0.001 > 0


# ------------------------------------------------------------------------ invariants

FULL = {
    "direction": "both",
    "stops": {
        "stop_loss": 0.03,
        "take_profit": 0.04,
        "trail_activation": 0.005,
        "trail_distance": 0.02,
    },
    "sizing": {"fraction": 2.0},
    "limits": {"max_leverage": 2.0, "daily_loss_limit": 0.08, "cooldown_bars": 2},
}
STRATEGIES = [
    ql.backtest.ma_cross(fast=5, slow=20, **FULL),
    ql.backtest.ema_trend(fast=5, slow=15, gate=30, **FULL),
    ql.backtest.mean_reversion(window=20, k=1.5, rsi_low=40, rsi_high=60, **FULL),
    ql.backtest.donchian_breakout(entry_window=15, exit_window=8, direction="both"),
]


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.kind)
def test_invariants(strategy, fill):
    df = random_bars(600, seed=7)
    df["funding_rate"] = df["funding_rate"] * 20  # make funding visible
    costs = ql.backtest.Costs(
        taker_fee=0.0005, maker_fee=0.0002, slippage_bps=2.0, vol_slippage=0.1, impact=0.01
    )
    res = ql.backtest.run(df, strategy, costs=costs, fill=fill, init_cash=10_000.0)
    t = res.trades
    assert len(t) >= 5
    # equity = cash + position value, at every close
    np.testing.assert_allclose(res.equity, res.cash + res.positions * df["close"], rtol=1e-12)
    # fees and funding reconcile with the trades table and the stats
    assert res.fees.sum() == pytest.approx(t["fees"].sum(), rel=1e-10)
    assert res.stats["fees_paid"] == pytest.approx(t["fees"].sum(), rel=1e-10)
    assert res.funding.sum() == pytest.approx(t["funding"].sum(), rel=1e-9, abs=1e-9)
    assert t["funding"].abs().sum() > 0
    # every cent of P&L is in a trade (the open one is marked to the last close)
    assert res.init_cash + t["pnl"].sum() == pytest.approx(res.equity.iloc[-1], rel=1e-10)
    # positions in the table match the position series
    pos = np.zeros(len(df))
    for row in t.itertuples():
        last = row.exit_idx + 1 if row.is_open else row.exit_idx
        start = row.entry_idx
        pos[start:last] += row.size
    held = res.positions.to_numpy() != 0
    np.testing.assert_array_equal(held, pos != 0)
    # no trade before the warm-up; pnl = size * (exit - entry) - fees - funding
    first = strategy.warmup() + (1 if fill == "next_open" else 0)
    assert t["entry_idx"].min() >= first
    np.testing.assert_allclose(
        t["pnl"],
        t["size"] * (t["exit_price"] - t["entry_price"]) - t["fees"] - t["funding"],
        rtol=1e-10,
        atol=1e-9,
    )
    assert set(t["exit_reason"]) <= set(kbt.EXIT_REASONS)
    assert (t["direction"] == "short").any() and (t["direction"] == "long").any()


def test_step_kernel_reused_by_an_outer_loop():
    # a sweep loops backtest_step_nb itself; with no trade buffer it gets the same equity
    df = random_bars(400, seed=8)
    s = ql.backtest.ma_cross(fast=5, slow=20, stop_loss=0.02)
    costs = ql.backtest.make_costs(0.001)
    res = ql.backtest.run(df, s, costs=costs)
    inputs = ql.backtest.build_inputs(df, s, costs, 3600.0)
    params = ql.backtest.build_params(s, costs, bar_seconds=3600.0)
    state = kbt.init_state_nb(params)
    no_trades = np.empty((0, kbt.N_TRADE_FIELDS))
    equity = np.empty(len(df))
    names = [
        "open_",
        "high",
        "low",
        "close",
        "funding_rate",
        "day",
        "target",
        "atr",
        "realized_vol",
        "regime",
        "bar_vol",
        "volume_ref",
    ]
    for i in range(len(df)):
        args = [inputs[k][i] for k in names]
        state, equity[i] = kbt.backtest_step_nb(state, params, i, *args, no_trades)
    np.testing.assert_array_equal(equity, res.equity.to_numpy())
    closed = res.trades[~res.trades["is_open"]]
    assert state[kbt.S_N_CLOSED] == len(closed)
    assert state[kbt.S_N_WINS] == (closed["pnl"] > 0).sum()


def test_to_vectorbt_replays_the_fills():
    df = random_bars(500, seed=9).drop(columns="funding_rate")
    s = ql.backtest.ma_cross(fast=5, slow=20, direction="both", stop_loss=0.02)
    res = ql.backtest.run(df, s, costs=0.001)
    pf = res.to_vectorbt()
    np.testing.assert_allclose(pf.value().to_numpy(), res.equity.to_numpy(), rtol=1e-9)
    assert pf.orders.count() == len(res.orders())


# ----------------------------------------------------------- strategies and signals


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.kind)
def test_target_prefix_property(strategy):
    df = random_bars(400, seed=11)
    full = strategy.target(df)
    assert (full.iloc[: strategy.warmup()] == 0).all()
    assert set(np.unique(full)) <= {-1.0, 0.0, 1.0} and (full != 0).any()
    for t in (30, 57, 123, 250, 399):
        pd.testing.assert_series_equal(strategy.target(df.iloc[:t]), full.iloc[:t])


def test_signal_kernels_match_talib_and_pandas():
    talib = pytest.importorskip("talib")
    df = random_bars(300, seed=12)
    h, lo, c = (df[k].to_numpy() for k in ("high", "low", "close"))
    np.testing.assert_allclose(ta.rsi_nb(c, 14), talib.RSI(c, 14), rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(
        ta.atr_nb(h, lo, c, 14), talib.ATR(h, lo, c, 14), rtol=1e-10, equal_nan=True
    )
    # ma cross state from pandas crosses
    close = df["close"]
    f, s = close.rolling(5).mean(), close.rolling(20).mean()
    up = (f > s) & (f.shift() <= s.shift())
    dn = (f < s) & (f.shift() >= s.shift())
    state = pd.Series(np.where(up, 1.0, np.where(dn, -1.0, np.nan)), index=close.index)
    expected = state.ffill().fillna(0.0).to_numpy()
    got = ql.backtest.ma_cross(fast=5, slow=20, direction="both").target(df).to_numpy()
    np.testing.assert_array_equal(got, expected)
    # donchian: entries exactly where the close breaks the previous 15-bar high
    tgt = ql.backtest.donchian_breakout(entry_window=15, exit_window=8).target(df)
    upper = df["high"].rolling(15).max().shift(1)
    entries = (tgt.diff() > 0) & (tgt == 1)
    assert entries.any()
    assert (close[entries] > upper[entries]).all()
    lower_exit = df["low"].rolling(8).min().shift(1)
    exits = (tgt.diff() < 0) & (tgt == 0)
    assert (close[exits] < lower_exit[exits]).all()


def test_strategy_configs(tmp_path):
    with pytest.raises(ConfigError, match="unknown key"):
        ql.backtest.MACross(fast=5, slow=20, stop=0.1)
    with pytest.raises(ConfigError, match="fast"):
        ql.backtest.ma_cross(fast=30, slow=20)
    with pytest.raises(ConfigError, match=r"sizing\.fraktion"):
        ql.backtest.ma_cross(sizing={"fraktion": 1})
    path = tmp_path / "s.yaml"
    path.write_text(
        "kind: donchian_breakout\nentry_window: 55\ndirection: both\n"
        "limits: {daily_loss_limit: 0.05}\n"
    )
    s = ql.backtest.load_strategy(path)
    assert (s.entry_window, s.stops.atr_mult, s.limits.daily_loss_limit) == (55, 2.0, 0.05)
    assert ql.backtest.donchian_breakout(stop_loss=0.05).stops.atr_mult == 2.0
    path.write_text("kind: donchian_breakout\nentry_windw: 55\n")
    with pytest.raises(ConfigError, match="entry_windw"):
        ql.backtest.load_strategy(path)
    with pytest.raises(ConfigError, match="unknown kind"):
        ql.backtest.load_strategy({"kind": "martingale"})


def test_factor_composite_trades_the_composed_signal():
    spec = {
        "factors": [
            {"name": "momentum_z", "role": "primary", "params": {"window": 12, "vol_window": 48}},
            {"name": "rsi", "role": "primary", "normalize": {"method": "zscore", "window": 48}},
        ]
    }
    comp = ql.backtest.factor_composite(spec, entry=0.3, exit=0.05)
    df = random_bars(400, seed=5)
    signal = ql.factors.compose(df, spec).signal.to_numpy()
    expected = sig.threshold_target_nb(signal, 0.3, 0.05, True, False)
    target = comp.target(df)
    np.testing.assert_array_equal(target.to_numpy(), expected)
    assert (target != 0).any()
    for t in (60, 200, 333):
        pd.testing.assert_series_equal(comp.target(df.iloc[:t]), target.iloc[:t])
    with pytest.raises(ConfigError, match="unknown"):
        comp.model_copy(update={"composition": {"factors": [{"nam": "rsi"}]}}).target(df)


def test_bad_input_raises_quantlab_errors():
    df = random_bars(50)
    s = ql.backtest.ma_cross(fast=3, slow=8)
    with pytest.raises(ConfigError, match="fill"):
        ql.backtest.run(df, s, fill="vwap")
    with pytest.raises(ConfigError, match="init_cash"):
        ql.backtest.run(df, s, init_cash=-1.0)
    with pytest.raises(ConfigError, match="costs"):
        ql.backtest.run(df, s, costs="cheap")
    with pytest.raises(ConfigError, match="taker_fee"):
        ql.backtest.run(df, s, costs={"taker_fee": -0.1})
    bad = df.copy()
    bad.iloc[5, bad.columns.get_loc("low")] = bad["high"].iloc[5] + 1.0
    with pytest.raises(DataError, match="low"):
        ql.backtest.run(bad, s)
    with pytest.raises(DataError, match="target"):
        ql.backtest.run(df, scripted([np.nan] * 50))


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_engine_prefix_property(fill):
    # the whole backtest is causal: running on df[:t] reproduces the full run up to t
    df = random_bars(300, seed=13)
    s = ql.backtest.ma_cross(
        fast=4, slow=15, direction="both", **{k: FULL[k] for k in ("stops", "limits")}
    )
    costs = ql.backtest.Costs(taker_fee=0.0005, slippage_bps=1.0)
    full = ql.backtest.run(df, s, costs=costs, fill=fill)
    for t in (60, 151, 299):
        part = ql.backtest.run(df.iloc[:t], s, costs=costs, fill=fill)
        np.testing.assert_array_equal(part.equity.to_numpy(), full.equity.to_numpy()[:t])
        closed = part.trades[~part.trades["is_open"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            closed, full.trades.iloc[: len(closed)].reset_index(drop=True)
        )
