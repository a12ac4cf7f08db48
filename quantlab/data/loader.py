"""``ql.data.load``: one entry point for every source of bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from quantlab.data.files import SUPPORTED_SUFFIXES, read_bars_file
from quantlab.data.intervals import to_utc
from quantlab.data.schema import GapPolicy, validate
from quantlab.errors import ConfigError

SOURCES = ("synthetic", "hyperliquid", "store")


def _is_path(source: Any) -> bool:
    if isinstance(source, Path):
        return True
    return isinstance(source, str) and source.lower().endswith(SUPPORTED_SUFFIXES)


def _trim(df: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    if start is not None:
        df = df[df.index >= to_utc(start, "start")]
    if end is not None:
        df = df[df.index < to_utc(end, "end")]
    return df


def load(
    source: str | Path = "synthetic",
    symbol: str | None = None,
    interval: str | None = "1h",
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
        ``"synthetic"`` (the embedded, seeded market simulator; works offline),
        ``"hyperliquid"`` (candles and funding from the venue's API), ``"store"`` (the
        local Parquet archive written by ``quantlab data fetch``), or the path of a
        ``.csv``/``.parquet`` file.
    symbol : str, optional
        Coin, e.g. ``"BTC"`` (default ``"BTC"`` for the synthetic market).
    interval : str, optional
        Bar interval, e.g. ``"1h"``. For files it is checked against the data (``None``
        infers it from the most common spacing).
    start, end : str, datetime, Timestamp or int (epoch ms), optional
        Half-open range ``[start, end)``; naive values are UTC.
    gaps : {"error", "ffill", "allow"}
        Policy for missing bars (see :func:`quantlab.data.validate`).
    **options
        Source-specific options: ``seed``, ``n_bars`` and market parameters for
        ``"synthetic"``; ``funding`` and client settings for ``"hyperliquid"``; ``root``
        and ``origin`` for ``"store"``.

    Returns
    -------
    pd.DataFrame
        Bars as DESIGN.md defines them, validated.

    Raises
    ------
    ConfigError
        Unknown source or option.
    DataError
        The data break a rule of the bar schema.
    SourceError
        The source failed (network, venue error).
    """
    if _is_path(source):
        if options:
            raise ConfigError(f"load: options {sorted(options)} do not apply to files")
        df = _trim(read_bars_file(source), start, end)
        return validate(df, interval, gaps=gaps)
    if source == "synthetic":
        from quantlab.data.synthetic import synthetic_bars

        interval = interval or "1h"
        df = synthetic_bars(
            symbol=symbol or "BTC", interval=interval, start=start, end=end, **options
        )
    elif source == "hyperliquid":
        if symbol is None:
            raise ConfigError("load: source 'hyperliquid' needs a symbol, e.g. symbol='BTC'")
        from quantlab.data.hyperliquid import load_hyperliquid

        interval = interval or "1h"
        df = load_hyperliquid(symbol, interval, start, end, **options)
    elif source == "store":
        if symbol is None:
            raise ConfigError("load: source 'store' needs a symbol, e.g. symbol='BTC'")
        from quantlab.data.store import Store

        origin = options.pop("origin", "hyperliquid")
        store = Store(options.pop("root", "data"))
        if options:
            raise ConfigError(f"load: unknown option(s) {sorted(options)} for source 'store'")
        interval = interval or "1h"
        df = store.read(origin, symbol, interval, start=start, end=end)
    else:
        raise ConfigError(
            f"load: unknown source {source!r}; use one of {SOURCES} or a path ending in "
            f"{SUPPORTED_SUFFIXES}"
        )
    return validate(df, interval, gaps=gaps)
