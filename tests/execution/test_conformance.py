"""One conformance suite for every execution backend: paper and Hyperliquid-on-the-local-exchange.

Each test gets a fresh account with 10,000 USD and a harness that moves the market:
``step()`` feeds the paper account its next hourly bar, or advances the local exchange's
clock by 15 minutes; ``settle()`` lets a market order reach its fill (the paper account
fills at the next bar's open; the exchange fills at once).
"""

from __future__ import annotations

import math

import pytest

from quantlab.errors import ConfigError, OrderRejected
from quantlab.execution import BACKENDS, ExecutionBackend, make_backend
from quantlab.execution.model import (
    Bar,
    Liquidity,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    make_client_order_id,
    stop_market,
)

SYMBOL = "BTC"


class PaperHarness:
    def __init__(self) -> None:
        from quantlab.data.synthetic import synthetic_bars

        self.bars = synthetic_bars(symbol=SYMBOL, interval="1h", n_bars=400, seed=3)
        self.backend = make_backend("paper", costs=0.0005, init_cash=10_000.0)
        self.k = 0
        self.step(30)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            t = self.bars.index[self.k]
            r = self.bars.iloc[self.k]
            self.backend.on_bar(Bar(SYMBOL, t, r.open, r.high, r.low, r.close, r.volume,
                                    r.funding_rate))  # fmt: skip
            self.k += 1

    def settle(self) -> None:
        self.step(1)

    def close(self) -> None:
        self.backend.close()


class HyperliquidHarness:
    def __init__(self) -> None:
        from eth_account import Account

        from quantlab.execution import sim
        from quantlab.execution.ratelimit import WeightLimiter

        wallet = Account.create()
        self.handle = sim.serve(seed=7, fund={wallet.address: 10_000.0}, start="2024-03-01")
        self.backend = make_backend(
            "hyperliquid", base_url=self.handle.url, wallet=wallet, timeout=3.0,
            retry_wait_s=0.01, expires_after_s=1.0, limiter=WeightLimiter(backoff_s=0.01),
        )  # fmt: skip

    def step(self, n: int = 1) -> None:
        self.handle.advance(900 * n)

    def settle(self) -> None:
        pass

    def close(self) -> None:
        self.backend.close()
        self.handle.stop()


@pytest.fixture(params=["paper", "hyperliquid"])
def venue(request):
    harness = PaperHarness() if request.param == "paper" else HyperliquidHarness()
    yield harness
    harness.close()


def _size(backend: ExecutionBackend, usd: float = 1_000.0) -> float:
    return round(usd / backend.mid(SYMBOL), 4)


def _intent(side: str, size: float, **kw) -> OrderIntent:
    return OrderIntent("conf", SYMBOL, side, size, **kw)


def test_backends_are_registered():
    assert {"paper", "hyperliquid"} <= set(BACKENDS.names())
    with pytest.raises(ConfigError, match="unknown execution backend"):
        make_backend("nope")


def test_mid_is_a_price(venue):
    mid = venue.backend.mid(SYMBOL)
    assert math.isfinite(mid) and mid > 0
    with pytest.raises(ConfigError):
        venue.backend.mid("NOPE")


def test_market_buy_fills_and_opens_a_position(venue):
    b = venue.backend
    size = _size(b)
    intent = _intent("buy", size, decision_bar="2024-03-01")
    order = b.submit(intent)
    assert order.client_order_id == intent.client_order_id
    venue.settle()
    done = b.order_status(intent.client_order_id)
    assert done is not None and done.status is OrderStatus.FILLED
    assert done.filled_size == pytest.approx(size)
    assert done.avg_px > 0
    pos = b.positions()[SYMBOL]
    assert pos.size == pytest.approx(size) and pos.side is Side.BUY
    fills = [f for f in b.fills() if f.client_order_id == intent.client_order_id]
    assert len(fills) >= 1 and sum(f.size for f in fills) == pytest.approx(size)
    assert all(f.liquidity is Liquidity.TAKER and f.fee > 0 for f in fills)
    assert b.position(SYMBOL) == pytest.approx(size)
    acct = b.account()
    assert acct.equity < 10_000.0  # fees and the spread/slippage were paid
    assert acct.equity == pytest.approx(10_000.0, rel=0.01)
    assert acct.margin_used > 0 and SYMBOL in acct.positions


def test_submit_is_idempotent_on_the_client_order_id(venue):
    b = venue.backend
    intent = _intent("buy", _size(b), order_type="limit", limit_px=round(b.mid(SYMBOL) * 0.8))
    first = b.submit(intent)
    again = b.submit(intent)
    assert again.oid == first.oid
    assert [o.client_order_id for o in b.open_orders(SYMBOL)] == [intent.client_order_id]


def test_limit_rests_then_cancels(venue):
    b = venue.backend
    px = round(b.mid(SYMBOL) * 0.8)
    intent = _intent("buy", _size(b), order_type="limit", limit_px=px)
    order = b.submit(intent)
    assert order.status is OrderStatus.OPEN and order.oid is not None
    venue.step()
    (listed,) = b.open_orders(SYMBOL)
    assert listed.client_order_id == intent.client_order_id
    assert listed.limit_px == pytest.approx(px) and listed.side is Side.BUY
    assert b.open_orders("ETH") == []
    assert b.cancel(SYMBOL, intent.client_order_id) is True
    assert b.open_orders() == []
    assert b.order_status(intent.client_order_id).status is OrderStatus.CANCELED
    assert b.cancel(SYMBOL, intent.client_order_id) is False
    assert b.cancel(SYMBOL, make_client_order_id("conf", SYMBOL, None, "never")) is False


def test_unknown_order_is_none(venue):
    assert venue.backend.order_status(make_client_order_id("x", SYMBOL, None)) is None


def test_reduce_only_without_a_position_is_rejected(venue):
    b = venue.backend
    with pytest.raises(OrderRejected, match=r"(?i)reduce"):
        b.submit(_intent("sell", _size(b), order_type="limit",
                         limit_px=round(b.mid(SYMBOL) * 1.2), reduce_only=True))  # fmt: skip
    assert b.open_orders() == []


def test_order_beyond_the_margin_is_rejected(venue):
    b = venue.backend
    with pytest.raises(OrderRejected, match=r"(?i)margin"):
        b.submit(_intent("buy", _size(b, 5_000_000.0)))
    assert b.positions() == {}


@pytest.mark.parametrize("kind", ["sl", "tp"])
def test_reduce_only_trigger_closes_the_position(venue, kind):
    b = venue.backend
    size = _size(b)
    b.submit(_intent("buy", size))
    venue.settle()
    assert b.position(SYMBOL) == pytest.approx(size)
    mid = b.mid(SYMBOL)
    # a stop above the market (a target below it) fires on the next price
    level = round(mid * (1.05 if kind == "sl" else 0.95))
    stop = _intent("sell", size, order_type="trigger", trigger_px=level, trigger_kind=kind,
                   reduce_only=True, reason=kind)  # fmt: skip
    order = b.submit(stop)
    assert order.status is OrderStatus.OPEN
    assert [o.order_type for o in b.open_orders(SYMBOL)] == [OrderType.TRIGGER]
    venue.step()
    assert b.position(SYMBOL) == 0.0
    assert b.order_status(stop.client_order_id).status is OrderStatus.FILLED
    closing = [f for f in b.fills() if f.client_order_id == stop.client_order_id]
    assert closing and closing[0].side is Side.SELL


def test_stop_far_away_does_not_fire(venue):
    b = venue.backend
    size = _size(b)
    b.submit(_intent("buy", size))
    venue.settle()
    stop = stop_market("conf", SYMBOL, b.position(SYMBOL), round(b.mid(SYMBOL) * 0.5))
    b.submit(stop)
    venue.step(2)
    assert b.position(SYMBOL) == pytest.approx(size)
    assert b.order_status(stop.client_order_id).status is OrderStatus.OPEN


def test_schedule_cancel_cancels_open_orders_at_the_deadline(venue):
    b = venue.backend
    intent = _intent("buy", _size(b), order_type="limit", limit_px=round(b.mid(SYMBOL) * 0.8))
    b.submit(intent)
    b.schedule_cancel(b.now_ms() + 600_000)
    assert len(b.open_orders()) == 1
    venue.step(4)
    assert b.open_orders() == []
    assert b.order_status(intent.client_order_id).status is OrderStatus.CANCELED


def test_schedule_cancel_disarmed(venue):
    b = venue.backend
    b.submit(_intent("buy", _size(b), order_type="limit", limit_px=round(b.mid(SYMBOL) * 0.8)))
    b.schedule_cancel(b.now_ms() + 600_000)
    b.schedule_cancel(None)
    venue.step(4)
    assert len(b.open_orders()) == 1


def test_leverage(venue):
    b = venue.backend
    b.set_leverage(SYMBOL, 5)
    b.submit(_intent("buy", _size(b)))
    venue.settle()
    pos = b.positions()[SYMBOL]
    assert pos.leverage == 5
    assert pos.margin_used == pytest.approx(abs(pos.size) * b.mid(SYMBOL) / 5, rel=0.02)
    with pytest.raises(ConfigError):
        b.set_leverage(SYMBOL, 0)


def test_fills_since(venue):
    b = venue.backend
    b.submit(_intent("buy", _size(b)))
    venue.settle()
    fills = b.fills()
    assert len(fills) >= 1
    assert b.fills(since_ms=fills[-1].time_ms) == fills[-1:]
    assert b.fills(since_ms=fills[-1].time_ms + 10**9) == []


def test_account_identity(venue):
    b = venue.backend
    b.submit(_intent("sell", _size(b)))
    venue.settle()
    venue.step()
    acct = b.account()
    pos = acct.positions[SYMBOL]
    assert pos.size < 0
    assert acct.withdrawable == pytest.approx(acct.equity - acct.margin_used, rel=1e-6)
    assert pos.unrealized_pnl == pytest.approx(pos.size * (b.mid(SYMBOL) - pos.entry_px),
                                               rel=1e-3, abs=1e-3)  # fmt: skip


def test_bracket_triggers_wake_up_with_their_entry(venue):
    b = venue.backend
    size = _size(b)
    mid = b.mid(SYMBOL)
    # an entry resting far away: its triggers wait, and go with it when it is cancelled
    entry = _intent("buy", size, order_type="limit", limit_px=round(mid * 0.7), reason="e1")
    sl = stop_market("conf", SYMBOL, size, round(mid * 0.5), reason="sl1")
    tp = _intent("sell", size, order_type="trigger", trigger_px=round(mid * 1.5),
                 trigger_kind="tp", reduce_only=True, reason="tp1")  # fmt: skip
    orders = b.submit_bracket(entry, sl, tp)
    assert [o.status for o in orders] == [OrderStatus.OPEN] * 3
    assert [o.client_order_id for o in b.open_orders(SYMBOL)] == [entry.client_order_id]
    assert b.cancel(SYMBOL, entry.client_order_id)
    assert b.open_orders() == []
    assert b.order_status(sl.client_order_id).status is OrderStatus.CANCELED
    # a market entry: once filled, both triggers rest on the venue
    entry = _intent("buy", size, reason="e2")
    sl = stop_market("conf", SYMBOL, size, round(mid * 0.5), reason="sl2")
    tp = _intent("sell", size, order_type="trigger", trigger_px=round(mid * 1.5),
                 trigger_kind="tp", reduce_only=True, reason="tp2")  # fmt: skip
    b.submit_bracket(entry, sl, tp)
    venue.settle()
    assert b.position(SYMBOL) == pytest.approx(size)
    live = {o.client_order_id: o for o in b.open_orders(SYMBOL)}
    assert set(live) == {sl.client_order_id, tp.client_order_id}
    assert all(o.order_type is OrderType.TRIGGER and o.reduce_only for o in live.values())
    with pytest.raises(ConfigError, match="reduce-only trigger"):
        b.submit_bracket(_intent("buy", size, reason="e3"), _intent("sell", size, reason="x"))
