"""Hyperliquid source: the real SDK on real recorded wire data, and pagination offline.

Recorded cassettes (``../shared/fixtures/hyperliquid_sdk_cassettes``) are replayed at the
``requests`` transport level, so ``Info``/``API.post``/``API._handle_exception`` run for
real. Pagination, retries and the funding merge run against :class:`FakeVenue`, a transport
that answers like the venue from a synthetic market (5,000 candles and 500 settlements at
most per answer, only recent candles served).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from cassette import load_cassette, replay, retarget, serve
from requests.adapters import BaseAdapter

import quantlab as ql
from quantlab.data.hyperliquid import (
    CANDLE_PAGE_ROWS,
    EMPTY_SPOT_META,
    FUNDING_PAGE_ROWS,
    HyperliquidSource,
    funding_to_bars,
    load_hyperliquid,
)
from quantlab.data.intervals import interval_timedelta
from quantlab.data.schema import DataQualityWarning, validate
from quantlab.errors import ConfigError, DataError, SourceError

HOUR = 3_600_000

# The recorded requests (the SDK test suite's arguments).
CANDLE_START, CANDLE_END = 1684702007000, 1684784807000
FUNDING_START, FUNDING_END = 1681923833000, 1684811870000
RECORDED_AT = "2023-07-17 21:43:21"  # the Date header of the [None] recording


@pytest.fixture(scope="module")
def cassettes(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "hyperliquid_sdk_cassettes"
    if not path.is_dir():
        pytest.skip(f"Hyperliquid SDK cassettes not found at {path}")
    return path


def _cassette(cassettes: Path, name: str) -> list:
    folder = "deleted_from_head" if name.startswith("test_batch") else "info_test"
    return load_cassette(cassettes / folder / f"{name}.yaml")


def _source(**kw: Any) -> HyperliquidSource:
    kw.setdefault("page_sleep", 0.0)
    kw.setdefault("backoff", 0.0)
    return HyperliquidSource(**kw)


# ------------------------------------------------------------------ real recorded data


def test_no_network_at_construction():
    with replay([]) as adapter:
        src = HyperliquidSource()
        repr(src)
    assert adapter.calls == []


def test_candles_parse_real_wire_data(cassettes):
    recorded = _cassette(cassettes, "test_get_candles_snapshot")
    raw = recorded[1].json()
    with replay(recorded) as adapter:
        df = _source().candles("kPEPE", "1h", CANDLE_START, CANDLE_END)
    # the SDK sent exactly the recorded requests: meta (with dex="") then one page
    assert [c[2]["type"] for c in adapter.calls] == ["meta", "candleSnapshot"]
    assert adapter.calls[1][2]["req"] == {
        "coin": "kPEPE",
        "interval": "1h",
        "startTime": CANDLE_START,
        "endTime": CANDLE_END,
    }
    assert len(raw) == 24
    # the venue also served the candle containing startTime (opened 56 min before it);
    # [start, end) on open times keeps the 23 that open inside the range
    assert raw[0]["t"] < CANDLE_START <= raw[1]["t"]
    assert len(df) == 23
    assert isinstance(df.index, pd.DatetimeIndex) and str(df.index.tz) == "UTC"
    assert df.index.name == "time"
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "trades"]
    assert (df.dtypes == np.float64).all()
    for row in raw[1:]:
        bar = df.loc[pd.Timestamp(row["t"], unit="ms", tz="UTC")]
        assert bar["open"] == float(row["o"])
        assert bar["high"] == float(row["h"])
        assert bar["low"] == float(row["l"])
        assert bar["close"] == float(row["c"])
        assert bar["volume"] == float(row["v"])
        assert bar["trades"] == row["n"]
        assert row["T"] == row["t"] + HOUR - 1
    first = df.iloc[0]
    assert df.index[0] == pd.Timestamp("2023-05-21 21:00", tz="UTC")
    assert (first["open"], first["close"], first["trades"]) == (0.001603, 0.001591, 802.0)
    assert df.index[-1] == pd.Timestamp("2023-05-22 19:00", tz="UTC")
    assert (np.diff(df.index.asi8) == HOUR * 1_000_000).all()
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    assert (df[["open", "high", "low", "close"]] > 0).all().all()


def test_candles_keep_only_closed_bars(cassettes):
    recorded = _cassette(cassettes, "test_get_candles_snapshot")
    with replay(recorded):
        df = _source().candles("kPEPE", "1h", CANDLE_START, CANDLE_END, now=CANDLE_END)
    # at endTime (19:46:47) the 19:00 candle was still open
    assert df.index[-1] == pd.Timestamp("2023-05-22 18:00", tz="UTC")
    assert len(df) == 22


def test_bars_without_funding_from_real_wire_data(cassettes):
    recorded = _cassette(cassettes, "test_get_candles_snapshot")
    with replay(recorded) as adapter:
        df = _source().bars("kPEPE", "1h", CANDLE_START, CANDLE_END, funding="none")
    assert [c[2]["type"] for c in adapter.calls] == ["meta", "candleSnapshot"]
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "trades"]
    validate(df, "1h")


def test_funding_history_real_wire_data(cassettes):
    recorded = _cassette(cassettes, "test_get_funding_history[None]")
    raw = recorded[1].json()
    with replay(recorded) as adapter:
        df = _source().funding("BTC", FUNDING_START, now=RECORDED_AT)
    # no endTime -> the SDK's request carries none; one page sufficed: the next settlement
    # (22:00) was not due before the recording time
    assert adapter.calls[1][2] == {
        "type": "fundingHistory",
        "coin": "BTC",
        "startTime": FUNDING_START,
    }
    assert len(adapter.calls) == 2
    assert len(df) == len(raw) == 1038
    assert list(df.columns) == ["funding_rate", "premium"]
    assert (df.dtypes == np.float64).all()
    assert str(df.index.tz) == "UTC" and df.index.is_monotonic_increasing
    assert df.index[0] == pd.Timestamp("2023-05-12 00:00:00.048", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2023-07-17 21:00:00.065", tz="UTC")
    assert df["funding_rate"].iloc[0] == -0.00061334
    assert df["premium"].iloc[0] == -0.00091334
    assert df["funding_rate"].iloc[-1] == 0.0000125
    assert df["premium"].iloc[-1] == 0.00007028
    np.testing.assert_array_equal(df["funding_rate"], [float(r["fundingRate"]) for r in raw])
    np.testing.assert_array_equal(df.index.asi8 // 1_000_000, [r["time"] for r in raw])


def test_funding_history_with_end_real_wire_data(cassettes):
    recorded = _cassette(cassettes, "test_get_funding_history[1684811870000]")
    with replay(recorded) as adapter:
        df = _source().funding("BTC", FUNDING_START, FUNDING_END)
    assert adapter.calls[1][2]["endTime"] == FUNDING_END
    assert len(df) == 34  # a short page: the range is exhausted
    assert df.index[0] == pd.Timestamp("2023-05-12 00:00:00.048", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2023-05-23 00:00:00.022", tz="UTC")
    assert df["funding_rate"].iloc[-1] == -0.00018991
    # early history settled every 8 hours
    assert (np.diff(df.index.floor("h")) == pd.Timedelta("8h")).all()


def _funding_oracle(index: pd.DatetimeIndex, interval: str, settlements: pd.Series):
    """An independent pandas computation of :func:`funding_to_bars`."""
    step = interval_timedelta(interval)
    hour = settlements.index.floor("h")
    bar_open = hour.ceil(step) - step  # the bar [t, t + step) with t < hour <= t + step
    paid = settlements.groupby(bar_open).sum() / (step / pd.Timedelta("1h"))
    out = paid.reindex(index, fill_value=0.0)
    ends = index + step
    covered = (ends >= hour.min()) & (ends < hour.max() + pd.Timedelta("1h"))
    return out.where(covered)


@pytest.mark.parametrize("interval", ["1h", "4h", "15m"])
def test_real_funding_merges_onto_bars(cassettes, interval):
    recorded = _cassette(cassettes, "test_get_funding_history[None]")
    with replay(recorded):
        settlements = _source().funding("BTC", FUNDING_START, now=RECORDED_AT)["funding_rate"]
    freq = interval_timedelta(interval)
    index = pd.date_range("2023-05-11", "2023-07-18", freq=freq, tz="UTC", name="time")
    rate = funding_to_bars(index, interval, settlements)
    pd.testing.assert_series_equal(
        rate, _funding_oracle(index, interval, settlements), check_names=False
    )
    hours = interval_timedelta(interval) / pd.Timedelta("1h")
    covered = rate.dropna()
    # every settlement of the covered span is paid in exactly one bar: money is conserved
    in_span = settlements.index.floor("h") <= covered.index[-1] + interval_timedelta(interval)
    assert (covered * hours).sum() == pytest.approx(settlements[in_span].sum(), abs=1e-15)
    # (the 4h bar 20:00-24:00 would need the 22:00-24:00 settlements, not yet due)
    assert in_span.sum() == len(settlements) - (interval == "4h")
    assert covered.index[0] + interval_timedelta(interval) == pd.Timestamp("2023-05-12", tz="UTC")
    assert covered.index[-1] + interval_timedelta(interval) < pd.Timestamp(
        "2023-07-17 22:00", tz="UTC"
    )
    assert rate.index[rate.isna()].size == len(rate) - len(covered)


def test_real_funding_settlement_attribution(cassettes):
    recorded = _cassette(cassettes, "test_get_funding_history[None]")
    with replay(recorded):
        settlements = _source().funding("BTC", FUNDING_START, now=RECORDED_AT)["funding_rate"]
    index = pd.date_range("2023-05-11", "2023-07-18", freq="1h", tz="UTC", name="time")
    rate = funding_to_bars(index, "1h", settlements)

    def at(ts: str) -> float:
        return rate.loc[pd.Timestamp(ts, tz="UTC")]

    # the 00:00:00.048 settlement pays the hour that ends at midnight
    assert at("2023-05-11 23:00") == -0.00061334
    assert np.isnan(at("2023-05-11 22:00"))  # before the history begins
    assert at("2023-05-12 00:00") == 0.0  # 8-hourly era: nothing paid at 01:00
    # settled 23 min 53 s late (08:23:53.040): still the 08:00 settlement
    assert at("2023-05-23 07:00") == -0.00017541
    assert at("2023-05-23 08:00") == 0.0
    # settled 5.457 s late: still the 18:00 settlement
    assert at("2023-07-12 17:00") == 0.00004173
    # the venue recorded no settlement at 2023-07-02 20:00: nothing paid
    assert at("2023-07-02 19:00") == 0.0
    assert at("2023-07-17 20:00") == 0.0000125  # the last settlement (21:00:00.065)
    assert np.isnan(at("2023-07-17 21:00"))  # its 22:00 settlement was not yet due


def test_recorded_http_500_is_a_server_error_in_the_sdk(cassettes):
    from hyperliquid.api import API
    from hyperliquid.utils.error import ServerError

    (recorded,) = _cassette(cassettes, "test_batch_clearinghouse_states")
    assert recorded.status == 500
    with replay([recorded]), pytest.raises(ServerError) as info:
        API().post("/info", recorded.request_json())
    assert (info.value.status_code, info.value.message) == (500, "null")


def test_recorded_http_500_becomes_a_clear_source_error(cassettes):
    from hyperliquid.utils.error import ServerError

    meta = _cassette(cassettes, "test_get_candles_snapshot")[0]
    (error,) = _cassette(cassettes, "test_batch_clearinghouse_states")
    start, end = 1700000000000, 1700003600000
    request = {
        "type": "candleSnapshot",
        "req": {"coin": "BTC", "interval": "1h", "startTime": start, "endTime": end},
    }
    sleeps: list[float] = []
    src = HyperliquidSource(page_sleep=0, max_retries=2, backoff=0.5, sleep=sleeps.append)
    served = [meta, retarget(error, request)]
    with replay(served, repeats=True) as adapter, pytest.raises(SourceError) as info:
        src.candles("BTC", "1h", start, end, now=end)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("hyperliquid: candleSnapshot BTC 1h 2023-11-14T22:13:20")
    assert "HTTP 500" in message and "'null'" in message and "after 3 attempt(s)" in message
    assert isinstance(info.value.__cause__, ServerError)
    assert len(adapter.calls) == 1 + 3 and sleeps == [0.5, 1.0]


def test_unknown_coin_is_named(cassettes):
    meta = _cassette(cassettes, "test_get_candles_snapshot")[:1]
    with replay(meta) as adapter:
        src = _source()
        with pytest.raises(ConfigError, match=r"'DOGEZ' is not a Hyperliquid perp \(28 listed"):
            src.candles("DOGEZ", "1h", CANDLE_START, CANDLE_END)
        with pytest.raises(ConfigError, match="did you mean 'kPEPE'"):
            src.funding("KPEPE", FUNDING_START)
    assert len(adapter.calls) == 1  # meta once; the client is reused


def test_bad_arguments_are_config_errors():
    src = _source(info_factory=lambda: pytest.fail("no request for bad arguments"))
    with pytest.raises(ConfigError, match="interval: '7m'"):
        src.candles("BTC", "7m", "2024-01-01", "2024-01-02")
    with pytest.raises(ConfigError, match="funding: must be one of"):
        src.bars("BTC", "1h", "2024-01-01", "2024-01-02", funding="maybe")
    with pytest.raises(ConfigError, match="max_retries"):
        HyperliquidSource(max_retries=-1)
    with pytest.raises(ConfigError, match="load: unknown option"):
        load_hyperliquid("BTC", "1h", "2024-01-01", "2024-01-02", fundng="none")


def test_start_must_precede_end():
    src = _source(info_factory=lambda: pytest.fail("no request for bad arguments"))
    with pytest.raises(ConfigError, match="is not before end"):
        src.candles("BTC", "1h", "2024-01-02", "2024-01-01")


# ------------------------------------------------------------------ a fake venue


T0 = 1_704_067_200_000  # 2024-01-01T00:00Z


class FakeVenue(BaseAdapter):
    """Answer ``/info`` like Hyperliquid from a synthetic market.

    Candles: ``n_candles`` bars of ``interval`` from ``T0``; a request gets the candles
    overlapping ``[startTime, endTime]`` (the one containing ``startTime`` included, the
    one in progress at ``now`` too), only the most recent ``served`` ones, at most
    ``candle_cap`` per answer. Funding: hourly settlements a few ms after each hour
    (``funding_from`` on), at most 500 per answer. ``fail`` queues HTTP statuses to
    answer before the real ones.
    """

    def __init__(
        self,
        now: int,
        interval: str = "1h",
        n_candles: int = 1000,
        served: int = CANDLE_PAGE_ROWS,
        candle_cap: int = CANDLE_PAGE_ROWS,
        funding_from: int = T0 - 24 * HOUR,
        seed: int = 3,
    ) -> None:
        super().__init__()
        self.now = now
        self.interval = interval
        self.iv = int(interval_timedelta(interval).total_seconds() * 1000)
        self.opens = T0 + self.iv * np.arange(n_candles, dtype=np.int64)
        rng = np.random.default_rng(seed)
        close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n_candles)))
        open_ = np.concatenate([[100.0], close[:-1]])
        self.o, self.c = np.round(open_, 4), np.round(close, 4)
        self.h = np.round(np.maximum(self.o, self.c) * (1 + rng.uniform(0, 0.01, n_candles)), 4)
        self.low = np.round(np.minimum(self.o, self.c) * (1 - rng.uniform(0, 0.01, n_candles)), 4)
        self.v = np.round(rng.gamma(2, 50, n_candles), 2)
        self.n = rng.integers(1, 500, n_candles)
        self.served = served
        self.candle_cap = candle_cap
        hours = np.arange(funding_from, self.opens[-1] + self.iv + 2 * HOUR, HOUR)
        self.settle = hours + rng.integers(5, 900, hours.size)
        self.rates = np.round(rng.normal(1e-5, 2e-5, hours.size), 8)
        self.fail: list[int | str] = []
        self.requests: list[dict] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = json.loads(request.body)
        self.requests.append(body)
        if self.fail and self.fail[0] == "reset":
            self.fail.pop(0)
            raise requests.ConnectionError("connection reset by peer")
        status, payload = (
            (self.fail.pop(0), {"code": 0, "msg": "nope"})
            if self.fail
            else (
                200,
                self.answer(body),
            )
        )
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def answer(self, body: dict) -> Any:
        if body["type"] == "meta":
            return {
                "universe": [{"name": "BTC", "szDecimals": 5}, {"name": "ETH", "szDecimals": 4}]
            }
        if body["type"] == "candleSnapshot":
            req = body["req"]
            assert req["interval"] == self.interval
            first_served = max(0, len(self.opens) - self.served)
            k = np.flatnonzero(
                (self.opens + self.iv > req["startTime"])
                & (self.opens <= req["endTime"])
                & (self.opens <= self.now)
                & (np.arange(len(self.opens)) >= first_served)
            )[: self.candle_cap]
            return [
                {
                    "t": int(self.opens[i]),
                    "T": int(self.opens[i] + self.iv - 1),
                    "o": str(self.o[i]),
                    "h": str(self.h[i]),
                    "l": str(self.low[i]),
                    "c": str(self.c[i]),
                    "v": str(self.v[i]),
                    "n": int(self.n[i]),
                    "i": self.interval,
                    "s": req["coin"],
                }
                for i in k
            ]
        if body["type"] == "fundingHistory":
            end = body.get("endTime", self.now)
            k = np.flatnonzero(
                (self.settle >= body["startTime"]) & (self.settle <= min(end, self.now))
            )[:FUNDING_PAGE_ROWS]
            return [
                {
                    "coin": body["coin"],
                    "fundingRate": str(self.rates[i]),
                    "premium": "0.0001",
                    "time": int(self.settle[i]),
                }
                for i in k
            ]
        raise AssertionError(f"unexpected request {body}")

    def expected(self, start: int, end: int) -> pd.DataFrame:
        keep = (self.opens >= start) & (self.opens < end) & (self.opens + self.iv <= self.now)
        keep &= np.arange(len(self.opens)) >= max(0, len(self.opens) - self.served)
        index = pd.to_datetime(self.opens[keep], unit="ms", utc=True).as_unit("ns")
        return pd.DataFrame(
            {
                "open": self.o[keep],
                "high": self.h[keep],
                "low": self.low[keep],
                "close": self.c[keep],
                "volume": self.v[keep],
                "trades": self.n[keep].astype(np.float64),
            },
            index=pd.DatetimeIndex(index, name="time"),
        )

    def of_type(self, kind: str) -> list[dict]:
        return [r for r in self.requests if r["type"] == kind]


def test_candles_paginate_over_5000_bars():
    venue = FakeVenue(now=T0 + 12_000 * HOUR, n_candles=12_000, served=12_000)
    sleeps: list[float] = []
    src = HyperliquidSource(page_sleep=0.2, sleep=sleeps.append)
    with serve(venue):
        df = src.candles("BTC", "1h", T0, T0 + 12_000 * HOUR, now=venue.now)
    pd.testing.assert_frame_equal(df, venue.expected(T0, T0 + 12_000 * HOUR))
    pages = venue.of_type("candleSnapshot")
    assert len(pages) == 3
    for page in pages:
        span = page["req"]["endTime"] - page["req"]["startTime"]
        assert span // HOUR + 1 <= CANDLE_PAGE_ROWS
    assert [p["req"]["startTime"] for p in pages] == [T0, T0 + 5000 * HOUR, T0 + 10_000 * HOUR]
    assert sleeps == [0.2, 0.2]  # polite pause between pages, none before the first


def test_candles_advance_past_last_returned_bar_and_stop_on_empty_page():
    # the venue answers at most 700 candles: pages overlap the window; an empty page ends it
    venue = FakeVenue(now=T0 + 2000 * HOUR, n_candles=1500, candle_cap=700)
    start = T0 + 30 * 60_000  # unaligned: the venue also serves the candle containing it
    with serve(venue):
        df = _source().candles("BTC", "1h", start, T0 + 2000 * HOUR, now=venue.now)
    pd.testing.assert_frame_equal(df, venue.expected(start, T0 + 2000 * HOUR))
    assert df.index.is_unique and len(df) == 1499
    starts = [p["req"]["startTime"] for p in venue.of_type("candleSnapshot")]
    assert starts == [start, T0 + 700 * HOUR, T0 + 1400 * HOUR, T0 + 1500 * HOUR]


def test_candles_skip_windows_older_than_the_venue_serves():
    # 11,000 bars exist but only the most recent 5,000 are served: the first window is
    # empty and the walk goes on
    venue = FakeVenue(now=T0 + 11_000 * HOUR, n_candles=11_000, served=5000)
    with serve(venue):
        df = _source().candles("BTC", "1h", T0, T0 + 11_000 * HOUR, now=venue.now)
    assert len(df) == 5000
    assert df.index[0] == pd.Timestamp(T0 + 6000 * HOUR, unit="ms", tz="UTC")
    pd.testing.assert_frame_equal(df, venue.expected(T0, T0 + 11_000 * HOUR))


def test_funding_paginates_500_rows_a_page():
    venue = FakeVenue(now=T0 + 1300 * HOUR, n_candles=1298)
    with serve(venue):
        df = _source().funding("BTC", T0, now=venue.now)
    pages = venue.of_type("fundingHistory")
    assert len(pages) == 3
    assert pages[1]["startTime"] == int(venue.settle[venue.settle >= T0][499]) + 1
    expected = venue.settle[(venue.settle >= T0) & (venue.settle <= venue.now)]
    np.testing.assert_array_equal(df.index.asi8 // 1_000_000, expected)
    assert df.index.is_unique


def test_transient_errors_are_retried_with_backoff():
    venue = FakeVenue(now=T0 + 50 * HOUR, n_candles=48)
    sleeps: list[float] = []
    src = HyperliquidSource(page_sleep=0, max_retries=3, backoff=0.25, sleep=sleeps.append)
    with serve(venue):
        src.info  # noqa: B018 - build the client first
        venue.fail = [502, "reset", 429]
        df = src.candles("BTC", "1h", T0, T0 + 48 * HOUR, now=venue.now)
        assert len(df) == 48 and sleeps == [0.25, 0.5, 1.0]
        venue.fail = ["reset"] * 4
        with pytest.raises(SourceError, match="ConnectionError: connection reset by peer after 4"):
            src.funding("BTC", T0, T0 + HOUR)


def test_client_error_is_not_retried_and_names_the_request():
    venue = FakeVenue(now=T0 + 50 * HOUR, n_candles=48)
    with serve(venue):
        src = _source()
        src.info  # noqa: B018
        venue.fail = [422]
        with pytest.raises(SourceError, match=r"fundingHistory BTC .*HTTP 422 \(request refused"):
            src.funding("BTC", T0, T0 + HOUR)
    assert len(venue.of_type("fundingHistory")) == 1


def test_failing_meta_is_a_source_error():
    venue = FakeVenue(now=T0 + 50 * HOUR)
    venue.fail = [500, 500]
    with serve(venue), pytest.raises(SourceError, match=r"meta \(perp universe\): HTTP 500"):
        _source(max_retries=1).candles("BTC", "1h", T0, T0 + HOUR)


def test_bars_merge_funding_from_the_venue():
    venue = FakeVenue(now=T0 + 100 * HOUR + 5 * 60_000, n_candles=100)
    with serve(venue):
        df = _source().bars("BTC", "1h", T0, now=venue.now)
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "funding_rate", "trades"]
    validate(df, "1h")
    # bar [t, t+1h) carries the settlement of hour t+1h
    paid = dict(zip(venue.settle - venue.settle % HOUR, venue.rates, strict=True))
    for t, rate in df["funding_rate"].items():
        assert rate == paid[t.value // 1_000_000 + HOUR]
    candles = venue.expected(T0, venue.now)
    pd.testing.assert_frame_equal(df.drop(columns="funding_rate"), candles)


def test_bars_4h_funding_is_a_per_hour_rate():
    venue = FakeVenue(now=T0 + 200 * HOUR, interval="4h", n_candles=40)
    with serve(venue):
        df = _source().bars("BTC", "4h", T0, now=venue.now)
    hours = venue.settle - venue.settle % HOUR
    for t, rate in df["funding_rate"].items():
        t_ms = t.value // 1_000_000
        inside = (hours > t_ms) & (hours <= t_ms + 4 * HOUR)
        assert inside.sum() == 4
        assert rate == pytest.approx(venue.rates[inside].sum() / 4, rel=1e-12)


def test_bars_outside_funding_history_policies():
    # funding history starts 10 hours after the first candle
    venue = FakeVenue(now=T0 + 60 * HOUR + 60_000, n_candles=60, funding_from=T0 + 10 * HOUR)
    with serve(venue):
        src = _source()
        with pytest.raises(SourceError) as info:
            src.bars("BTC", "1h", T0, now=venue.now)
        message = str(info.value)
        assert "bar 2024-01-01T00:00:00+00:00 is outside the funding history" in message
        assert "9 of 60 bar(s) uncovered" in message and "funding='optional'" in message
        with pytest.warns(DataQualityWarning, match="column dropped"):
            df = src.bars("BTC", "1h", T0, now=venue.now, funding="optional")
        assert "funding_rate" not in df.columns and len(df) == 60
        before = len(venue.of_type("fundingHistory"))
        df = src.bars("BTC", "1h", T0, now=venue.now, funding="none")
        assert "funding_rate" not in df.columns
        assert len(venue.of_type("fundingHistory")) == before


def test_bars_are_causal_in_now():
    venue = FakeVenue(now=T0 + 80 * HOUR, n_candles=80)
    with serve(venue):
        full = _source().bars("BTC", "1h", T0, now=venue.now)
        for cut in (20, 47):
            venue.now = T0 + cut * HOUR + 90_000  # 1.5 min after bar `cut - 1` closed
            part = _source().bars("BTC", "1h", T0, now=venue.now)
            pd.testing.assert_frame_equal(part, full.iloc[:cut])


def test_bars_empty_range_is_a_source_error():
    venue = FakeVenue(now=T0 + 10 * HOUR, n_candles=10)
    with serve(venue), pytest.raises(SourceError, match="no closed BTC 1h candle"):
        _source().bars("BTC", "1h", T0 - 100 * HOUR, T0 - 50 * HOUR, now=venue.now)


def test_bad_candle_is_refused():
    venue = FakeVenue(now=T0 + 10 * HOUR, n_candles=10)
    venue.h[3] = venue.low[3] / 2
    with serve(venue), pytest.raises(DataError, match="2024-01-01T03:00:00"):
        _source().bars("BTC", "1h", T0, now=venue.now, funding="none")


def test_ql_data_load_hyperliquid():
    venue = FakeVenue(now=T0 + 30 * HOUR, n_candles=30)
    with serve(venue), warnings.catch_warnings():
        warnings.simplefilter("error")
        df = ql.data.load(
            "hyperliquid", symbol="ETH", interval="1h", start=T0, now=venue.now, page_sleep=0
        )
    # the bar that closed at `now` waits for its funding settlement (processed after it)
    assert len(df) == 29 and "funding_rate" in df.columns
    assert all(r["coin"] == "ETH" for r in venue.of_type("fundingHistory"))


def test_default_client_skips_spot_meta():
    venue = FakeVenue(now=T0 + 3 * HOUR, n_candles=3)
    with serve(venue):
        info = _source().info
    assert [r["type"] for r in venue.requests] == ["meta"]
    assert set(info.name_to_coin) == {"BTC", "ETH"} and EMPTY_SPOT_META["universe"] == []


def test_bars_wait_for_the_settlement_at_their_close():
    venue = FakeVenue(now=T0 + 10 * HOUR, n_candles=10)
    venue.settle[venue.settle // HOUR * HOUR == T0 + 10 * HOUR] += 20 * 60_000  # 20 min late

    def bars_at(now: int) -> pd.DataFrame:
        venue.now = now
        return _source().bars("BTC", "1h", T0, now=now)

    with serve(venue):
        assert len(bars_at(T0 + 10 * HOUR + 60_000)) == 9
        df = bars_at(T0 + 10 * HOUR + 21 * 60_000)
        assert len(df) == 10 and df["funding_rate"].notna().all()
        # a settlement missing for more than an hour is a hole in the history
        venue.settle[venue.settle // HOUR * HOUR == T0 + 10 * HOUR] += 10 * HOUR
        with pytest.raises(SourceError, match="bar 2024-01-01T09:00:00"):
            bars_at(T0 + 11 * HOUR + 60_000)
