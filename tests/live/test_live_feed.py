"""The candle feed against the local exchange: closed bars once each, and candles asked
for only when a close is due by the venue's clock (a candleSnapshot weighs 20)."""

from __future__ import annotations

import pytest

from quantlab.errors import VenueUnavailable
from quantlab.live.feed import CandleFeed

sim_mod = pytest.importorskip("quantlab.execution.sim")

HOUR_MS = 3_600_000


@pytest.fixture
def venue():
    sim = sim_mod.serve(seed=5, rate_limit=False, start="2026-01-05")
    yield sim
    sim.stop()


def _clock(sim):
    return lambda: int(sim.now_ms)


def test_candles_only_when_a_close_is_due(venue):
    feed = CandleFeed(venue.url, "BTC", "1h", lookback=10, min_poll_s=0,
                      venue_now=_clock(venue))  # fmt: skip
    venue.advance(5 * 3600.0)
    history = feed.poll()
    assert len(history) >= 1 and feed.n_candle_requests == 2  # the probe, then the lookback
    for _ in range(20):  # the venue's clock stands still: no candle is asked for
        assert feed.poll() == []
    assert feed.n_candle_requests == 2
    got = []
    for _ in range(3):
        venue.advance(3600.0)
        got += feed.poll()
    assert [b.time_ms for b in got] == [history[-1].time_ms + k * HOUR_MS for k in (1, 2, 3)]
    assert feed.n_candle_requests == 5  # one request per closed bar


def test_without_a_clock_every_poll_asks(venue):
    feed = CandleFeed(venue.url, "BTC", "1h", lookback=10, min_poll_s=0)
    venue.advance(5 * 3600.0)
    feed.poll()
    n = feed.n_candle_requests
    for _ in range(5):
        assert feed.poll() == []
    assert feed.n_candle_requests == n + 5


def test_a_clock_that_cannot_be_read_asks_for_candles(venue):
    def broken() -> int:
        raise VenueUnavailable("clearinghouseState read failed")

    feed = CandleFeed(venue.url, "BTC", "1h", lookback=10, min_poll_s=0, venue_now=broken)
    venue.advance(5 * 3600.0)
    feed.poll()
    n = feed.n_candle_requests
    venue.advance(3600.0)
    bars = feed.poll()
    assert len(bars) == 1 and feed.n_candle_requests == n + 1


def test_a_paper_runner_on_a_venues_candles_gets_its_bars(tmp_path):
    # paper fills, the local exchange's candles: the paper account's clock (its last bar)
    # must not gate the candle requests, or no bar after the first batch would ever come
    import quantlab as ql
    from quantlab.live.main import run_process

    sim = sim_mod.serve(seed=5, rate_limit=False, speed=3600.0 * 20)  # a bar every 0.05 s
    try:
        strategy = ql.backtest.ema_trend(fast=2, slow=3, gate=4, direction="both")
        status = run_process(strategy, symbol="BTC", interval="1h", mode="paper",
                             exchange_url=sim.url, run_dir=tmp_path / "run", max_bars=5,
                             options={"poll_s": 0.01})  # fmt: skip
    finally:
        sim.stop()
    assert status["bars"] >= 5 and status["mode"] == "paper"
