"""The ``ma_cross`` reference equals vectorbt 1.2's ``Portfolio.from_signals`` to 1e-9.

Conventions matched (read from ``vectorbt/portfolio/nb.py``): orders fill at the signal
bar's close (``fill="close"``); an entry spends all cash including its fee,
``size = cash / (close * (1 + fee))``; a stop is anchored at the entry bar's close and is
checked from the next bar on; it fills at the stop price when ``low <= stop``, at the open
when the bar opens at or below it (``StopExitPrice.StopLimit``, no slippage); a stop exit
in a bar takes precedence over that bar's signals (no exit, no re-entry in that bar);
after a stop, a new entry needs a new cross (our ``rearm_after_exit``); when both the stop
and the target are in one bar, the stop wins (our pessimistic ordering). The entries and
exits handed to vectorbt come from pandas rolling means, independently of our kernels.

Not matched: vectorbt refuses orders smaller than ``min_size`` (1e-8 units by default);
quantlab has no minimum order size, so a run whose equity has decayed to dust (thousands
of fee-paying trades) diverges once vectorbt starts refusing; pass ``min_size=0`` to
vectorbt to compare such runs (benchmarks/bench_backtest.py does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import fixtures_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql

vbt = pytest.importorskip("vectorbt")

RTOL = 1e-9
INIT_CASH = 100.0


def walk(n: int, seed: int, vol: float = 0.01, gap: float = 1.0) -> pd.DataFrame:
    """Random walk with gaps (``gap * vol``) between a close and the next open."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    prev = np.concatenate([[100.0], close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, gap * vol, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 9, n)},
        index=index,
    )


def crosses(close: pd.Series, fast: int, slow: int) -> tuple[pd.Series, pd.Series]:
    f = close.rolling(fast).mean()
    s = close.rolling(slow).mean()
    entries = (f > s) & (f.shift(1) <= s.shift(1))
    exits = (f < s) & (f.shift(1) >= s.shift(1))
    return entries, exits


def vbt_run(df, fast, slow, fee, sl_stop=np.nan, sl_trail=False, tp_stop=np.nan):
    entries, exits = crosses(df["close"], fast, slow)
    return vbt.Portfolio.from_signals(
        df["close"],
        entries,
        exits,
        open=df["open"],
        high=df["high"],
        low=df["low"],
        fees=fee,
        sl_stop=sl_stop,
        sl_trail=sl_trail,
        tp_stop=tp_stop,
        init_cash=INIT_CASH,
        freq=pd.Timedelta(df.index[1] - df.index[0]),
    )


def run_ma_cross(df, fast, slow, stop_loss, fee) -> ql.backtest.BacktestResult:
    """Run quantlab's MA cross filled at the close, as vectorbt's ``from_signals`` trades."""
    strategy = ql.backtest.ma_cross(fast=fast, slow=slow, stop_loss=stop_loss)
    return ql.backtest.run(df, strategy, costs=fee, fill="close", init_cash=INIT_CASH)


def assert_parity(res: ql.backtest.BacktestResult, pf) -> pd.DataFrame:
    """Compare equity and every trade; return our trades table."""
    np.testing.assert_allclose(res.equity.to_numpy(), pf.value().to_numpy(), rtol=RTOL, atol=0)
    np.testing.assert_allclose(res.cash.to_numpy(), pf.cash().to_numpy(), rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(
        res.positions.to_numpy(), pf.assets().to_numpy(), rtol=RTOL, atol=1e-12
    )
    ours = res.trades
    theirs = pf.trades.records
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours["entry_idx"].to_numpy(), theirs["entry_idx"])
    np.testing.assert_array_equal(ours["exit_idx"].to_numpy(), theirs["exit_idx"])
    for mine, other in [
        ("size", "size"),
        ("entry_price", "entry_price"),
        ("exit_price", "exit_price"),
        ("entry_fee", "entry_fees"),
        ("exit_fee", "exit_fees"),
        ("pnl", "pnl"),
    ]:
        np.testing.assert_allclose(
            ours[mine].to_numpy(), theirs[other], rtol=RTOL, atol=1e-12, err_msg=mine
        )
    np.testing.assert_array_equal(ours["is_open"].to_numpy(), theirs["status"] == 0)
    return ours


CASES = [
    # seed, fast, slow, stop_loss, fee
    (0, 5, 20, None, 0.0),
    (1, 10, 30, None, 0.001),
    (2, 3, 12, 0.01, 0.0),
    (3, 8, 21, 0.015, 0.0005),
    (4, 2, 6, 0.005, 0.002),
    (5, 12, 40, 0.03, 0.001),
]


@pytest.mark.parametrize(("seed", "fast", "slow", "stop_loss", "fee"), CASES)
def test_parity_random_walks(seed, fast, slow, stop_loss, fee):
    df = walk(1500, seed)
    res = run_ma_cross(df, fast, slow, stop_loss, fee)
    pf = vbt_run(df, fast, slow, fee, sl_stop=np.nan if stop_loss is None else stop_loss)
    ours = assert_parity(res, pf)
    assert len(ours) >= 10
    if stop_loss is not None:
        stops = ours[ours["exit_reason"] == "stop"]
        assert len(stops) >= 3  # the stop path is exercised
        at_open = np.isclose(stops["exit_price"], df["open"].to_numpy()[stops["exit_idx"]])
        assert at_open.any() and not at_open.all()  # gaps through the stop fill at the open
    else:
        assert set(ours["exit_reason"]) <= {"signal", "end"}


def test_parity_trailing_stop():
    # vectorbt's sl_trail: a stop `d` behind the highest high since entry, no activation
    df = walk(1500, 11)
    s = ql.backtest.ma_cross(fast=5, slow=20, trail_activation=0.0, trail_distance=0.01)
    res = ql.backtest.run(df, s, costs=0.001, fill="close", init_cash=INIT_CASH)
    pf = vbt_run(df, 5, 20, 0.001, sl_stop=0.01, sl_trail=True)
    ours = assert_parity(res, pf)
    assert (ours["exit_reason"] == "trailing").sum() >= 3


def test_parity_take_profit_and_stop():
    """Stop and target in one bar: vectorbt checks the stop first = our pessimistic default.

    One known difference, by design: when a bar *opens beyond the target* and its low also
    reaches the stop, vectorbt still fills the stop (below the open); quantlab fills the
    target at the open, the first price of the bar (tests/backtest/test_engine.py). The
    walk here has small opening gaps, and the test checks that this case does not occur.
    """
    df = walk(1500, 12, vol=0.02, gap=0.2)
    s = ql.backtest.ma_cross(fast=5, slow=20, stop_loss=0.01, take_profit=0.01)
    res = ql.backtest.run(df, s, costs=0.0005, fill="close", init_cash=INIT_CASH)
    pf = vbt_run(df, 5, 20, 0.0005, sl_stop=0.01, tp_stop=0.01)
    ours = assert_parity(res, pf)
    tp = ours[ours["exit_reason"] == "take_profit"]
    assert len(tp) >= 3
    assert not np.isclose(tp["exit_price"], df["open"].to_numpy()[tp["exit_idx"]]).any()
    assert res.ambiguous_bars >= 1  # both levels inside a bar: the stop won, as in vectorbt
    assert res.optimistic.ordering == "optimistic"
    assert res.optimistic.stats["total_return"] > res.stats["total_return"]


REAL = [
    # file, fast, slow, stop_loss
    ("test_candles_btc.csv", 5, 20, 0.001),
    ("test_candles_sol.csv", 4, 15, 0.002),
    ("test_candles_6.csv", 5, 20, 0.01),
    ("test_candles_7.csv", 3, 12, 0.01),
    ("test_candles_8.csv", 5, 20, None),
    ("test_candles_9.csv", 8, 21, 0.02),
]


def load_candles(name: str) -> pd.DataFrame:
    path = fixtures_path() / "indicator_oracle" / name
    if not path.is_file():
        pytest.skip(f"shared fixture {path} not found (set QUANTLAB_FIXTURES)")
    raw = pd.read_csv(path)  # timestamp_ms,open,close,high,low,volume (close before high/low)
    index = pd.to_datetime(raw["timestamp_ms"], unit="ms", utc=True).rename("time")
    cols = ["open", "high", "low", "close", "volume"]
    return pd.DataFrame(raw[cols].to_numpy(dtype=np.float64), index=index, columns=cols)


@pytest.mark.parametrize(("name", "fast", "slow", "stop_loss"), REAL)
def test_parity_real_candles(name, fast, slow, stop_loss):
    df = load_candles(name)
    fee = 0.001
    res = run_ma_cross(df, fast, slow, stop_loss, fee)
    pf = vbt_run(df, fast, slow, fee, sl_stop=np.nan if stop_loss is None else stop_loss)
    ours = assert_parity(res, pf)
    assert len(ours) >= 3


def test_real_candles_exercise_stops():
    # across the real files, the stop path fires (so the parity above is not vacuous)
    n_stops = 0
    for name, fast, slow, stop_loss in REAL:
        if stop_loss is None:
            continue
        df = load_candles(name)
        res = run_ma_cross(df, fast, slow, stop_loss, 0.001)
        n_stops += int((res.trades["exit_reason"] == "stop").sum())
    assert n_stops >= 5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fast=st.integers(2, 12),
    gap=st.integers(2, 30),
    stop=st.one_of(st.none(), st.floats(0.002, 0.05)),
    fee=st.sampled_from([0.0, 0.0002, 0.001, 0.003]),
)
def test_parity_property(seed, fast, gap, stop, fee):
    df = walk(400, seed)
    slow = fast + gap
    res = run_ma_cross(df, fast, slow, stop, fee)
    pf = vbt_run(df, fast, slow, fee, sl_stop=np.nan if stop is None else stop)
    assert_parity(res, pf)
