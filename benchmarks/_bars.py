"""The bars the backtest and sweep benchmarks run on: a seeded random walk of 1-minute bars."""

from __future__ import annotations

import numpy as np
import pandas as pd


def walk(n: int, seed: int = 42) -> pd.DataFrame:
    """Return a seeded random walk of valid 1-minute bars."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    prev = np.concatenate([[100.0], close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.0005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.001, n)))
    index = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC", name="time")
    volume = rng.gamma(2.0, 5.0, n)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
