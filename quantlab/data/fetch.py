"""Fill and extend the local store from a venue: what ``quantlab data fetch|record`` runs.

    fetch("hyperliquid", "BTC,ETH,SOL", "1h", days=180)      # a progress bar per symbol
    record("hyperliquid", ["BTC", "ETH"], "1h")               # from cron: extend the archive
    record("hyperliquid", ["BTC"], "1m", loop_every=60)       # or keep running

A venue serves only recent history (Hyperliquid: the last 5,000 candles of an interval);
running :func:`record` more often than that horizon keeps the local archive growing
beyond what the venue still serves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from quantlab._typing import PathLikeStr
from quantlab.data.intervals import interval_timedelta, to_utc
from quantlab.data.schema import run_checks
from quantlab.data.store import Store
from quantlab.errors import ConfigError, QuantlabError, SourceError

logger = logging.getLogger(__name__)

#: Sources :func:`fetch` can build by name (others: pass ``source_obj``).
FETCH_SOURCES = ("hyperliquid",)

#: What :func:`fetch` and :func:`record` may do with missing bars: store what the venue
#: served (``allow``, logged) or refuse the symbol (``error``); never invent bars.
STORE_GAP_POLICIES = ("allow", "error")

#: The longest ``days`` :func:`fetch` accepts (about 50 years: no venue has more).
MAX_DAYS = 18_250

Clock = Callable[[], pd.Timestamp]


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    items = symbols.split(",") if isinstance(symbols, str) else list(symbols)
    out = [s.strip() for s in items if isinstance(s, str) and s.strip()]
    if not out or len(out) != len(items):
        raise ConfigError(f"symbols: expected coin names like 'BTC,ETH', got {symbols!r}")
    return list(dict.fromkeys(out))


def _store(store: Store | PathLikeStr | None) -> Store:
    if isinstance(store, Store):
        return store
    return Store("data" if store is None else store)


def make_source(
    source: str,
    source_obj: Any = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
    base_url: str | None = None,
) -> Any:
    """Return the source object that serves ``bars(symbol, interval, start, end)``.

    Parameters
    ----------
    source : str
        The source name, also the store's first folder level.
    source_obj : object, optional
        A ready source (any object with that ``bars`` method); used as is.
    timeout : float, optional
        Seconds before one HTTP request is given up (the source's default when None).
    retries : int, optional
        Retries of a transiently failed request (the source's default when None).
    base_url : str, optional
        The venue's API root (default mainnet), e.g. the local exchange
        ``http://127.0.0.1:PORT`` or testnet.

    Raises
    ------
    ConfigError
        ``source`` is not one of :data:`FETCH_SOURCES` and no ``source_obj`` was given.
    """
    if source_obj is not None:
        return source_obj
    if source == "hyperliquid":
        from quantlab.data.hyperliquid import HyperliquidSource

        client: dict[str, Any] = {}
        if timeout is not None:
            client["timeout"] = timeout
        if retries is not None:
            client["max_retries"] = retries
        if base_url is not None:
            client["base_url"] = base_url
        return HyperliquidSource(**client)
    raise ConfigError(
        f"source: cannot fetch from {source!r}; known: {FETCH_SOURCES} (or pass source_obj=)"
    )


def _progress(items: list[str], desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="symbol", disable=not enabled, leave=True)


def _run(
    src: Any,
    store: Store,
    source: str,
    symbols: list[str],
    interval: str,
    span: Callable[[str], tuple[Any, Any]],
    progress: bool,
    desc: str,
    bars_kw: dict[str, Any],
    gaps: str = "allow",
) -> tuple[dict[str, int], dict[str, QuantlabError]]:
    """Fetch and store each symbol; return rows written and the failures, by symbol."""
    written: dict[str, int] = {}
    failures: dict[str, QuantlabError] = {}
    bar = _progress(symbols, desc, progress)
    for symbol in bar:
        bar.set_postfix_str(symbol)
        try:
            start, end = span(symbol)
            df = src.bars(symbol, interval, start, end, **bars_kw)
            _check_gaps(df, source, symbol, interval, gaps)
            last = store.last(source, symbol, interval)
            if last is not None and len(df) and df.index[0] > last + interval_timedelta(interval):
                logger.warning(
                    "%s %s %s: the archive ends at %s but the source now starts at %s: "
                    "the bars between are lost (record more often)",
                    source,
                    symbol,
                    interval,
                    last,
                    df.index[0],
                )
            written[symbol] = store.write(df, source, symbol, interval)
        except QuantlabError as exc:
            failures[symbol] = exc
            logger.warning("%s %s %s: %s", source, symbol, interval, exc)
            continue
        logger.info(
            "%s %s %s: %d rows written, %s .. %s",
            source,
            symbol,
            interval,
            written[symbol],
            df.index[0] if len(df) else None,
            df.index[-1] if len(df) else None,
        )
        bar.set_postfix_str(f"{symbol}: {written[symbol]} rows")
    bar.close()
    return written, failures


def _gap_policy(gaps: str) -> str:
    if gaps not in STORE_GAP_POLICIES:
        raise ConfigError(
            f"gaps: {gaps!r} is not a policy for stored bars; use one of "
            f"{', '.join(STORE_GAP_POLICIES)} (the store keeps what the venue served: fill "
            "missing bars when loading, with ql.data.load(..., gaps='ffill'))"
        )
    return gaps


def _check_gaps(df: Any, source: str, symbol: str, interval: str, gaps: str) -> None:
    """Log the bars the venue did not serve; with ``gaps="error"`` refuse to store them."""
    if not isinstance(df, pd.DataFrame) or len(df) < 2:
        return
    for check in run_checks(df, interval):
        if check.rule == "no gaps" and not check.ok:
            if gaps == "error":
                raise SourceError(
                    f"{source} {symbol} {interval}: {check.message()}; nothing stored "
                    "(--gaps allow stores the bars the venue served, gaps included)"
                )
            logger.warning("%s %s %s: %s", source, symbol, interval, check.detail)


def _raise_failures(
    what: str, symbols: list[str], written: dict[str, int], failures: dict[str, QuantlabError]
) -> None:
    if not failures:
        return
    detail = "; ".join(f"{symbol}: {exc}" for symbol, exc in failures.items())
    stored = ", ".join(f"{s} {n} rows" for s, n in written.items()) or "nothing"
    raise SourceError(
        f"{what}: {len(failures)} of {len(symbols)} symbol(s) failed ({detail}); stored: {stored}"
    ) from next(iter(failures.values()))


def fetch(
    source: str,
    symbols: str | Sequence[str],
    interval: str,
    days: float | None = None,
    start: Any = None,
    end: Any = None,
    store: Store | PathLikeStr | None = None,
    progress: bool = True,
    source_obj: Any = None,
    *,
    clock: Clock = _utc_now,
    timeout: float | None = None,
    retries: int | None = None,
    base_url: str | None = None,
    gaps: str = "allow",
    **bars_kw: Any,
) -> dict[str, int]:
    """Fetch bars for several symbols and merge them into the local store.

    Parameters
    ----------
    source : str
        ``"hyperliquid"`` (or any name, with ``source_obj``); the store's folder.
    symbols : str or sequence of str
        ``"BTC,ETH,SOL"`` or ``["BTC", "ETH"]``.
    interval : str
        Bar interval, e.g. ``"1h"``.
    days : float, optional
        Fetch the last ``days`` days up to ``end`` (default now); not with ``start``.
    start, end : str, datetime, Timestamp or int (epoch ms), optional
        Half-open range of bar open times; when both ``days`` and ``start`` are omitted
        the source's default applies (Hyperliquid: all it still serves).
    store : Store or path, optional
        The archive (default ``Store("data")``).
    progress : bool
        Show a tqdm progress bar (on stderr).
    source_obj : object, optional
        A source with ``bars(symbol, interval, start, end, **bars_kw)``.
    clock : callable
        Returns the current UTC Timestamp (tests).
    timeout, retries, base_url : optional
        Per-request HTTP timeout (seconds), retry count and API root of the venue client
        (see :func:`make_source`); a venue that does not answer fails the run after one
        request's retries, not once per symbol.
    gaps : {"allow", "error"}
        Bars the venue did not serve: store the rest and log the gap (``"allow"``), or
        fail the symbol (``"error"``). Filling is for loading, never for the archive.
    **bars_kw
        Passed to ``bars`` (Hyperliquid: ``funding="required"|"optional"|"none"``).

    Returns
    -------
    dict of str to int
        Rows written per symbol.

    Raises
    ------
    ConfigError
        Bad arguments (both ``days`` and ``start``, no symbols, unknown source).
    SourceError
        One or more symbols failed; the others are stored, and the message names each
        failure.
    """
    names = _symbols(symbols)
    _gap_policy(gaps)
    if days is not None:
        if start is not None:
            raise ConfigError("days: give either days or start, not both")
        if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
            raise ConfigError(f"days: must be a positive number, got {days!r}")
        if not days <= MAX_DAYS:
            raise ConfigError(
                f"days: {days:g} is more than {MAX_DAYS} days (back before 1970); the venue "
                "serves only recent history anyway: give e.g. --days 180, or --start"
            )
        end_ts = to_utc(end, "end") if end is not None else clock()
        start, end = end_ts - pd.Timedelta(days=days), end_ts
    interval_timedelta(interval)  # ConfigError before any request
    archive = _store(store)
    src = make_source(source, source_obj, timeout=timeout, retries=retries, base_url=base_url)
    written, failures = _run(
        src,
        archive,
        source,
        names,
        interval,
        lambda symbol: (start, end),
        progress,
        f"fetch {source} {interval}",
        bars_kw,
        gaps,
    )
    _raise_failures("fetch", names, written, failures)
    return written


def record(
    source: str,
    symbols: str | Sequence[str],
    interval: str,
    store: Store | PathLikeStr | None = None,
    *,
    overlap: int = 2,
    initial_days: float | None = None,
    loop_every: float | None = None,
    iterations: int | None = None,
    progress: bool = False,
    source_obj: Any = None,
    clock: Clock = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float | None = None,
    retries: int | None = None,
    base_url: str | None = None,
    gaps: str = "allow",
    **bars_kw: Any,
) -> dict[str, int]:
    """Extend the archive from its last stored bar to now, once or every ``loop_every`` s.

    Parameters
    ----------
    source, symbols, interval, store, progress, source_obj, clock, timeout, retries, base_url, gaps
        As in :func:`fetch`.
    **bars_kw
        As in :func:`fetch`.
    overlap : int
        Bars before the last stored one to fetch again (they replace the stored ones).
    initial_days : float, optional
        For a symbol with nothing stored: how far back to start; default the source's
        default (Hyperliquid: all it still serves).
    loop_every : float, optional
        ``None``: run once (for cron). Seconds: run again every ``loop_every`` seconds
        until interrupted (Ctrl-C), logging failed rounds and carrying on.
    iterations : int, optional
        With ``loop_every``: stop after this many rounds.
    sleep : callable
        The sleep function (tests).

    Returns
    -------
    dict of str to int
        Rows written per symbol, summed over rounds.

    Raises
    ------
    SourceError
        Run once (``loop_every=None``) and a symbol failed (the others are stored); or,
        looping, every round failed for every symbol (nothing was recorded), raised when
        the loop ends (``iterations`` reached or Ctrl-C).

    Notes
    -----
    Run it more often than the venue's horizon (Hyperliquid 1h: 5,000 hours) and the
    archive keeps every bar; a longer pause leaves a gap, which is logged.
    """
    names = _symbols(symbols)
    _gap_policy(gaps)
    step = interval_timedelta(interval)
    if not isinstance(overlap, int) or overlap < 0:
        raise ConfigError(f"overlap: must be an integer >= 0, got {overlap!r}")
    if loop_every is not None and not loop_every >= 0:
        raise ConfigError(f"loop_every: must be seconds >= 0 or None, got {loop_every!r}")
    if initial_days is not None and not initial_days > 0:
        raise ConfigError(f"initial_days: must be a positive number, got {initial_days!r}")
    archive = _store(store)
    src = make_source(source, source_obj, timeout=timeout, retries=retries, base_url=base_url)

    def span(symbol: str) -> tuple[Any, Any]:
        last = archive.last(source, symbol, interval)
        if last is not None:
            return last - overlap * step, None
        if initial_days is not None:
            return clock() - pd.Timedelta(days=initial_days), None
        return None, None

    totals = dict.fromkeys(names, 0)
    rounds = 0
    succeeded = 0  # (symbol, round) pairs that did not fail
    last_failures: dict[str, QuantlabError] = {}

    def finish() -> dict[str, int]:
        if rounds and not succeeded:
            detail = "; ".join(f"{symbol}: {exc}" for symbol, exc in last_failures.items())
            raise SourceError(
                f"record: nothing recorded: all {rounds} round(s) failed for every symbol "
                f"(last: {detail})"
            ) from next(iter(last_failures.values()), None)
        return totals

    try:
        while True:
            began = time.monotonic()
            written, failures = _run(
                src,
                archive,
                source,
                names,
                interval,
                span,
                progress,
                f"record {source} {interval}",
                bars_kw,
                gaps,
            )
            for symbol, n in written.items():
                totals[symbol] += n
            rounds += 1
            succeeded += len(written)
            last_failures = failures or last_failures
            if loop_every is None:
                _raise_failures("record", names, written, failures)
                return totals
            if failures:
                logger.warning(
                    "record: round %d: %d of %d symbol(s) failed", rounds, len(failures), len(names)
                )
            if iterations is not None and rounds >= iterations:
                return finish()
            sleep(max(0.0, loop_every - (time.monotonic() - began)))
    except KeyboardInterrupt:
        logger.info("record: stopped after %d round(s)", rounds)
        return finish()
