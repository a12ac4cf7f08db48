"""A user's own data: any source, any interval, per-source options, honest gap policies.

Every property is checked over a family of inputs (several intervals, several sources),
not one case: the interval is inferred from the data and stated, a given interval must
match the data's spacing, and no gap policy invents bars at a finer interval than the
data's own.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.data.sources import SOURCES, DataSource
from quantlab.data.store import Store
from quantlab.errors import ConfigError, DataError

INTERVALS = ["15m", "1h", "4h", "1d", "1w"]


def _plain_bars(interval: str, n: int = 60, seed: int = 1, drop: tuple[int, ...] = ()):
    """Plain OHLCV bars at ``interval`` (no funding, no trades), rows ``drop`` removed."""
    df = ql.data.load("synthetic", interval=interval, n_bars=n, seed=seed)
    df = df[list(ql.data.BAR_COLUMNS)]
    return df.drop(df.index[list(drop)]) if drop else df


def _to_csv(df: pd.DataFrame, path) -> str:
    out = df.reset_index()
    out["time"] = out["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out.to_csv(path, index=False)
    return str(path)


# ------------------------------------------------------------------ interval inference


@pytest.mark.parametrize("interval", INTERVALS)
def test_a_files_interval_is_inferred_and_stated(tmp_path, interval):
    path = _to_csv(_plain_bars(interval), tmp_path / "bars.csv")
    df = ql.data.load(path)
    assert df.attrs["interval"] == interval
    assert ql.data.bar_interval(df) == interval
    assert ql.data.summary(df)["interval"].startswith(interval)
    table = ql.data.quality_report(df)
    assert (table["status"] == "ok").all(), table[table["status"] != "ok"]


@pytest.mark.parametrize("interval", INTERVALS)
def test_a_named_source_states_its_interval(interval):
    df = ql.data.load("synthetic", interval=interval, n_bars=30)
    assert df.attrs == {"source": "synthetic", "symbol": "BTC", "interval": interval}


@pytest.mark.parametrize(
    ("data", "claimed"),
    [("1d", "1h"), ("4h", "1h"), ("1h", "15m"), ("1h", "1d"), ("15m", "1h"), ("1w", "1d")],
)
@pytest.mark.parametrize("gaps", ["error", "allow", "ffill"])
def test_a_claimed_interval_must_match_the_spacing(tmp_path, data, claimed, gaps):
    """Daily bars are never read as hourly bars with gaps, whatever the gap policy."""
    path = _to_csv(_plain_bars(data, drop=(7,)), tmp_path / "bars.csv")
    with pytest.raises(DataError) as info:
        ql.data.load(path, interval=claimed, gaps=gaps)
    message = str(info.value)
    assert "bars.csv" in message and "spacing" in message
    assert f"interval='{data}'" in message  # the fix names the data's own interval


@pytest.mark.parametrize(("data", "claimed"), [("1d", "1h"), ("4h", "15m")])
def test_fill_gaps_refuses_a_finer_interval_than_the_data(data, claimed):
    df = _plain_bars(data, drop=(5,))
    with pytest.raises(DataError, match="spacing"):
        ql.data.fill_gaps(df, claimed)
    with pytest.raises(DataError, match="spacing"):
        ql.data.validate(df, claimed, gaps="ffill")
    filled = ql.data.fill_gaps(df, data)  # at the data's own interval it fills one bar
    assert filled.attrs["filled_bars"] == 1 and len(filled) == len(df) + 1


def test_ffill_refuses_to_invent_more_bars_than_there_are():
    df = _plain_bars("1h", n=40)
    sparse = df.iloc[[0, 1, 2, 30, 31, 39]]
    with pytest.raises(DataError, match="invent"):
        ql.data.validate(sparse, "1h", gaps="ffill")


@pytest.mark.parametrize("interval", ["1h", "4h", "1d"])
def test_a_gap_is_reported_at_the_datas_own_interval(tmp_path, interval):
    path = _to_csv(_plain_bars(interval, drop=(10, 11)), tmp_path / "bars.csv")
    with pytest.raises(DataError) as info:
        ql.data.load(path)
    message = str(info.value)
    assert f"2 missing bar(s) of {interval}" in message
    assert "-p gaps allow" in message and "--gaps allow" in message
    with pytest.warns(ql.data.DataQualityWarning):
        assert len(ql.data.load(path, gaps="allow")) == 58


# ------------------------------------------------------------- options per source


def test_the_seed_belongs_to_the_synthetic_source_alone(tmp_path):
    store = Store(tmp_path)
    store.write(_plain_bars("1h"), "hyperliquid", "ETH", "1h")
    path = _to_csv(_plain_bars("1h"), tmp_path / "bars.csv")
    with pytest.raises(ConfigError, match=r"\['seed'\] for source 'store'.*'synthetic'"):
        ql.data.load("store", symbol="ETH", root=tmp_path, seed=7)
    with pytest.raises(ConfigError, match=r"\['seed'\] for source 'hyperliquid'"):
        ql.data.load("hyperliquid", symbol="ETH", seed=7)
    with pytest.raises(ConfigError, match="do not apply to files"):
        ql.data.load(path, seed=7)
    # the notebooks' per-source options: each source takes only its own entry
    options = {"synthetic": {"seed": 7}, "store": {"root": str(tmp_path)}}
    for source in ("synthetic", "store", path):
        opts = ql.data.source_options(source, options)
        df = ql.data.load(source, symbol="ETH", start="2024-01-01", end="2024-01-03", **opts)
        assert df.attrs["interval"] == "1h" and len(df) == 48


def test_source_options_forms():
    assert ql.data.source_options("store", {"synthetic": {"seed": 7}}) == {}
    assert ql.data.source_options("synthetic", {"synthetic": {"seed": 7}}) == {"seed": 7}
    assert ql.data.source_options("a/b.csv", {"file": {}, "synthetic": {"seed": 1}}) == {}
    assert ql.data.source_options("synthetic", {"seed": 3}) == {"seed": 3}  # flat
    assert ql.data.source_options("store", None) == {}
    with pytest.raises(ConfigError, match="expected a mapping"):
        ql.data.source_options("store", ["seed"])


def test_every_registered_source_refuses_an_unknown_option():
    for name in SOURCES.names():
        with pytest.raises(ConfigError, match=r"unknown option\(s\) \['bogus'\] for source"):
            ql.data.load(name, symbol="BTC", bogus=1)


def test_the_store_reads_its_only_interval_and_names_the_choice(tmp_path):
    store = Store(tmp_path)
    store.write(_plain_bars("4h"), "hyperliquid", "SOL", "4h")
    df = ql.data.load("store", symbol="SOL", root=tmp_path)
    assert df.attrs["interval"] == "4h" and len(df) == 60
    store.write(_plain_bars("1d"), "hyperliquid", "SOL", "1d")
    with pytest.raises(ConfigError, match="stored at 4h, 1d"):
        ql.data.load("store", symbol="SOL", root=tmp_path)


@pytest.mark.parametrize(("data", "claimed"), [("1h", "15m"), ("15m", "1h"), ("1d", "4h")])
def test_the_store_refuses_bars_written_at_another_interval(tmp_path, data, claimed):
    with pytest.raises(DataError, match="spacing"):
        Store(tmp_path).write(_plain_bars(data), "hyperliquid", "BTC", claimed)
    assert Store(tmp_path).coverage().empty


def test_a_plugin_source_joins_the_registry():
    def read(symbol, interval, start, end, *, scale=1.0):
        df = _plain_bars(interval, n=10)
        return df * np.array([scale] * 4 + [1.0])

    SOURCES.register("scaled_test", DataSource("scaled_test", read, options=("scale",)))
    try:
        df = ql.data.load("scaled_test", symbol="X", scale=2.0)
        assert df.attrs["source"] == "scaled_test" and len(df) == 10
        with pytest.raises(ConfigError, match="it accepts: scale"):
            ql.data.load("scaled_test", symbol="X", seed=1)
    finally:
        SOURCES.unregister("scaled_test")
    with pytest.raises(ConfigError, match="unknown source 'scaled_test'; use one of"):
        ql.data.load("scaled_test")


# ------------------------------------------------------------- bad files, bad ranges


def test_unreadable_files_are_data_errors_naming_the_file(tmp_path):
    good = _plain_bars("1h")
    parquet = tmp_path / "bars.parquet"
    good.to_parquet(parquet)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("time,open\n1,2\n")
    header_only = tmp_path / "header.csv"
    header_only.write_text("time,open,high,low,close,volume\n")
    for path, rule in [
        (truncated, "Parquet"),
        (garbage, "Parquet"),
        (empty, "empty"),
        (header_only, "at least one bar"),
    ]:
        with pytest.raises(DataError) as info:
            ql.data.load(path)
        assert path.name in str(info.value) and rule in str(info.value)


def test_a_reversed_or_empty_range_is_refused(tmp_path):
    path = _to_csv(_plain_bars("1h"), tmp_path / "bars.csv")
    for source in ("synthetic", path):
        with pytest.raises(ConfigError, match=r"not before end.*swapped"):
            ql.data.load(source, start="2024-02-01", end="2024-01-01")
    with pytest.raises(DataError, match=r"no bar in .*the file covers 2024-01-01"):
        ql.data.load(path, start="2030-01-01")


def test_the_check_table_lists_every_rule_with_counts_and_first_rows(tmp_path):
    df = _plain_bars("1h", n=50)
    df.iloc[[3, 9, 20], df.columns.get_loc("high")] = 1.0  # high < low on three rows
    df.iloc[12, df.columns.get_loc("volume")] = -5.0
    df = df.drop(df.index[[30, 31, 40]])
    path = _to_csv(df, tmp_path / "bad.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # check() reads without warnings or raising
        table = ql.data.check(path)
    failed = table[table["status"] == "FAIL"].set_index(["check", "column"])
    assert failed.loc[("high >= low", "high"), "violations"] == 3
    assert failed.loc[("high >= low", "high"), "first_rows"].startswith("#3 2024-01-01T03:00")
    assert "#9 " in failed.loc[("high >= low", "high"), "first_rows"]
    assert failed.loc[("volume >= 0", "volume"), "violations"] == 1
    assert failed.loc[("no gaps", "index"), "violations"] == 3
    assert len(table) == len(ql.data.quality_report(df))
    assert set(table["check"]) >= {"at least one bar", "no NaN", "price > 0", "no gaps"}
    assert table.attrs["interval"].startswith("1h")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"gaps": "maybe"}, ["'maybe'", "-p gaps allow"]),
        ({"interval": 4}, ["interval", "4"]),
        ({"interval": "1x"}, ["'1x'"]),
        ({"start": "yesterday-ish"}, ["start", "'yesterday-ish'"]),
        ({"source": "nowhere"}, ["'nowhere'", "synthetic"]),
        ({"source": "store", "seed": 7}, ["'seed'", "'synthetic'"]),
    ],
)
def test_bad_parameters_are_config_errors_naming_the_value(kwargs, words):
    kwargs = {"source": "synthetic", **kwargs}
    with pytest.raises(ConfigError) as info:
        ql.data.load(kwargs.pop("source"), symbol="BTC", **kwargs)
    for word in words:
        assert word in str(info.value)


def test_fetch_and_record_take_a_gap_policy_and_never_fill_the_archive(tmp_path, caplog):
    from quantlab.data.fetch import fetch, record
    from quantlab.errors import SourceError

    class GappySource:
        def bars(self, symbol, interval, start, end):
            return _plain_bars(interval, n=30, drop=(10, 11))

    for call in (
        lambda **kw: fetch("venue", "BTC", "1h", store=tmp_path, source_obj=GappySource(), **kw),
        lambda **kw: record("venue", "BTC", "1h", store=tmp_path, source_obj=GappySource(), **kw),
    ):
        with pytest.raises(SourceError, match=r"2 missing bar\(s\) of 1h.*nothing stored"):
            call(gaps="error")
        assert Store(tmp_path).coverage().empty
        with pytest.raises(ConfigError, match="fill missing bars when loading"):
            call(gaps="ffill")
    with caplog.at_level("WARNING"):
        assert fetch("venue", "BTC", "1h", store=tmp_path, source_obj=GappySource()) == {"BTC": 28}
    assert "2 missing bar(s) of 1h" in caplog.text
    assert len(Store(tmp_path).read("venue", "BTC", "1h")) == 28  # stored as served


# ------------------------------------------------------------------ kinds of source


def test_solana_is_a_swap_source_of_the_one_registry():
    assert "solana" in SOURCES and SOURCES.get("solana").kind == "swaps"
    assert ql.data.source_names("swaps") == ["solana"]
    bars = ql.data.source_names("bars")
    assert "solana" not in bars and {"synthetic", "hyperliquid", "store"} <= set(bars)
    assert sorted(bars + ql.data.source_names("swaps")) == ql.data.source_names()
    # loaded through the registry: the swap frame as the source gives it, no bar checks
    df = ql.data.load("solana", seed=3, days=1.0)
    assert list(df.columns) == list(ql.data.solana.SWAP_COLUMNS) and len(df) > 0
    token = df["token"].iloc[0]  # symbol is the token, as before
    by_symbol = ql.data.load("solana", symbol=token, seed=3, days=1.0)
    assert 0 < len(by_symbol) < len(df) and set(by_symbol["token"]) == {token}
    pd.testing.assert_frame_equal(by_symbol, ql.data.load("solana", token=token, seed=3, days=1.0))


def test_a_swap_source_refuses_what_only_bars_have():
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['n_bars'\] for source 'solana'"):
        ql.data.load("solana", seed=3, n_bars=10)
    with pytest.raises(ConfigError, match="interval='1h' does not apply"):
        ql.data.load("solana", interval="1h", seed=3, days=1.0)
    with pytest.raises(ConfigError, match=r"gives swaps, not bars.*synthetic"):
        ql.data.check("solana", seed=3)


def test_unknown_source_lists_every_kind_and_kinds_are_checked():
    with pytest.raises(ConfigError, match=r"unknown source 'nope'; use one of .*solana.*synthetic"):
        ql.data.load("nope")
    with pytest.raises(ConfigError, match="kind 'ticks' is not one of bars, swaps"):
        DataSource("ticks_test", lambda *a, **k: None, kind="ticks")
    with pytest.raises(ConfigError, match="'ticks' is not one of bars, swaps"):
        ql.data.source_names("ticks")
