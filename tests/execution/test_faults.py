"""Every injected fault leaves exactly one order per client order id on the exchange.

Each fault kind of the local exchange is driven through the Hyperliquid adapter; the
exchange's own ledger (every order it ever accepted) is the judge.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from quantlab.errors import OrderRejected, OrderStateUnknown
from quantlab.execution import sim
from quantlab.execution.hyperliquid import HyperliquidBackend
from quantlab.execution.model import OrderIntent, OrderStatus
from quantlab.execution.ratelimit import WeightLimiter


@pytest.fixture
def exchange():
    wallet = Account.create()
    handle = sim.serve(seed=7, fund={wallet.address: 10_000.0}, start="2024-03-01",
                       delay_s=1.0)  # fmt: skip
    yield handle, wallet
    handle.stop()


def _backend(handle, wallet, **kw) -> HyperliquidBackend:
    options = dict(timeout=0.5, retry_wait_s=0.01, expires_after_s=0.5,
                   limiter=WeightLimiter(backoff_s=0.01))  # fmt: skip
    options.update(kw)
    return HyperliquidBackend(handle.url, wallet=wallet, **options)


def _market(b: HyperliquidBackend, tag: str) -> OrderIntent:
    return OrderIntent("faults", "BTC", "buy", round(1_000 / b.mid("BTC"), 4), reason=tag)


def _limit(b: HyperliquidBackend, tag: str) -> OrderIntent:
    px = round(b.mid("BTC") * 0.9)
    return OrderIntent("faults", "BTC", "buy", 0.02, order_type="limit", limit_px=px, reason=tag)


@pytest.mark.parametrize(
    ("kind", "count"),
    [("429", 3), ("5xx", 1), ("5xx_after", 1), ("timeout_before", 1), ("timeout_after", 1)],
)
@pytest.mark.parametrize("order", ["market", "limit"])
def test_network_faults_never_duplicate(exchange, kind, count, order):
    handle, wallet = exchange
    b = _backend(handle, wallet)
    intent = (_market if order == "market" else _limit)(b, f"{kind}-{order}")
    handle.inject(kind, count)
    result = b.submit(intent)
    assert handle.faults.fired.get(kind) == count  # the fault really happened
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}
    expected = OrderStatus.FILLED if order == "market" else OrderStatus.OPEN
    assert result.status is expected
    assert result.client_order_id == intent.client_order_id
    # a second submit of the same intent sends nothing
    n = handle.n_requests
    assert b.submit(intent).oid == result.oid
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}
    assert handle.n_requests > n  # it looked the order up instead


@pytest.mark.parametrize("expires_after_s", [0.5, 2.0])
def test_a_late_arrival_is_expired_or_found(exchange, expires_after_s):
    """A request stuck past the client's timeout (1 s) arrives late: after its expiry
    (0.5 s) the venue refuses it and the client sends again; before it (2 s) it is placed,
    and the client, which waits for the expiry before looking, finds it."""
    handle, wallet = exchange
    b = _backend(handle, wallet, expires_after_s=expires_after_s)
    intent = _limit(b, f"late-{expires_after_s}")
    handle.inject("timeout_before")
    b.submit(intent)
    assert handle.faults.fired.get("timeout_before") == 1
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}


def test_429_backs_off(exchange):
    handle, wallet = exchange
    b = _backend(handle, wallet)
    handle.inject("429", 3)
    b.mid("BTC")
    assert b.limiter.waited_s >= 0.01 + 0.02 + 0.04 - 1e-9


def test_stale_read_after_a_lost_answer_does_not_duplicate(exchange):
    handle, wallet = exchange
    b = _backend(handle, wallet)
    intent = _limit(b, "stale")
    handle.inject("timeout_after")
    # the first round of look-ups (orderStatus, frontendOpenOrders, userFills) answers
    # from before the order
    handle.inject("stale", 3)
    b.submit(intent)
    assert handle.faults.fired.get("stale") == 3
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}


def test_trusting_a_single_stale_read_would_duplicate(exchange):
    """The check above can fail: one 'absent' answer is not evidence enough."""
    handle, wallet = exchange
    b = _backend(handle, wallet, absent_confirmations=1)
    intent = _limit(b, "naive")
    handle.inject("timeout_after")
    handle.inject("stale", 3)
    b.submit(intent)
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 2}


def test_partial_fill(exchange):
    handle, wallet = exchange
    b = _backend(handle, wallet)
    intent = OrderIntent("faults", "BTC", "buy", 0.02, reason="partial")
    handle.inject("partial")
    order = b.submit(intent)
    assert order.status is OrderStatus.CANCELED  # the IOC's rest, as the venue reports it
    assert order.filled_size == pytest.approx(0.01) and order.message == "remainder canceled"
    assert b.order_status(intent.client_order_id).status is OrderStatus.CANCELED
    assert b.order_status(intent.client_order_id).filled_size == pytest.approx(0.01)
    assert b.position("BTC") == pytest.approx(0.01)
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}
    # a crossing Gtc limit rests its remainder
    gtc = OrderIntent("faults", "BTC", "buy", 0.02, order_type="limit",
                      limit_px=round(b.mid("BTC") * 1.01), reason="partial-gtc")  # fmt: skip
    handle.inject("partial")
    b.submit(gtc)
    status = b.order_status(gtc.client_order_id)
    assert status.status is OrderStatus.PARTIALLY_FILLED and status.filled_size == 0.01
    assert [o.client_order_id for o in b.open_orders()] == [gtc.client_order_id]


def test_rejection_is_raised_and_places_nothing(exchange):
    handle, wallet = exchange
    b = _backend(handle, wallet)
    intent = _market(b, "reject")
    handle.inject("reject")
    with pytest.raises(OrderRejected, match="injected") as info:
        b.submit(intent)
    assert info.value.client_order_id == intent.client_order_id
    assert handle.orders_per_cloid(wallet.address) == {}


def test_an_unreachable_outcome_is_unknown_not_absent(exchange, monkeypatch):
    handle, wallet = exchange
    b = _backend(handle, wallet, lookup_attempts=3)
    intent = _limit(b, "dark")
    place = handle.exchange.place

    def place_then_go_dark(*args, **kwargs):
        out = place(*args, **kwargs)
        handle.inject("5xx", 50)  # every look-up fails: nothing can be established
        return out

    monkeypatch.setattr(handle.exchange, "place", place_then_go_dark)
    handle.inject("timeout_after")
    with pytest.raises(OrderStateUnknown) as info:
        b.submit(intent)
    assert info.value.client_order_id == intent.client_order_id
    handle.faults.clear()
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}
    assert b.order_status(intent.client_order_id).status is OrderStatus.OPEN


def test_faults_from_a_spec_are_seeded(exchange):
    from quantlab.execution.sim.faults import Faults

    a, b = Faults("5xx:0.3", seed=1), Faults("5xx:0.3", seed=1)
    assert [a.take("5xx") for _ in range(50)] == [b.take("5xx") for _ in range(50)]
    with pytest.raises(Exception, match="unknown kind"):
        Faults("boom:1")


@pytest.mark.parametrize(("lookup", "expected"), [(True, 1), (False, 2)])
def test_a_restarted_client_does_not_send_a_known_order_again(exchange, lookup, expected):
    """A new client (a restarted runner) re-deciding the same bar sends nothing twice.

    The local exchange does not refuse a repeated client id (so the test judges the client,
    not the venue): without the look-up it ends up holding two orders, with it one.
    """
    handle, wallet = exchange
    intent = _limit(_backend(handle, wallet), "restart")
    first = _backend(handle, wallet).submit(intent)
    again = _backend(handle, wallet, lookup_before_send=lookup).submit(intent)
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: expected}
    assert (again.oid == first.oid) is lookup


def test_fills_alone_prove_an_order_exists(exchange, monkeypatch):
    """When orderStatus and the open orders lag, the fills still count as evidence."""
    handle, wallet = exchange
    b = _backend(handle, wallet)
    intent = _market(b, "fills-only")
    place = handle.exchange.place

    def place_then_lag(*args, **kwargs):
        out = place(*args, **kwargs)
        monkeypatch.setattr(handle.exchange, "order_status",
                            lambda user, ident: {"status": "unknownOid"})  # fmt: skip
        return out

    monkeypatch.setattr(handle.exchange, "place", place_then_lag)
    handle.inject("timeout_after")
    order = b.submit(intent)
    assert order.status is OrderStatus.FILLED and order.message == "known from its fills"
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}


def test_persistent_failures_before_acceptance_are_venue_unavailable(exchange):
    from quantlab.errors import VenueUnavailable

    handle, wallet = exchange
    b = _backend(handle, wallet, max_attempts=2)
    intent = _limit(b, "down")
    handle.inject("timeout_before", 2)  # each send arrives after its expiry: never placed
    with pytest.raises(VenueUnavailable, match="nothing is on the venue"):
        b.submit(intent)
    assert handle.orders_per_cloid(wallet.address) == {}


def test_an_unreadable_answer_is_looked_up(exchange, monkeypatch):
    """A 200 answer that is not the venue's JSON is an unknown outcome, not a rejection."""
    handle, wallet = exchange
    b = _backend(handle, wallet)
    intent = _limit(b, "garbled")
    post = b._api.post
    calls = []

    def garble(path, payload):
        out = post(path, payload)
        if path == "/exchange" and not calls:
            calls.append(out)
            return {"error": "Could not parse JSON: <html>bad gateway</html>"}
        return out

    monkeypatch.setattr(b._api, "post", garble)
    order = b.submit(intent)
    assert calls and order.status is OrderStatus.OPEN
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}


def test_a_nonce_refusal_is_retried_with_a_new_nonce(exchange, monkeypatch):
    handle, wallet = exchange
    b = _backend(handle, wallet)
    nonces = b._nonces
    stale = nonces.next()
    first = [True]
    original = nonces.next

    def reuse_once():
        if first[0]:
            first[0] = False
            return stale  # already used once below: the venue refuses it
        return original()

    from hyperliquid.utils.signing import sign_l1_action

    action = {"type": "scheduleCancel"}
    sig = sign_l1_action(wallet, action, None, stale, None, False)
    b._api.post("/exchange", {"action": action, "nonce": stale, "signature": sig,
                              "vaultAddress": None, "expiresAfter": None})  # fmt: skip
    monkeypatch.setattr(nonces, "next", reuse_once)
    intent = _limit(b, "nonce")
    assert b.submit(intent).status is OrderStatus.OPEN
    assert handle.orders_per_cloid(wallet.address) == {intent.client_order_id: 1}
