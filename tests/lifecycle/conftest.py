"""Fixtures of the lifecycle tests: a registry, validation files, runner journals."""

from __future__ import annotations

import pytest

import quantlab as ql
from quantlab.backtest.verdict import make_verdict, write_verdict

PASSING = {
    "dsr": 0.99,
    "pbo": 0.05,
    "oos_sharpe": 1.5,
    "oos_trades": 60,
    "stress_total_return": 0.1,
    "oos_max_drawdown": 0.08,
    "n_trials": 50,
}


@pytest.fixture
def strategy():
    return ql.backtest.ma_cross(fast=5, slow=20, stops={"stop_loss": 0.01})


@pytest.fixture
def costs():
    return ql.backtest.Costs(taker_fee=0.00045, maker_fee=0.00015, slippage_bps=1.0)


@pytest.fixture
def registry(tmp_path):
    return ql.lifecycle.PromotionRegistry(tmp_path / "promotions.jsonl")


@pytest.fixture
def validation(tmp_path, strategy):
    """A passing validation.json of ``strategy``."""
    return write_verdict(make_verdict(strategy, PASSING), tmp_path / "ok" / "validation.json")


@pytest.fixture
def failing_validation(tmp_path, strategy):
    metrics = dict(PASSING, dsr=0.4, oos_trades=3)
    return write_verdict(make_verdict(strategy, metrics), tmp_path / "bad" / "validation.json")


@pytest.fixture(scope="session")
def bars():
    return ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7).iloc[:600]
