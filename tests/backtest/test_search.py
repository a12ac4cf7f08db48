"""optuna TPE search: deterministic with a seed, trials counted, same objective as the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.backtest.search import SearchResult, search
from quantlab.backtest.stats import STAT_NAMES
from quantlab.backtest.sweeps import sweep
from quantlab.errors import ConfigError

optuna = pytest.importorskip("optuna")

SPACE = {
    "fast": (2, 30),
    "slow": (10, 60, 5),
    "stop_loss": {"low": 0.005, "high": 0.05, "log": True},
}


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return ql.data.load("synthetic", symbol="ETH", interval="1h", seed=5, n_bars=900)


@pytest.fixture(scope="module")
def found(bars) -> SearchResult:
    return search(
        bars, ql.backtest.ma_cross(), SPACE, n_trials=25, metric="sharpe", seed=7, costs=0.0005
    )


def test_same_seed_same_trials(bars, found):
    again = search(
        bars, ql.backtest.ma_cross(), SPACE, n_trials=25, metric="sharpe", seed=7, costs=0.0005
    )
    pd.testing.assert_frame_equal(found.trials, again.trials)
    assert again.best_params == found.best_params
    other = search(
        bars, ql.backtest.ma_cross(), SPACE, n_trials=25, metric="sharpe", seed=8, costs=0.0005
    )
    assert not other.trials[["fast", "slow"]].equals(found.trials[["fast", "slow"]])


def test_trials_are_counted_and_invalid_ones_skipped(found):
    t = found.trials
    assert len(t) == 25
    assert list(t["number"]) == list(range(25))
    invalid = t["fast"] >= t["slow"]
    assert (t.loc[invalid, "state"] == "invalid").all()
    assert (t.loc[~invalid, "state"] == "complete").all()
    assert found.n_trials == int((~invalid).sum()) and found.n_invalid == int(invalid.sum())
    assert isinstance(found.study.sampler, optuna.samplers.TPESampler)
    assert len(found.study.trials) == 25
    assert t["slow"].mod(5).eq(0).all() and t["stop_loss"].between(0.005, 0.05).all()


def test_best_is_the_best_trial_and_equals_the_engine(bars, found):
    complete = found.trials[found.trials["state"] == "complete"]
    assert found.best_value == pytest.approx(np.nanmax(complete["value"]), rel=0, abs=0)
    strat = ql.backtest.ma_cross(**found.best_params)
    stats = ql.backtest.run(bars, strat, 0.0005).stats
    for name in STAT_NAMES:
        np.testing.assert_allclose(found.best_stats[name], stats[name], rtol=1e-9, atol=1e-12)
    # each trial's value is the sweep's value of that configuration
    sub = complete.head(5)
    for _, row in sub.iterrows():
        one = sweep(
            bars,
            ql.backtest.ma_cross(),
            {
                "fast": [int(row["fast"])],
                "slow": [int(row["slow"])],
                "stop_loss": [row["stop_loss"]],
            },
            0.0005,
        )
        assert one["sharpe"].iloc[0] == row["value"] or (
            np.isnan(one["sharpe"].iloc[0]) and np.isnan(row["value"])
        )


def test_batches_categorical_and_minimise(bars):
    space = {"fast": [3, 5, 8], "slow": (20, 40, 10), "taker_fee": [0.0, 0.001]}
    options = dict(n_trials=12, metric="max_drawdown", seed=1, maximize=False, batch_size=4)
    a = search(bars, ql.backtest.ma_cross(), space, **options)
    b = search(bars, ql.backtest.ma_cross(), space, **options)
    pd.testing.assert_frame_equal(a.trials, b.trials)
    assert a.n_trials == 12 and a.n_invalid == 0
    assert a.best_value == a.trials["value"].min()
    assert set(a.trials["fast"]) <= {3, 5, 8}


def test_bad_space_and_metric():
    df = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=1, n_bars=200)
    base = ql.backtest.ma_cross()
    with pytest.raises(ConfigError, match="grid key 'nope'"):
        search(df, base, {"nope": (1, 2)}, n_trials=2)
    with pytest.raises(ConfigError, match="metric"):
        search(df, base, {"fast": (2, 5)}, n_trials=2, metric="alpha")
    with pytest.raises(ConfigError, match=r"space\['fast'\]"):
        search(df, base, {"fast": "2-5"}, n_trials=2)
    with pytest.raises(ConfigError, match="high"):
        search(df, base, {"fast": (5, 2)}, n_trials=2)
    with pytest.raises(ConfigError, match="n_trials"):
        search(df, base, {"fast": (2, 5)}, n_trials=0)
    with pytest.raises(ConfigError, match="none of the 3 trials"):
        search(df, base, {"fast": (40, 50)}, n_trials=3, seed=0)
