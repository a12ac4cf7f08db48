"""Read bars from a ``.csv`` or ``.parquet`` file, accepting the common column spellings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quantlab._typing import PathLikeStr
from quantlab.data.schema import BAR_COLUMNS, INDEX_NAME, OPTIONAL_COLUMNS
from quantlab.errors import DataError

#: Accepted spellings (lower-cased, stripped) of each canonical column.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "time": (
        "time", "timestamp", "timestamp_ms", "date", "datetime", "open_time", "opentime",
        "t", "ts", "time_ms",
    ),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "last", "price"),
    "volume": ("volume", "v", "vol", "base_volume", "volume_base"),
    "funding_rate": ("funding_rate", "funding", "fundingrate", "funding_rate_hourly"),
    "trades": ("trades", "n", "num_trades", "number_of_trades", "count", "trade_count"),
}  # fmt: skip

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq", ".csv.gz")


def _canonical_columns(columns: list[str], path: Path) -> dict[str, str]:
    """Map file columns to canonical names; refuse ambiguity and unknown required ones."""
    lookup = {alias: canon for canon, aliases in COLUMN_ALIASES.items() for alias in aliases}
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    for column in columns:
        canon = lookup.get(str(column).strip().lower())
        if canon is None:
            continue
        if canon in taken:
            raise DataError(
                f"{path.name}: columns {taken[canon]!r} and {column!r} both mean '{canon}'; "
                "keep one"
            )
        taken[canon] = column
        mapping[column] = canon
    missing = [c for c in ("time", *BAR_COLUMNS) if c not in taken]
    if missing:
        raise DataError(
            f"{path.name}: no column for {missing}; found {list(columns)}. Accepted spellings: "
            + "; ".join(f"{c}: {', '.join(COLUMN_ALIASES[c])}" for c in missing)
        )
    return mapping


def _row(path: Path, row: int) -> str:
    """Name a data row: 0-based, and for a CSV also its line in the file (header = 1)."""
    if path.name.lower().endswith((".csv", ".csv.gz")):
        return f"row {row} (line {row + 2})"
    return f"row {row}"


def _epoch_unit(magnitude: float) -> str:
    """Guess the unit of epoch numbers from their size (seconds until year 5138, ...)."""
    for unit, limit in (("s", 1e11), ("ms", 1e14), ("us", 1e17)):
        if magnitude < limit:
            return unit
    return "ns"


def _parse_time(values: pd.Series, path: Path) -> pd.DatetimeIndex:
    """Parse epoch numbers (s/ms/us/ns by magnitude) or date strings into a UTC index."""
    if pd.api.types.is_numeric_dtype(values):
        v = values.to_numpy(dtype=np.float64)
        if np.isnan(v).any():
            row = int(np.flatnonzero(np.isnan(v))[0])
            raise DataError(f"{path.name}: {_row(path, row)}: column 'time' is empty")
        magnitude = np.nanmax(np.abs(v)) if v.size else 0
        index = pd.to_datetime(v.astype(np.int64), unit=_epoch_unit(magnitude), utc=True)
    elif isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        index = pd.DatetimeIndex(values)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    else:
        try:
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="mixed"))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path.name}: column 'time' does not parse as dates: {exc}") from None
    return pd.DatetimeIndex(index, name=INDEX_NAME).as_unit("ns")


def _read_table(p: Path, parquet: bool) -> pd.DataFrame:
    """Read the raw table; any failure of the reader becomes a DataError naming the file."""
    if parquet:
        try:
            raw = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise DataError(
                f"{p}: not a readable Parquet file ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]}); the file is damaged or truncated: "
                "write it again"
            ) from exc
        if isinstance(raw.index, pd.DatetimeIndex):
            raw = raw.reset_index()
        return raw
    try:
        return pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{p}: the file is empty (no header, no rows); a bars CSV starts with a header "
            "such as 'time,open,high,low,close,volume'"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(
            f"{p}: cannot be read as CSV ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        ) from exc


def read_bars_file(path: PathLikeStr) -> pd.DataFrame:
    """Read bars from a CSV or Parquet file.

    Column names are matched case-insensitively against :data:`COLUMN_ALIASES`; the time
    column may hold epoch seconds/milliseconds/microseconds/nanoseconds or date strings
    (naive strings are taken as UTC). Other columns are dropped.

    Parameters
    ----------
    path : str or PathLike
        A ``.csv`` (optionally gzipped) or ``.parquet`` file.

    Returns
    -------
    pd.DataFrame
        Bars with a UTC ``time`` index and float64 columns, in file order (not validated:
        call :func:`quantlab.data.validate`).

    Raises
    ------
    DataError
        Unknown suffix, missing, empty or damaged file, missing or ambiguous columns,
        values that are not numbers (naming the file, row and column).
    """
    p = Path(path)
    name = p.name.lower()
    if not any(name.endswith(s) for s in SUPPORTED_SUFFIXES):
        raise DataError(f"{p}: unsupported file type; use one of {SUPPORTED_SUFFIXES}")
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(f"{p}: is a folder; give the path of one .csv or .parquet file")
    raw = _read_table(p, name.endswith((".parquet", ".pq")))
    mapping = _canonical_columns(list(raw.columns), p)
    raw = raw[list(mapping)].rename(columns=mapping)
    out = pd.DataFrame(index=_parse_time(raw["time"], p))
    for column in (*BAR_COLUMNS, *OPTIONAL_COLUMNS):
        if column not in raw.columns:
            continue
        numbers = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numbers) & raw[column].notna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{p.name}: {_row(p, row)} ({out.index[row].isoformat()}): column '{column}' "
                f"value {raw[column].iloc[row]!r} is not a number; fix or remove the row"
            )
        out[column] = numbers
    return out
