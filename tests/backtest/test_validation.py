"""Splitters, walk-forward, holdout and cost stress.

Oracles: scikit-learn's ``TimeSeriesSplit`` and ``KFold`` where the splitters coincide;
hand-computed purged/embargoed index sets; the engine itself (``ql.backtest.run``) run
directly on the train slices and on the full frame; the no-look-ahead property (changing
bars after a test window's end changes nothing of that window).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold, TimeSeriesSplit

import quantlab as ql
from quantlab.backtest import overfitting as of
from quantlab.backtest import validation as v
from quantlab.errors import ConfigError

GRID = {"fast": [5, 10, 20], "slow": [20, 40]}  # (20, 20) is invalid: 5 candidates


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_bars(1500, seed=3)


# ------------------------------------------------------------------------ splitters


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(20, 400),
    k=st.integers(2, 6),
    gap=st.integers(0, 5),
    frac=st.floats(0.02, 0.15),
)
def test_expanding_walk_forward_equals_sklearn(n, k, gap, frac):
    h = max(1, int(n * frac))
    if n - k * h - gap < 1:
        return
    ours = v.walk_forward_splits(n, test_size=h, n_splits=k, expanding=True, gap=gap)
    ref = list(TimeSeriesSplit(n_splits=k, test_size=h, gap=gap).split(np.zeros(n)))
    assert len(ours) == len(ref)
    for s, (tr, te) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(s.train, tr)
        np.testing.assert_array_equal(s.test, te)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(30, 400), k=st.integers(2, 5), gap=st.integers(0, 4), w=st.integers(2, 60))
def test_rolling_walk_forward_equals_sklearn_max_train_size(n, k, gap, w):
    h = max(1, n // (k + 3))
    if n - k * h - gap < w:  # sklearn would give a shorter first train window
        return
    ours = v.walk_forward_splits(n, test_size=h, train_size=w, n_splits=k, gap=gap)
    ref = TimeSeriesSplit(n_splits=k, test_size=h, gap=gap, max_train_size=w).split(np.zeros(n))
    for s, (tr, te) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(s.train, tr)
        np.testing.assert_array_equal(s.test, te)


def test_walk_forward_split_layout():
    # rolling, anchored at the end: 100 rows, test 15, train 30, gap 2 -> (100-32)//15 = 4
    splits = v.walk_forward_splits(100, test_size=15, train_size=30, gap=2)
    assert [(s.test_start, s.test_end) for s in splits] == [(40, 55), (55, 70), (70, 85), (85, 100)]
    assert [(int(s.train[0]), int(s.train[-1])) for s in splits] == [
        (8, 37),
        (23, 52),
        (38, 67),
        (53, 82),
    ]
    # anchored at the start: the last window is cut at the end of the data
    fwd = v.walk_forward_splits(100, test_size=15, train_size=30, gap=2, anchor="start")
    assert [(s.test_start, s.test_end) for s in fwd] == [
        (32, 47),
        (47, 62),
        (62, 77),
        (77, 92),
        (92, 100),
    ]
    # new bars only add windows at the end
    more = v.walk_forward_splits(130, test_size=15, train_size=30, gap=2, anchor="start")
    for a, b in zip(fwd[:-1], more, strict=False):
        np.testing.assert_array_equal(a.train, b.train)
        np.testing.assert_array_equal(a.test, b.test)
    for s in splits + fwd:
        train, test = s  # unpacks like scikit-learn's tuples
        assert train.max() + 2 < test.min()
        assert not np.intersect1d(train, test).size


def test_holdout_split():
    s = v.holdout_split(100, test_size=0.25, gap=3)
    np.testing.assert_array_equal(s.train, np.arange(72))
    np.testing.assert_array_equal(s.test, np.arange(75, 100))
    with pytest.raises(ConfigError, match="no train rows"):
        v.holdout_split(10, test_size=9, gap=1)


def test_splitter_errors():
    with pytest.raises(ConfigError, match="train_size"):
        v.walk_forward_splits(100, test_size=10)
    with pytest.raises(ConfigError, match="cannot hold 20 test windows"):
        v.walk_forward_splits(100, test_size=10, train_size=20, n_splits=20)
    with pytest.raises(ConfigError, match="anchor"):
        v.walk_forward_splits(100, test_size=10, train_size=20, anchor="middle")
    with pytest.raises(ConfigError, match="n_splits"):
        v.purged_kfold_splits(3, 5)
    with pytest.raises(ConfigError, match="row 2 has label end 1"):
        v.purged_kfold_splits(5, 2, label_horizon=np.array([1, 2, 1, 4, 4]))


def test_purged_kfold_without_purge_is_sklearn_kfold():
    for n, k in [(20, 4), (23, 5), (101, 7)]:
        ref = KFold(n_splits=k).split(np.zeros(n))
        for s, (tr, te) in zip(v.purged_kfold_splits(n, k), ref, strict=True):
            np.testing.assert_array_equal(s.train, tr)
            np.testing.assert_array_equal(s.test, te)


def test_purged_kfold_by_hand():
    # 20 rows, 4 folds of 5, label horizon 2 (row i's label uses rows i..i+2), embargo 1
    splits = v.purged_kfold_splits(20, 4, label_horizon=2, embargo=1)
    expected_train = [
        # test [0, 5): labels of the test reach row 6; embargo drops row 7
        list(range(8, 20)),
        # test [5, 10): rows 3, 4 have labels reaching 5; test labels reach 11, embargo 12
        [0, 1, 2, *range(13, 20)],
        # test [10, 15): drop 8, 9 before; 15, 16 (labels) and 17 (embargo) after
        [*range(8), 18, 19],
        # test [15, 20): drop 13, 14; nothing after
        list(range(13)),
    ]
    for s, tr in zip(splits, expected_train, strict=True):
        assert s.train.tolist() == tr
    assert [s.test.tolist() for s in splits] == [list(range(a, a + 5)) for a in (0, 5, 10, 15)]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(10, 200),
    k=st.integers(2, 6),
    embargo=st.integers(0, 6),
    seed=st.integers(0, 2**16),
)
def test_purged_kfold_never_leaks(n, k, embargo, seed):
    rng = np.random.default_rng(seed)
    label_end = np.minimum(np.arange(n) + rng.integers(0, 8, n), n - 1)
    for s in v.purged_kfold_splits(n, k, label_horizon=label_end, embargo=embargo):
        a, b = s.test_start, s.test_end
        assert not np.intersect1d(s.train, s.test).size
        last = label_end[a:b].max()
        for i in s.train:
            # no train label overlaps the test span [a, last], embargo after it
            assert label_end[i] < a or i > last + embargo
        # nothing is purged without a reason: every other row is in train
        dropped = set(range(n)) - set(s.train.tolist()) - set(range(a, b))
        for i in dropped:
            assert (i < a and label_end[i] >= a) or (b <= i <= last + embargo)


# -------------------------------------------------------------------------- grids


def test_expand_grid():
    cands, labels, bad = v.expand_grid(
        ql.backtest.ma_cross(), {"fast": [5, 20], "slow": [20, 40], "stops.stop_loss": [0.02]}
    )
    assert bad == 1  # fast=20, slow=20
    assert labels == [
        "fast=5,slow=20,stops.stop_loss=0.02",
        "fast=5,slow=40,stops.stop_loss=0.02",
        "fast=20,slow=40,stops.stop_loss=0.02",
    ]
    assert all(c.stops.stop_loss == 0.02 for c in cands)
    assert v.expand_grid({"kind": "ma_cross"})[1] == ["base"]
    with pytest.raises(ConfigError, match="unknown parameter 'fastest'"):
        v.expand_grid(ql.backtest.ma_cross(), {"fastest": [1]})
    with pytest.raises(ConfigError, match="none of the 1 combinations"):
        v.expand_grid(ql.backtest.ma_cross(), {"fast": [50], "slow": [20]})
    with pytest.raises(ConfigError, match="non-empty list"):
        v.expand_grid(ql.backtest.ma_cross(), {"fast": 5})


# --------------------------------------------------------------------- walk-forward


def _wf(df, **kw):
    kw = {"train_size": 500, "test_size": 250, "costs": 0.0005, **kw}
    return v.walk_forward(df, ql.backtest.ma_cross(), GRID, **kw)


def test_walk_forward_selects_on_train_only(bars):
    wf = _wf(bars)
    assert len(wf.folds) == 4 and wf.n_trials == 5 and wf.n_invalid == 1
    for f, sp in enumerate(wf.splits):
        train = bars.iloc[int(sp.train[0]) : int(sp.train[-1]) + 1]
        sharpe = [ql.backtest.run(train, c, 0.0005).stats["sharpe"] for c in wf.candidates]
        np.testing.assert_allclose(wf.train_scores.iloc[f], sharpe, rtol=1e-12)
        assert wf.folds["chosen"].iloc[f] == wf.labels[int(np.nanargmax(sharpe))]
        assert wf.chosen[f] == wf.candidates[int(np.nanargmax(sharpe))]
    # the out-of-sample bars are exactly the test windows, in order
    test_rows = np.concatenate([s.test for s in wf.splits])
    assert wf.returns.index.equals(bars.index[test_rows])
    np.testing.assert_allclose(wf.equity, 10_000 * np.cumprod(1 + wf.returns), rtol=1e-12)
    assert wf.stats["total_return"] == pytest.approx(wf.equity.iloc[-1] / 10_000 - 1)
    assert wf.stats["n_trades"] == len(wf.trades) == wf.folds["test_trades"].sum()
    for f, sp in enumerate(wf.splits):
        t = wf.trades[wf.trades["fold"] == f]
        assert ((t["entry_idx"] >= sp.test_start) & (t["exit_idx"] < sp.test_end)).all()


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_walk_forward_window_equals_the_full_run_when_flat(bars, fill):
    # no choice to make (grid None): where the full-history run is flat with a flat target
    # at the close before a window, the window's returns are the full run's returns
    s = ql.backtest.ma_cross(fast=5, slow=20)
    costs = ql.backtest.Costs(taker_fee=0.0005, maker_fee=0.0002, slippage_bps=2.0)
    splits = v.walk_forward_splits(len(bars), test_size=100, train_size=200)
    wf = v.walk_forward(bars, s, splits=splits, costs=costs, stress=(), fill=fill)
    full = ql.backtest.run(bars, s, costs, fill=fill)
    checked = 0
    for sp in splits:
        a, b = sp.test_start, sp.test_end
        if full.positions.iloc[a - 1] == 0 and full.target.iloc[a - 1] == 0:
            np.testing.assert_allclose(
                wf.returns.iloc[a - splits[0].test_start : b - splits[0].test_start],
                full.returns.iloc[a:b],
                rtol=1e-10,
                atol=1e-14,
            )
            checked += 1
    assert checked >= 3


def test_walk_forward_has_no_look_ahead(bars):
    wf = _wf(bars)
    k = 1  # perturb every bar after the end of fold 1's test window
    end = wf.splits[k].test_end
    changed = bars.copy()
    rng = np.random.default_rng(0)
    scale = np.exp(np.cumsum(rng.normal(0, 0.03, len(bars) - end)))
    for c in ("open", "high", "low", "close"):
        changed.iloc[end:, changed.columns.get_loc(c)] *= scale
    wf2 = _wf(changed)
    assert [s.test_end for s in wf2.splits] == [s.test_end for s in wf.splits]
    for f in range(k + 1):
        assert wf2.folds["chosen"].iloc[f] == wf.folds["chosen"].iloc[f]
        np.testing.assert_array_equal(wf2.train_scores.iloc[f], wf.train_scores.iloc[f])
    n_oos = end - wf.splits[0].test_start
    np.testing.assert_array_equal(wf2.returns.iloc[:n_oos], wf.returns.iloc[:n_oos])
    assert not np.array_equal(wf2.returns.iloc[n_oos:], wf.returns.iloc[n_oos:])


def test_walk_forward_stress_and_lookback(bars):
    wf = _wf(bars, stress=(2.0, 3.0), lookback=300)
    assert list(wf.stress.index) == [1.0, 2.0, 3.0]
    pd.testing.assert_series_equal(wf.stress.loc[1.0], wf.stats, check_names=False)
    tr = wf.stress["total_return"]
    assert tr.loc[1.0] > tr.loc[2.0] > tr.loc[3.0]
    # same choices, same trades: only the costs grow
    assert (wf.stress["n_trades"] == wf.stats["n_trades"]).all()
    assert wf.stress.loc[2.0, "fees_paid"] > 1.9 * wf.stress.loc[1.0, "fees_paid"]


def test_holdout_ignores_the_test_rows(bars):
    ho = v.holdout(bars, ql.backtest.ma_cross(), GRID, test_size=0.3, costs=0.0005)
    assert len(ho.folds) == 1 and len(ho.returns) == 450
    changed = bars.copy()
    changed.iloc[-450:, :4] = changed.iloc[-450:, :4].to_numpy()[::-1]  # reversed path
    changed["high"] = changed[["open", "high", "low", "close"]].max(axis=1)
    changed["low"] = changed[["open", "high", "low", "close"]].min(axis=1)
    ho2 = v.holdout(changed, ql.backtest.ma_cross(), GRID, test_size=0.3, costs=0.0005)
    assert ho2.folds["chosen"].iloc[0] == ho.folds["chosen"].iloc[0]
    np.testing.assert_array_equal(ho2.train_scores, ho.train_scores)


def test_walk_forward_metric_and_split_errors(bars):
    with pytest.raises(ConfigError, match="metric"):
        _wf(bars, metric="shrape")
    folds = v.purged_kfold_splits(len(bars), 3)
    with pytest.raises(ConfigError, match=r"contiguous|not before"):
        v.walk_forward(bars, ql.backtest.ma_cross(), splits=folds)
    bad = [v.Split(np.arange(100, 200), np.arange(50, 80))]
    with pytest.raises(ConfigError, match="no look-ahead"):
        v.walk_forward(bars, ql.backtest.ma_cross(), splits=bad)
    with pytest.raises(ConfigError, match="test_size"):
        v.walk_forward(bars, ql.backtest.ma_cross())
    # a callable metric works: the lowest drawdown
    wf = _wf(bars, metric=lambda r: -r.stats["max_drawdown"], stress=())
    assert wf.metric == "<lambda>"
    assert (wf.train_scores.max(axis=1) <= 0).all()


# ------------------------------------------------------------ stress and matrices


def test_stress_scales_costs(bars):
    s = ql.backtest.ma_cross(fast=5, slow=20)
    costs = ql.backtest.Costs(taker_fee=0.0005, maker_fee=0.0002, slippage_bps=3.0)
    table = v.stress(bars, s, costs, multipliers=(0.0, 1.0, 2.0, 3.0))
    pd.testing.assert_series_equal(
        table.loc[0.0], ql.backtest.run(bars, s, 0).stats, check_names=False
    )
    pd.testing.assert_series_equal(
        table.loc[2.0], ql.backtest.run(bars, s, v.scale_costs(costs, 2)).stats, check_names=False
    )
    assert table["total_return"].is_monotonic_decreasing
    c3 = v.scale_costs(costs, 3)
    assert (c3.taker_fee, c3.maker_fee, c3.slippage_bps) == pytest.approx((0.0015, 0.0006, 9.0))
    with pytest.raises(ConfigError, match="multiplier"):
        v.scale_costs(costs, -1)


def test_candidate_returns_feed_pbo(bars):
    m = v.candidate_returns(bars, ql.backtest.ma_cross(), GRID, 0.0005)
    assert m.shape == (1500, 5) and m.attrs["n_invalid"] == 1
    direct = ql.backtest.run(bars, ql.backtest.ma_cross(fast=10, slow=40), 0.0005)
    np.testing.assert_allclose(m["fast=10,slow=40"], direct.returns, rtol=1e-12)
    assert m.attrs["stats"].loc["fast=10,slow=40", "sharpe"] == direct.stats["sharpe"]
    res = of.pbo(m, 10)
    assert 0.0 <= res.pbo <= 1.0 and res.n_strategies == 5
