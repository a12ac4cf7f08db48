"""Fixtures of the lifecycle tests: a registry, validation files, runner journals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import quantlab as ql
from quantlab.backtest.verdict import make_verdict, write_verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def wave_bars(n: int = 600, period: float = 100.0, amplitude: float = 0.08, drift: float = 0.0):
    """Smooth waves (an MA cross wins on them), as validated bars."""
    import numpy as np
    import pandas as pd

    t = np.arange(n, dtype=float)
    close = 100.0 * (1.0 + amplitude * np.sin(2 * np.pi * t / period)) * (1.0 + drift) ** t
    open_ = np.concatenate([[close[0]], close[:-1]])
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": np.full(n, 1000.0),
        },
        index=idx,
    )
