"""The public ``ql.data.load`` entry point over every source."""

from __future__ import annotations

import pandas as pd
import pytest

import quantlab as ql


def test_synthetic_default_validates_and_is_deterministic():
    a = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    b = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert ql.data.validate(a, "1h") is a
    assert a.index.name == "time" and str(a.index.tz) == "UTC"
    assert list(a.columns[:5]) == list(ql.data.BAR_COLUMNS)
    assert (a.dtypes == "float64").all()
    c = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=8)
    assert not a["close"].equals(c["close"])


def test_synthetic_range_is_half_open():
    df = ql.data.load(
        "synthetic", symbol="ETH", interval="4h", start="2024-03-01", end="2024-03-08"
    )
    assert df.index[0] == pd.Timestamp("2024-03-01", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-03-07 20:00", tz="UTC")
    assert len(df) == 42


def test_store_source_round_trip(tmp_path):
    from quantlab.data.store import Store

    df = ql.data.load(
        "synthetic", symbol="SOL", interval="1h", start="2024-01-01", end="2024-01-05"
    )
    Store(tmp_path).write(df, "hyperliquid", "SOL", "1h")
    back = ql.data.load("store", symbol="SOL", interval="1h", root=tmp_path)
    pd.testing.assert_frame_equal(back, df, check_freq=False)


def test_source_option_errors():
    with pytest.raises(ql.ConfigError, match="needs a symbol"):
        ql.data.load("hyperliquid")
    with pytest.raises(ql.ConfigError, match="unknown option"):
        ql.data.load("store", symbol="BTC", colour="red")
    with pytest.raises(ql.ConfigError):
        ql.data.load("synthetic", symbol="BTC", colour="red")
