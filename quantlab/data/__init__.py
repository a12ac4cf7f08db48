"""Data layer: bar schema and validation, sources (synthetic, Hyperliquid, files), local store.

The public face::

    df = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    ql.data.validate(df)
    ql.data.quality_report(df)
"""

from __future__ import annotations

from quantlab._lazy import lazy_submodules
from quantlab.data.files import read_bars_file
from quantlab.data.intervals import (
    interval_hours,
    interval_label,
    interval_seconds,
    interval_timedelta,
    to_utc,
)
from quantlab.data.loader import check, load
from quantlab.data.schema import (
    BAR_COLUMNS,
    OPTIONAL_COLUMNS,
    DataQualityWarning,
    bar_interval,
    fill_gaps,
    infer_interval,
    quality_report,
    summary,
    validate,
)
from quantlab.data.sources import (
    SOURCE_KINDS,
    SOURCES,
    DataSource,
    source_names,
    source_options,
)

__all__ = [
    "BAR_COLUMNS",
    "OPTIONAL_COLUMNS",
    "SOURCES",
    "SOURCE_KINDS",
    "DataQualityWarning",
    "DataSource",
    "bar_interval",
    "check",
    "fill_gaps",
    "infer_interval",
    "interval_hours",
    "interval_label",
    "interval_seconds",
    "interval_timedelta",
    "load",
    "quality_report",
    "read_bars_file",
    "source_names",
    "source_options",
    "summary",
    "to_utc",
    "validate",
]


__getattr__ = lazy_submodules(__name__, globals())
