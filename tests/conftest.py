"""Shared test fixtures: paths to the real external fixtures and a bar-frame builder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


def fixtures_path() -> Path:
    """Return the shared fixtures folder (``QUANTLAB_FIXTURES`` or ``../shared/fixtures``)."""
    env = os.environ.get("QUANTLAB_FIXTURES")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real external fixtures; skip with a reason when they are absent."""
    path = fixtures_path()
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path} (set QUANTLAB_FIXTURES)")
    return path


def random_bars(
    n: int = 500, seed: int = 0, freq: str = "1h", start: str = "2024-01-01"
) -> pd.DataFrame:
    """Return a seeded random-walk frame of valid bars (UTC ``time`` index, float64)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.005, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="time", unit="ns")
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.gamma(2.0, 50.0, n),
            "funding_rate": rng.normal(1e-5, 2e-5, n),
            "trades": rng.poisson(200, n).astype(np.float64),
        },
        index=index,
    )


@pytest.fixture
def bars() -> pd.DataFrame:
    """500 hourly random-walk bars."""
    return random_bars()
