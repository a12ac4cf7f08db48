"""``ql.data.load``: one entry point for every data source.

Sources are looked up by name in :data:`quantlab.data.sources.SOURCES` (synthetic,
hyperliquid, store, solana, plug-ins); a ``.csv``/``.parquet`` path reads a file. A bar
source's frame is validated here against the bar schema; a source of another kind (solana:
swaps) returns its own validated frame. Each source
accepts only its own options; the interval is the source's default or, for files (and
the store's single stored interval), inferred from the data and stated in
``df.attrs["interval"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from quantlab.data.files import read_bars_file
from quantlab.data.intervals import interval_seconds, to_utc
from quantlab.data.schema import GapPolicy, bar_interval, quality_report, validate
from quantlab.data.sources import DataSource, get_source, is_path, source_names
from quantlab.errors import ConfigError, DataError

GAP_POLICIES = ("error", "ffill", "allow")


def _range(start: Any, end: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    lo = to_utc(start, "start") if start is not None else None
    hi = to_utc(end, "end") if end is not None else None
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(
            f"start: {lo.isoformat()} is not before end {hi.isoformat()}; the range "
            "[start, end) would hold no bar (are start and end swapped?)"
        )
    return lo, hi


def _trim(df: pd.DataFrame, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> pd.DataFrame:
    out = df
    if lo is not None:
        out = out[out.index >= lo]
    if hi is not None:
        out = out[out.index < hi]
    return out


def _read(
    source: str | Path,
    symbol: str | None,
    interval: str | None,
    start: Any,
    end: Any,
    options: dict[str, Any],
) -> tuple[pd.DataFrame, str | None, str, dict[str, Any]]:
    """Return raw bars, the interval to check them at, a name for messages, and facts."""
    lo, hi = _range(start, end)
    if interval is not None:
        interval_seconds(interval)  # ConfigError for a bad interval, before any I/O
    if is_path(source):
        if options:
            raise ConfigError(
                f"load: options {sorted(options)} do not apply to files ({source}); pass none"
            )
        raw = read_bars_file(source)
        df = _trim(raw, lo, hi)
        if len(raw) and not len(df):
            ordered = raw.sort_index()
            raise DataError(
                f"{source}: no bar in [{start}, {end}); the file covers "
                f"{ordered.index[0].isoformat()} .. {ordered.index[-1].isoformat()}"
            )
        facts = {"source": str(source), "symbol": symbol}
        return df, interval, str(source), facts
    src = get_source(source)
    if src.kind != "bars":
        raise ConfigError(
            f"source {src.name!r} gives {src.kind}, not bars: the bar checks apply to bar "
            f"sources only ({', '.join(source_names('bars'))} or a file); read "
            f"{src.kind} with ql.data.load({src.name!r}, ...)"
        )
    src.check_options(options)
    symbol = symbol if symbol is not None else src.default_symbol
    if symbol is None:
        raise ConfigError(f"load: source {src.name!r} needs a symbol, e.g. symbol='BTC'")
    interval = interval if interval is not None else src.default_interval
    df = src.read(symbol, interval, start, end, **options)
    if interval is None:
        interval = df.attrs.get("interval")
    where = f"{src.name} {symbol} {interval or ''}".strip()
    return df, interval, where, {"source": src.name, "symbol": symbol}


def _non_bar_source(source: str | Path) -> DataSource | None:
    """Return the registered source ``source`` if it gives something other than bars."""
    if is_path(source):
        return None
    src = get_source(source)
    return None if src.kind == "bars" else src


def load(
    source: str | Path = "synthetic",
    symbol: str | None = None,
    interval: str | None = None,
    start: Any = None,
    end: Any = None,
    *,
    gaps: GapPolicy = "error",
    **options: Any,
) -> pd.DataFrame:
    """Load validated bars from a source.

    Parameters
    ----------
    source : str or Path
        A registered source (``ql.data.SOURCES``): ``"synthetic"`` (the embedded, seeded
        market simulator; works offline), ``"hyperliquid"`` (candles and funding from the
        venue's API), ``"store"`` (the local Parquet archive written by ``quantlab data
        fetch``); or the path of a ``.csv``/``.parquet`` file.
    symbol : str, optional
        Coin, e.g. ``"BTC"`` (default ``"BTC"`` for the synthetic market).
    interval : str, optional
        Bar interval, e.g. ``"1h"``. ``None``: the source's default (``"1h"`` for
        synthetic and hyperliquid), the one interval stored (store), or the most common
        spacing of the data (files). A given interval must match the data's spacing: daily
        bars are never read as hourly bars with gaps.
    start, end : str, datetime, Timestamp or int (epoch ms), optional
        Half-open range ``[start, end)``; naive values are UTC; ``start`` must be before
        ``end``.
    gaps : {"error", "ffill", "allow"}
        Policy for missing bars (see :func:`quantlab.data.validate`).
    **options
        Options of the chosen source only: ``seed``, ``n_bars`` and market parameters for
        ``"synthetic"``; ``funding``, ``timeout``, ``max_retries`` ... for
        ``"hyperliquid"``; ``root`` and ``origin`` for ``"store"``; ``wallets``, ``token`` (or
        ``symbol``), ``root``, or ``seed`` and market parameters for ``"solana"``; none
        for files. :func:`quantlab.data.source_options` picks them out of a per-source mapping.

    Returns
    -------
    pd.DataFrame
        Bars as DESIGN.md defines them, validated; ``attrs`` hold ``source``, ``symbol``
        and ``interval`` (stated or inferred, e.g. ``"1d"``). A source of another kind
        (``ql.data.SOURCES.get(name).kind``) gives its own frame: ``"solana"``, on-chain
        swaps (see :func:`quantlab.data.solana.load_swaps`); ``interval`` does not apply.

    Raises
    ------
    ConfigError
        Unknown source, option or gap policy, bad interval, a range whose start is not
        before its end.
    DataError
        The data break a rule of the bar schema; the message names the file or source.
    SourceError
        The source failed (network, venue error, nothing stored).
    """
    src = _non_bar_source(source)
    if src is not None:
        src.check_options(options)
        return src.read(symbol, interval, start, end, **options)
    if gaps not in GAP_POLICIES:
        raise ConfigError(
            f"gaps: {gaps!r} is not a gap policy; use one of {', '.join(GAP_POLICIES)} "
            "(e.g. `-p gaps allow` in a notebook, `--gaps allow` on the command line)"
        )
    df, interval, where, facts = _read(source, symbol, interval, start, end, options)
    try:
        out = validate(df, interval, gaps=gaps)
        if interval is None and len(out) >= 2:
            interval = bar_interval(out)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    out.attrs = {**out.attrs, **facts, "interval": interval}
    return out


def check(
    source: str | Path = "synthetic",
    symbol: str | None = None,
    interval: str | None = None,
    start: Any = None,
    end: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """Load bars without validating them and return their data-quality table.

    What ``quantlab data check`` prints: every rule with its count of offending rows and
    the first of them (see :func:`quantlab.data.quality_report`), on the bars exactly as
    the source gives them, so that a bad file can be diagnosed in one pass.

    Parameters
    ----------
    source, symbol, interval, start, end, **options
        As in :func:`load`.

    Returns
    -------
    pd.DataFrame
        The quality table; ``attrs`` carry ``rows``, ``start``, ``end``, ``interval`` and
        ``source``. An empty frame fails the rule ``at least one bar``.

    Raises
    ------
    ConfigError, DataError, SourceError
        As in :func:`load`, for what stops the bars being read at all (unknown source,
        unreadable file, missing columns, a reversed range).
    """
    df, interval, where, _ = _read(source, symbol, interval, start, end, options)
    try:
        table = quality_report(df, interval)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    table.attrs["source"] = where
    return table
