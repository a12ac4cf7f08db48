"""Shared test fixtures: paths to the real external fixtures and a bar-frame builder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from quantlab.data.schema import BAR_COLUMNS, OPTIONAL_COLUMNS
from quantlab.factors.conformance import synthetic_bars

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
    n: int = 500,
    seed: int = 0,
    freq: str = "1h",
    start: str = "2024-01-01",
    *,
    every_column: bool = False,
) -> pd.DataFrame:
    """Return seeded random-walk bars: the package's ``synthetic_bars`` with an ns index.

    Only the bar columns (``open high low close volume funding_rate trades``): the
    conformance frame's on-chain flow columns are not bars, and the store refuses them;
    ``every_column=True`` keeps them (for tests that compute every registered factor).
    """
    df = synthetic_bars(n, seed=seed, start=start, freq=freq, wick=0.005)
    if not every_column:
        df = df[[c for c in (*BAR_COLUMNS, *OPTIONAL_COLUMNS) if c in df.columns]]
    df.index = df.index.as_unit("ns")
    return df


@pytest.fixture
def bars() -> pd.DataFrame:
    """500 hourly random-walk bars."""
    return random_bars()
