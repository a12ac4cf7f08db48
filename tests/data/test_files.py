"""Reading bars from CSV/Parquet files with the common column spellings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.data.files import read_bars_file


def test_parquet_round_trip(tmp_path, bars):
    path = tmp_path / "bars.parquet"
    bars.to_parquet(path)
    out = ql.data.load(path, interval="1h")
    pd.testing.assert_frame_equal(out, bars, check_freq=False)


def test_csv_with_other_spellings_and_epoch_ms(tmp_path, bars):
    raw = pd.DataFrame(
        {
            "Timestamp": bars.index.asi8 // 1_000_000,
            "O": bars["open"],
            "H": bars["high"],
            "L": bars["low"],
            "C": bars["close"],
            "Vol": bars["volume"],
            "extra": 1,
        }
    )
    path = tmp_path / "bars.csv"
    raw.to_csv(path, index=False)
    out = ql.data.load(str(path), interval="1h", start="2024-01-02", end="2024-01-03")
    expected = bars.loc["2024-01-02":"2024-01-02 23:00", list(ql.data.BAR_COLUMNS)]
    pd.testing.assert_frame_equal(out, expected, check_freq=False, rtol=1e-15)
    assert len(out) == 24


def test_csv_with_iso_strings(tmp_path, bars):
    raw = bars.reset_index()
    raw["time"] = raw["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    path = tmp_path / "bars.csv"
    raw.to_csv(path, index=False)
    out = read_bars_file(path)
    assert str(out.index.tz) == "UTC"
    assert out.index.equals(bars.index)


def test_real_candles_fixture(fixtures_dir):
    path = fixtures_dir / "indicator_oracle" / "test_candles_btc.csv"
    df = ql.data.load(path, interval=None, gaps="allow")
    raw = pd.read_csv(path)
    assert len(df) == len(raw)
    # the fixture orders columns open, close, high, low: mapping is by name, not position
    np.testing.assert_array_equal(df["close"].to_numpy(), raw["close"].to_numpy())
    np.testing.assert_array_equal(df["high"].to_numpy(), raw["high"].to_numpy())
    assert df.index[0] == pd.Timestamp(int(raw["timestamp_ms"].iloc[0]), unit="ms", tz="UTC")


def test_missing_column_lists_accepted_spellings(tmp_path, bars):
    path = tmp_path / "bars.csv"
    bars.drop(columns="volume").reset_index().to_csv(path, index=False)
    with pytest.raises(ql.DataError, match=r"no column for \['volume'\].*vol"):
        read_bars_file(path)


def test_ambiguous_columns(tmp_path, bars):
    raw = bars.reset_index()
    raw["price"] = raw["close"]
    path = tmp_path / "bars.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(ql.DataError, match="both mean 'close'"):
        read_bars_file(path)


def test_non_numeric_value_named(tmp_path, bars):
    raw = bars.reset_index()
    raw["close"] = raw["close"].astype(object)
    raw.loc[7, "close"] = "oops"
    path = tmp_path / "bars.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(ql.DataError, match=r"row 7 .*column 'close' value 'oops'"):
        read_bars_file(path)


def test_unsupported_suffix(tmp_path):
    with pytest.raises(ql.DataError, match="unsupported file type"):
        ql.data.read_bars_file(tmp_path / "bars.xlsx")


def test_unknown_source():
    with pytest.raises(ql.ConfigError, match="unknown source 'binance'"):
        ql.data.load("binance", symbol="BTC")
