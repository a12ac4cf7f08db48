"""Hyperliquid perps as a source of bars: candles and hourly funding, merged.

The venue is reached through the official ``hyperliquid-python-sdk`` (``Info``), built
lazily on the first request, never at import or construction time::

    src = HyperliquidSource()
    df = src.bars("BTC", "1h", "2024-01-01", "2024-03-01")   # validated bars + funding_rate

``ql.data.load("hyperliquid", symbol=..., interval=..., start=..., end=...)`` calls
:func:`load_hyperliquid`.

Ranges are half-open ``[start, end)`` on the bar open time (as everywhere in
``quantlab.data``); only closed bars (open time + interval <= now) are returned.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlab.data.intervals import HYPERLIQUID_INTERVALS, interval_hours, interval_ms, to_utc
from quantlab.data.schema import BAR_COLUMNS, INDEX_NAME, DataQualityWarning, run_checks
from quantlab.errors import ConfigError, DataError, SourceError

logger = logging.getLogger(__name__)

#: Most candles the venue returns for one ``candleSnapshot`` request (it also serves only
#: the most recent 5,000 candles of each interval).
CANDLE_PAGE_ROWS = 5000
#: Most rows the venue returns for one ``fundingHistory`` request.
FUNDING_PAGE_ROWS = 500
#: Longest time between two funding settlements Hyperliquid has used (8-hourly until
#: June 2023, hourly since); the funding request for bars starts this far before them.
MAX_SETTLEMENT_PERIOD_MS = 8 * 3_600_000
#: Funding settles once an hour, on the hour (processed a few ms to minutes later).
SETTLEMENT_GRID_MS = 3_600_000

#: A bar that closed less than this long ago may still wait for its funding settlement
#: (the recorded history has settlements processed up to 24 min after the hour).
SETTLEMENT_GRACE_MS = 3_600_000

#: ``Info`` loads the spot universe (an extra ``spotMeta`` request) unless given one. We
#: trade and load perps only, so an empty spot universe spares that request and keeps the
#: spot names (``"PURR/USDC"``, ``"@107"``) out of the symbol table.
EMPTY_SPOT_META: dict[str, list[Any]] = {"universe": [], "tokens": []}

FundingPolicy = Literal["required", "optional", "none"]
_FUNDING_POLICIES = ("required", "optional", "none")

CLIENT_OPTIONS = ("base_url", "info_factory", "page_sleep", "max_retries", "backoff", "timeout")
BARS_OPTIONS = ("funding", "now")


def _ms(ts: pd.Timestamp) -> int:
    """Return a UTC Timestamp as integer epoch milliseconds."""
    return int(ts.as_unit("ns").value // 1_000_000)


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()


def _now_ms(now: Any) -> int:
    return _ms(to_utc(now, "now")) if now is not None else int(time.time() * 1000)


def _time_index(ms: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        pd.to_datetime(ms.astype(np.int64), unit="ms", utc=True).as_unit("ns"), name=INDEX_NAME
    )


def _snippet(text: Any, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_candles(rows: Any, symbol: str, interval: str) -> pd.DataFrame:
    """Parse ``candleSnapshot`` rows into bars with a ``trades`` column.

    Parameters
    ----------
    rows : list of dict
        The venue's answer: ``{"t": open ms, "T": close ms, "o", "h", "l", "c", "v":
        decimal strings, "n": trades, "i": interval, "s": coin}`` per candle.
    symbol, interval : str
        What was asked for; every row must carry the same ``s`` and ``i``.

    Returns
    -------
    pd.DataFrame
        float64 ``open high low close volume trades`` on a UTC ``time`` index (open time),
        in the venue's order (not yet sorted or de-duplicated).

    Raises
    ------
    SourceError
        If the answer is not a list of candles, or a row misses a field, does not parse,
        or is for another coin or interval.
    """
    if not isinstance(rows, list):
        raise SourceError(
            f"hyperliquid: candleSnapshot {symbol} {interval}: expected a list of candles, "
            f"got {_snippet(rows)}"
        )
    fields = {"t": "open time", "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}
    out = np.empty((len(rows), 7), dtype=np.float64)
    for k, row in enumerate(rows):
        try:
            if row.get("s", symbol) != symbol or row.get("i", interval) != interval:
                raise ValueError(
                    f"candle is for {row.get('s')!r} {row.get('i')!r}, not {symbol} {interval}"
                )
            out[k, 0] = int(row["t"])
            for j, key in enumerate("ohlcv", start=1):
                out[k, j] = float(row[key])
            out[k, 6] = float(row.get("n", np.nan))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            missing = [f"{key} ({name})" for key, name in fields.items() if key not in row]
            why = f"missing {missing}" if missing else str(exc)
            raise SourceError(
                f"hyperliquid: candleSnapshot {symbol} {interval}: row {k} ({_snippet(row)}) "
                f"does not parse: {why}"
            ) from None
    df = pd.DataFrame(out[:, 1:], columns=[*BAR_COLUMNS, "trades"], index=_time_index(out[:, 0]))
    return df


def parse_funding(rows: Any, symbol: str) -> pd.DataFrame:
    """Parse ``fundingHistory`` rows into a frame of settlements.

    Parameters
    ----------
    rows : list of dict
        ``{"coin", "fundingRate", "premium": decimal strings, "time": settlement ms}``.
    symbol : str
        The coin asked for; every row must be for it.

    Returns
    -------
    pd.DataFrame
        float64 ``funding_rate`` (the rate paid at that settlement) and ``premium`` on a
        UTC ``time`` index of settlement instants, in the venue's order.

    Raises
    ------
    SourceError
        If the answer is not a list of settlements or a row does not parse.
    """
    if not isinstance(rows, list):
        raise SourceError(
            f"hyperliquid: fundingHistory {symbol}: expected a list of settlements, "
            f"got {_snippet(rows)}"
        )
    times = np.empty(len(rows), dtype=np.int64)
    values = np.empty((len(rows), 2), dtype=np.float64)
    for k, row in enumerate(rows):
        try:
            if row.get("coin", symbol) != symbol:
                raise ValueError(f"settlement is for {row.get('coin')!r}, not {symbol}")
            times[k] = int(row["time"])
            values[k, 0] = float(row["fundingRate"])
            values[k, 1] = float(row["premium"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(
                f"hyperliquid: fundingHistory {symbol}: row {k} ({_snippet(row)}) does not "
                f"parse: {type(exc).__name__} {exc}"
            ) from None
    return pd.DataFrame(values, columns=["funding_rate", "premium"], index=_time_index(times))


def _settlement_hours_ms(times: pd.DatetimeIndex) -> np.ndarray:
    ms = times.as_unit("ns").asi8 // 1_000_000
    return ms - ms % SETTLEMENT_GRID_MS


def funding_to_bars(index: pd.DatetimeIndex, interval: str, settlements: pd.Series) -> pd.Series:
    """Return the per-hour funding rate of each bar, NaN where funding is not covered.

    Parameters
    ----------
    index : pd.DatetimeIndex
        Bar open times (UTC, sorted).
    interval : str
        Bar interval, e.g. ``"1h"``.
    settlements : pd.Series
        Funding rates paid at each settlement, indexed by the venue's settlement time
        (as :meth:`HyperliquidSource.funding` returns them).

    Returns
    -------
    pd.Series
        float64 ``funding_rate`` on ``index``.

    Notes
    -----
    Hyperliquid settles funding once an hour, on the hour; the settlement for the hour
    boundary :math:`H` is processed at or after :math:`H` (the recorded BTC history has
    1,038 settlements, all at or after the hour, 1,034 within 1 s, the slowest 23 min 53 s
    late), so each settlement time is floored to the hour, :math:`h = \\lfloor s \\rfloor_{1h}`.
    A bar :math:`[t, t + \\Delta)` of :math:`\\Delta` hours gets

    .. math:: f_t = \\frac{1}{\\Delta} \\sum_{t < h_k \\le t + \\Delta} r_k

    — a per-hour rate whose sum over bars times :math:`\\Delta` is the funding paid, and
    which is known at the bar's close (no look-ahead). The 8-hourly settlements of early
    history (before June 2023) land whole in the bar that ends at the settlement.

    The settlements cover bar ends in :math:`[h_{first}, h_{last} + 1h)`: a covered bar
    without a settlement gets 0.0 (nothing was paid); a bar ending before the first or at
    or after the next possible settlement is not covered and gets NaN. A settlement that
    falls in a missing bar is attached to no bar.
    """
    iv = interval_ms(interval)
    out = np.full(len(index), np.nan)
    if len(index) == 0 or len(settlements) == 0:
        return pd.Series(out, index=index, name="funding_rate")
    starts = index.as_unit("ns").asi8 // 1_000_000
    ends = starts + iv
    hours = _settlement_hours_ms(pd.DatetimeIndex(settlements.index))
    rates = settlements.to_numpy(dtype=np.float64)
    pos = np.searchsorted(ends, hours, side="left")
    inside = pos < len(index)
    inside[inside] &= starts[pos[inside]] < hours[inside]
    sums = np.bincount(pos[inside], weights=rates[inside], minlength=len(index))
    covered = (ends >= hours.min()) & (ends < hours.max() + SETTLEMENT_GRID_MS)
    out[covered] = sums[covered] / interval_hours(interval)
    return pd.Series(out, index=index, name="funding_rate")


def _pending_settlement(
    index: pd.DatetimeIndex, iv: int, rate: pd.Series, now_ms: int
) -> np.ndarray:
    """Flag the trailing bars whose funding is missing only because it is not settled yet.

    A bar that closed less than :data:`SETTLEMENT_GRACE_MS` before ``now`` and lacks its
    funding is not complete yet (the settlement at its close is processed after it): it is
    left out, and the next fetch returns it whole.
    """
    missing = rate.isna().to_numpy()
    ends = index.as_unit("ns").asi8 // 1_000_000 + iv
    pending = np.zeros(len(index), dtype=bool)
    k = len(index) - 1
    while k >= 0 and missing[k] and ends[k] > now_ms - SETTLEMENT_GRACE_MS:
        pending[k] = True
        k -= 1
    return pending


class HyperliquidSource:
    """Candles and funding of Hyperliquid perps, paginated, retried, merged into bars.

    Parameters
    ----------
    base_url : str, optional
        API root; the SDK's mainnet URL when omitted.
    info_factory : callable, optional
        Zero-argument callable returning an ``hyperliquid.info.Info``-like client (with
        ``name_to_coin``, ``candles_snapshot``, ``funding_history``). The default builds
        ``Info(base_url, skip_ws=True, spot_meta=EMPTY_SPOT_META)`` on the first request
        (its constructor asks the venue for the perp universe, ``meta``).
    page_sleep : float
        Seconds to wait between two pages, to stay polite with the rate limit.
    max_retries : int
        Retries of a request that failed transiently (HTTP 5xx, 429, connection error,
        timeout), waiting ``backoff * 2**k`` seconds before retry ``k``.
    backoff : float
        Base wait between retries, in seconds.
    timeout : float
        HTTP timeout per request, in seconds.
    sleep : callable
        The sleep function (tests pass a recorder).

    Notes
    -----
    No network at import or construction; the client is built on the first request and
    reused.
    """

    def __init__(
        self,
        base_url: str | None = None,
        info_factory: Callable[[], Any] | None = None,
        page_sleep: float = 0.2,
        max_retries: int = 3,
        *,
        backoff: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"max_retries: must be an integer >= 0, got {max_retries!r}")
        for name, value in (("page_sleep", page_sleep), ("backoff", backoff), ("timeout", timeout)):
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name}: must be a number >= 0, got {value!r}")
        self.base_url = base_url
        self.info_factory = info_factory
        self.page_sleep = float(page_sleep)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.timeout = float(timeout)
        self.sleep = sleep
        self._info: Any = None
        self._unreachable: str | None = None

    def __repr__(self) -> str:
        url = self.base_url or "mainnet"
        return f"HyperliquidSource({url}, page_sleep={self.page_sleep}, retries={self.max_retries})"

    # ------------------------------------------------------------------ client, retries

    def _default_info(self) -> Any:
        from hyperliquid.info import Info

        return Info(
            self.base_url,
            skip_ws=True,
            spot_meta=EMPTY_SPOT_META,
            timeout=self.timeout or None,
        )

    @property
    def info(self) -> Any:
        """The SDK client, built on first use (one ``meta`` request)."""
        if self._info is None:
            factory = self.info_factory or self._default_info
            self._info = self._call("meta (perp universe)", factory)
        return self._info

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn(*args)``, retrying transient failures; raise SourceError naming ``what``."""
        import requests
        from hyperliquid.utils.error import ClientError, ServerError

        if self._unreachable is not None:
            raise SourceError(
                f"hyperliquid: {what}: not attempted: the venue did not answer an earlier "
                f"request ({self._unreachable})"
            )
        attempts = self.max_retries + 1
        last: BaseException | None = None
        reason = ""
        unreachable = False
        for attempt in range(attempts):
            unreachable = False  # what the last attempt says
            try:
                return fn(*args)
            except ServerError as exc:
                last = exc
                reason = f"HTTP {exc.status_code} (server error, body {_snippet(exc.message)!r})"
            except ClientError as exc:
                detail = exc.error_message if exc.error_message is not None else ""
                if exc.status_code != 429:
                    raise SourceError(
                        f"hyperliquid: {what}: HTTP {exc.status_code} (request refused: "
                        f"{_snippet(detail)!r})"
                    ) from exc
                last = exc
                reason = f"HTTP 429 (rate limited: {_snippet(detail)!r})"
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
                unreachable = True
                reason = f"{type(exc).__name__}: {_snippet(exc)}"
                if isinstance(exc, requests.Timeout):
                    reason = f"no answer within the {self.timeout:g} s timeout ({reason})"
            if attempt + 1 < attempts:
                wait = self.backoff * 2**attempt
                logger.warning("hyperliquid: %s: %s; retry in %.1f s", what, reason, wait)
                self.sleep(wait)
        if unreachable:
            # a venue that does not answer is not retried symbol after symbol
            self._unreachable = f"{reason} after {attempts} attempt(s)"
            raise SourceError(
                f"hyperliquid: {what}: {self._unreachable}; check the network or the URL, or "
                "raise --timeout / --retries"
            ) from last
        raise SourceError(f"hyperliquid: {what}: {reason} after {attempts} attempt(s)") from last

    def _coin(self, symbol: str) -> str:
        if not isinstance(symbol, str) or not symbol:
            raise ConfigError(f"symbol: expected a coin name such as 'BTC', got {symbol!r}")
        table = self.info.name_to_coin
        if symbol in table:
            return table[symbol]
        near = [name for name in table if name.lower() == symbol.lower()]
        hint = f"; did you mean {near[0]!r}? (names are case-sensitive)" if near else ""
        examples = ", ".join(list(table)[:5])
        raise ConfigError(
            f"symbol: {symbol!r} is not a Hyperliquid perp ({len(table)} listed, e.g. "
            f"{examples}){hint}"
        )

    def _pause(self) -> None:
        if self.page_sleep > 0:
            self.sleep(self.page_sleep)

    # ------------------------------------------------------------------------ candles

    @staticmethod
    def _check_interval(interval: str) -> int:
        if interval not in HYPERLIQUID_INTERVALS:
            raise ConfigError(
                f"interval: {interval!r} is not a Hyperliquid candle interval; use one of "
                f"{HYPERLIQUID_INTERVALS}"
            )
        return interval_ms(interval)

    def _range(self, start: Any, end: Any, now_ms: int, default_span_ms: int) -> tuple[int, int]:
        end_ms = _ms(to_utc(end, "end")) if end is not None else now_ms
        start_ms = _ms(to_utc(start, "start")) if start is not None else end_ms - default_span_ms
        if start_ms >= end_ms:
            raise ConfigError(f"start: {_iso(start_ms)} is not before end {_iso(end_ms)}")
        return start_ms, end_ms

    def candles(
        self,
        symbol: str,
        interval: str,
        start: Any = None,
        end: Any = None,
        *,
        now: Any = None,
    ) -> pd.DataFrame:
        """Fetch the closed candles of one perp, as bars with a ``trades`` column.

        Parameters
        ----------
        symbol : str
            Coin as the venue names it (``"BTC"``, ``"kPEPE"``).
        interval : str
            One of :data:`~quantlab.data.intervals.HYPERLIQUID_INTERVALS` but ``"1M"``.
        start, end : str, datetime, Timestamp or int (epoch ms), optional
            Half-open range ``[start, end)`` of bar open times; naive values are UTC.
            ``end`` defaults to now; ``start`` to 5,000 bars before ``end`` (all the
            venue serves).
        now : optional
            The current time (tests); a bar is closed when open time + interval <= now.

        Returns
        -------
        pd.DataFrame
            float64 ``open high low close volume trades`` on a UTC ``time`` index,
            sorted, without duplicates; possibly empty (the venue serves only its most
            recent 5,000 candles per interval).

        Notes
        -----
        The range is requested in windows of at most 5,000 bars; after each page the next
        request starts one interval past the last open time returned, and an empty page
        ends its window. Windows are requested up to ``min(end, now)``, and no request is
        made once the next open time could not be a closed bar inside the range.
        """
        iv = self._check_interval(interval)
        now_ms = _now_ms(now)
        start_ms, end_ms = self._range(start, end, now_ms, CANDLE_PAGE_ROWS * iv)
        coin = self._coin(symbol)
        last_wanted = min(end_ms - 1, now_ms - iv)  # latest open time of a closed bar
        frames: list[pd.DataFrame] = []
        cursor = start_ms
        first = True
        while cursor <= last_wanted:
            bound = min(end_ms, now_ms)
            window_end = min(bound, cursor - cursor % iv + CANDLE_PAGE_ROWS * iv - 1)
            if not first:
                self._pause()
            first = False
            what = f"candleSnapshot {symbol} {interval} {_iso(cursor)}..{_iso(window_end)}"
            rows = self._call(what, self.info.candles_snapshot, coin, interval, cursor, window_end)
            page = parse_candles(rows, coin, interval)
            logger.debug("hyperliquid: %s: %d candles", what, len(page))
            if len(page):
                frames.append(page)
                last_open = _ms(page.index.max())
                cursor = max(last_open + iv, cursor + 1) if last_open >= cursor else window_end + 1
            else:
                cursor = window_end + 1
        if not frames:
            return parse_candles([], coin, interval)
        df = pd.concat(frames)
        df = df[~df.index.duplicated(keep="last")].sort_index()
        opens = df.index.as_unit("ns").asi8 // 1_000_000
        keep = (opens >= start_ms) & (opens < end_ms) & (opens + iv <= now_ms)
        return df[keep]

    # ------------------------------------------------------------------------ funding

    def funding(self, symbol: str, start: Any, end: Any = None, *, now: Any = None) -> pd.DataFrame:
        """Fetch the funding settlements of one perp.

        Parameters
        ----------
        symbol : str
            Coin as the venue names it.
        start, end : str, datetime, Timestamp or int (epoch ms)
            Half-open range ``[start, end)`` of settlement times; ``end=None`` asks for
            everything up to now (the request then carries no ``endTime``).
        now : optional
            The current time (tests).

        Returns
        -------
        pd.DataFrame
            float64 ``funding_rate`` (rate paid at the settlement) and ``premium`` on a
            UTC ``time`` index of settlement instants, sorted, without duplicates.

        Notes
        -----
        The venue answers at most 500 rows a request; the next request starts 1 ms after
        the last settlement returned. Paging stops on an empty or short page, or when no
        further settlement can exist before ``min(end, now)`` (the next one is due at the
        next hour boundary).
        """
        now_ms = _now_ms(now)
        start_ms = _ms(to_utc(start, "start"))
        end_ms = _ms(to_utc(end, "end")) if end is not None else None
        if end_ms is not None and start_ms >= end_ms:
            raise ConfigError(f"start: {_iso(start_ms)} is not before end {_iso(end_ms)}")
        coin = self._coin(symbol)
        horizon = now_ms if end_ms is None else min(end_ms, now_ms)
        frames: list[pd.DataFrame] = []
        cursor = start_ms
        while True:
            if frames:
                self._pause()
            span = f"{_iso(cursor)}..{_iso(end_ms) if end_ms is not None else 'now'}"
            what = f"fundingHistory {symbol} {span}"
            args = (coin, cursor) if end_ms is None else (coin, cursor, end_ms)
            rows = self._call(what, self.info.funding_history, *args)
            page = parse_funding(rows, coin)
            logger.debug("hyperliquid: %s: %d settlements", what, len(page))
            if not len(page):
                break
            frames.append(page)
            last = _ms(page.index.max())
            next_due = last - last % SETTLEMENT_GRID_MS + SETTLEMENT_GRID_MS
            if len(page) < FUNDING_PAGE_ROWS or next_due > horizon or last + 1 <= cursor:
                break
            cursor = last + 1
        if not frames:
            return parse_funding([], coin)
        df = pd.concat(frames)
        df = df[~df.index.duplicated(keep="last")].sort_index()
        times = df.index.as_unit("ns").asi8 // 1_000_000
        keep = times >= start_ms
        if end_ms is not None:
            keep &= times < end_ms
        return df[keep]

    # --------------------------------------------------------------------------- bars

    def bars(
        self,
        symbol: str,
        interval: str,
        start: Any = None,
        end: Any = None,
        funding: FundingPolicy = "required",
        *,
        now: Any = None,
    ) -> pd.DataFrame:
        """Fetch closed candles and merge the funding paid in each bar.

        Parameters
        ----------
        symbol, interval, start, end, now
            As in :meth:`candles`.
        funding : {"required", "optional", "none"}
            ``"required"``: every bar must be covered by the funding history, else
            :class:`SourceError` naming the first uncovered bar (nothing is trimmed).
            ``"optional"``: when some bar is not covered, drop the ``funding_rate`` column
            with a :class:`~quantlab.data.schema.DataQualityWarning` naming it.
            ``"none"``: do not request funding; no ``funding_rate`` column.

        Returns
        -------
        pd.DataFrame
            Bars as DESIGN.md defines them: float64 ``open high low close volume``,
            ``funding_rate`` (per hour, see :func:`funding_to_bars`) and ``trades``, UTC
            ``time`` index. Missing bars (venue downtime) are left for the caller's gap
            policy (``ql.data.load(..., gaps=...)``); every other bar rule is checked.
            With funding, a bar is complete once its funding is settled: trailing bars
            that closed less than an hour ago and still wait for their settlement are
            left out (the next fetch returns them).

        Raises
        ------
        SourceError
            The venue failed, served no closed candle in the range, or (``"required"``)
            its funding history does not cover every bar.
        ConfigError
            Unknown symbol, interval, policy or a bad range.
        DataError
            A candle breaks a bar rule (e.g. high < low).
        """
        if funding not in _FUNDING_POLICIES:
            raise ConfigError(f"funding: must be one of {_FUNDING_POLICIES}, got {funding!r}")
        now_ms = _now_ms(now)  # one instant for candles, funding and completeness
        df = self.candles(symbol, interval, start, end, now=now_ms)
        if df.empty:
            raise SourceError(
                f"hyperliquid: no closed {symbol} {interval} candle in [{start}, {end}); the "
                f"venue serves only its most recent {CANDLE_PAGE_ROWS} candles per interval"
            )
        if funding != "none":
            iv = interval_ms(interval)
            first, last = _ms(df.index[0]), _ms(df.index[-1])
            settlements = self.funding(
                symbol,
                first - MAX_SETTLEMENT_PERIOD_MS,
                last + iv + SETTLEMENT_GRID_MS,
                now=now_ms,
            )
            rate = funding_to_bars(df.index, interval, settlements["funding_rate"])
            pending = _pending_settlement(df.index, iv, rate, now_ms)
            if pending.any():
                logger.debug(
                    "hyperliquid: %s %s: %d bar(s) from %s wait for their funding settlement",
                    symbol,
                    interval,
                    int(pending.sum()),
                    df.index[pending][0],
                )
                df, rate = df[~pending], rate[~pending]
                if df.empty:
                    raise SourceError(
                        f"hyperliquid: no complete {symbol} {interval} bar in [{start}, {end}): "
                        "the funding of the closed ones is not settled yet"
                    )
            uncovered = rate.isna().to_numpy()
            if uncovered.any():
                bad = df.index[np.flatnonzero(uncovered)[0]]
                span = (
                    f"settlements {settlements.index[0].isoformat()}.."
                    f"{settlements.index[-1].isoformat()}"
                    if len(settlements)
                    else "no settlement at all"
                )
                message = (
                    f"hyperliquid: {symbol} {interval}: column 'funding_rate': bar "
                    f"{bad.isoformat()} is outside the funding history ({span}); "
                    f"{int(uncovered.sum())} of {len(df)} bar(s) uncovered"
                )
                if funding == "required":
                    raise SourceError(
                        message + "; pass funding='optional' to drop the column or "
                        "funding='none' to skip funding"
                    )
                warnings.warn(
                    message + "; column dropped (funding='optional')",
                    DataQualityWarning,
                    stacklevel=2,
                )
            else:
                df.insert(len(BAR_COLUMNS), "funding_rate", rate.to_numpy())
        for check in run_checks(df, interval):
            if not check.ok and check.rule != "no gaps":
                raise DataError(f"hyperliquid: {symbol} {interval}: {check.message()}")
        return df


def load_hyperliquid(
    symbol: str, interval: str = "1h", start: Any = None, end: Any = None, **options: Any
) -> pd.DataFrame:
    """Return merged Hyperliquid bars; what ``ql.data.load("hyperliquid", ...)`` calls.

    Parameters
    ----------
    symbol, interval, start, end
        As in :meth:`HyperliquidSource.candles`.
    **options
        ``funding`` and ``now`` (see :meth:`HyperliquidSource.bars`); ``base_url``,
        ``info_factory``, ``page_sleep``, ``max_retries``, ``backoff`` and ``timeout``
        (see :class:`HyperliquidSource`).

    Raises
    ------
    ConfigError
        An unknown option.
    """
    unknown = sorted(set(options) - set(CLIENT_OPTIONS) - set(BARS_OPTIONS))
    if unknown:
        raise ConfigError(
            f"load: unknown option(s) {unknown} for source 'hyperliquid'; known: "
            f"{sorted((*CLIENT_OPTIONS, *BARS_OPTIONS))}"
        )
    client = {k: v for k, v in options.items() if k in CLIENT_OPTIONS}
    bars_kw = {k: v for k, v in options.items() if k in BARS_OPTIONS}
    return HyperliquidSource(**client).bars(symbol, interval, start, end, **bars_kw)
