"""Bar feeds: where a runner's closed bars come from.

A :class:`Feed` hands out *closed* bars of one symbol, oldest first, each exactly once,
and the price at the current bar boundary (:meth:`Feed.price`; the next bar's open on
replay, the mid on a venue). Three feeds:

- :class:`FrameFeed`: a historical bar frame, replayed as fast as asked or at
  ``speed`` times real time (paper runs, parity tests, notebooks).
- :class:`SyntheticFeed`: the embedded synthetic market (``ql.data.load("synthetic")``),
  replayed like a frame; the offline default of ``mode="paper"``.
- :class:`CandleFeed`: ``candleSnapshot`` polled from a Hyperliquid ``/info`` endpoint
  (the local exchange, whose clock may run fast, or testnet); a candle counts as closed
  once a later one exists. Given the venue's clock (``venue_now``, a 2-weight read), it
  asks for candles only once the forming bar is due to close: a ``candleSnapshot``
  weighs 20 of the venue's 1,200 per minute and IP, and polling it every 2 s would
  spend half of that budget.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quantlab.data.hyperliquid import parse_candles
from quantlab.data.intervals import interval_seconds
from quantlab.errors import ConfigError, QuantlabError, SourceError
from quantlab.execution.model import Bar

__all__ = ["CandleFeed", "Feed", "FrameFeed", "SyntheticFeed", "make_feed"]


class Feed(ABC):
    """Closed bars of one symbol, oldest first, each once."""

    symbol: str
    interval: str

    @abstractmethod
    def poll(self) -> list[Bar]:
        """Return the bars closed since the last call (possibly none); never blocks long."""

    @abstractmethod
    def price(self) -> float | None:
        """Return the price at the current bar boundary (None when unknown)."""

    def skip_through(self, time_ms: int) -> None:  # noqa: B027 - optional
        """Never hand out bars opening at or before ``time_ms`` (already decided on)."""

    @property
    def exhausted(self) -> bool:
        """Return True when no bar will ever come again (end of a replay)."""
        return False

    def close(self) -> None:  # noqa: B027 - optional
        """Release resources."""


def _bar(symbol: str, t: pd.Timestamp, row: Any) -> Bar:
    fr = row.get("funding_rate", np.nan) if hasattr(row, "get") else np.nan
    return Bar(
        symbol=symbol,
        time=t,
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        close=float(row["close"]),
        volume=float(row.get("volume", np.nan)),
        funding_rate=float(fr) if fr is not None else math.nan,
    )


class FrameFeed(Feed):
    """Replay a bar frame.

    Parameters
    ----------
    df : DataFrame
        Bars on a UTC ``time`` index.
    symbol, interval : str
    speed : float, optional
        Hand out one bar per ``bar_seconds / speed`` wall-clock seconds; None: one bar per
        :meth:`poll` call, as fast as the runner asks.
    clock : callable
        Wall clock (tests).
    """

    def __init__(
        self,
        df: pd.DataFrame,
        symbol: str,
        interval: str,
        *,
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(df.index, pd.DatetimeIndex):
            raise ConfigError("feed: bars need a DatetimeIndex (bar open times)")
        self.df = df
        self.symbol = symbol
        self.interval = interval
        self.bar_seconds = float(interval_seconds(interval))
        if speed is not None and not speed > 0:
            raise ConfigError(f"feed: speed must be > 0, got {speed!r}")
        self.speed = speed
        self._clock = clock
        self._pos = 0
        self._started = clock()
        self._given = 0

    def skip_through(self, time_ms: int) -> None:
        ms = self.df.index.as_unit("ns").asi8 // 1_000_000
        self._pos = max(self._pos, int(np.searchsorted(ms, time_ms, side="right")))

    def poll(self) -> list[Bar]:
        if self._pos >= len(self.df):
            return []
        if self.speed is None:
            n = 1
        else:
            due = int((self._clock() - self._started) * self.speed / self.bar_seconds)
            n = max(due - self._given, 0)
        out = []
        for _ in range(n):
            if self._pos >= len(self.df):
                break
            t = self.df.index[self._pos]
            out.append(_bar(self.symbol, t, self.df.iloc[self._pos]))
            self._pos += 1
            self._given += 1
        return out

    def price(self) -> float | None:
        if self._pos < len(self.df):
            return float(self.df["open"].iloc[self._pos])
        return float(self.df["close"].iloc[-1]) if len(self.df) else None

    def next_bar(self) -> Bar | None:
        """Return the bar that opens at the current boundary (replay only), or None."""
        if self._pos < len(self.df):
            return _bar(self.symbol, self.df.index[self._pos], self.df.iloc[self._pos])
        return None

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self.df)


class SyntheticFeed(FrameFeed):
    """Replay the embedded synthetic market (seeded, offline)."""

    def __init__(
        self,
        symbol: str = "BTC",
        interval: str = "1h",
        *,
        seed: int = 7,
        start: str | None = None,
        end: str | None = None,
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from quantlab.data import load

        kwargs: dict[str, Any] = {"symbol": symbol, "interval": interval, "seed": seed}
        if start is not None:
            kwargs["start"] = start
        if end is not None:
            kwargs["end"] = end
        super().__init__(load("synthetic", **kwargs), symbol, interval, speed=speed, clock=clock)


class CandleFeed(Feed):
    """Poll closed candles from a Hyperliquid ``/info`` endpoint.

    Parameters
    ----------
    base_url : str
        API root (``http://127.0.0.1:8123`` for the local exchange).
    symbol, interval : str
    lookback : int
        Bars requested on the first poll (history for the strategy's warm-up).
    min_poll_s : float
        Least wall-clock time between two requests (a ``candleSnapshot`` weighs 20 of the
        venue's 1200 per minute: polling every 2 s spends half of it). A failed poll
        (429, 5xx, timeout) doubles the wait, up to 30 s, and returns no bars.
    post : callable, optional
        ``post(url, json) -> parsed JSON`` (tests); default: ``requests``.
    venue_now : callable, optional
        The venue's clock in ms (e.g. the backend's ``now_ms``). When given, candles are
        asked for only once the forming bar's close is due by that clock (a failed clock
        read asks for them anyway); without it, every ``min_poll_s``.
    """

    def __init__(
        self,
        base_url: str,
        symbol: str,
        interval: str,
        *,
        lookback: int = 500,
        min_poll_s: float = 2.0,
        timeout_s: float = 10.0,
        post: Callable[[str, dict[str, Any]], Any] | None = None,
        venue_now: Callable[[], int] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.symbol = symbol
        self.interval = interval
        self.bar_ms = int(interval_seconds(interval) * 1000)
        self.lookback = int(lookback)
        self.min_poll_s = float(min_poll_s)
        self.timeout_s = float(timeout_s)
        self._post = post or self._requests_post
        self._last_ms: int | None = None
        self._polled = -math.inf
        self._price: float | None = None
        self._backoff = 0.0
        self.venue_now = venue_now
        self._forming_ms: int | None = None  # open time of the candle still forming
        self.n_candle_requests = 0

    def _requests_post(self, url: str, body: dict[str, Any]) -> Any:
        import requests

        try:
            r = requests.post(url, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise SourceError(
                f"feed {self.symbol}: {type(exc).__name__} on {body['type']}"
            ) from None
        if r.status_code != 200:
            raise SourceError(f"feed {self.symbol}: HTTP {r.status_code} on {body['type']}")
        return r.json()

    def skip_through(self, time_ms: int) -> None:
        self._last_ms = max(self._last_ms or time_ms, time_ms)

    def poll(self) -> list[Bar]:
        now = time.monotonic()
        if now - self._polled < self.min_poll_s:
            return []
        self._polled = now
        if not self._close_due():
            return []
        try:
            bars = self._poll()
        except SourceError:
            self._backoff = min(max(2 * self._backoff, self.min_poll_s), 30.0)
            self._polled = now + self._backoff - self.min_poll_s
            raise
        self._backoff = 0.0
        return bars

    def _close_due(self) -> bool:
        """Tell whether the forming candle has closed by the venue's clock (True if unknown)."""
        if self.venue_now is None or self._forming_ms is None:
            return True
        try:
            return self.venue_now() >= self._forming_ms + self.bar_ms
        except QuantlabError:
            return True  # the clock could not be read: ask for the candles

    def _poll(self) -> list[Bar]:
        end = 2**53 if self._last_ms is None else self._last_ms + 10_000 * self.bar_ms
        start = (
            self._last_ms + self.bar_ms if self._last_ms is not None else self._server_start(end)
        )
        rows = self._post(
            self.base_url + "/info",
            {
                "type": "candleSnapshot",
                "req": {
                    "coin": self.symbol,
                    "interval": self.interval,
                    "startTime": int(start),
                    "endTime": int(end),
                },
            },
        )
        self.n_candle_requests += 1
        df = parse_candles(rows, self.symbol, self.interval)
        df = df[~df.index.duplicated(keep="last")].sort_index()
        if len(df):
            self._price = float(df["close"].iloc[-1])
            self._forming_ms = int(df.index[-1].value // 1_000_000)
        closed = df.iloc[:-1]  # the last candle is still forming
        out = []
        for t, row in closed.iterrows():
            ms = int(pd.Timestamp(t).value // 1_000_000)
            if self._last_ms is not None and ms <= self._last_ms:
                continue
            out.append(_bar(self.symbol, t, row))
            self._last_ms = ms
        return out

    def _server_start(self, end: int) -> int:
        # ask for the latest candle first to learn the venue's clock, then the lookback
        probe = self._post(
            self.base_url + "/info",
            {
                "type": "candleSnapshot",
                "req": {"coin": self.symbol, "interval": self.interval, "startTime": 0,
                        "endTime": int(end)},
            },
        )  # fmt: skip
        self.n_candle_requests += 1
        df = parse_candles(probe, self.symbol, self.interval)
        if not len(df):
            return 0
        last = int(df.index.max().value // 1_000_000)
        return last - self.lookback * self.bar_ms

    def price(self) -> float | None:
        try:
            mids = self._post(self.base_url + "/info", {"type": "allMids"})
            return float(mids[self.symbol])
        except (SourceError, KeyError, TypeError, ValueError):
            return self._price


def make_feed(
    kind: str,
    symbol: str,
    interval: str,
    *,
    exchange_url: str | None = None,
    data: str | None = None,
    seed: int = 7,
    speed: float | None = None,
    start: str | None = None,
    end: str | None = None,
    venue_now: Callable[[], int] | None = None,
) -> Feed:
    """Return a feed by name: ``synthetic``, ``file`` (``data``: a bar file) or ``candles``
    (``venue_now``: the venue's clock, see :class:`CandleFeed`)."""
    if kind == "synthetic":
        return SyntheticFeed(symbol, interval, seed=seed, start=start, end=end, speed=speed)
    if kind == "file":
        if not data:
            raise ConfigError("feed 'file': needs --data PATH (.parquet or .csv bars)")
        from quantlab.data import load

        return FrameFeed(load(data), symbol, interval, speed=speed)
    if kind == "candles":
        if not exchange_url:
            raise ConfigError("feed 'candles': needs --exchange-url")
        return CandleFeed(exchange_url, symbol, interval, venue_now=venue_now)
    raise ConfigError(f"feed: unknown kind {kind!r}; known: candles, file, synthetic")
