"""The runner's decisions are the backtest engine's step, bar by bar, from a held state."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from _live_helpers import COSTS, STRATEGIES, bars_with_funding

import quantlab as ql
from quantlab.errors import DataError
from quantlab.execution.slippage import SlippageEstimator
from quantlab.kernels import backtest as _bt
from quantlab.kernels import risk as rk
from quantlab.live.decision import DecisionEngine


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_bar_by_bar_equals_the_backtest(name):
    df = bars_with_funding(500, seed=11)
    strategy = STRATEGIES[name]
    res = ql.backtest.run(df, strategy, costs=COSTS)
    eng = DecisionEngine(strategy, COSTS, interval="1h", max_history=None)
    equity, trades = [], []
    for t, row in df.iterrows():
        r = eng.step(t, row)
        equity.append(r.equity)
        trades += r.trades
    assert len(res.trades) >= 5, "the case must trade to prove anything"
    np.testing.assert_allclose(equity, res.equity.to_numpy(), rtol=0, atol=1e-9)
    closed = res.trades[~res.trades["is_open"]]
    got = pd.DataFrame(trades)
    assert len(got) == len(closed)
    for col in ("entry_price", "exit_price", "size", "pnl", "funding"):
        np.testing.assert_allclose(got[col], closed[col], rtol=0, atol=1e-9)
    assert list(got["exit_reason"]) == list(closed["exit_reason"])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_preview_gives_the_orders_the_next_step_executes(name):
    df = bars_with_funding(400, seed=5)
    eng = DecisionEngine(STRATEGIES[name], COSTS, interval="1h", max_history=None)
    exits = entries = 0
    for k in range(len(df) - 1):
        eng.step(df.index[k], df.iloc[k])
        held = float(eng.state[_bt.S_QTY])
        plan = eng.preview_open(float(df["open"].iloc[k + 1]))
        probe = copy.deepcopy(eng)
        n0 = int(probe.state[_bt.S_N_RECORDS])
        probe.step(df.index[k + 1], df.iloc[k + 1])
        recs = probe._trades[n0 : int(probe.state[_bt.S_N_RECORDS])]
        if plan.exit_size:
            exits += 1
            assert plan.exit_size == -held
            assert recs[0, _bt.T_SIZE] == held  # closed at this open, all of it
        if plan.entry_size:
            entries += 1
            if probe.state[_bt.S_ENTRY_IDX] == probe.index:  # still open at the close
                assert probe.state[_bt.S_QTY] == plan.entry_size
            else:  # stopped out inside its entry bar: the record holds the size
                assert recs[-1, _bt.T_SIZE] == plan.entry_size
        elif not plan.exit_size:
            assert probe.state[_bt.S_ENTRY_IDX] != probe.index  # no entry was made
    assert entries >= 2 and exits + entries >= 3


def test_bars_must_move_forward_and_be_sane():
    df = bars_with_funding(50)
    eng = DecisionEngine(STRATEGIES["ma_stops_tp_trail"], COSTS, interval="1h")
    eng.step(df.index[0], df.iloc[0])
    with pytest.raises(DataError, match="not after"):
        eng.step(df.index[0], df.iloc[0])
    bad = df.iloc[1].copy()
    bad["high"] = bad["low"] - 1
    with pytest.raises(DataError, match="high/low"):
        eng.step(df.index[1], bad)
    bad = df.iloc[1].copy()
    bad["close"] = np.nan
    with pytest.raises(DataError, match="close"):
        eng.step(df.index[1], bad)


def test_restore_continues_identically():
    df = bars_with_funding(300, seed=2)
    s = ql.backtest.ema_trend(fast=2, slow=3, gate=4, direction="both")
    full = DecisionEngine(s, COSTS, interval="1h", max_history=None)
    eq_full = [full.step(t, r).equity for t, r in df.iterrows()]
    first = DecisionEngine(s, COSTS, interval="1h", max_history=None)
    for t, r in df.iloc[:150].iterrows():
        first.step(t, r)
    assert first.state[_bt.S_N_RECORDS] > 40  # more past trades than a fresh buffer holds
    resumed = DecisionEngine(s, COSTS, interval="1h", max_history=None)
    resumed.restore(df.iloc[:150], first.state.copy(), first.index)
    steps = [resumed.step(t, r) for t, r in df.iloc[150:].iterrows()]
    np.testing.assert_array_equal([r.equity for r in steps], eq_full[150:])
    later = [tr for r in steps for tr in r.trades]
    assert later and all(tr["exit_idx"] >= 150 for tr in later)


#: every slippage term on; the impact term large enough that an entry's slippage can
#: exceed its stop distance (the stop then lies beyond the open it entered at)
COSTS_IMPACT = ql.backtest.Costs(maker_fee=0.0002, taker_fee=0.0005, slippage_bps=2.0,
                                 vol_slippage=0.1, impact=0.01)  # fmt: skip
#: a trailing stop without an activation is live from the entry fill on
TRAIL_AT_ONCE = ql.backtest.ma_cross(
    fast=5, slow=20, direction="both",
    stops={"stop_loss": 0.01, "take_profit": 0.02, "trail_distance": 0.004},
)  # fmt: skip


@pytest.mark.parametrize("name", [*sorted(STRATEGIES), "trail_at_once"])
def test_preview_gives_the_entry_bar_levels_and_impact_size(name):
    """The preview's stop is the level the engine checks in the entry bar, and its impact
    size is the quantity whose participation prices the engine's entry fill."""
    strategy = TRAIL_AT_ONCE if name == "trail_at_once" else STRATEGIES[name]
    df = bars_with_funding(400, seed=5)
    eng = DecisionEngine(strategy, COSTS_IMPACT, interval="1h", max_history=None)
    est = SlippageEstimator(COSTS_IMPACT)
    p = eng.params
    entries = inside = 0
    for k in range(len(df) - 1):
        eng.step(df.index[k], df.iloc[k])
        price = float(df["open"].iloc[k + 1])
        plan = eng.preview_open(price)
        if not plan.entry_size:
            assert np.isnan(plan.stop) and np.isnan(plan.entry_impact_size)
            continue
        entries += 1
        probe = copy.deepcopy(eng)
        n0 = int(probe.state[_bt.S_N_RECORDS])
        probe.step(df.index[k + 1], df.iloc[k + 1])
        recs = probe._trades[n0 : int(probe.state[_bt.S_N_RECORDS])]
        mine = [r for r in recs if int(r[_bt.T_ENTRY_IDX]) == probe.index]
        if mine:  # stopped inside its entry bar
            inside += 1
            fill = mine[0][_bt.T_ENTRY_PRICE]
            assert mine[0][_bt.T_SIZE] == plan.entry_size
        else:
            fill = probe.state[_bt.S_ENTRY_PRICE]
            assert probe.state[_bt.S_QTY] == plan.entry_size
        # the fill price: the engine's slippage of the preview's impact size
        s = est.slippage_frac(plan.entry_impact_size, *eng.next_cost_inputs())
        assert fill == price * (1.0 + np.sign(plan.entry_size) * s)
        # ... the size before fees and slippage: notional / price, where the engine trades
        # notional / (fill * (1 + fee))
        notional = abs(plan.entry_size) * fill * (1.0 + p[_bt.P_TAKER_FEE])
        assert plan.entry_impact_size == pytest.approx(notional / price, rel=1e-12)
        assert plan.entry_impact_size != abs(plan.entry_size)
        # the stop: hard / ATR / trailing at that fill, the tightest of them
        d = np.sign(plan.entry_size)
        fixed = rk.tighter_stop_nb(
            rk.hard_stop_price_nb(fill, d, p[_bt.P_STOP_FRAC]),
            rk.atr_stop_price_nb(fill, d, eng.state[_bt.S_PEND_ATR], p[_bt.P_ATR_MULT]),
            d,
        )
        trail = rk.trailing_stop_price_nb(fill, d, fill, p[_bt.P_TRAIL_ACT], p[_bt.P_TRAIL_DIST])
        np.testing.assert_equal(plan.stop, rk.tighter_stop_nb(fixed, trail, d))
    assert entries >= 2
    if name in ("trail_at_once", "ma_stops_tp_trail"):
        assert inside >= 1, "the case must stop an entry inside its entry bar"
