"""fetch/record into the local store, with a fake source (no network)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantlab.data.fetch import FETCH_SOURCES, fetch, make_source, record
from quantlab.data.hyperliquid import HyperliquidSource
from quantlab.data.intervals import to_utc
from quantlab.data.schema import validate
from quantlab.data.store import Store
from quantlab.errors import ConfigError, SourceError

T0 = pd.Timestamp("2024-01-01", tz="UTC")
HOUR = pd.Timedelta("1h")


class FakeSource:
    """Serve hourly bars like a venue: closed bars only, and only the most recent ones.

    A bar's values depend on its time alone, so fetching it again gives the same row.
    """

    def __init__(self, now: pd.Timestamp, served: int = 60, fail: set[str] | None = None):
        self.now = now
        self.served = served
        self.fail = fail or set()
        self.calls: list[tuple[Any, ...]] = []

    def bars(self, symbol: str, interval: str, start: Any, end: Any, **kw: Any) -> pd.DataFrame:
        self.calls.append((symbol, interval, start, end, kw))
        if symbol in self.fail:
            raise SourceError(f"fake: {symbol} is down")
        assert interval == "1h"
        last_open = self.now.floor("h") - HOUR
        index = pd.date_range(end=last_open, periods=self.served, freq="h", name="time", unit="ns")
        if start is not None:
            index = index[index >= to_utc(start)]
        if end is not None:
            index = index[index < to_utc(end)]
        if not len(index):
            raise SourceError(f"fake: no closed {symbol} bar")
        hours = ((index - T0) / HOUR).to_numpy()
        base = 100.0 + len(symbol) + np.sin(hours / 7.0)
        return pd.DataFrame(
            {
                "open": base,
                "high": base + 1.0,
                "low": base - 1.0,
                "close": base + 0.5,
                "volume": 10.0 + np.abs(hours),
                "funding_rate": np.full(len(index), 1e-5),
            },
            index=index,
        )


def _clock(fake: FakeSource):
    return lambda: fake.now


def test_fetch_days_into_the_store_with_progress(tmp_path, capsys):
    fake = FakeSource(now=T0 + 100 * HOUR, served=100)
    store = Store(tmp_path)
    rows = fetch(
        "hyperliquid", "BTC, ETH", "1h", days=2, store=store, source_obj=fake, clock=_clock(fake)
    )
    assert rows == {"BTC": 48, "ETH": 48}
    assert fake.calls[0][2:4] == (fake.now - pd.Timedelta(days=2), fake.now)
    err = capsys.readouterr().err
    assert "fetch hyperliquid 1h" in err and "2/2" in err
    for symbol in ("BTC", "ETH"):
        df = validate(store.read("hyperliquid", symbol, "1h"), "1h")
        assert len(df) == 48 and df.index[-1] == T0 + 99 * HOUR
    cov = store.coverage()
    assert sorted(cov["symbol"]) == ["BTC", "ETH"] and set(cov["rows"]) == {48}


def test_fetch_start_end_and_options_pass_through(tmp_path, capsys):
    fake = FakeSource(now=T0 + 100 * HOUR, served=100)
    rows = fetch(
        "venue",
        ["SOL"],
        "1h",
        start="2024-01-02",
        end="2024-01-03",
        store=tmp_path,
        progress=False,
        source_obj=fake,
        funding="optional",
    )
    assert rows == {"SOL": 24}
    assert fake.calls == [("SOL", "1h", "2024-01-02", "2024-01-03", {"funding": "optional"})]
    assert capsys.readouterr().err == ""
    assert Store(tmp_path).read("venue", "SOL", "1h").index[0] == T0 + 24 * HOUR


def test_fetch_again_does_not_duplicate(tmp_path):
    fake = FakeSource(now=T0 + 50 * HOUR, served=50)
    for _ in range(2):
        fetch(
            "v",
            "BTC",
            "1h",
            days=1,
            store=tmp_path,
            progress=False,
            source_obj=fake,
            clock=_clock(fake),
        )
        fake.now += 3 * HOUR
    df = Store(tmp_path).read("v", "BTC", "1h")
    assert df.index.is_unique and len(df) == 27


def test_fetch_failures_are_named_and_the_rest_is_stored(tmp_path):
    fake = FakeSource(now=T0 + 30 * HOUR, fail={"BAD"})
    with pytest.raises(SourceError) as info:
        fetch("v", "BTC,BAD", "1h", store=tmp_path, progress=False, source_obj=fake)
    message = str(info.value)
    assert "fetch: 1 of 2 symbol(s) failed (BAD: fake: BAD is down)" in message
    assert "stored: BTC 60 rows" in message
    assert len(Store(tmp_path).read("v", "BTC", "1h")) == 60


def test_fetch_refuses_bad_arguments(tmp_path):
    fake = FakeSource(now=T0)
    kw = {"store": tmp_path, "progress": False, "source_obj": fake}
    with pytest.raises(ConfigError, match="days or start"):
        fetch("v", "BTC", "1h", days=3, start="2024-01-01", **kw)
    with pytest.raises(ConfigError, match="days: must be a positive"):
        fetch("v", "BTC", "1h", days=-1, **kw)
    with pytest.raises(ConfigError, match="symbols"):
        fetch("v", " , ", "1h", **kw)
    with pytest.raises(ConfigError, match="interval"):
        fetch("v", "BTC", "an hour", **kw)
    with pytest.raises(
        ConfigError, match=r"cannot fetch from 'binance'; known: \('hyperliquid',\)"
    ):
        fetch("binance", "BTC", "1h", store=tmp_path, progress=False)
    assert fake.calls == []


def test_make_source_builds_hyperliquid_without_network():
    src = make_source("hyperliquid")
    assert isinstance(src, HyperliquidSource) and src._info is None
    assert FETCH_SOURCES == ("hyperliquid",)


def test_record_extends_the_archive_beyond_what_the_venue_serves(tmp_path):
    fake = FakeSource(now=T0 + 200 * HOUR, served=60)
    store = Store(tmp_path)
    first = record(
        "v", "BTC", "1h", store=store, initial_days=1, source_obj=fake, clock=_clock(fake)
    )
    assert first == {"BTC": 24}
    for _ in range(5):  # the venue moves on 40 bars between runs (it serves only 60)
        fake.now += 40 * HOUR
        record("v", ["BTC"], "1h", store=store, overlap=2, source_obj=fake)
        start = fake.calls[-1][2]
        assert start == store.read("v", "BTC", "1h").index[-1] - 42 * HOUR
    df = validate(store.read("v", "BTC", "1h"), "1h")  # no gap, no duplicate
    assert len(df) == 24 + 5 * 40 and len(df) > fake.served
    assert df.index[0] == T0 + 176 * HOUR and df.index[-1] == fake.now.floor("h") - HOUR
    reference = fake.bars("BTC", "1h", None, None)  # the venue's view now: the last 60
    pd.testing.assert_frame_equal(df.iloc[-60:], reference, check_freq=False)


def test_record_logs_a_gap_when_run_too_rarely(tmp_path, caplog):
    fake = FakeSource(now=T0 + 100 * HOUR, served=60)
    record("v", "BTC", "1h", store=tmp_path, source_obj=fake)
    fake.now += 100 * HOUR
    with caplog.at_level(logging.WARNING, logger="quantlab.data.fetch"):
        record("v", "BTC", "1h", store=tmp_path, source_obj=fake)
    assert "the bars between are lost" in caplog.text
    assert len(Store(tmp_path).read("v", "BTC", "1h")) == 120


def test_record_loop_keeps_going_and_survives_a_failed_round(tmp_path, caplog):
    fake = FakeSource(now=T0 + 48 * HOUR + pd.Timedelta("1min"), served=48)
    naps: list[float] = []

    def nap(seconds: float) -> None:  # time passes for the venue
        naps.append(seconds)
        fake.now += pd.Timedelta(seconds=seconds)
        fake.fail = {"ETH"} if len(naps) == 1 else set()

    with caplog.at_level(logging.WARNING, logger="quantlab.data.fetch"):
        totals = record(
            "v",
            "BTC,ETH",
            "1h",
            store=tmp_path,
            loop_every=3600,
            iterations=3,
            source_obj=fake,
            sleep=nap,
            overlap=0,
        )
    assert len(naps) == 2 and all(3599 < s <= 3600 for s in naps)
    assert "ETH is down" in caplog.text
    # BTC: 48 + 2 rounds of (1 stored again + 1 new); ETH missed round 2 and caught up
    assert totals == {"BTC": 48 + 2 + 2, "ETH": 48 + 3}
    store = Store(tmp_path)
    for symbol in ("BTC", "ETH"):
        df = validate(store.read("v", symbol, "1h"), "1h")
        assert len(df) == 50 and df.index.is_unique


def test_record_once_raises_on_failure(tmp_path):
    fake = FakeSource(now=T0 + 10 * HOUR, fail={"ETH"})
    with pytest.raises(SourceError, match=r"record: 1 of 2 symbol\(s\) failed \(ETH"):
        record("v", "BTC,ETH", "1h", store=tmp_path, source_obj=fake)
    with pytest.raises(ConfigError, match="overlap"):
        record("v", "BTC", "1h", store=tmp_path, source_obj=fake, overlap=-1)
