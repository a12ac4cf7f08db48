"""The batch path's options: top-k, Parquet streaming, limits, executors, run options, costs.

Oracles: the full sweep table (itself equal to ``run()`` per row, tests/backtest/test_sweep.py)
and pandas sorting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.backtest import sweeps
from quantlab.backtest.stats import METRIC_DIRECTIONS
from quantlab.backtest.sweeps import SweepResult, best_params, rank_table, sweep
from quantlab.errors import ConfigError


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return ql.data.load("synthetic", symbol="ETH", interval="1h", seed=5, n_bars=900)


FUSED = (
    ql.backtest.ma_cross(),
    {"fast": [3, 5, 8, 13], "slow": [10, 21, 34], "stop_loss": [None, 0.03]},
)
GENERIC = (
    ql.backtest.donchian_breakout(direction="both"),
    {"stop_loss": [0.01, 0.03], "entry_window": [10, 20, 40], "taker_fee": [0.0, 0.001]},
)


def _sorted(t: pd.DataFrame, keys) -> pd.DataFrame:
    return t.sort_values(list(keys), kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("case", [FUSED, GENERIC], ids=["fused", "targets"])
@pytest.mark.parametrize("metric", ["sharpe", "max_drawdown"])
def test_top_equals_the_ranked_full_table(bars, case, metric):
    base, grid = case
    full = sweep(bars, base, grid, 0.0005, chunk_size=2)
    top = sweep(bars, base, grid, 0.0005, top=5, metric=metric, chunk_size=2)
    expected = rank_table(full, metric).head(5).reset_index(drop=True)
    pd.testing.assert_frame_equal(top, expected, check_exact=True)
    res = SweepResult.of(top)
    assert res.n_rows == 5 and res.n_trials == len(full) and res.top == 5
    kept = sweep(bars, base, grid, 0.0005, top=5, metric=metric, keep="top")
    pd.testing.assert_frame_equal(kept, top, check_exact=True)
    with pytest.raises(ConfigError, match="keep='all'"):
        sweep(bars, base, grid, 0.0005, top=5, keep="all")
    # better direction: drawdown ascending, sharpe descending
    v = top[metric].to_numpy()
    assert (np.diff(v) * METRIC_DIRECTIONS[metric] <= 0).all()


@pytest.mark.parametrize("case", [FUSED, GENERIC], ids=["fused", "targets"])
def test_parquet_stream_holds_every_row(bars, case, tmp_path):
    base, grid = case
    full = sweep(bars, base, grid, 0.0005)
    path = tmp_path / "out" / "sweep.parquet"
    top = sweep(bars, base, grid, 0.0005, top=3, output=path, chunk_size=3)
    assert len(top) == 3 and SweepResult.of(top).output == str(path)
    back = pd.read_parquet(path)
    keys = list(grid)
    pd.testing.assert_frame_equal(
        _sorted(back, keys), _sorted(full, keys), check_exact=True, check_dtype=False
    )


def test_threads_executor_gives_the_same_table(bars):
    base, grid = FUSED
    local = sweep(bars, base, grid, 0.0005)
    threaded = sweep(bars, base, grid, 0.0005, executor="threads", chunk_size=4)
    pd.testing.assert_frame_equal(threaded, local, check_exact=True)
    assert SweepResult.of(threaded).n_parts == -(-len(local) // 4)


def test_limits_refuse_with_the_estimate(bars, monkeypatch):
    base, grid = FUSED
    monkeypatch.setitem(sweeps.LIMITS, "combinations", 10)
    with pytest.raises(ConfigError, match=r"combinations .* about .* GB; past the limit"):
        sweep(bars, base, grid, 0)
    assert (
        len(sweep(bars, base, grid, 0, confirm=True))
        == SweepResult.of(sweep(bars, base, grid, 0, confirm=True)).n_trials
    )


def test_costs_default_to_the_venue_and_are_stated(bars):
    s = ql.backtest.ma_cross(fast=5, slow=21)
    default = sweep(bars, s)
    venue = sweep(bars, s, None, ql.backtest.Costs.hyperliquid())
    pd.testing.assert_frame_equal(default, venue, check_exact=True)
    assert default["fees_paid"].iloc[0] > 0
    assert "taker 0.045%" in SweepResult.of(default).costs_text
    zero = sweep(bars, s, None, 0)
    assert zero["fees_paid"].iloc[0] == 0 and SweepResult.of(zero).costs_text.startswith("ZERO")
    res = ql.backtest.run(bars, s)
    assert res.costs == ql.backtest.Costs.hyperliquid() and "taker 0.045%" in repr(res)
    assert ql.backtest.run(bars, s, 0).stats["fees_paid"] == 0


def test_run_options_equal_keywords(bars):
    s = ql.backtest.ma_cross(fast=5, slow=21, stop_loss=0.02)
    opts = ql.backtest.RunOptions(costs=0.001, fill="close", init_cash=5_000.0)
    a = ql.backtest.run(bars, s, opts)
    b = ql.backtest.run(bars, s, 0.001, fill="close", init_cash=5_000.0)
    pd.testing.assert_series_equal(a.stats, b.stats, check_exact=True)
    c = ql.backtest.run(bars, s, options=opts, fill="next_open")  # a keyword wins
    d = ql.backtest.run(bars, s, 0.001, init_cash=5_000.0)
    pd.testing.assert_series_equal(c.stats, d.stats, check_exact=True)
    t1 = sweep(bars, s, {"fast": [3, 5]}, options=opts)
    t2 = sweep(bars, s, {"fast": [3, 5]}, 0.001, fill="close", init_cash=5_000.0)
    pd.testing.assert_frame_equal(t1, t2, check_exact=True)
    with pytest.raises(ConfigError, match="fill"):
        ql.backtest.RunOptions(fill="open")
    with pytest.raises(ConfigError, match="init_cash"):
        ql.backtest.RunOptions(init_cash=-1)


def test_best_params_follow_the_metric_direction(bars):
    base, grid = FUSED
    table = sweep(bars, base, grid, 0.0005)
    best = best_params(table, "max_drawdown")
    row = table.loc[table["max_drawdown"].idxmin()]
    assert best["fast"] == row["fast"] and best["slow"] == row["slow"]
    assert best_params(table, "max_drawdown", maximize=True)["fast"] == int(
        table.loc[table["max_drawdown"].idxmax(), "fast"]
    )


def test_walk_forward_refuses_a_bar_count_read_as_folds(bars):
    with pytest.raises(ConfigError, match=r"test_size=2 makes .* test windows .* fraction"):
        ql.backtest.walk_forward(
            bars, ql.backtest.ma_cross(), None, test_size=2, train_size=0.45, costs=0
        )
    splits = ql.backtest.walk_forward_splits(900, test_size=2, train_size=400, max_splits=None)
    assert len(splits) == 250


def test_verdict_is_the_json_document_with_typed_accessors(tmp_path):
    import json

    from quantlab.backtest import verdict as vd

    good = {
        "dsr": 0.97,
        "pbo": 0.1,
        "oos_sharpe": 1.4,
        "oos_trades": 45,
        "stress_total_return": 0.08,
        "oos_max_drawdown": 0.12,
        "n_trials": 12,
    }
    s = ql.backtest.ma_cross(fast=10, slow=30)
    v = vd.make_verdict(s, {**good, "oos_max_drawdown": 0.5})
    assert isinstance(v, ql.backtest.Verdict) and isinstance(v, dict)
    assert v.passed is v["passed"] is False and v.status == v["status"] == "candidate"
    assert v.failed_gates == ["max_drawdown"] and v.strategy_hash == vd.strategy_hash(s)
    assert json.loads(json.dumps(v))["content_hash"] == v.content_hash
    back = vd.read_verdict(vd.write_verdict(v, tmp_path))
    assert isinstance(back, ql.backtest.Verdict) and back == v


def test_walk_forward_validates_the_bars_once(bars, monkeypatch):
    from quantlab.backtest import engine

    calls = []
    real = engine.validate

    def counting(df, *a, **k):
        calls.append(len(df))
        return real(df, *a, **k)

    monkeypatch.setattr(engine, "validate", counting)
    wf = ql.backtest.walk_forward(
        bars,
        ql.backtest.ma_cross(),
        {"fast": [5, 10], "slow": [20, 40]},
        test_size=0.2,
        train_size=0.4,
        costs=0.0005,
    )
    assert len(wf.folds) == 3 and len(wf.candidates) == 4
    assert calls == [len(bars)]  # once, not per fold, candidate or stress multiplier


def test_walk_forward_chooses_in_the_metric_direction(bars):
    grid = {"fast": [3, 5, 10], "slow": [20, 40]}
    wf = ql.backtest.walk_forward(
        bars, ql.backtest.ma_cross(), grid, test_size=0.25, train_size=0.5, costs=0.0005,
        metric="max_drawdown", stress=(),
    )  # fmt: skip
    for f in range(len(wf.folds)):
        scores = wf.train_scores.iloc[f].to_numpy()
        assert wf.folds["chosen"].iloc[f] == wf.labels[int(np.nanargmin(scores))]
