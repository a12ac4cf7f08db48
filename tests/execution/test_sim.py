"""The local Hyperliquid exchange: the unmodified SDK against it, wire shapes, venue rules."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.signing import (
    order_request_to_order_wire,
    order_wires_to_order_action,
    sign_l1_action,
)
from hyperliquid.utils.types import Cloid

from quantlab.errors import ConfigError
from quantlab.execution import sim
from quantlab.execution.venue import price_ok, round_price, round_size, size_ok, to_wire

START = "2024-03-01"


@pytest.fixture
def market():
    wallet = Account.create()
    handle = sim.serve(seed=7, fund={wallet.address: 10_000.0}, start=START)
    info = Info(handle.url, skip_ws=True)
    exchange = Exchange(wallet, handle.url, meta=info.meta(), spot_meta=info.spot_meta())
    yield handle, wallet, info, exchange
    handle.stop()


def test_sdk_calls_work_unchanged(market):
    handle, wallet, info, ex = market
    addr = wallet.address
    assert [a["name"] for a in info.meta()["universe"]] == ["BTC", "ETH", "SOL"]
    mids = info.all_mids()
    btc = float(mids["BTC"])
    assert btc > 0
    # market order (aggressive IOC) with a cloid
    c1 = Cloid.from_int(1)
    r = ex.market_open("BTC", True, 0.01, cloid=c1)
    filled = r["response"]["data"]["statuses"][0]["filled"]
    assert float(filled["totalSz"]) == 0.01 and filled["cloid"] == c1.to_raw()
    state = info.user_state(addr)
    assert float(state["assetPositions"][0]["position"]["szi"]) == 0.01
    q = info.query_order_by_cloid(addr, c1)
    assert q["status"] == "order" and q["order"]["status"] == "filled"
    assert info.query_order_by_oid(addr, filled["oid"])["order"]["order"]["cloid"] == c1.to_raw()
    # resting limit, modify, cancel by oid and by cloid
    px = round_price(btc * 0.9, 5)
    r = ex.order("BTC", True, 0.01, px, {"limit": {"tif": "Gtc"}}, cloid=Cloid.from_int(2))
    oid = r["response"]["data"]["statuses"][0]["resting"]["oid"]
    assert [o["oid"] for o in info.open_orders(addr)] == [oid]
    new_px = round_price(btc * 0.85, 5)
    r = ex.bulk_modify_orders_new([{"oid": oid, "order": {
        "coin": "BTC", "is_buy": True, "sz": 0.02, "limit_px": new_px,
        "order_type": {"limit": {"tif": "Gtc"}}, "reduce_only": False,
        "cloid": Cloid.from_int(2)}}])  # fmt: skip
    assert r["status"] == "ok"
    (o,) = info.frontend_open_orders(addr)
    assert (o["oid"], float(o["limitPx"]), float(o["sz"])) == (oid, new_px, 0.02)
    assert ex.cancel("BTC", oid)["response"]["data"]["statuses"] == ["success"]
    ex.order("BTC", True, 0.01, px, {"limit": {"tif": "Gtc"}}, cloid=Cloid.from_int(3))
    assert ex.cancel_by_cloid("BTC", Cloid.from_int(3))["response"]["data"]["statuses"] == [
        "success"
    ]
    again = ex.cancel_by_cloid("BTC", Cloid.from_int(3))["response"]["data"]["statuses"][0]
    assert "never placed" in again["error"]
    assert info.open_orders(addr) == []
    # leverage, dead man's switch, fills
    assert ex.update_leverage(10, "BTC")["status"] == "ok"
    assert info.user_state(addr)["assetPositions"][0]["position"]["leverage"]["value"] == 10
    assert ex.update_leverage(51, "BTC")["status"] == "err"
    now = handle.now_ms
    assert ex.schedule_cancel(now + 1_000)["status"] == "err"  # too early
    assert ex.schedule_cancel(now + 60_000)["status"] == "ok"
    fills = info.user_fills(addr)
    assert len(fills) == 1 and fills[0]["dir"] == "Open Long"
    assert info.user_fills_by_time(addr, now - 1, now + 1) == fills
    assert ex.market_close("BTC")["status"] == "ok"
    assert info.user_state(addr)["assetPositions"] == []
    assert float(info.user_fills(addr)[0]["closedPnl"]) != 0.0
    rl = info.user_rate_limit(addr)
    assert rl["nRequestsUsed"] >= 9


def _recorded(fixtures_dir, name):
    path = fixtures_dir / "hyperliquid_sdk_cassettes" / "info_test" / f"{name}.yaml"
    out = {}
    for it in yaml.safe_load(path.read_text())["interactions"]:
        body = json.loads(it["request"]["body"])
        out[body["type"]] = json.loads(it["response"]["body"]["string"])
    return out


def _same_shape(mine, real, where):
    """Every key the venue sent is there, with a value of the same JSON type."""
    if isinstance(real, dict):
        assert isinstance(mine, dict), where
        for key, value in real.items():
            assert key in mine, f"{where}.{key} missing"
            if value is not None and mine[key] is not None:
                _same_shape(mine[key], value, f"{where}.{key}")
    elif isinstance(real, list):
        assert isinstance(mine, list), where
        if real and mine:
            _same_shape(mine[0], real[0], f"{where}[0]")
    else:
        assert type(mine) is type(real), f"{where}: {type(mine).__name__} vs {type(real).__name__}"


def test_answers_have_the_recorded_shapes(market, fixtures_dir):
    handle, wallet, info, ex = market
    addr = wallet.address
    ex.market_open("ETH", False, 0.5, cloid=Cloid.from_int(9))
    btc = float(info.all_mids()["BTC"])
    ex.order("BTC", True, 0.001, round_price(btc * 0.5, 5), {"limit": {"tif": "Gtc"}})
    eth = float(info.all_mids()["ETH"])
    trigger = {"triggerPx": round_price(eth * 1.5, 4), "isMarket": True, "tpsl": "sl"}
    ex.order("ETH", True, 0.5, round_price(eth * 1.6, 4), {"trigger": trigger}, reduce_only=True)
    handle.advance(3 * 3600)
    now = handle.now_ms
    cases = {
        "test_get_user_state": ("clearinghouseState", info.user_state(addr)),
        "test_get_open_orders": ("openOrders", info.open_orders(addr)),
        "test_get_frontend_open_orders": (
            "frontendOpenOrders",
            info.frontend_open_orders(addr),
        ),
        "test_get_user_fills": ("userFills", info.user_fills(addr)),
        "test_get_user_fills_by_time": ("userFillsByTime", info.user_fills_by_time(addr, 0, now)),
        "test_get_all_mids": ("allMids", info.all_mids()),
        "test_get_l2_snapshot": ("l2Book", info.l2_snapshot("BTC")),
        "test_user_rate_limit": ("userRateLimit", info.user_rate_limit(addr)),
        "test_get_info": ("meta", info.meta()),
        "test_get_candles_snapshot": (
            "candleSnapshot",
            info.candles_snapshot("BTC", "1h", now - 3 * 3600_000, now),
        ),
        "test_get_funding_history[None]": (
            "fundingHistory",
            info.funding_history("BTC", now - 3 * 3600_000),
        ),
    }
    for name, (kind, mine) in cases.items():
        real = _recorded(fixtures_dir, name)[kind]
        if kind == "allMids":
            assert all(isinstance(v, str) and float(v) > 0 for v in mine.values())
            continue
        assert mine, f"{kind}: empty answer cannot be compared"
        _same_shape(mine, real, kind)
    bids, asks = cases["test_get_l2_snapshot"][1]["levels"]
    assert float(bids[0]["px"]) < float(info.all_mids()["BTC"]) < float(asks[0]["px"])
    assert [float(b["px"]) for b in bids] == sorted((float(b["px"]) for b in bids), reverse=True)
    # the SDK's own parsers read them: candles are hourly and ordered
    candles = cases["test_get_candles_snapshot"][1]
    assert [c["t"] for c in candles] == sorted(c["t"] for c in candles)
    assert all(c["i"] == "1h" and float(c["l"]) <= float(c["h"]) for c in candles)


def _signed(wallet, action, nonce):
    sig = sign_l1_action(wallet, action, None, nonce, None, False)
    return {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None,
            "expiresAfter": None}  # fmt: skip


def _order_action(ex, px, cloid=None):
    req = {"coin": "BTC", "is_buy": True, "sz": 0.001, "limit_px": px,
           "order_type": {"limit": {"tif": "Gtc"}}, "reduce_only": False}  # fmt: skip
    if cloid:
        req["cloid"] = cloid
    return order_wires_to_order_action([order_request_to_order_wire(req, 0)])


def test_signatures_nonces_and_accounts(market):
    handle, wallet, info, ex = market
    px = round_price(float(info.all_mids()["BTC"]) * 0.9, 5)
    nonce = int(time.time() * 1000)
    ok = ex.post("/exchange", _signed(wallet, _order_action(ex, px), nonce))
    assert ok["status"] == "ok"
    # the same nonce again: refused, nothing placed
    dup = ex.post("/exchange", _signed(wallet, _order_action(ex, px), nonce))
    assert dup == {"status": "err", "response": "Invalid nonce: duplicate nonce"}
    # a tampered action recovers another signer, which has no account
    payload = _signed(wallet, _order_action(ex, px), nonce + 1)
    payload["action"]["orders"][0]["s"] = "0.002"
    bad = ex.post("/exchange", payload)
    assert bad["status"] == "err" and "does not exist" in bad["response"]
    assert wallet.address.lower() not in bad["response"]
    # an unfunded wallet is refused as the venue refuses it
    stranger = Account.create()
    ex2 = Exchange(stranger, handle.url, meta=info.meta(), spot_meta=info.spot_meta())
    r = ex2.order("BTC", True, 0.001, px, {"limit": {"tif": "Gtc"}})
    refusal = f"User or API Wallet {stranger.address.lower()} does not exist."
    assert r == {"status": "err", "response": refusal}
    assert len(info.open_orders(wallet.address)) == 1
    assert info.open_orders(stranger.address) == []
    # an expired action is refused
    ex.set_expires_after(int(time.time() * 1000) - 1)
    assert ex.order("BTC", True, 0.001, px, {"limit": {"tif": "Gtc"}})["status"] == "err"
    ex.set_expires_after(None)


def test_venue_rules_are_enforced(market):
    _, _, info, ex = market
    btc = float(info.all_mids()["BTC"])

    def status(sz, px, tif="Gtc"):
        r = ex.order("BTC", True, sz, px, {"limit": {"tif": tif}})
        return r["response"]["data"]["statuses"][0]

    assert "invalid price" in status(0.001, 54321.5)["error"]  # 6 significant figures
    assert "invalid size" in status(0.0000001, 50000.0)["error"]  # beyond szDecimals (5)
    assert "minimum value of $10" in status(0.0001, 50000.0)["error"]
    assert "Post only" in status(0.001, round_price(btc * 1.01, 5), "Alo")["error"]
    assert "could not immediately match" in status(0.001, round_price(btc * 0.9, 5), "Ioc")["error"]
    assert "Insufficient margin" in status(50.0, round_price(btc * 0.9, 5))["error"]
    r = ex.order("BTC", False, 0.001, round_price(btc * 1.1, 5), {"limit": {"tif": "Gtc"}},
                 reduce_only=True)  # fmt: skip
    assert "Reduce only" in r["response"]["data"]["statuses"][0]["error"]


def test_clock_funding_and_liquidation():
    wallet = Account.create()
    with sim.serve(seed=3, fund={wallet.address: 1_000.0}, start=START) as handle:
        info = Info(handle.url, skip_ws=True)
        ex = Exchange(wallet, handle.url, meta=info.meta(), spot_meta=info.spot_meta())
        t0 = handle.now_ms
        p0 = handle.mid("BTC")
        handle.advance(600)
        assert handle.now_ms == t0 + 600_000
        assert handle.mid("BTC") != p0  # the synthetic path moves with the clock
        assert ex.update_leverage(50, "BTC")["status"] == "ok"
        size = round_size(45_000 / handle.mid("BTC"), 5)  # 45x: liquidated on a ~1% move
        ex.market_open("BTC", False, size)
        before = float(info.user_state(wallet.address)["marginSummary"]["totalRawUsd"])
        for _ in range(48):
            handle.advance(3600)
            if not info.user_state(wallet.address)["assetPositions"]:
                break
        fills = info.user_fills(wallet.address)
        assert any("liquidation" in f for f in fills), "a 45x short is liquidated within 2 days"
        after = float(info.user_state(wallet.address)["marginSummary"]["accountValue"])
        assert after < before
        # funding history holds one rate per exchange hour
        hist = info.funding_history("BTC", t0)
        assert [h["time"] for h in hist] == list(
            range(hist[0]["time"], hist[0]["time"] + 3_600_000 * len(hist), 3_600_000)
        )


def test_venue_rounding():
    assert round_price(60123.456, 5) == 60123.0
    assert round_price(1.234567, 0) == 1.2346
    assert round_price(0.0012345678, 0) == 0.001235
    assert round_price(123456.7, 5) == 123457.0  # integers are always valid
    assert price_ok("123457", 5) and not price_ok("60123.4", 5) and price_ok("1.2346", 0)
    assert round_size(0.123456, 5) == 0.12346 and round_size(0.123456, 5, down=True) == 0.12345
    assert size_ok("0.12345", 5) and not size_ok("0.123456", 5) and not size_ok("0", 5)
    assert to_wire(0.1 + 0.2) == "0.3" and to_wire(26951.0) == "26951"


def test_grouped_tpsl_children_wait_for_their_parent(market):
    _, wallet, info, ex = market
    addr = wallet.address
    btc = float(info.all_mids()["BTC"])

    def req(is_buy, px, order_type, reduce_only):
        return {"coin": "BTC", "is_buy": is_buy, "sz": 0.01, "limit_px": px,
                "order_type": order_type, "reduce_only": reduce_only}  # fmt: skip

    tp = {"trigger": {"triggerPx": round_price(btc * 1.5, 5), "isMarket": True, "tpsl": "tp"}}
    sl = {"trigger": {"triggerPx": round_price(btc * 0.5, 5), "isMarket": True, "tpsl": "sl"}}
    resting_parent = req(True, round_price(btc * 0.8, 5), {"limit": {"tif": "Gtc"}}, False)
    children = [req(False, round_price(btc * 1.4, 5), tp, True),
                req(False, round_price(btc * 0.4, 5), sl, True)]  # fmt: skip
    r = ex.bulk_orders([resting_parent, *children], grouping="normalTpsl")
    statuses = r["response"]["data"]["statuses"]
    assert "resting" in statuses[0] and statuses[1:] == ["waitingForFill", "waitingForFill"]
    (parent,) = info.frontend_open_orders(addr)  # the children are not live yet
    assert len(parent["children"]) == 2
    filled_parent = req(True, round_price(btc * 1.01, 5), {"limit": {"tif": "Ioc"}}, False)
    r = ex.bulk_orders([filled_parent, *children], grouping="normalTpsl")
    statuses = r["response"]["data"]["statuses"]
    assert "filled" in statuses[0] and statuses[1:] == ["waitingForTrigger", "waitingForTrigger"]
    kinds = sorted(o["orderType"] for o in info.frontend_open_orders(addr))
    assert kinds == ["Limit", "Stop Market", "Take Profit Market"]


def test_funding_is_charged_on_the_hour(market):
    handle, wallet, info, ex = market
    ex.market_open("BTC", True, 0.1)
    state = info.user_state(wallet.address)
    raw = float(state["marginSummary"]["totalRawUsd"])
    now = handle.now_ms
    to_hour = 3_600_000 - now % 3_600_000
    handle.advance(to_hour / 1000 + 30)
    after = info.user_state(wallet.address)
    (rate,) = [h for h in info.funding_history("BTC", now) if h["time"] == now + to_hour]
    paid = raw - float(after["marginSummary"]["totalRawUsd"])
    k = (now + to_hour - handle.exchange.start_ms) // 60_000 - 1
    mark = float(handle.exchange.paths["BTC"].close[k])
    assert paid == pytest.approx(0.1 * mark * float(rate["fundingRate"]), rel=1e-6)
    cum = after["assetPositions"][0]["position"]["cumFunding"]["sinceOpen"]
    assert float(cum) == pytest.approx(paid, rel=1e-6)


def test_rounded_prices_and_sizes_pass_the_venue_checks():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(
        st.floats(min_value=1e-6, max_value=5e6, allow_nan=False),
        st.integers(min_value=0, max_value=5),
        st.floats(min_value=1e-5, max_value=1e5, allow_nan=False),
    )
    def check(price, szd, size):
        if price < 0.5 * 10.0 ** -(6 - szd):
            with pytest.raises(ConfigError, match="smallest tick"):
                round_price(price, szd)
            return
        px = round_price(price, szd)
        assert price_ok(to_wire(px), szd)
        if px < 1e5:
            assert abs(px - price) <= 0.5e-4 * price + 10.0 ** -(6 - szd)
        sz = round_size(size, szd)
        if sz > 0:
            assert size_ok(to_wire(sz), szd) and abs(sz - size) <= 0.5 * 10.0**-szd + 1e-12

    check()


def test_a_running_clock_moves_without_requests():
    import time as _time

    wallet = Account.create()
    with sim.serve(seed=1, fund={wallet.address: 1_000.0}, speed=3600.0, start=START) as handle:
        t0 = handle.exchange.now_ms
        deadline = _time.monotonic() + 5.0
        while handle.exchange.now_ms < t0 + 3_600_000 and _time.monotonic() < deadline:
            _time.sleep(0.05)  # nobody calls the server: its own clock advances it
        assert handle.exchange.now_ms >= t0 + 3_600_000


def test_a_frozen_clock_stands_still_until_advanced():
    import time as _time

    with sim.serve(seed=1, speed=3600.0, start=START) as handle:
        _time.sleep(0.3)
        t_before = handle.now_ms
        handle.freeze()
        t0 = handle.now_ms
        assert t0 >= t_before > 1_709_251_200_000  # 2024-03-01: it ran before the freeze
        _time.sleep(0.5)  # the clock thread keeps syncing: nothing moves
        assert handle.now_ms == t0
        handle.advance(60.0)
        assert handle.now_ms == t0 + 60_000
