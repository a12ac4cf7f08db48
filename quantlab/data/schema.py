"""The bar schema: what a frame of bars must be, checked row by row.

Bars are a pandas DataFrame with a UTC ``DatetimeIndex`` named ``time`` (the bar's open
time), strictly increasing, and float64 columns ``open high low close volume``; optionally
``funding_rate`` (per-hour rate) and ``trades``. One symbol per frame.

:func:`validate` raises :class:`~quantlab.errors.DataError` naming the first offending
timestamp, column and rule; :func:`quality_report` runs the same checks and returns the
table a notebook shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quantlab.data.intervals import interval_label, interval_timedelta
from quantlab.errors import DataError

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS: tuple[str, ...] = ("funding_rate", "trades")
INDEX_NAME = "time"
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")

GapPolicy = Literal["error", "ffill", "allow"]
_GAP_POLICIES = ("error", "ffill", "allow")


class DataQualityWarning(UserWarning):
    """Bars were accepted, but something about them needs the reader's attention."""


@dataclass(frozen=True)
class Check:
    """The outcome of one rule over a frame of bars.

    Attributes
    ----------
    rule : str
        Short name of the rule, e.g. ``"high >= max(open, close)"``.
    column : str
        The column (or ``"index"``) the rule is about.
    violations : int
        Number of offending rows (or missing bars, for the gap rule).
    first_time : pd.Timestamp or None
        Timestamp of the first offending row.
    detail : str
        A human sentence with the numbers, used in error messages.
    severity : str
        ``"error"`` (the frame is unusable) or ``"warning"``.
    first_rows : tuple of int
        Positions (0-based row numbers) of the first few offending rows.
    """

    rule: str
    column: str
    violations: int
    first_time: pd.Timestamp | None
    detail: str = ""
    severity: str = "error"
    first_rows: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.violations == 0

    def message(self) -> str:
        where = f"at {self.first_time.isoformat()} " if self.first_time is not None else ""
        extra = f" ({self.detail})" if self.detail else ""
        count = f"; {self.violations} row(s) in all" if self.violations > 1 else ""
        return f"{where}column '{self.column}' breaks rule '{self.rule}'{extra}{count}"


# --------------------------------------------------------------------------- structure


def _check_structure(df: object) -> pd.DataFrame:
    """Raise DataError unless ``df`` is a DataFrame of bars with a UTC time index."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"bars: expected a pandas DataFrame, got {type(df).__name__}")
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"index: expected a DatetimeIndex of bar open times, got {type(index).__name__} "
            "(set it with df.set_index('time'))"
        )
    if index.tz is None:
        raise DataError(
            "index: timestamps are naive; bars must be UTC (use df.tz_localize('UTC') "
            "if they are UTC already)"
        )
    if str(index.tz) != "UTC":
        raise DataError(
            f"index: timezone is {index.tz}, bars must be UTC (use df.tz_convert('UTC'))"
        )
    if index.name != INDEX_NAME:
        raise DataError(f"index: must be named '{INDEX_NAME}', found {index.name!r}")
    missing = [c for c in BAR_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"columns: missing required column(s) {missing}; bars need {list(BAR_COLUMNS)}"
        )
    for column in (*BAR_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in df.columns)):
        dtype = df[column].dtype
        if dtype != np.float64:
            raise DataError(f"column '{column}': dtype must be float64, found {dtype}")
    return df


# ------------------------------------------------------------------------ row checks


#: How many offending rows a check remembers (the quality table shows them).
N_EXAMPLES = 5


def _row_check(
    df: pd.DataFrame, rule: str, column: str, mask: np.ndarray, detail: Callable[[int], str]
) -> Check:
    hits = np.flatnonzero(mask)
    count = int(hits.size)
    first = df.index[hits[0]] if count else None
    return Check(
        rule,
        column,
        count,
        first,
        detail(int(hits[0])) if count else "",
        first_rows=tuple(int(i) for i in hits[:N_EXAMPLES]),
    )


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Return the index as int64 nanoseconds whatever its resolution (pandas 3: us)."""
    return index.as_unit("ns").asi8


def _index_checks(df: pd.DataFrame) -> Iterator[Check]:
    ns = _ns(df.index)
    diffs = np.diff(ns)
    dup = np.concatenate([[False], diffs == 0])
    yield _row_check(df, "no duplicate timestamps", "index", dup, lambda i: "timestamp repeated")
    unsorted = np.concatenate([[False], diffs < 0])
    yield _row_check(
        df,
        "strictly increasing",
        "index",
        unsorted,
        lambda i: f"comes after {df.index[i - 1].isoformat()}",
    )


def _value_checks(df: pd.DataFrame) -> Iterator[Check]:
    columns = [*BAR_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in df.columns)]
    for column in columns:
        values = df[column].to_numpy()
        yield _row_check(df, "no NaN", column, np.isnan(values), lambda i: "value is NaN")
        yield _row_check(
            df,
            "finite",
            column,
            np.isinf(values),
            lambda i, v=values: f"value is {v[i]}",
        )
    for column in PRICE_COLUMNS:
        values = df[column].to_numpy()
        yield _row_check(
            df, "price > 0", column, values <= 0, lambda i, v=values: f"value is {v[i]}"
        )
    for column in ("volume", "trades"):
        if column in df.columns:
            values = df[column].to_numpy()
            yield _row_check(
                df, f"{column} >= 0", column, values < 0, lambda i, v=values: f"value is {v[i]}"
            )
    o, h, low, c = (df[k].to_numpy() for k in PRICE_COLUMNS)
    with np.errstate(invalid="ignore"):
        yield _row_check(
            df,
            "high >= low",
            "high",
            h < low,
            lambda i: f"high {h[i]} < low {low[i]}",
        )
        yield _row_check(
            df,
            "low <= min(open, close)",
            "low",
            (low > o) | (low > c),
            lambda i: f"low {low[i]}, open {o[i]}, close {c[i]}",
        )
        yield _row_check(
            df,
            "high >= max(open, close)",
            "high",
            (h < o) | (h < c),
            lambda i: f"high {h[i]}, open {o[i]}, close {c[i]}",
        )


def infer_interval(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """Return the most common spacing of a sorted time index (``None`` under two rows)."""
    if len(index) < 2:
        return None
    diffs = np.diff(_ns(index))
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        return None
    values, counts = np.unique(diffs, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def bar_interval(df: pd.DataFrame) -> str:
    """Return the interval of a frame of bars, e.g. ``"4h"``.

    The interval its source stated (``df.attrs["interval"]``, set by
    :func:`quantlab.data.load`), else the most common spacing of the index.

    Raises
    ------
    DataError
        Under two rows and no stated interval: the spacing cannot be inferred.
    """
    stated = df.attrs.get("interval") if isinstance(df, pd.DataFrame) else None
    if isinstance(stated, str):
        return stated
    step = infer_interval(df.index)
    if step is None:
        raise DataError(
            f"interval: cannot infer it from {len(df)} bar(s); pass interval='1h' (or the "
            "bars' own interval)"
        )
    return interval_label(step)


def _resolve_step(df: pd.DataFrame, interval: str | None) -> tuple[pd.Timedelta | None, str]:
    if interval is not None:
        return interval_timedelta(interval), interval
    step = infer_interval(df.index)
    label = f"{interval_label(step)} (inferred)" if step is not None else "unknown"
    return step, label


def _spacing_check(df: pd.DataFrame, interval: str) -> Iterator[Check]:
    """Refuse bars whose most common spacing is not the interval they are said to have.

    Daily bars called ``1h`` would otherwise read as 23 missing bars a day (and a fill
    would invent them); 1h bars called ``1d`` would be off the grid.
    """
    if len(df) < 3:
        return
    step = interval_timedelta(interval)
    diffs = np.diff(_ns(df.index))
    diffs = diffs[diffs > 0]
    if diffs.size < 2:
        return
    values, counts = np.unique(diffs, return_counts=True)
    k = int(np.argmax(counts))
    mode = pd.Timedelta(int(values[k]), unit="ns")
    if mode == step or counts[k] * 2 <= diffs.size:
        yield Check("spacing matches the interval", "index", 0, None, f"interval {interval}")
        return
    spacing = interval_label(mode)
    bad = np.concatenate([[False], np.diff(_ns(df.index)) != step.value])
    if mode > step:
        fix = (
            f"these are {spacing} bars: pass interval='{spacing}' (or None to infer it); "
            f"a gap policy at {interval} would invent "
            f"{int(mode / step) - 1} bar(s) between every two real ones"
        )
    else:
        fix = (
            f"these are {spacing} bars: pass interval='{spacing}' (or None to infer it), or "
            f"resample them to {interval} first"
        )
    detail = (
        f"the most common spacing is {spacing} ({int(counts[k])} of {diffs.size} steps), "
        f"not the interval {interval}; {fix}"
    )
    hits = np.flatnonzero(bad)
    yield Check(
        "spacing matches the interval",
        "index",
        int(hits.size),
        df.index[hits[0]],
        detail,
        first_rows=tuple(int(i) for i in hits[:N_EXAMPLES]),
    )


def _gap_checks(df: pd.DataFrame, interval: str | None) -> Iterator[Check]:
    step, label = _resolve_step(df, interval)
    if step is None or len(df) < 2:
        return
    ns = _ns(df.index)
    step_ns = step.value
    offgrid = (ns - ns[0]) % step_ns != 0
    yield _row_check(
        df,
        "on the interval grid",
        "index",
        offgrid,
        lambda i: f"not a whole number of {label} bars after {df.index[0].isoformat()}",
    )
    diffs = np.diff(ns)
    missing_after = np.where(diffs > step_ns, diffs // step_ns - 1, 0)
    n_missing = int(missing_after.sum())
    expected = int((ns[-1] - ns[0]) // step_ns) + 1
    if n_missing:
        i = int(np.flatnonzero(missing_after)[0])
        first_missing = df.index[i] + step
        largest = int(missing_after.max())
        detail = (
            f"{n_missing} missing bar(s) of {label}, {100.0 * n_missing / expected:.3f}% "
            f"of {expected}; {int((missing_after > 0).sum())} gap(s), largest {largest} bar(s)"
        )
        after = np.flatnonzero(missing_after) + 1
        yield Check(
            "no gaps",
            "index",
            n_missing,
            first_missing,
            detail,
            first_rows=tuple(int(j) for j in after[:N_EXAMPLES]),
        )
    else:
        yield Check("no gaps", "index", 0, None, f"interval {label}")


def run_checks(df: pd.DataFrame, interval: str | None = None) -> list[Check]:
    """Run every bar rule and return one :class:`Check` per rule and column.

    Parameters
    ----------
    df : pd.DataFrame
        Bars.
    interval : str, optional
        Bar interval (``"1h"``); inferred from the most common spacing when omitted.

    Raises
    ------
    DataError
        If ``df`` is not structurally a frame of bars (type, index, timezone, columns,
        dtypes); the row rules are reported, not raised.
    """
    _check_structure(df)
    checks = [
        Check(
            "at least one bar",
            "index",
            0 if len(df) else 1,
            None,
            "" if len(df) else "no rows (a header without data, or a range that holds no bar)",
        )
    ]
    checks.extend(_index_checks(df))
    checks.extend(_value_checks(df))
    if all(c.ok for c in checks if c.column == "index"):
        if interval is not None:
            checks.extend(_spacing_check(df, interval))
        if all(c.ok for c in checks if c.column == "index"):
            checks.extend(_gap_checks(df, interval))
    return checks


def validate(
    df: pd.DataFrame, interval: str | None = None, gaps: GapPolicy = "error"
) -> pd.DataFrame:
    """Check that ``df`` is a valid frame of bars and return it.

    Parameters
    ----------
    df : pd.DataFrame
        Bars (see the module docstring).
    interval : str, optional
        Bar interval such as ``"1h"``; when omitted it is inferred from the most common
        spacing of the index.
    gaps : {"error", "ffill", "allow"}
        What to do with missing bars: raise, fill them (price carried from the previous
        close, zero volume and trades, funding carried forward) with a
        :class:`DataQualityWarning`, or keep them with a warning. Never silent.

    Returns
    -------
    pd.DataFrame
        ``df`` itself, or a gap-filled copy with ``attrs["filled_bars"]`` set.

    Raises
    ------
    DataError
        Naming the first offending timestamp, the column and the rule broken.
    """
    if gaps not in _GAP_POLICIES:
        raise DataError(f"gaps: must be one of {_GAP_POLICIES}, got {gaps!r}")
    checks = run_checks(df, interval)
    gap_check = None
    for check in checks:
        if check.ok:
            continue
        if check.rule == "no gaps":
            gap_check = check
            continue
        raise DataError(check.message())
    if gap_check is None:
        return df
    if gaps == "error":
        raise DataError(
            gap_check.message() + "; to accept them pass gaps='allow' (keep the gaps) or "
            "gaps='ffill' (insert flat bars): `-p gaps allow` for a notebook, `--gaps allow` "
            "on the command line"
        )
    if gaps == "allow":
        warnings.warn(f"bars have gaps: {gap_check.detail}", DataQualityWarning, stacklevel=2)
        return df
    if gap_check.violations > len(df):
        raise DataError(
            f"gaps='ffill': refused, it would invent {gap_check.violations} bars beside "
            f"{len(df)} real ones ({gap_check.detail}); check the interval, or pass "
            "gaps='allow' to keep the gaps"
        )
    filled = fill_gaps(df, interval)
    warnings.warn(f"filled gaps: {gap_check.detail}", DataQualityWarning, stacklevel=2)
    return filled


def fill_gaps(df: pd.DataFrame, interval: str | None = None) -> pd.DataFrame:
    """Insert the missing bars of a sorted frame, flat at the previous close.

    The inserted bars have open = high = low = close = the previous close, zero volume
    and trades, and the previous ``funding_rate``. ``attrs["filled_bars"]`` counts them.

    Raises
    ------
    DataError
        ``interval`` is finer (or coarser) than the bars' own spacing: filling daily bars
        at ``1h`` would invent 23 flat bars a day.
    """
    if interval is not None:
        for check in _spacing_check(df, interval):
            if not check.ok:
                raise DataError(f"fill_gaps: refused: {check.message()}")
    step, _ = _resolve_step(df, interval)
    if step is None:
        return df
    full = pd.date_range(df.index[0], df.index[-1], freq=step, name=INDEX_NAME)
    out = df.reindex(full)
    inserted = out["close"].isna().to_numpy()
    prev_close = out["close"].ffill()
    for column in PRICE_COLUMNS:
        out[column] = out[column].fillna(prev_close)
    for column in ("volume", "trades"):
        if column in out.columns:
            out[column] = out[column].fillna(0.0)
    if "funding_rate" in out.columns:
        out["funding_rate"] = out["funding_rate"].ffill()
    for column in out.columns:
        if column not in (*BAR_COLUMNS, *OPTIONAL_COLUMNS):
            out[column] = out[column].ffill()
    out.attrs = {**df.attrs, "filled_bars": int(inserted.sum())}
    return out


QUALITY_COLUMNS = (
    "check",
    "column",
    "status",
    "violations",
    "percent",
    "first_time",
    "first_rows",
    "detail",
)


def _describe_rows(df: pd.DataFrame, rows: tuple[int, ...], count: int) -> str:
    if not rows:
        return ""
    text = ", ".join(f"#{i} {df.index[i].isoformat()}" for i in rows)
    return text + (f", ... ({count - len(rows)} more)" if count > len(rows) else "")


def quality_report(df: pd.DataFrame, interval: str | None = None) -> pd.DataFrame:
    """Return the data-quality table a notebook shows: one row per rule and column.

    Parameters
    ----------
    df : pd.DataFrame
        Bars.
    interval : str, optional
        Bar interval; inferred from the most common spacing when omitted.

    Returns
    -------
    pd.DataFrame
        Columns ``check, column, status, violations, percent, first_time, first_rows,
        detail``; ``status`` is ``"ok"`` or ``"FAIL"``; ``first_rows`` lists the row
        numbers (0-based, in the frame's order) and times of the first offending rows.
        The frame's ``attrs`` carry a summary (rows, start, end, interval).
    """
    checks = run_checks(df, interval)
    n = max(len(df), 1)
    rows = [
        {
            "check": c.rule,
            "column": c.column,
            "status": "ok" if c.ok else "FAIL",
            "violations": c.violations,
            "percent": 100.0 * c.violations / n,
            "first_time": c.first_time,
            "first_rows": _describe_rows(
                df, c.first_rows, c.violations if c.rule != "no gaps" else 0
            ),
            "detail": c.detail,
        }
        for c in checks
    ]
    table = pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))
    _, label = _resolve_step(df, interval)
    table.attrs = {
        "rows": len(df),
        "start": df.index[0] if len(df) else None,
        "end": df.index[-1] if len(df) else None,
        "interval": label,
    }
    return table


def summary(df: pd.DataFrame, interval: str | None = None) -> pd.Series:
    """Return a one-column overview of bars: rows, range, interval, gaps, failures."""
    table = quality_report(df, interval)
    gaps = table.loc[table["check"] == "no gaps", "violations"]
    return pd.Series(
        {
            "rows": len(df),
            "start": table.attrs["start"],
            "end": table.attrs["end"],
            "interval": table.attrs["interval"],
            "missing_bars": int(gaps.iloc[0]) if len(gaps) else 0,
            "failed_checks": int((table["status"] == "FAIL").sum()),
            "columns": ", ".join(map(str, df.columns)),
        },
        name="summary",
    )
