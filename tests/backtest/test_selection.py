"""select_best: the sweep's best re-run, deflated by every trial made."""

from __future__ import annotations

import numpy as np
import pandas as pd

import quantlab as ql
from quantlab.backtest.selection import select_best


def test_select_best_counts_every_trial_and_matches_direct_calls():
    df = ql.data.load("synthetic", symbol="BTC", start="2024-01-01", end="2024-02-15", seed=2)
    base = ql.backtest.ma_cross(fast=10, slow=40)
    grid = {"fast": [5, 10, 20], "slow": [30, 60]}
    table = ql.backtest.sweep(df, base, grid, costs=0.0005, progress=False)
    found = ql.backtest.search(
        df, base, {"fast": (3, 20), "slow": (25, 80)}, n_trials=6, seed=1, costs=0.0005
    )
    sel = select_best(df, base, table, 0.0005, searches=[found])

    best = ql.backtest.best_params(table, "sharpe")
    assert sel.params == best
    assert (sel.strategy.fast, sel.strategy.slow) == (best["fast"], best["slow"])
    direct = ql.backtest.run(df, sel.strategy, sel.costs)
    pd.testing.assert_series_equal(sel.result.equity, direct.equity)
    np.testing.assert_allclose(sel.result.stats["sharpe"], table["sharpe"].max(), rtol=1e-9)
    assert sel.n_trials == table.attrs["n_trials"] + found.n_trials == 6 + found.n_trials
    ppy = ql.backtest.periods_per_year(direct.bar_seconds)
    expected = ql.backtest.deflated_sharpe(
        direct.returns,
        pd.concat([table["sharpe"], found.trials["sharpe"]]).dropna(),
        n_trials=sel.n_trials,
        periods_per_year=ppy,
    )
    assert sel.deflated == expected
    summary = sel.summary()
    assert summary["trials"] == sel.n_trials
    assert summary["deflated sharpe ratio"] == expected.dsr
    assert select_best(df, base, table, 0.0005).n_trials == 6
