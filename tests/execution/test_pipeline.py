"""The pipeline stages: sizing by the risk rules, the backtest's cost, refusals with reasons,
post-trade breaches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlab.backtest.costs import Costs
from quantlab.execution import PaperBackend
from quantlab.execution.model import Bar, Order, OrderIntent, OrderStatus
from quantlab.execution.pipeline import (
    ExecutionPipeline,
    OrderSizer,
    PostTradeValidator,
    ProfitabilityFilter,
)
from quantlab.execution.slippage import SlippageEstimator
from quantlab.kernels import backtest as bt
from quantlab.risk.sizing import kelly_fraction, position_size, regime_scale, vol_target_fraction


def test_sizer_uses_the_risk_rules():
    fixed = OrderSizer({"sizing": {"kind": "fixed", "fraction": 0.5}})
    d = fixed.size(10_000.0, 100.0, 0.001)
    assert d.size == position_size(10_000.0, 100.0, 0.5, fee=0.001)
    kelly = OrderSizer({"sizing": {"kind": "kelly", "max_fraction": 0.05},
                        "edge": {"win_rate": 0.55, "payoff": 1.5}})  # fmt: skip
    f, _ = kelly.fraction()
    assert f == kelly_fraction(0.55, 1.5, scale=0.5, min_fraction=0.01, max_fraction=0.05)
    none = kelly.size(10_000.0, 100.0, win_rate=0.3, payoff=1.0)
    assert none.size == 0.0 and "no edge" in none.reason
    vt = OrderSizer({"sizing": {"kind": "vol_target", "target_vol": 0.4, "fraction": 2.0}})
    assert vt.fraction(realized_vol=0.8)[0] == vol_target_fraction(0.4, 0.8, max_fraction=2.0)
    assert vt.size(1_000.0, 10.0).reason.startswith("vol_target")
    reg = OrderSizer({"sizing": {"fraction": 0.8, "regime_floor": 0.25}, "max_leverage": 0.5})
    assert reg.fraction(regime=0.5)[0] == min(regime_scale(0.8, 0.5, floor=0.25), 0.5)
    assert "equity" in fixed.size(-1.0, 100.0).reason


def test_slippage_estimate_is_the_backtests():
    costs = Costs(taker_fee=0.0005, slippage_bps=2, vol_slippage=0.5, impact=0.1)
    est = SlippageEstimator(costs)
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 40)))
    for c in closes:
        est.update("X", float(c), 1_000.0)
    e = est.estimate("X", +1, 5.0, 100.0)
    from quantlab.execution.slippage import slippage_params

    sigma = costs.bar_volatility(np.append(closes, np.nan))[-1]
    s = bt.slippage_frac_nb(slippage_params(costs), 5.0 / 1_000.0, sigma)
    assert e.slippage_frac == s and e.fill_price == 100.0 * (1 + s)
    assert e.fee == pytest.approx(5.0 * e.fill_price * 0.0005)
    assert e.cost_frac == pytest.approx(s + 0.0005 * (1 + s))


def test_profitability_refusals_carry_reasons():
    pf = ProfitabilityFilter({"min_edge_multiple": 2.0})
    assert pf.check(0.002, expected_edge=0.005).ok
    v = pf.check(0.002, expected_edge=0.003)
    assert not v.ok and "does not pay 2 x" in v.reason
    v = pf.check(0.001, win_rate=0.3, take_profit=0.01, stop_loss=0.01)
    assert not v.ok and "TP:SL" in v.reason
    assert pf.check(0.001, win_rate=0.6, take_profit=0.02, stop_loss=0.01).ok


def test_post_trade_breaches():
    v = PostTradeValidator({"max_price_deviation_bps": 10})
    intent = OrderIntent("s", "BTC", "buy", 1.0)
    est = SlippageEstimator(0.0005).estimate("BTC", 1, 1.0, 100.0)
    good = Order.from_intent(intent, oid=1, status=OrderStatus.FILLED, filled_size=1.0,
                             avg_px=100.05)  # fmt: skip
    assert v.check(intent, good, est, expected_position=1.0, actual_position=1.0) == []
    bad = Order.from_intent(intent, oid=1, status=OrderStatus.CANCELED,
                            filled_size=0.4, avg_px=100.5)  # fmt: skip
    kinds = {b.kind for b in v.check(intent, bad, est, expected_position=1.0, actual_position=0.4)}
    assert kinds == {"price", "size", "position"}


def test_pipeline_end_to_end_on_paper():
    from quantlab.data.synthetic import synthetic_bars

    bars = synthetic_bars(symbol="BTC", interval="1h", n_bars=60, seed=5)
    costs = Costs.hyperliquid()
    paper = PaperBackend(costs, fill="close")
    pipe = ExecutionPipeline(paper, costs, sizer={"sizing": {"fraction": 0.5}},
                             profitability={"min_edge_multiple": 1.0})  # fmt: skip
    for t, r in bars.iterrows():
        bar = Bar("BTC", t, r.open, r.high, r.low, r.close, r.volume, r.funding_rate)
        paper.on_bar(bar)
        pipe.slippage.update("BTC", r.close, r.volume)
    refused = pipe.decide("s", "BTC", 1, price=paper.mid("BTC"), equity=10_000.0,
                          expected_edge=1e-5)  # fmt: skip
    assert refused.refused and refused.reason.startswith("profitability")
    d = pipe.decide("s", "BTC", 1, price=paper.mid("BTC"), equity=10_000.0,
                    expected_edge=0.01, decision_bar=bars.index[-1])  # fmt: skip
    assert not d.refused and d.fraction == 0.5
    res = pipe.execute(d, expected_position=d.intent.size)
    assert res.order.status is OrderStatus.FILLED and res.breaches == []
    assert res.order.avg_px == pytest.approx(d.estimate.fill_price, rel=1e-12)
    # a market order the backend refuses is a 'rejected' event, not an exception
    huge = pipe.decide("s", "BTC", 1, price=paper.mid("BTC"), equity=10_000_000.0,
                       expected_edge=0.01, decision_bar=bars.index[-2])  # fmt: skip
    res = pipe.execute(huge)
    assert res.order is None and [b.kind for b in res.breaches] == ["rejected"]
    assert pipe.decide("s", "BTC", 0, price=1.0, equity=1.0).refused
    assert math.isfinite(d.estimate.cost_frac)


def test_estimator_inputs_equal_the_engines_causal_inputs():
    """Fed bars[:t], the estimator holds exactly the engine's inputs of bar t (no look-ahead)."""
    from quantlab.backtest.engine import build_inputs
    from quantlab.backtest.strategy import ma_cross
    from quantlab.data.synthetic import synthetic_bars

    bars = synthetic_bars(symbol="ETH", interval="1h", n_bars=120, seed=2)
    costs = Costs(vol_slippage=0.3, impact=0.2, vol_window=10)
    engine = build_inputs(bars, ma_cross(), costs, 3600.0)
    est = SlippageEstimator(costs)
    for t in range(len(bars)):
        bar_vol, volume_ref = est.inputs("ETH")
        np.testing.assert_allclose(bar_vol, engine["bar_vol"][t], rtol=1e-12, equal_nan=True)
        np.testing.assert_equal(volume_ref, engine["volume_ref"][t])
        est.update("ETH", bars["close"].iloc[t], bars["volume"].iloc[t])
    assert np.isfinite(engine["bar_vol"][20:]).all()


def test_pipeline_entry_carries_its_impact_size():
    """The estimate and the paper fill price the impact on f E / P, as the engine does."""
    from quantlab.data.synthetic import synthetic_bars

    bars = synthetic_bars(symbol="BTC", interval="1h", n_bars=41, seed=5)
    costs = Costs(taker_fee=0.0005, slippage_bps=2.0, vol_slippage=0.1, impact=0.5)
    paper = PaperBackend(costs, fill="next_open")
    pipe = ExecutionPipeline(paper, costs, sizer={"sizing": {"fraction": 0.5}},
                             profitability={"min_edge_multiple": 0.0})  # fmt: skip
    feed = [Bar("BTC", t, r.open, r.high, r.low, r.close, r.volume, r.funding_rate)
            for t, r in bars.iterrows()]  # fmt: skip
    for bar in feed[:-1]:
        paper.on_bar(bar)
        pipe.slippage.update("BTC", bar.close, bar.volume)
    price = paper.mid("BTC")
    d = pipe.decide("s", "BTC", 1, price=price, equity=10_000.0, decision_bar=feed[-2].time)
    assert d.intent.impact_size == pytest.approx(0.5 * 10_000.0 / price, rel=1e-15)
    assert d.intent.impact_size > d.intent.size
    pipe.execute(d)
    (fill,) = paper.on_bar(feed[-1])  # at the next open, with the estimate's slippage
    assert fill.price == pytest.approx(feed[-1].open * (1 + d.estimate.slippage_frac), rel=1e-12)
