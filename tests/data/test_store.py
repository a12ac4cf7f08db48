"""Local Parquet/DuckDB store: exact round trips, overlap without duplicates, SQL across
symbols, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql
from quantlab.data.store import COVERAGE_COLUMNS, Store
from quantlab.errors import ConfigError, DataError, SourceError


def _scaled(df: pd.DataFrame, factor: float) -> pd.DataFrame:
    out = df.copy()
    for column in ("open", "high", "low", "close"):
        out[column] = out[column] * factor
    return out


def test_round_trip_is_exact(tmp_path):
    store = Store(tmp_path)
    bars = random_bars(500)
    assert store.write(bars, "hyperliquid", "BTC", "1h") == 500
    back = store.read("hyperliquid", "BTC", "1h")
    pd.testing.assert_frame_equal(back, bars, check_freq=False)
    assert str(back.index.dtype) == "datetime64[ns, UTC]" and back.index.name == "time"


@pytest.mark.parametrize(
    ("freq", "interval", "files"),
    [
        ("1h", "1h", ["2023.parquet", "2024.parquet"]),
        ("15min", "15m", ["2023-12.parquet", "2024-01.parquet"]),
    ],
)
def test_partitions_split_and_join(tmp_path, freq, interval, files):
    store = Store(tmp_path)
    bars = random_bars(400, freq=freq, start="2023-12-30")
    store.write(bars, "hyperliquid", "ETH", interval)
    folder = tmp_path / "hyperliquid" / "ETH" / interval
    assert sorted(p.name for p in folder.glob("*.parquet")) == files
    pd.testing.assert_frame_equal(
        store.read("hyperliquid", "ETH", interval), bars, check_freq=False
    )


def test_unit_of_the_time_index_round_trips(tmp_path):
    store = Store(tmp_path)
    bars = random_bars(50)
    bars.index = bars.index.as_unit("us")
    store.write(bars, "s", "X", "1h")
    pd.testing.assert_frame_equal(store.read("s", "X", "1h"), bars, check_freq=False)


def test_overlapping_append_replaces_and_never_duplicates(tmp_path):
    store = Store(tmp_path)
    bars = random_bars(500, start="2023-12-20")  # spans two partitions
    store.write(bars.iloc[:300], "hyperliquid", "BTC", "1h")
    newer = _scaled(bars.iloc[200:], 1.01)
    store.write(newer, "hyperliquid", "BTC", "1h")
    back = store.read("hyperliquid", "BTC", "1h")
    assert back.index.is_unique and back.index.is_monotonic_increasing
    assert len(back) == 500
    pd.testing.assert_frame_equal(back.iloc[:200], bars.iloc[:200], check_freq=False)
    pd.testing.assert_frame_equal(back.iloc[200:], newer, check_freq=False)  # newest wins
    store.write(newer, "hyperliquid", "BTC", "1h")  # the same range again: nothing changes
    pd.testing.assert_frame_equal(store.read("hyperliquid", "BTC", "1h"), back)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 190), st.integers(1, 60), st.floats(0.5, 2.0)),
        min_size=1,
        max_size=4,
    )
)
def test_any_sequence_of_writes_matches_newest_wins(tmp_path_factory, writes):
    store = Store(tmp_path_factory.mktemp("store"))
    bars = random_bars(250, start="2023-12-28")
    expected = None
    for start, length, factor in writes:
        chunk = _scaled(bars.iloc[start : start + length], factor)
        store.write(chunk, "s", "X", "1h")
        expected = (
            chunk
            if expected is None
            else pd.concat([expected[~expected.index.isin(chunk.index)], chunk]).sort_index()
        )
    pd.testing.assert_frame_equal(store.read("s", "X", "1h"), expected, check_freq=False)


def test_read_range_is_half_open(tmp_path):
    store = Store(tmp_path)
    bars = random_bars(100)
    store.write(bars, "s", "X", "1h")
    part = store.read("s", "X", "1h", start="2024-01-02", end="2024-01-03")
    pd.testing.assert_frame_equal(part, bars.loc["2024-01-02":"2024-01-02 23:00"], check_freq=False)
    empty = store.read("s", "X", "1h", start="2030-01-01")
    assert empty.empty and list(empty.columns) == list(bars.columns)
    assert store.last("s", "X", "1h") == bars.index[-1]


def test_coverage_and_cross_symbol_duckdb_query(tmp_path):
    store = Store(tmp_path)
    btc = random_bars(300, seed=1)
    eth = random_bars(200, seed=2, start="2024-01-03")
    sol = random_bars(96, seed=3, freq="15min").drop(columns="funding_rate")
    store.write(btc, "hyperliquid", "BTC", "1h")
    store.write(eth, "hyperliquid", "ETH", "1h")
    store.write(sol, "hyperliquid", "SOL", "15m")

    cov = store.coverage().set_index("symbol")
    assert list(store.coverage().columns) == list(COVERAGE_COLUMNS)
    assert cov.loc["ETH", "start"] == eth.index[0] and cov.loc["ETH", "end"] == eth.index[-1]
    assert cov.loc["BTC", "rows"] == 300 and cov.loc["SOL", "interval"] == "15m"

    stats = store.query(
        "SELECT symbol, count(*) AS n, avg(close) AS mean_close, min(time) AS first "
        "FROM bars WHERE interval = '1h' GROUP BY symbol ORDER BY symbol"
    )
    assert list(stats["symbol"]) == ["BTC", "ETH"]
    assert list(stats["n"]) == [300, 200]
    assert stats["mean_close"].tolist() == pytest.approx([btc.close.mean(), eth.close.mean()])
    assert stats["first"].tolist() == [btc.index[0], eth.index[0]]  # tz-aware UTC

    joined = store.query(
        "SELECT b.time, b.close AS btc, e.close AS eth FROM bars b JOIN bars e "
        "ON b.time = e.time AND b.interval = e.interval "
        "WHERE b.symbol = ? AND e.symbol = ? ORDER BY b.time",
        ["BTC", "ETH"],
    )
    both = pd.concat([btc.close.rename("btc"), eth.close.rename("eth")], axis=1, join="inner")
    np.testing.assert_array_equal(joined[["btc", "eth"]].to_numpy(), both.to_numpy())
    assert (pd.DatetimeIndex(joined["time"]) == both.index).all()

    funding = store.query("SELECT count(funding_rate) AS n FROM bars WHERE symbol = 'SOL'")
    assert funding["n"].iloc[0] == 0  # SOL was stored without funding: NULL


def test_empty_store(tmp_path):
    store = Store(tmp_path / "nothing")
    assert store.coverage().empty and list(store.coverage().columns) == list(COVERAGE_COLUMNS)
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 0
    assert store.last("s", "X", "1h") is None
    with pytest.raises(SourceError, match=r"no bars for s/X/1h .*stored: nothing"):
        store.read("s", "X", "1h")


def test_refusals_name_the_problem(tmp_path):
    store = Store(tmp_path)
    bars = random_bars(50)
    store.write(bars, "s", "X", "1h")
    with pytest.raises(DataError, match=r"columns differ .*missing \['funding_rate'\]"):
        store.write(bars.drop(columns="funding_rate"), "s", "X", "1h")
    with pytest.raises(DataError, match=r"\['signal'\] are not bar columns"):
        store.write(bars.assign(signal=1.0), "s", "Y", "1h")
    broken = bars.copy()
    broken.loc[bars.index[7], "high"] = 1.0
    with pytest.raises(DataError, match="2024-01-01T07:00:00"):
        store.write(broken, "s", "Y", "1h")
    shifted = bars.iloc[:5].copy()
    shifted.index = shifted.index + pd.Timedelta("30min")
    with pytest.raises(DataError, match="on the interval grid"):
        store.write(pd.concat([bars.iloc[10:15], shifted]).sort_index(), "s", "X", "1h")
    for bad in ("../up", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError, match="symbol"):
            store.write(bars, "s", bad, "1h")
    with pytest.raises(ConfigError, match="interval"):
        store.write(bars, "s", "X", "1 hour")
    with pytest.raises(SourceError, match=r"stored: s/X/1h"):
        store.read("s", "Z", "1h")
    with pytest.raises(ConfigError, match="store query"):
        store.query("SELECT nope FROM bars")
    pd.testing.assert_frame_equal(store.read("s", "X", "1h"), bars, check_freq=False)


def test_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    store = Store(tmp_path)
    bars = random_bars(100)
    store.write(bars.iloc[:60], "s", "X", "1h")
    folder = tmp_path / "s" / "X" / "1h"
    before = (folder / "2024.parquet").read_bytes()

    def crash(self, handle, **kwargs):
        handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write(bars.iloc[40:], "s", "X", "1h")
    monkeypatch.undo()
    assert (folder / "2024.parquet").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "2024.parquet"]
    pd.testing.assert_frame_equal(store.read("s", "X", "1h"), bars.iloc[:60], check_freq=False)


def test_ql_data_load_reads_the_store(tmp_path):
    bars = random_bars(48)
    Store(tmp_path).write(bars, "hyperliquid", "BTC", "1h")
    df = ql.data.load("store", symbol="BTC", interval="1h", root=str(tmp_path))
    pd.testing.assert_frame_equal(df, bars, check_freq=False)
    assert isinstance(Store(Path(tmp_path)).root, Path)
