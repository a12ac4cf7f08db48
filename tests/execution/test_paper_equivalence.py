"""A paper run over historical bars equals the backtest of the same bars (to 1e-9).

The backtest engine's own step (:func:`quantlab.kernels.backtest.backtest_step_nb`) decides,
bar by bar; its decisions become orders on the paper backend exactly as a runner sends them:
market orders for entries and signal exits, a reduce-only stop trigger at the engine's stop
level (moved when a trailing stop tightens) and a reduce-only limit at its take-profit. The
paper backend fills them on its own (the engine is not consulted for fills), and its fills
and equity must equal the engine's.

With the square-root impact term on, an entry intent carries the size the engine measures
its participation on (``impact_size``: ``fraction * equity / reference price``, before
costs), since the paper backend cannot know it from the size traded alone.
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
from quantlab.live.decision import DecisionEngine

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
        bar = (
            i, inp["open_"][i], inp["high"][i], inp["low"][i], inp["close"][i],
            inp["funding_rate"][i], inp["day"][i], inp["target"][i], inp["atr"][i],
            inp["realized_vol"][i], inp["regime"][i], inp["bar_vol"][i], inp["volume_ref"][i],
        )  # fmt: skip
        impact_size = _close_entry_impact_size(state, params, bar)
        state, equity = bt.backtest_step_nb(state, params, *bar, trades)
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
                for cloid in protective.values():  # a reversal: the old position's orders go
                    paper.cancel(sym, cloid)
                protective, stop_level = {}, {}
                qty = state[bt.S_QTY]
                paper.submit(
                    OrderIntent("eq", sym, "buy" if qty > 0 else "sell", abs(qty),
                                decision_bar=t, reason="entry", impact_size=impact_size)
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


def _close_entry_impact_size(prev, params, bar):
    """Return the size the engine measures an entry at this bar's close on (``fill="close"``).

    ``fraction * equity / close`` with the equity after any exit at the same close, taken
    from the engine itself on copies of the state before the bar: the step with
    ``fill = next_open`` leaves the fraction it decided pending, the step with target 0 makes
    the exit alone, and the engine's entry without fees and slippage from there trades
    exactly ``notional / close``. None when impact is off or nothing would enter.
    """
    if not params[bt.P_SLIP_IMPACT] > 0.0:
        return None
    scratch = np.zeros((int(prev[bt.S_N_RECORDS]) + 4, bt.N_TRADE_FIELDS))
    decided, p_next = prev.copy(), params.copy()
    p_next[bt.P_FILL] = bt.FILL_NEXT_OPEN
    bt.backtest_step_full_nb(decided, p_next, *bar, scratch)
    if decided[bt.S_PEND_ENTRY] == 0.0:
        return None
    i, close, atr, bar_vol, volume_ref = bar[0], bar[4], bar[8], bar[11], bar[12]
    flat = prev.copy()
    bt.backtest_step_full_nb(flat, params, *bar[:7], 0.0, *bar[8:], scratch)
    free = params.copy()
    for k in (bt.P_TAKER_FEE, bt.P_SLIP_FIXED, bt.P_SLIP_VOL, bt.P_SLIP_IMPACT):
        free[k] = 0.0
    bt._open_position(flat, free, i, decided[bt.S_PEND_ENTRY], close, decided[bt.S_PEND_FRAC],
                      atr, bar_vol, volume_ref)  # fmt: skip
    return abs(float(flat[bt.S_QTY])) or None


def _drive_next_open(df, strategy, costs, *, protect=True):
    """``fill="next_open"``: orders decided at a close are sent then and fill at the next open.

    The runner's decision object (:class:`DecisionEngine`, the engine's own step) steps each
    bar; its preview at the next price (the next bar's open, as a replay feed gives it)
    gives the orders to send at the close, as the runner sends them: a reduce-only market
    exit, a market entry of the engine's size carrying its impact size, and, with
    ``protect``, the entry's reduce-only stop trigger at the level the engine checks inside
    the entry bar and its take-profit limit, both armed once the entry fills at the open.
    While a position is held the stop follows :meth:`DecisionEngine.protective_stop`.
    """
    result = run(df, strategy, costs=costs, fill="next_open", init_cash=10_000.0)
    funding = build_inputs(df, strategy, costs, 3600.0)["funding_rate"]
    eng = DecisionEngine(strategy, costs, interval="1h", init_cash=10_000.0, max_history=None)
    paper = PaperBackend(costs, fill="next_open", init_cash=10_000.0, max_leverage=100.0,
                         maintenance_margin=strategy.limits.maintenance_margin,
                         bar_seconds=3600.0)  # fmt: skip
    sym = "BTC"
    eq_engine, eq_paper, records = [], [], []
    protective: dict[str, str] = {}

    def cancel_protective():
        for cloid in protective.values():
            paper.cancel(sym, cloid)
        protective.clear()

    def place(kind, side, size, t, level):
        if kind == "stop":
            intent = OrderIntent("eq", sym, side, size, order_type="trigger", trigger_px=level,
                                 trigger_kind="sl", reduce_only=True, decision_bar=t,
                                 reason=f"stop@{level!r}")  # fmt: skip
        else:  # the runner's take-profit: a trigger resting as a limit at the target
            intent = OrderIntent("eq", sym, side, size, order_type="trigger", trigger_px=level,
                                 limit_px=level, trigger_kind="tp", reduce_only=True,
                                 decision_bar=t, reason=f"tp@{level!r}")  # fmt: skip
        if kind in protective:
            paper.cancel(sym, protective[kind])
        protective[kind] = paper.submit(intent).client_order_id

    stop_px = None
    for i, t in enumerate(df.index):
        row = df.iloc[i]
        paper.on_bar(Bar(sym, t, row.open, row.high, row.low, row.close, row.volume, funding[i]))
        step = eng.step(t, row)
        records += step.trades
        eq_engine.append(step.equity)
        eq_paper.append(paper.account().equity)
        if paper.position(sym) == 0.0 and protective:
            cancel_protective()
            stop_px = None
        if i + 1 == len(df):
            break
        plan = eng.preview_open(float(df["open"].iloc[i + 1]))
        if plan.exit_size:
            cancel_protective()
            stop_px = None
            paper.submit(OrderIntent("eq", sym, "buy" if plan.exit_size > 0 else "sell",
                                     abs(plan.exit_size), reduce_only=True, decision_bar=t,
                                     reason="exit"))  # fmt: skip
        if plan.entry_size:
            q = plan.entry_size
            impact = None if np.isnan(plan.entry_impact_size) else plan.entry_impact_size
            paper.submit(
                OrderIntent("eq", sym, "buy" if q > 0 else "sell", abs(q), decision_bar=t,
                            reason="entry", impact_size=impact)
            )  # fmt: skip
            if protect:
                side = "sell" if q > 0 else "buy"
                if not np.isnan(plan.stop):
                    place("stop", side, abs(q), t, plan.stop)
                    stop_px = plan.stop
                if not np.isnan(plan.take_profit):
                    place("tp", side, abs(q), t, plan.take_profit)
        elif protect and not plan.exit_size and eng.state[bt.S_QTY] != 0.0:
            level = eng.protective_stop()
            if not np.isnan(level) and level != stop_px:
                q = float(eng.state[bt.S_QTY])
                place("stop", "sell" if q > 0 else "buy", abs(q), t, level)
                stop_px = level
    np.testing.assert_allclose(result.equity.to_numpy(), eq_engine, rtol=1e-12)
    keys = ("entry_idx", "exit_idx", "size", "entry_price", "exit_price", "entry_fee",
            "exit_fee", "funding", "pnl")  # fmt: skip
    recs = np.zeros((len(records), bt.N_TRADE_FIELDS))
    for k, r in enumerate(records):
        for j, key in zip((bt.T_ENTRY_IDX, bt.T_EXIT_IDX, bt.T_SIZE, bt.T_ENTRY_PRICE,
                           bt.T_EXIT_PRICE, bt.T_ENTRY_FEE, bt.T_EXIT_FEE, bt.T_FUNDING,
                           bt.T_PNL), keys, strict=True):  # fmt: skip
            recs[k, j] = r[key]
        recs[k, bt.T_REASON] = bt.EXIT_REASONS.index(r["exit_reason"])
    return paper, recs, np.array(eq_engine), np.array(eq_paper)


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


#: every slippage term on: fixed, volatility and square-root impact (about 15 bps here)
COSTS_IMPACT = Costs(maker_fee=0.0002, taker_fee=0.0005, slippage_bps=2.0, vol_slippage=0.1,
                     impact=0.05)  # fmt: skip


def _same_bar_exits(records):
    return int(np.sum(records[:, bt.T_ENTRY_IDX] == records[:, bt.T_EXIT_IDX]))


@pytest.mark.parametrize("costs", [COSTS, COSTS_IMPACT], ids=["vol", "impact"])
def test_paper_equals_backtest_close_with_impact(bars, costs):
    strategy = ma_cross(fast=5, slow=20, direction="both", stop_loss=0.01, take_profit=0.015,
                        trail_activation=0.003, trail_distance=0.006)  # fmt: skip
    paper, records, eq_engine, eq_paper = _drive(bars, strategy, costs, "close")
    reasons = {int(r) for r in records[:, bt.T_REASON]}
    assert {bt.EXIT_SIGNAL, bt.EXIT_STOP, bt.EXIT_TAKE_PROFIT, bt.EXIT_TRAILING} <= reasons
    _check_fills_match(paper, records[records[:, bt.T_EXIT_IDX] < len(bars) - 1])
    np.testing.assert_allclose(eq_paper, eq_engine, rtol=1e-9, atol=0)


#: next_open with every protective rule the engine checks inside the entry bar: a hard
#: stop and target, a trailing stop with an activation, one active from the fill on (no
#: activation), an ATR stop, and a stop tighter than an entry's slippage (it lies beyond
#: the open the entry fills at, so the engine stops the entry out at that open)
NEXT_OPEN_STOPS = {
    "hard_tp": ma_cross(fast=5, slow=20, direction="both", stop_loss=0.01, take_profit=0.015),
    "trailing": ma_cross(fast=5, slow=20, direction="both", stop_loss=0.02,
                         trail_activation=0.003, trail_distance=0.006),
    "trailing_at_once": ma_cross(fast=5, slow=20, direction="both", stop_loss=0.02,
                                 trail_distance=0.003, take_profit=0.01),
    "atr": ma_cross(fast=5, slow=20, direction="both", atr_mult=1.0, take_profit=0.01),
    "stop_inside_slippage": ma_cross(fast=5, slow=20, direction="both", stop_loss=0.0012),
}  # fmt: skip


@pytest.mark.parametrize("costs", [COSTS, COSTS_IMPACT], ids=["vol", "impact"])
@pytest.mark.parametrize("name", sorted(NEXT_OPEN_STOPS))
def test_paper_equals_backtest_next_open_with_stops(bars, name, costs):
    """Stops under ``fill="next_open"``: the engine checks the entry's level inside the
    entry bar, at a level computed from its fill price; the stop trigger sent with the
    entry at the previewed level, armed at the fill, does the same."""
    strategy = NEXT_OPEN_STOPS[name]
    paper, records, eq_engine, eq_paper = _drive_next_open(bars, strategy, costs)
    assert len(records) > 20
    protective = {bt.EXIT_STOP, bt.EXIT_TRAILING, bt.EXIT_TAKE_PROFIT}
    assert protective & {int(r) for r in records[:, bt.T_REASON]}
    assert _same_bar_exits(records) >= 1, "some entry must be stopped inside its entry bar"
    _check_fills_match(paper, records)
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
