"""The order model: validation, deterministic client order ids, conversions."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlab.errors import ConfigError, OrderRejected, OrderStateUnknown
from quantlab.execution.model import (
    Bar,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    make_client_order_id,
    to_ms,
)


def test_intent_defaults_and_deterministic_cloid():
    a = OrderIntent("s1", "BTC", "buy", 0.5, decision_bar="2024-01-01T01:00Z", reason="signal")
    b = OrderIntent(
        "s1",
        "BTC",
        Side.BUY,
        0.5,
        decision_bar=pd.Timestamp("2024-01-01 01:00", tz="UTC"),
        reason="signal",
    )
    c = OrderIntent("s1", "BTC", "buy", 0.5, decision_bar="2024-01-01T02:00Z", reason="signal")
    assert a.client_order_id == b.client_order_id != c.client_order_id
    assert a.client_order_id.startswith("0x") and len(a.client_order_id) == 34
    assert a.side is Side.BUY and a.order_type is OrderType.MARKET and a.tif is TimeInForce.GTC
    assert a.signed_size == 0.5
    assert make_client_order_id("s1", "BTC", "2024-01-01", "stop") == make_client_order_id(
        "s1", "BTC", pd.Timestamp("2024-01-01", tz="UTC"), "stop"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(size=0.0), "size"),
        (dict(size=float("nan")), "size"),
        (dict(side="up"), "side"),
        (dict(order_type="limit"), "limit_px"),
        (dict(order_type="trigger", trigger_kind="sl"), "trigger_px"),
        (dict(order_type="trigger", trigger_px=100.0), "trigger_kind"),
        (dict(trigger_px=100.0), "trigger_px"),
        (dict(client_order_id="abc"), "client_order_id"),
        (dict(limit_px=-1.0, order_type="limit"), "limit_px"),
        (dict(tif="Day"), "Day"),
        (dict(impact_size=0.0), "impact_size"),
        (dict(impact_size=float("inf")), "impact_size"),
    ],
)
def test_intent_rejects_bad_fields(kwargs, field):
    base = dict(strategy_id="s", symbol="BTC", side="sell", size=1.0)
    base.update(kwargs)
    with pytest.raises(ConfigError, match=field):
        OrderIntent(**base)


def test_order_from_intent_and_fill_views():
    intent = OrderIntent("s", "ETH", "sell", 2.0, order_type="limit", limit_px=2000.0)
    order = Order.from_intent(intent, oid=7, status=OrderStatus.PARTIALLY_FILLED, filled_size=0.5)
    assert order.remaining == 1.5 and order.status.is_live and not order.status.is_final
    fill = Fill(1, 7, intent.client_order_id, "ETH", Side.SELL, 0.5, 2000.0, 0.1, 1_700_000_000_000)
    assert fill.signed_size == -0.5 and fill.notional == 1000.0
    assert fill.time == pd.Timestamp(1_700_000_000_000, unit="ms", tz="UTC")


def test_to_ms_and_bar_checks():
    assert to_ms("1970-01-01T00:00:01Z") == 1000
    assert to_ms(5) == 5
    with pytest.raises(ConfigError, match="low <= open"):
        Bar("BTC", "2024-01-01", 10.0, 9.0, 8.0, 9.5)
    assert Bar("BTC", "2024-01-01", 10.0, 11.0, 9.0, 10.5).time_ms == to_ms("2024-01-01")


def test_error_attributes():
    err = OrderRejected("refused", client_order_id="0x1", reason="margin")
    assert err.reason == "margin" and err.client_order_id == "0x1"
    assert OrderStateUnknown("?", client_order_id="0x2").client_order_id == "0x2"
