"""Bar validation: every broken rule raises DataError naming the timestamp and rule."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.data.schema import DataQualityWarning, fill_gaps, quality_report, validate


def test_valid_bars_pass_unchanged(bars):
    out = validate(bars, "1h")
    assert out is bars
    table = quality_report(bars, "1h")
    assert (table["status"] == "ok").all()
    assert table.attrs["rows"] == len(bars)


def _broken(kind: str) -> tuple[pd.DataFrame, pd.Timestamp, str]:
    df = random_bars(50).copy()
    t = df.index[17]
    if kind == "duplicate":
        df = pd.concat([df.iloc[:18], df.iloc[17:]])
        return df, t, "no duplicate timestamps"
    if kind == "high<low":
        df.loc[t, "high"] = df.loc[t, "low"] - 1.0
        return df, t, "high >= low"
    if kind == "nan":
        df.loc[t, "close"] = np.nan
        return df, t, "no NaN"
    if kind == "negative":
        df.loc[t, "low"] = -1.0
        return df, t, "price > 0"
    if kind == "unsorted":
        order = list(range(50))
        order[16], order[17] = order[17], order[16]
        df = df.iloc[order]
        return df, df.index[17], "strictly increasing"
    if kind == "inf":
        df.loc[t, "volume"] = np.inf
        return df, t, "finite"
    if kind == "negative_volume":
        df.loc[t, "volume"] = -5.0
        return df, t, "volume >= 0"
    if kind == "close>high":
        df.loc[t, "close"] = df.loc[t, "high"] * 1.01
        return df, t, "high >= max(open, close)"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "duplicate",
        "high<low",
        "nan",
        "negative",
        "unsorted",
        "inf",
        "negative_volume",
        "close>high",
    ],
)
def test_bad_frames_name_timestamp_and_rule(kind):
    df, t, rule = _broken(kind)
    with pytest.raises(ql.DataError) as info:
        validate(df, "1h")
    message = str(info.value)
    assert t.isoformat() in message
    assert rule in message


def test_naive_timestamps_refused(bars):
    with pytest.raises(ql.DataError, match="naive"):
        validate(bars.tz_localize(None))


def test_other_timezone_refused(bars):
    with pytest.raises(ql.DataError, match="UTC"):
        validate(bars.tz_convert("Europe/Paris"))


def test_non_float_column_refused(bars):
    bad = bars.assign(volume=bars["volume"].round().astype("int64"))
    with pytest.raises(ql.DataError, match="column 'volume': dtype must be float64"):
        validate(bad)


def test_missing_column_named(bars):
    with pytest.raises(ql.DataError, match=r"missing required column\(s\) \['volume'\]"):
        validate(bars.drop(columns="volume"))


def test_index_must_be_datetime(bars):
    with pytest.raises(ql.DataError, match="DatetimeIndex"):
        validate(bars.reset_index())


def _gapped(bars: pd.DataFrame) -> pd.DataFrame:
    return bars.drop(bars.index[[10, 11, 12, 40]])


def test_gaps_error_by_default_with_counts(bars):
    gapped = _gapped(bars)
    with pytest.raises(ql.DataError) as info:
        validate(gapped, "1h")
    message = str(info.value)
    assert bars.index[10].isoformat() in message
    assert "4 missing bar(s)" in message
    assert f"{100 * 4 / 500:.3f}%" in message
    assert "2 gap(s), largest 3" in message


def test_gaps_inferred_interval_when_not_given(bars):
    with pytest.raises(ql.DataError, match="inferred"):
        validate(_gapped(bars))


def test_gaps_allow_warns(bars):
    gapped = _gapped(bars)
    with pytest.warns(DataQualityWarning, match="4 missing bar"):
        out = validate(gapped, "1h", gaps="allow")
    assert out is gapped


def test_gaps_ffill_fills_flat_and_warns(bars):
    gapped = _gapped(bars)
    with pytest.warns(DataQualityWarning, match="filled gaps"):
        out = validate(gapped, "1h", gaps="ffill")
    assert out.index.equals(bars.index)
    assert out.attrs["filled_bars"] == 4
    prev_close = bars["close"].iloc[9]
    filled = out.iloc[10:13]
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(filled[column].to_numpy(), prev_close)
    assert (filled["volume"] == 0).all() and (filled["trades"] == 0).all()
    assert (filled["funding_rate"] == bars["funding_rate"].iloc[9]).all()
    pd.testing.assert_frame_equal(out.drop(out.index[[10, 11, 12, 40]]), gapped)
    validate(out, "1h")


def test_fill_gaps_is_identity_without_gaps(bars):
    out = fill_gaps(bars, "1h")
    pd.testing.assert_frame_equal(out, bars)
    assert out.attrs["filled_bars"] == 0


def test_off_grid_timestamp(bars):
    shifted = bars.rename(index={bars.index[5]: bars.index[5] + pd.Timedelta(minutes=7)})
    with pytest.raises(ql.DataError, match="on the interval grid"):
        validate(shifted, "1h")


def test_wrong_gap_policy(bars):
    with pytest.raises(ql.DataError, match="gaps: must be one of"):
        validate(bars, gaps="drop")


def test_quality_report_counts_every_failure():
    df = random_bars(100)
    df.iloc[[3, 8], df.columns.get_loc("close")] = np.nan
    df.iloc[20, df.columns.get_loc("volume")] = -1.0
    table = quality_report(df, "1h")
    nan_close = table[(table["check"] == "no NaN") & (table["column"] == "close")].iloc[0]
    assert nan_close["status"] == "FAIL"
    assert nan_close["violations"] == 2
    assert nan_close["first_time"] == df.index[3]
    assert nan_close["percent"] == pytest.approx(2.0)
    neg = table[table["check"] == "volume >= 0"].iloc[0]
    assert neg["violations"] == 1 and neg["first_time"] == df.index[20]
    assert set(table["status"]) == {"ok", "FAIL"}
    assert re.match(r"1h", table.attrs["interval"])
