"""The Hyperliquid adapter's own rules: keys, nonces, cached meta, pacing, mainnet guard."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from eth_account import Account

from quantlab.errors import ConfigError, OrderRejected, VenueUnavailable
from quantlab.execution import sim
from quantlab.execution.hyperliquid import MAINNET_URL, HyperliquidBackend, clear_meta_cache
from quantlab.execution.keys import load_wallet
from quantlab.execution.model import OrderIntent
from quantlab.execution.ratelimit import NonceSource, WeightLimiter


@pytest.fixture
def exchange():
    wallet = Account.create()
    handle = sim.serve(seed=7, fund={wallet.address: 10_000.0}, start="2024-03-01")
    yield handle, wallet
    handle.stop()


def test_key_from_env_and_private_file(tmp_path, monkeypatch):
    acct = Account.create()
    key = acct.key.hex()
    monkeypatch.setenv("QL_TEST_KEY", key)
    assert load_wallet(env="QL_TEST_KEY").address == acct.address
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "hl.key"
    path.write_text(key + "\n")
    os.chmod(path, 0o600)
    assert load_wallet(env=None, path=path).address == acct.address
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others") as info:
        load_wallet(env=None, path=path)
    assert key not in str(info.value)


def test_key_refusals_never_show_the_key(tmp_path, monkeypatch):
    repo_file = os.path.join(os.path.dirname(__file__), "hl.key")
    with pytest.raises(ConfigError, match="inside the repository"):
        load_wallet(env=None, path=repo_file)
    monkeypatch.setenv("QL_TEST_KEY", "0xnot-a-key-but-secret-text")
    with pytest.raises(ConfigError) as info:
        load_wallet(env="QL_TEST_KEY")
    assert "secret-text" not in str(info.value)
    monkeypatch.delenv("QL_TEST_KEY")
    with pytest.raises(ConfigError, match="QL_TEST_KEY"):
        load_wallet(env="QL_TEST_KEY")


def test_the_key_never_reaches_logs_or_reprs(exchange, caplog, monkeypatch):
    handle, wallet = exchange
    key = wallet.key.hex()
    monkeypatch.setenv("QL_TEST_KEY", key)
    caplog.set_level(logging.DEBUG)
    b = HyperliquidBackend(
        handle.url, key_env="QL_TEST_KEY", retry_wait_s=0.01, expires_after_s=0.5
    )
    b.submit(OrderIntent("k", "BTC", "buy", 0.01))
    handle.inject("timeout_after")
    b.timeout = 0.3
    b._api.timeout = 0.3
    b.submit(OrderIntent("k", "BTC", "buy", 0.01, reason="again"))
    text = caplog.text + repr(b) + str(b.__dict__)
    assert key not in text and key[2:] not in text
    assert "outcome unknown" in caplog.text  # the logs did capture the adapter


def test_meta_is_fetched_once_per_url(exchange):
    handle, wallet = exchange
    clear_meta_cache()
    HyperliquidBackend(handle.url, wallet=wallet)
    n = handle.n_requests
    b = HyperliquidBackend(handle.url, wallet=wallet)
    info, ex = b.sdk()  # the SDK's own clients, built from the cached meta
    assert handle.n_requests == n  # no request at all
    assert info.name_to_asset("ETH") == 1 and ex.info.asset_to_sz_decimals[0] == 5


def test_nonces_are_strictly_increasing_within_a_millisecond():
    src = NonceSource(clock_ms=lambda: 1_700_000_000_000)  # a frozen clock
    out: list[int] = []
    threads = [threading.Thread(target=lambda: out.extend(src.next() for _ in range(200)))
               for _ in range(4)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 800 and min(out) == 1_700_000_000_000


def test_two_actions_in_one_millisecond_are_both_accepted(exchange, monkeypatch):
    handle, wallet = exchange
    b = HyperliquidBackend(handle.url, wallet=wallet)
    monkeypatch.setattr("time.time", lambda: 1_709_251_200.0 + 86_400 * 0)  # frozen clock
    mid = b.mid("BTC")
    for k in range(3):
        b.submit(OrderIntent("n", "BTC", "buy", 0.001, order_type="limit",
                             limit_px=round(mid * 0.5), reason=str(k)))  # fmt: skip
    assert len(b.open_orders()) == 3


def test_weight_limiter_paces_requests():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    lim = WeightLimiter(capacity=100, window_s=60, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        lim.acquire(20)
    assert slept == [] and lim.used() == 100
    lim.acquire(20)
    # the window's 60 s, slept in slices of at most 0.25 s (a deadline is seen in time)
    assert sum(slept) == 60.0 and max(slept) == 0.25 and lim.used() == 20
    del slept[:]
    assert lim.backoff() == 0.5 and sum(slept) == 0.5
    assert lim.backoff() == 1.0 and sum(slept) == 1.5
    lim.success()
    assert lim.backoff() == 0.5 and lim.waited_s == 62.0


def test_weight_limiter_refuses_a_wait_past_its_deadline():
    now = [0.0]

    def sleep(s):
        now[0] += s

    lim = WeightLimiter(capacity=100, window_s=60, clock=lambda: now[0], sleep=sleep)
    lim.acquire(100)
    lim.stop_waiting_after(10.0)
    with pytest.raises(VenueUnavailable, match="stop deadline; request not sent"):
        lim.acquire(20)  # the window frees in 60 s: past the deadline, nothing is spent
    assert now[0] == 0.0 and lim.used() == 100
    assert lim.backoff() == 0.5  # a short back-off still fits
    lim.stop_waiting_after(None)
    lim.acquire(20)
    assert now[0] == 60.0


def test_a_deadline_set_during_a_wait_ends_it():
    # a signal handler asks for a stop while the limiter sleeps: the wait ends within a slice
    now = [0.0]
    lim = WeightLimiter(capacity=100, window_s=60, clock=lambda: now[0])

    def sleep(s):
        now[0] += s
        if now[0] >= 5.0 and lim.deadline is None:
            lim.stop_waiting_after(2.0)

    lim._sleep = sleep
    lim.acquire(100)
    with pytest.raises(VenueUnavailable):
        lim.acquire(1)
    assert now[0] == 5.0


def test_venue_rules_before_sending(exchange):
    handle, wallet = exchange
    b = HyperliquidBackend(handle.url, wallet=wallet)
    n = handle.n_requests
    with pytest.raises(OrderRejected, match="minimum of 10 USD"):
        b.submit(OrderIntent("r", "BTC", "buy", 0.0001, order_type="limit", limit_px=50_000.0))
    with pytest.raises(OrderRejected, match="rounds to 0"):
        b.submit(OrderIntent("r", "BTC", "buy", 0.000001, order_type="limit", limit_px=50_000.0))
    assert handle.n_requests == n  # refused before anything was sent
    # an unrounded price and size are rounded to the venue's tick and lot, and accepted
    order = b.submit(OrderIntent("r", "BTC", "buy", 0.0123456, order_type="limit",
                                 limit_px=b.mid("BTC") * 0.812345678))  # fmt: skip
    (listed,) = b.open_orders()
    assert listed.size == 0.01235 and listed.oid == order.oid
    assert len(f"{listed.limit_px:.10g}".replace(".", "").strip("0")) <= 5
    with pytest.raises(ConfigError, match="unknown symbol"):
        b.submit(OrderIntent("r", "DOGE", "buy", 1.0))


def test_mainnet_needs_an_explicit_switch():
    with pytest.raises(ConfigError, match="allow_mainnet"):
        HyperliquidBackend(MAINNET_URL, wallet=Account.create())
