"""Paper backend rules the conformance suite does not reach: gaps, funding, liquidation,
the stop-versus-target ordering inside one bar, bad feeds."""

from __future__ import annotations

import pytest

from quantlab.backtest.costs import Costs
from quantlab.errors import ConfigError, OrderRejected
from quantlab.execution import PaperBackend
from quantlab.execution.model import Bar, Liquidity, OrderIntent, OrderStatus

T0 = 1_704_067_200_000  # 2024-01-01
H = 3_600_000


def _bar(k, o, h, lo, c, fr=float("nan"), v=1_000.0):
    return Bar("BTC", T0 + k * H, o, h, lo, c, v, fr)


def _long(paper, size=1.0, k=0):
    paper.on_bar(_bar(k, 100, 101, 99, 100))
    paper.submit(OrderIntent("p", "BTC", "buy", size, reason=f"entry{k}"))
    return paper.order_status(
        OrderIntent("p", "BTC", "buy", size, reason=f"entry{k}").client_order_id
    )


def test_stop_gap_fills_at_the_open_with_slippage_and_target_as_maker():
    paper = PaperBackend(Costs(maker_fee=0.0001, taker_fee=0.0005, slippage_bps=10), fill="close")
    _long(paper)
    stop = OrderIntent("p", "BTC", "sell", 1.0, order_type="trigger", trigger_px=95.0,
                       trigger_kind="sl", reduce_only=True)  # fmt: skip
    paper.submit(stop)
    paper.on_bar(_bar(1, 90, 91, 85, 88))  # gaps through the stop
    (fill,) = [f for f in paper.fills() if f.client_order_id == stop.client_order_id]
    assert fill.price == pytest.approx(90 * (1 - 0.001)) and fill.liquidity is Liquidity.TAKER
    assert fill.fee == pytest.approx(fill.price * 0.0005)
    # a take-profit limit: maker, at its level, no slippage
    paper.submit(OrderIntent("p", "BTC", "buy", 1.0, reason="again"))
    tp = OrderIntent("p", "BTC", "sell", 1.0, order_type="limit", limit_px=92.0, reduce_only=True)
    paper.submit(tp)
    paper.on_bar(_bar(2, 89, 93, 88, 92.5))
    (fill,) = [f for f in paper.fills() if f.client_order_id == tp.client_order_id]
    assert (fill.price, fill.liquidity) == (92.0, Liquidity.MAKER)
    assert fill.fee == pytest.approx(92.0 * 0.0001)


@pytest.mark.parametrize(("optimistic", "winner"), [(False, "sl"), (True, "tp")])
def test_stop_and_target_in_one_bar(optimistic, winner):
    paper = PaperBackend(0.0, fill="close", optimistic=optimistic)
    _long(paper)
    sl = OrderIntent("p", "BTC", "sell", 1.0, order_type="trigger", trigger_px=97.0,
                     trigger_kind="sl", reduce_only=True)  # fmt: skip
    tp = OrderIntent("p", "BTC", "sell", 1.0, order_type="limit", limit_px=103.0, reduce_only=True)
    paper.submit(sl)
    paper.submit(tp)
    paper.on_bar(_bar(1, 100, 104, 96, 100))
    done = {"sl": sl, "tp": tp}[winner]
    other = {"sl": tp, "tp": sl}[winner]
    assert paper.order_status(done.client_order_id).status is OrderStatus.FILLED
    # the other reduce-only order had nothing left to reduce
    assert paper.order_status(other.client_order_id).status is OrderStatus.CANCELED
    assert paper.position("BTC") == 0.0


def test_funding_is_paid_by_longs_and_received_by_shorts():
    for side, sign in (("buy", -1), ("sell", 1)):
        paper = PaperBackend(0.0, fill="close")
        paper.on_bar(_bar(0, 100, 100, 100, 100))
        paper.submit(OrderIntent("p", "BTC", side, 2.0))
        cash = paper.cash
        paper.on_bar(_bar(1, 100, 100, 100, 100, fr=0.0001))
        assert paper.cash - cash == pytest.approx(sign * 2.0 * 100 * 0.0001)


def test_liquidation():
    paper = PaperBackend(0.0, fill="close", init_cash=1_000.0, max_leverage=50.0,
                         maintenance_margin=0.01)  # fmt: skip
    paper.on_bar(_bar(0, 100, 100, 100, 100))
    paper.submit(OrderIntent("p", "BTC", "buy", 400.0))  # 40x
    liq = paper.positions()["BTC"].liquidation_px
    # equity -39,000 + 400 P falls to the maintenance margin 0.01 * 400 P
    assert liq == pytest.approx(39_000 / 396)
    paper.on_bar(_bar(1, 99, 99.5, 90, 95))
    assert paper.position("BTC") == 0.0
    (fill,) = [f for f in paper.fills() if f.reason == "liquidation"]
    assert fill.price == pytest.approx(liq)
    assert paper.account().equity == pytest.approx(0.01 * 400 * liq)


def test_refusals_and_bad_feeds():
    paper = PaperBackend(0.0, fill="close", min_notional=10.0)
    with pytest.raises(ConfigError, match="unknown symbol"):
        paper.submit(OrderIntent("p", "BTC", "buy", 1.0))
    paper.on_bar(_bar(0, 100, 100, 100, 100))
    with pytest.raises(ConfigError, match="not after"):
        paper.on_bar(_bar(0, 100, 100, 100, 100))
    with pytest.raises(OrderRejected, match="minimum notional"):
        paper.submit(OrderIntent("p", "BTC", "buy", 0.05))
    with pytest.raises(OrderRejected, match="post-only"):
        paper.submit(OrderIntent("p", "BTC", "buy", 1.0, order_type="limit", limit_px=101.0,
                                 tif="Alo"))  # fmt: skip
    ioc = paper.submit(OrderIntent("p", "BTC", "buy", 1.0, order_type="limit", limit_px=99.0,
                                   tif="Ioc"))  # fmt: skip
    assert ioc.status is OrderStatus.CANCELED
    with pytest.raises(ConfigError, match="leverage"):
        paper.set_leverage("BTC", 0)


def test_an_entry_prices_its_impact_on_its_impact_size():
    """The engine charges an entry's impact on its size before costs; the intent says it."""
    costs = Costs(taker_fee=0.0005, slippage_bps=2.0, impact=0.1)
    fills = {}
    for impact_size in (None, 4.0):
        paper = PaperBackend(costs, fill="next_open")
        paper.on_bar(_bar(0, 100, 101, 99, 100, v=400.0))
        paper.submit(OrderIntent("p", "BTC", "buy", 1.0, impact_size=impact_size))
        (fills[impact_size],) = paper.on_bar(_bar(1, 100, 101, 99, 100))
    # participation q / V against the previous bar's volume: 1 / 400, then 4 / 400
    assert fills[None].price == pytest.approx(100 * (1 + 0.0002 + 0.1 * (1 / 400) ** 0.5))
    assert fills[4.0].price == pytest.approx(100 * (1 + 0.0002 + 0.1 * (4 / 400) ** 0.5))
    assert fills[4.0].size == 1.0  # the size traded is the order's
