"""The fused sweep equals the event engine run combination by combination (to 1e-9).

Oracle: ``ql.backtest.run(df, strategy, costs).stats`` of each combination, the strategy
built directly from the row's parameters (not through the sweep's own grid expansion).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql
from quantlab.backtest.stats import STAT_NAMES
from quantlab.backtest.sweeps import (
    SWEEP_COLUMNS,
    best_params,
    expand_sweep,
    parse_grid,
    run_sweep_cli,
    sweep,
    sweep_candidates,
)
from quantlab.errors import ConfigError, DataError
from quantlab.kernels import rolling as kroll
from quantlab.kernels import strategy_signals as ksig
from quantlab.kernels import sweep as ksw

RTOL = 1e-9
ATOL = 1e-12


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """Synthetic perp bars with funding, regimes and gaps between close and open."""
    return ql.data.load("synthetic", symbol="BTC", interval="1h", seed=11, n_bars=1200)


def assert_stats_equal(row: pd.Series, stats: pd.Series, label: str) -> None:
    for name in STAT_NAMES:
        a, b = float(row[name]), float(stats[name])
        if np.isnan(b):
            assert np.isnan(a), f"{label}: {name} sweep {a!r} engine NaN"
        elif np.isinf(b):
            assert a == b, f"{label}: {name} sweep {a!r} engine {b!r}"
        else:
            assert abs(a - b) <= ATOL + RTOL * abs(b), f"{label}: {name} sweep {a!r} engine {b!r}"


def _opt(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


# ---------------------------------------------------------------- engine equality


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_ma_cross_grid_with_stops_and_fees_equals_engine(bars, fill):
    costs = ql.backtest.Costs(
        maker_fee=0.0002, taker_fee=0.0005, slippage_bps=2.0, vol_slippage=0.1, impact=0.01
    )
    base = ql.backtest.ma_cross(direction="both", take_profit=0.04)
    grid = {"fast": [3, 8, 20], "slow": [8, 30], "stop_loss": [None, 0.01, 0.03]}
    table = sweep(bars, base, grid, costs, fill=fill)
    valid = [(f, s, sl) for f, s, sl in itertools.product(*grid.values()) if f < s]
    assert len(table) == len(valid) == table.attrs["n_trials"]
    assert table.attrs["n_invalid"] == 2 * 3  # (8, 8) and (20, 8), for each stop
    assert table.attrs["metric_kind"] == "fused"
    assert list(table.columns) == [*grid, *SWEEP_COLUMNS]
    assert table["n_trades"].gt(0).all()
    for i, (f, s, sl) in enumerate(valid):
        row = table.iloc[i]
        assert (row["fast"], row["slow"], _opt(row["stop_loss"])) == (f, s, sl)
        strat = ql.backtest.ma_cross(
            fast=f, slow=s, stop_loss=sl, direction="both", take_profit=0.04
        )
        res = ql.backtest.run(bars, strat, costs, fill=fill)
        assert_stats_equal(row, res.stats, f"fast={f} slow={s} sl={sl}")
        assert row["ambiguous_bars"] == res.ambiguous_bars


def test_atr_trailing_limits_and_cost_keys_equal_engine(bars):
    base = ql.backtest.ma_cross(
        fast=5,
        slow=20,
        atr_mult=2.0,
        trail_activation=0.005,
        trail_distance=0.02,
        limits={"daily_loss_limit": 0.02, "max_drawdown": 0.15, "cooldown_bars": 3},
    )
    grid = {
        "atr_window": [7, 14],
        "sizing.fraction": [0.5, 1.0],
        "taker_fee": [0.0, 0.001],
        "costs.funding": [True, False],
    }
    table = sweep(bars, base, grid, ql.backtest.Costs(maker_fee=0.0001))
    assert len(table) == 16
    for _, row in table.iterrows():
        strat = ql.backtest.ma_cross(
            fast=5,
            slow=20,
            atr_mult=2.0,
            atr_window=int(row["atr_window"]),
            trail_activation=0.005,
            trail_distance=0.02,
            sizing={"fraction": float(row["sizing.fraction"])},
            limits={"daily_loss_limit": 0.02, "max_drawdown": 0.15, "cooldown_bars": 3},
        )
        costs = ql.backtest.Costs(
            maker_fee=0.0001, taker_fee=float(row["taker_fee"]), funding=bool(row["costs.funding"])
        )
        res = ql.backtest.run(bars, strat, costs)
        assert_stats_equal(row, res.stats, row.to_dict().__repr__())
    # funding was charged where asked, not otherwise
    assert table.loc[~table["costs.funding"], "funding_paid"].eq(0.0).all()
    assert table.loc[table["costs.funding"], "funding_paid"].ne(0.0).any()


def test_ema_trend_fused_equals_engine(bars):
    grid = {"fast": [5, 12], "slow": [12, 40], "gate": [50, 100]}
    base = ql.backtest.ema_trend(direction="both", stop_loss=0.02)
    table = sweep(bars, base, grid, 0.0005)
    assert table.attrs["metric_kind"] == "fused"
    assert len(table) == 6
    for _, row in table.iterrows():
        strat = ql.backtest.ema_trend(
            fast=int(row["fast"]),
            slow=int(row["slow"]),
            gate=int(row["gate"]),
            direction="both",
            stop_loss=0.02,
        )
        assert_stats_equal(row, ql.backtest.run(bars, strat, 0.0005).stats, str(row["fast"]))


def test_generic_targets_path_equals_engine(bars):
    """Strategies without a fused signal share each distinct target across risk settings."""
    grid = {"entry_window": [10, 30], "exit_window": [5, 10], "atr_mult": [1.5, 3.0]}
    table = sweep(bars, ql.backtest.donchian_breakout(direction="both"), grid, 0.0004)
    assert table.attrs["metric_kind"] == "targets"
    for _, row in table.iterrows():
        strat = ql.backtest.donchian_breakout(
            entry_window=int(row["entry_window"]),
            exit_window=int(row["exit_window"]),
            atr_mult=float(row["atr_mult"]),
            direction="both",
        )
        assert_stats_equal(row, ql.backtest.run(bars, strat, 0.0004).stats, "donchian")
    # chunks of one distinct signal give the same table
    small = sweep(bars, ql.backtest.donchian_breakout(direction="both"), grid, 0.0004, chunk_size=1)
    pd.testing.assert_frame_equal(small, table)


def test_sizing_rules_and_breaker_equal_engine(bars):
    base = ql.backtest.mean_reversion(
        direction="both",
        stop_loss=0.02,
        sizing={"kind": "vol_target", "target_vol": 0.4, "fraction": 1.0},
    )
    grid = {"window": [10, 20], "sizing.vol_window": [10, 30]}
    table = sweep(bars, base, grid, 0.0003, fill="close")
    kelly = ql.backtest.ma_cross(
        fast=4,
        slow=12,
        direction="both",
        sizing={"kind": "kelly", "max_fraction": 0.5},
        edge={"win_rate": 0.5, "payoff": 1.5, "min_trades": 5},
        breaker={"threshold": 0.05, "pause_bars": 10},
    )
    table_k = sweep(bars, kelly, {"stop_loss": [0.005, 0.02]}, 0.0003)
    for _, row in table.iterrows():
        strat = ql.backtest.mean_reversion(
            window=int(row["window"]),
            direction="both",
            stop_loss=0.02,
            sizing={
                "kind": "vol_target",
                "target_vol": 0.4,
                "fraction": 1.0,
                "vol_window": int(row["sizing.vol_window"]),
            },
        )
        res = ql.backtest.run(bars, strat, 0.0003, fill="close")
        assert_stats_equal(row, res.stats, "vol_target")
    for _, row in table_k.iterrows():
        strat = kelly.model_copy(update={"stops": ql.risk.Stops(stop_loss=float(row["stop_loss"]))})
        assert_stats_equal(row, ql.backtest.run(bars, strat, 0.0003).stats, "kelly")


def test_ambiguous_bars_take_the_pessimistic_ordering():
    df = random_bars(800, seed=3)
    grid = {"stop_loss": [0.004, 0.008], "take_profit": [0.004, 0.01]}
    table = sweep(df, ql.backtest.ma_cross(fast=3, slow=9), grid)
    assert table["ambiguous_bars"].gt(0).any()
    for _, row in table.iterrows():
        strat = ql.backtest.ma_cross(
            fast=3, slow=9, stop_loss=row["stop_loss"], take_profit=row["take_profit"]
        )
        res = ql.backtest.run(df, strat)
        assert res.ordering == "pessimistic"
        assert_stats_equal(row, res.stats, "ambiguous")
        assert row["ambiguous_bars"] == res.ambiguous_bars


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fast=st.integers(1, 10),
    gap=st.integers(1, 30),
    stop=st.one_of(st.none(), st.floats(0.002, 0.05)),
    fee=st.floats(0.0, 0.003),
    fill=st.sampled_from(["next_open", "close"]),
    direction=st.sampled_from(["long", "short", "both"]),
)
def test_any_single_combination_equals_engine(seed, fast, gap, stop, fee, fill, direction):
    df = random_bars(300, seed=seed)
    strat = ql.backtest.ma_cross(fast=fast, slow=fast + gap, stop_loss=stop, direction=direction)
    table = sweep(df, strat, None, fee, fill=fill)
    assert len(table) == 1 and table.attrs["n_trials"] == 1
    assert_stats_equal(table.iloc[0], ql.backtest.run(df, strat, fee, fill=fill).stats, "single")


# ----------------------------------------------------------------------- kernels


def test_fused_signals_equal_strategy_signal_kernels():
    close = random_bars(400, seed=5)["close"].to_numpy()
    windows = np.array([3, 7, 20], dtype=np.int64)
    sma = ksw.indicator_rows_nb(close, windows, ksw.KIND_CROSS)
    ema = ksw.indicator_rows_nb(close, windows, ksw.KIND_EMA_TREND)
    for i, w in enumerate(windows):
        np.testing.assert_array_equal(sma[i], kroll.rolling_mean_nb(close, int(w)))
        np.testing.assert_array_equal(ema[i], kroll.ewm_mean_nb(close, 2.0 / (w + 1.0)))
    want = ksig.cross_target_nb(sma[0], sma[2], True, True)
    state, got = 0.0, np.zeros(close.size)
    for t in range(1, close.size):
        state = ksig.cross_step_nb(state, sma[0, t - 1], sma[2, t - 1], sma[0, t], sma[2, t])
        got[t] = state
    np.testing.assert_array_equal(got, want)
    want = ksig.ema_trend_target_nb(close, ema[0], ema[1], ema[2], 19, True, True)
    got = np.array(
        [
            ksig.ema_trend_dir_nb(close[t], ema[0, t], ema[1, t], ema[2, t])
            for t in range(close.size)
        ]
    )
    got[:19] = 0.0
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- table and helpers


def test_expand_sweep_counts_and_orders_like_the_grid():
    pairs, params, n_invalid = expand_sweep(
        ql.backtest.ma_cross(), {"fast": [5, 10], "slow": [8, 20], "taker_fee": [0.0, 0.001]}
    )
    assert n_invalid == 2  # (10, 8) refused, for both fees
    assert params.to_dict("list") == {
        "fast": [5, 5, 5, 5, 10, 10],
        "slow": [8, 8, 20, 20, 20, 20],
        "taker_fee": [0.0, 0.001] * 3,
    }
    assert [(s.fast, s.slow, c.taker_fee) for s, c in pairs] == list(
        zip(params["fast"], params["slow"], params["taker_fee"], strict=True)
    )


def test_best_params_and_candidates(bars):
    table = sweep(bars, ql.backtest.ma_cross(), {"fast": [5, 10], "slow": [30, 60]}, 0.001)
    best = best_params(table, "sharpe")
    i = int(np.nanargmax(table["sharpe"].to_numpy()))
    assert best == {"fast": int(table["fast"][i]), "slow": int(table["slow"][i])}
    assert isinstance(best["fast"], int)
    worst = best_params(table, "max_drawdown", maximize=False)
    assert worst["fast"] == int(table["fast"][table["max_drawdown"].idxmin()])
    stats = sweep_candidates(bars, [ql.backtest.ma_cross(**best)], 0.001)
    np.testing.assert_array_equal(stats.iloc[0].to_numpy(), table.iloc[i][list(SWEEP_COLUMNS)])
    with pytest.raises(ConfigError, match="metric"):
        best_params(table, "nope")


def test_progress_and_chunks_do_not_change_results(bars):
    grid = {"fast": [3, 5, 8], "slow": [13, 21]}
    a = sweep(bars, ql.backtest.ma_cross(), grid, 0.001)
    b = sweep(bars, ql.backtest.ma_cross(), grid, 0.001, chunk_size=2, progress=True)
    pd.testing.assert_frame_equal(a, b)


def test_parse_grid():
    assert parse_grid(["fast=5:50:5", "stop_loss=0.01,0.02"]) == {
        "fast": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
        "stop_loss": [0.01, 0.02],
    }
    assert parse_grid(["x=0.1:0.3:0.1", "d=long,both", "s=none,0.5", "w=3:5"]) == {
        "x": [0.1, 0.2, 0.3],
        "d": ["long", "both"],
        "s": [None, 0.5],
        "w": [3, 4, 5],
    }
    for bad in (["fast"], ["fast=5:1"], ["fast=1:5:0"], ["a=1", "a=2"], ["a=x:y"]):
        with pytest.raises(ConfigError, match="grid spec"):
            parse_grid(bad)


def test_bad_input_raises_clear_errors(bars):
    with pytest.raises(ConfigError, match="grid key 'nope'"):
        sweep(bars, ql.backtest.ma_cross(), {"nope": [1]})
    with pytest.raises(ConfigError, match=r"grid\['fast'\]"):
        sweep(bars, ql.backtest.ma_cross(), {"fast": []})
    with pytest.raises(ConfigError, match="none of the"):
        sweep(bars, ql.backtest.ma_cross(), {"fast": [50], "slow": [10]})
    with pytest.raises(ConfigError, match=r"costs\.nope"):
        sweep(bars, ql.backtest.ma_cross(), {"costs.nope": [1]})
    broken = bars.copy()
    broken.iloc[5, broken.columns.get_loc("close")] = np.nan
    with pytest.raises(DataError):
        sweep(broken, ql.backtest.ma_cross(), {"fast": [5]})


def test_invalid_target_names_the_bar(bars):
    class Bad(ql.backtest.MACross):
        def _target(self, df):
            out = np.zeros(len(df))
            out[7] = 2.0
            return out

    with pytest.raises(DataError, match=re.escape(str(bars.index[7]))):
        sweep(bars, Bad(), {"fast": [5, 6]})


def test_run_sweep_cli_writes_the_table(tmp_path):
    out = tmp_path / "sweep.parquet"
    table = run_sweep_cli(
        "ma_cross",
        ["fast=5:10:5", "slow=20,40", "stop_loss=0.02"],
        source="synthetic",
        symbol="BTC",
        start="2024-01-01",
        end="2024-02-01",
        seed=3,
        costs="hyperliquid",
        output=out,
        progress=False,
    )
    back = pd.read_parquet(out)
    assert len(back) == len(table) == 4
    np.testing.assert_array_equal(back["sharpe"].to_numpy(), table["sharpe"].to_numpy())
    assert list(back.columns) == list(table.columns)
    with pytest.raises(ConfigError, match="output"):
        run_sweep_cli("ma_cross", ["fast=5"], output=tmp_path / "x.txt")


def test_apply_params_and_heatmap(bars):
    from quantlab.backtest.plots import sweep_heatmap
    from quantlab.backtest.sweeps import apply_params

    grid = {"fast": [5, 10], "slow": [20, 40], "stop_loss": [0.01, 0.03], "taker_fee": [0.001]}
    table = sweep(bars, ql.backtest.ma_cross(), grid)
    strat, costs = apply_params(ql.backtest.ma_cross(), best_params(table))
    assert costs.taker_fee == 0.001 and strat.stops.stop_loss in (0.01, 0.03)
    with pytest.raises(ConfigError):
        apply_params(ql.backtest.ma_cross(), {"fast": 50, "slow": 10})
    fig = sweep_heatmap(table, "fast", "slow", "sharpe")
    shown = np.asarray(fig.axes[0].images[0].get_array())
    want = table.groupby(["slow", "fast"])["sharpe"].max().unstack("fast").to_numpy()
    np.testing.assert_array_equal(shown, want)
    assert "max over stop_loss, taker_fee" in fig.axes[0].get_title()
    with pytest.raises(ConfigError, match="'nope'"):
        sweep_heatmap(table, "fast", "nope")
