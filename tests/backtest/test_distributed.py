"""A sweep spread over a dask cluster equals the local sweep (in-process LocalCluster)."""

from __future__ import annotations

import pandas as pd
import pytest

import quantlab as ql
from quantlab.backtest.distributed import client_for, map_on_cluster, sweep_distributed
from quantlab.backtest.sweeps import sweep
from quantlab.errors import ConfigError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return ql.data.load("synthetic", symbol="SOL", interval="1h", seed=2, n_bars=800)


def test_cluster_sweep_equals_local(cluster, bars):
    grid = {"fast": [3, 5, 8, 13], "slow": [10, 21, 34], "stop_loss": [None, 0.02]}
    costs = ql.backtest.Costs.hyperliquid()
    local = sweep(bars, ql.backtest.ma_cross(direction="both"), grid, costs)
    remote = sweep_distributed(
        bars, ql.backtest.ma_cross(direction="both"), grid, costs, scheduler=cluster, n_parts=5
    )
    assert remote.attrs["n_parts"] == 5
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    for key in ("n_trials", "n_invalid", "n_bars", "grid", "strategy", "metric_kind"):
        assert remote.attrs[key] == local.attrs[key]


def test_sweep_scheduler_keyword_and_generic_strategy(cluster, bars):
    grid = {"entry_window": [10, 20], "exit_window": [5, 10], "taker_fee": [0.0, 0.001]}
    base = ql.backtest.donchian_breakout()
    local = sweep(bars, base, grid)
    with distributed.Client(cluster) as client:
        remote = sweep(bars, base, grid, scheduler=client)
        assert client.status == "running"  # a client passed in stays open
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_map_on_cluster_keeps_order_and_raises(cluster):
    assert map_on_cluster(pow, [1, 2, 3, 4], cluster, exp=2) == [1, 4, 9, 16]
    assert map_on_cluster(pow, [], cluster) == []
    with pytest.raises(ZeroDivisionError):
        map_on_cluster(pow, [0], cluster, exp=-1)


def test_bad_scheduler():
    with pytest.raises(ConfigError, match="scheduler"), client_for("localhost:8786"):
        pass
    with pytest.raises(ConfigError, match="scheduler"), client_for(42):
        pass
