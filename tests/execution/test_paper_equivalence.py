"""A paper run over historical bars equals the backtest of the same bars (to 1e-9).

The backtest engine's own step (:func:`quantlab.kernels.backtest.backtest_step_nb`) decides,
bar by bar; its decisions become orders on the paper backend exactly as a runner sends them:
market orders for entries and signal exits, a reduce-only stop trigger at the engine's stop
level (moved when a trailing stop tightens) and a reduce-only limit at its take-profit. The
paper backend fills them on its own (the engine is not consulted for fills), and its fills
and equity must equal the engine's.
"""

from __future__ import annotations

import numpy as np
import pytest

from quantlab.backtest.costs import Costs
from quantlab.backtest.engine import build_inputs, build_params, run
from quantlab.backtest.strategy import ma_cross
from quantlab.execution.model import Bar, OrderIntent, make_client_order_id
from quantlab.execution.paper import PaperBackend
from quantlab.execution.slippage import slippage_params
from quantlab.kernels import backtest as bt
from quantlab.kernels import risk as rk

INTRABAR = {bt.EXIT_STOP, bt.EXIT_TAKE_PROFIT, bt.EXIT_TRAILING, bt.EXIT_LIQUIDATION}


def _drive(df, strategy, costs, fill):
    """Run the engine step by step and mirror its decisions onto a paper account."""
    params = build_params(strategy, costs, fill=fill, init_cash=10_000.0, bar_seconds=3600.0)
    inp = build_inputs(df, strategy, costs, 3600.0)
    state = bt.init_state_nb(params)
    trades = np.zeros((len(df), bt.N_TRADE_FIELDS))
    paper = PaperBackend(
        costs,
        fill=fill,
        init_cash=10_000.0,
        max_leverage=100.0,
        maintenance_margin=strategy.limits.maintenance_margin,
        bar_seconds=3600.0,
    )
    sym = "BTC"
    eq_engine, eq_paper = [], []
    protective: dict[str, str] = {}
    stop_level: dict[str, float] = {}
    n_rec = 0
    fr = inp["funding_rate"]
    for i, t in enumerate(df.index):
        row = df.iloc[i]
        paper.on_bar(Bar(sym, t, row.open, row.high, row.low, row.close, row.volume, fr[i]))
        state, equity = bt.backtest_step_nb(
            state, params, i, inp["open_"][i], inp["high"][i], inp["low"][i], inp["close"][i],
            inp["funding_rate"][i], inp["day"][i], inp["target"][i], inp["atr"][i],
            inp["realized_vol"][i], inp["regime"][i], inp["bar_vol"][i], inp["volume_ref"][i],
            trades,
        )  # fmt: skip
        new = trades[n_rec : int(state[bt.S_N_RECORDS])]
        n_rec = int(state[bt.S_N_RECORDS])
        seq = 0
        if fill == "close":
            for rec in new:
                if int(rec[bt.T_REASON]) in INTRABAR:
                    continue  # the paper account's own resting orders did it
                side = "sell" if rec[bt.T_SIZE] > 0 else "buy"
                cloid = make_client_order_id("eq", sym, t, "exit", seq)
                seq += 1
                paper.submit(
                    OrderIntent("eq", sym, side, abs(rec[bt.T_SIZE]), reduce_only=True,
                                client_order_id=cloid, decision_bar=t)
                )  # fmt: skip
            if state[bt.S_QTY] != 0.0 and int(state[bt.S_ENTRY_IDX]) == i:
                qty = state[bt.S_QTY]
                paper.submit(
                    OrderIntent("eq", sym, "buy" if qty > 0 else "sell", abs(qty),
                                decision_bar=t, reason="entry")
                )  # fmt: skip
        eq_engine.append(equity)
        eq_paper.append(paper.account().equity)
        # protective orders follow the engine's levels while a position is open: the target
        # once, the stop whenever its level moves (a trailing stop tightens after a bar)
        pos = paper.position(sym)
        if pos == 0.0 and protective:
            for cloid in protective.values():
                paper.cancel(sym, cloid)
            protective = {}
        if fill == "close" and pos != 0.0:
            side = "sell" if pos > 0 else "buy"
            d = 1.0 if pos > 0 else -1.0
            trail = rk.trailing_stop_price_nb(
                state[bt.S_ENTRY_PRICE], d, state[bt.S_EXTREME], params[bt.P_TRAIL_ACT],
                params[bt.P_TRAIL_DIST],
            )  # fmt: skip
            level = rk.tighter_stop_nb(state[bt.S_STOP], trail, d)
            if not np.isnan(level) and level != stop_level.get("px"):
                if "stop" in protective:
                    paper.cancel(sym, protective["stop"])
                o = paper.submit(
                    OrderIntent("eq", sym, side, abs(pos), order_type="trigger",
                                trigger_px=level, trigger_kind="sl", reduce_only=True,
                                decision_bar=t, reason=f"stop{i}")
                )  # fmt: skip
                protective["stop"] = o.client_order_id
                stop_level["px"] = level
            if not np.isnan(state[bt.S_TP]) and "tp" not in protective:
                o = paper.submit(
                    OrderIntent("eq", sym, side, abs(pos), order_type="limit",
                                limit_px=state[bt.S_TP], reduce_only=True, decision_bar=t,
                                reason="tp")
                )  # fmt: skip
                protective["tp"] = o.client_order_id
        if pos == 0.0:
            stop_level = {}
    return paper, trades[:n_rec], np.array(eq_engine), np.array(eq_paper)


def _drive_next_open(df, strategy, costs):
    """``fill="next_open"``: orders decided at a close are sent then and fill at the next open.

    The engine's decisions at the close of bar ``i - 1`` (its trade records opening or
    closing at bar ``i`` by signal, with the size the engine chose) are sent as market
    orders before bar ``i`` reaches the paper account.
    """
    result = run(df, strategy, costs=costs, fill="next_open", init_cash=10_000.0)
    params = build_params(strategy, costs, fill="next_open", init_cash=10_000.0)
    inp = build_inputs(df, strategy, costs, 3600.0)
    state = bt.init_state_nb(params)
    records = np.zeros((len(df), bt.N_TRADE_FIELDS))
    eq_engine = np.array(
        [
            bt.backtest_step_nb(
                state, params, i, inp["open_"][i], inp["high"][i], inp["low"][i],
                inp["close"][i], inp["funding_rate"][i], inp["day"][i], inp["target"][i],
                inp["atr"][i], inp["realized_vol"][i], inp["regime"][i], inp["bar_vol"][i],
                inp["volume_ref"][i], records,
            )[1]
            for i in range(len(df))
        ]
    )  # fmt: skip
    records = records[: int(state[bt.S_N_RECORDS])]
    np.testing.assert_allclose(result.equity.to_numpy(), eq_engine, rtol=1e-12)
    paper = PaperBackend(costs, fill="next_open", init_cash=10_000.0, max_leverage=100.0,
                         bar_seconds=3600.0)  # fmt: skip
    eq_paper = []
    sym = "BTC"
    for i, t in enumerate(df.index):
        for rec in records:
            if int(rec[bt.T_EXIT_IDX]) == i and int(rec[bt.T_REASON]) == bt.EXIT_SIGNAL:
                side = "sell" if rec[bt.T_SIZE] > 0 else "buy"
                paper.submit(OrderIntent("eq", sym, side, abs(rec[bt.T_SIZE]), reduce_only=True,
                                         decision_bar=df.index[i - 1], reason="exit"))  # fmt: skip
        for rec in records:
            if int(rec[bt.T_ENTRY_IDX]) == i:
                side = "buy" if rec[bt.T_SIZE] > 0 else "sell"
                paper.submit(OrderIntent("eq", sym, side, abs(rec[bt.T_SIZE]),
                                         decision_bar=df.index[i - 1], reason="entry"))  # fmt: skip
        row = df.iloc[i]
        fr = inp["funding_rate"][i]
        paper.on_bar(Bar(sym, t, row.open, row.high, row.low, row.close, row.volume, fr))
        eq_paper.append(paper.account().equity)
    return paper, records, eq_engine, np.array(eq_paper)


def _check_fills_match(paper, records):
    """Every engine trade is an entry fill and an exit fill of the paper account."""
    fills = paper.fills()
    assert len(fills) == 2 * len(records)
    for k, rec in enumerate(records):
        entry, exit_ = fills[2 * k], fills[2 * k + 1]
        assert entry.signed_size == pytest.approx(rec[bt.T_SIZE], rel=1e-12)
        assert entry.price == pytest.approx(rec[bt.T_ENTRY_PRICE], rel=1e-12, abs=0)
        assert exit_.price == pytest.approx(rec[bt.T_EXIT_PRICE], rel=1e-12, abs=0)
        assert entry.fee == pytest.approx(rec[bt.T_ENTRY_FEE], rel=1e-9, abs=1e-12)
        assert exit_.fee == pytest.approx(rec[bt.T_EXIT_FEE], rel=1e-9, abs=1e-12)
        gross = exit_.closed_pnl
        pnl = gross - entry.fee - exit_.fee - rec[bt.T_FUNDING]
        assert pnl == pytest.approx(rec[bt.T_PNL], rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def bars():
    from quantlab.data.synthetic import synthetic_bars

    return synthetic_bars(symbol="BTC", interval="1h", n_bars=1500, seed=11)


COSTS = Costs(maker_fee=0.0002, taker_fee=0.0005, slippage_bps=2.0, vol_slippage=0.1)


def test_paper_equals_backtest_with_stops_and_targets(bars):
    strategy = ma_cross(fast=5, slow=20, stop_loss=0.01, take_profit=0.015)
    paper, records, eq_engine, eq_paper = _drive(bars, strategy, COSTS, "close")
    reasons = {int(r) for r in records[:, bt.T_REASON]}
    # the run exercised every path: signal exits, stops and targets
    assert {bt.EXIT_SIGNAL, bt.EXIT_STOP, bt.EXIT_TAKE_PROFIT} <= reasons
    assert len(records) > 20
    _check_fills_match(paper, records[records[:, bt.T_EXIT_IDX] < len(bars) - 1])
    np.testing.assert_allclose(eq_paper, eq_engine, rtol=1e-9, atol=0)
    assert paper.funding_paid != 0.0
    # and the engine run by the public API agrees with the step-by-step drive
    result = run(bars, strategy, costs=COSTS, fill="close")
    np.testing.assert_allclose(result.equity.to_numpy(), eq_engine, rtol=1e-12)


def test_paper_equals_backtest_with_a_trailing_stop(bars):
    strategy = ma_cross(fast=5, slow=20, stop_loss=0.02, trail_activation=0.003,
                        trail_distance=0.006)  # fmt: skip
    paper, records, eq_engine, eq_paper = _drive(bars, strategy, COSTS, "close")
    reasons = {int(r) for r in records[:, bt.T_REASON]}
    assert {bt.EXIT_SIGNAL, bt.EXIT_TRAILING} <= reasons
    _check_fills_match(paper, records[records[:, bt.T_EXIT_IDX] < len(bars) - 1])
    np.testing.assert_allclose(eq_paper, eq_engine, rtol=1e-9, atol=0)


def test_paper_equals_backtest_next_open(bars):
    strategy = ma_cross(fast=8, slow=30)
    paper, records, eq_engine, eq_paper = _drive_next_open(bars, strategy, COSTS)
    assert len(records) > 10
    closed = records[records[:, bt.T_REASON] != bt.EXIT_END]
    _check_fills_match(paper, closed)
    np.testing.assert_allclose(eq_paper, eq_engine, rtol=1e-9, atol=0)


def test_slippage_params_match_build_params():
    strategy = ma_cross()
    costs = Costs(maker_fee=0.0001, taker_fee=0.0004, slippage_bps=3, vol_slippage=0.2,
                  impact=0.1, max_slippage_bps=40)  # fmt: skip
    full = build_params(strategy, costs)
    mine = slippage_params(costs)
    for k in (bt.P_MAKER_FEE, bt.P_TAKER_FEE, bt.P_SLIP_FIXED, bt.P_SLIP_VOL, bt.P_SLIP_IMPACT,
              bt.P_SLIP_MAX):  # fmt: skip
        assert mine[k] == full[k]
