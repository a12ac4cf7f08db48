"""Data layer: bar schema and validation, sources (synthetic, Hyperliquid, files), local store.

The public face::

    df = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    ql.data.validate(df)
    ql.data.quality_report(df)
"""

from __future__ import annotations

from quantlab.data.files import read_bars_file
from quantlab.data.intervals import interval_hours, interval_seconds, interval_timedelta, to_utc
from quantlab.data.loader import SOURCES, load
from quantlab.data.schema import (
    BAR_COLUMNS,
    OPTIONAL_COLUMNS,
    DataQualityWarning,
    fill_gaps,
    infer_interval,
    quality_report,
    summary,
    validate,
)

__all__ = [
    "BAR_COLUMNS",
    "OPTIONAL_COLUMNS",
    "SOURCES",
    "DataQualityWarning",
    "fill_gaps",
    "infer_interval",
    "interval_hours",
    "interval_seconds",
    "interval_timedelta",
    "load",
    "quality_report",
    "read_bars_file",
    "summary",
    "to_utc",
    "validate",
]
