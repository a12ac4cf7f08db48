"""Bar intervals: parse ``"1m" ... "1w"`` into pandas offsets and milliseconds."""

from __future__ import annotations

import re

import pandas as pd

from quantlab.errors import ConfigError

#: Intervals Hyperliquid serves (``candleSnapshot``); any ``<n><unit>`` also parses.
HYPERLIQUID_INTERVALS = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M",
)  # fmt: skip

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdwM])\s*$")


def interval_seconds(interval: str) -> int:
    """Return the length of a bar interval in seconds.

    Parameters
    ----------
    interval : str
        ``<n><unit>`` with unit ``s``, ``m`` (minute), ``h``, ``d`` or ``w``; ``1M`` (one
        calendar month) has no fixed length and is refused here.

    Raises
    ------
    ConfigError
        If the interval does not parse or is not a positive fixed length.
    """
    if not isinstance(interval, str):
        raise ConfigError(f"interval: expected a string like '1h', got {interval!r}")
    match = _PATTERN.match(interval)
    if match is None:
        raise ConfigError(
            f"interval: {interval!r} is not '<n><unit>' with unit s, m, h, d or w "
            "(e.g. '15m', '1h')"
        )
    n, unit = int(match.group(1)), match.group(2)
    if unit == "M":
        raise ConfigError(f"interval: {interval!r} (calendar month) has no fixed length")
    if n <= 0:
        raise ConfigError(f"interval: {interval!r} must be a positive length")
    return n * _UNIT_SECONDS[unit]


def interval_ms(interval: str) -> int:
    """Return the length of a bar interval in milliseconds."""
    return interval_seconds(interval) * 1000


def interval_timedelta(interval: str) -> pd.Timedelta:
    """Return the length of a bar interval as a ``pd.Timedelta``."""
    return pd.Timedelta(seconds=interval_seconds(interval))


def interval_label(step: pd.Timedelta | str) -> str:
    """Return the short name of a bar length: ``Timedelta(hours=4)`` -> ``"4h"``.

    The largest unit (w, d, h, m, s) that divides the length is used, so
    ``interval_seconds(interval_label(td)) == td.total_seconds()``.

    Raises
    ------
    ConfigError
        If ``step`` is not a positive whole number of seconds.
    """
    if isinstance(step, str):
        return interval_label(interval_timedelta(step))
    seconds = pd.Timedelta(step).total_seconds()
    if seconds <= 0 or seconds != int(seconds):
        raise ConfigError(f"interval: {step} is not a positive whole number of seconds")
    whole = int(seconds)
    for unit in ("w", "d", "h", "m"):
        if whole % _UNIT_SECONDS[unit] == 0:
            return f"{whole // _UNIT_SECONDS[unit]}{unit}"
    return f"{whole}s"


def interval_hours(interval: str) -> float:
    """Return the length of a bar interval in hours (funding rates are per hour)."""
    return interval_seconds(interval) / 3600.0


def to_utc(value: object, field: str = "time") -> pd.Timestamp:
    """Return ``value`` (str, datetime, Timestamp, epoch milliseconds) as a UTC Timestamp.

    Naive values are taken as UTC; integers are epoch milliseconds.

    Raises
    ------
    ConfigError
        If the value does not parse, naming ``field``.
    """
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            ts = pd.Timestamp(int(value), unit="ms")
        else:
            ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{field}: {value!r} is not a date or time ({exc})") from None
    if ts is pd.NaT:
        raise ConfigError(f"{field}: {value!r} is not a date or time")
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
