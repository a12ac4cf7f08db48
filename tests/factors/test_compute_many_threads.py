"""compute_many on its thread pool: the values of compute() bit for bit, sequential errors.

From ``registry._PARALLEL_MIN_ROWS`` rows on, compute_many runs the factors concurrently
(the kernels release the GIL). The frame it returns keeps each factor's output array without
copying it into one block, so it must never share memory with the input frame or between
columns.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.factors import FactorSpec, Role, register, registry

N = registry._PARALLEL_MIN_ROWS + 500


@pytest.fixture(scope="module")
def big():
    return random_bars(N, seed=21, every_column=True)


@pytest.fixture
def two_workers(monkeypatch):
    """Run the pool with two threads whatever the machine has."""
    monkeypatch.setattr(registry, "_workers", lambda: 2)


@pytest.fixture
def sequential(monkeypatch):
    monkeypatch.setattr(registry, "_PARALLEL_MIN_ROWS", 10**12)


@pytest.fixture
def factors():
    made: list[str] = []

    def _register(cls):
        made.append(register(cls, replace=True).name)

    yield _register
    for name in made:
        ql.factors.unregister(name)


class _Threads(FactorSpec):
    name = "test_thread_name"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Records the thread it runs on (test factor)."

    def compute(self, close):
        _THREADS.append(threading.current_thread().name)
        return close * 2.0


_THREADS: list[str] = []


class _Identity(FactorSpec):
    name = "test_identity"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Returns its input array itself (test factor)."

    def compute(self, close):
        return close


class _Boom(FactorSpec):
    name = "test_boom"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Fails in compute (test factor)."

    def compute(self, close):
        raise RuntimeError("boom")


class _DivideByZero(FactorSpec):
    name = "test_divide_by_zero"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Divides by zero without an errstate of its own (test factor)."

    def compute(self, close):
        return close / (close - close)


class _NeedsTrades(FactorSpec):
    name = "test_needs_nothere"
    inputs = ("not_a_column",)
    role = Role.OBSERVER
    description = "Needs a column the frame lacks (test factor)."

    def compute(self, x):
        return x


def test_parallel_equals_compute_bit_for_bit(big, two_workers, factors):
    factors(_Threads)
    _THREADS.clear()
    names = ql.factors.names()
    out = ql.factors.compute_many(big)
    assert list(out.columns) == names and out.index.equals(big.index)
    for name in names:
        want = ql.factors.compute(name, big).to_numpy()
        assert out[name].to_numpy().tobytes() == want.tobytes(), name
    assert _THREADS and _THREADS[0].startswith("quantlab-factor")


def test_parallel_equals_sequential(big, two_workers, monkeypatch):
    names = ["hurst", "rsi", "momentum_z", "vwap_deviation", "funding_z", "kyle_lambda"]
    params = {"hurst": {"window": 64, "max_lag": 8}, "rsi": {"window": 9}}
    par = ql.factors.compute_many(big, names, params)
    monkeypatch.setattr(registry, "_PARALLEL_MIN_ROWS", 10**12)
    seq = ql.factors.compute_many(big, names, params)
    for name in names:
        assert par[name].to_numpy().tobytes() == seq[name].to_numpy().tobytes(), name


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_columns_share_no_memory(big, factors, mode, monkeypatch):
    monkeypatch.setattr(registry, "_workers", lambda: 2)
    if mode == "sequential":
        monkeypatch.setattr(registry, "_PARALLEL_MIN_ROWS", 10**12)
    factors(_Identity)
    before = big.copy()
    out = ql.factors.compute_many(big, ["test_identity", "sma", "log_return"])
    cols = [out[c].to_numpy() for c in out.columns]
    for a in cols:
        assert not np.shares_memory(a, big["close"].to_numpy())
        assert sum(np.shares_memory(a, b) for b in cols) == 1
    out.iloc[:, :] = 0.0  # writable, and writing leaves the bars alone
    assert big.equals(before)
    assert (out.to_numpy() == 0.0).all()


def _error(df, names):
    with pytest.raises(Exception) as info:
        ql.factors.compute_many(df, names)
    return type(info.value), str(info.value)


@pytest.mark.parametrize(
    "names",
    [
        ["rsi", "test_boom", "test_needs_nothere", "sma"],  # compute error first
        ["rsi", "test_needs_nothere", "test_boom", "sma"],  # missing column first
        ["sma", "volume_z", "test_boom"],  # NaN volume (DataError) before the boom
    ],
)
def test_errors_are_those_of_a_sequential_run(big, two_workers, factors, monkeypatch, names):
    factors(_Boom)
    factors(_NeedsTrades)
    df = big.copy()
    df.iloc[7, df.columns.get_loc("volume")] = np.nan
    parallel = _error(df, names)
    monkeypatch.setattr(registry, "_PARALLEL_MIN_ROWS", 10**12)
    assert parallel == _error(df, names)
    if names[1] == "volume_z":
        assert parallel[0] is ql.DataError and "'volume'" in parallel[1] and "row 7" in parallel[1]


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_caller_errstate_holds_in_the_workers(big, factors, mode, monkeypatch):
    monkeypatch.setattr(registry, "_workers", lambda: 2)
    if mode == "sequential":
        monkeypatch.setattr(registry, "_PARALLEL_MIN_ROWS", 10**12)
    factors(_DivideByZero)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        ql.factors.compute_many(big, ["sma", "test_divide_by_zero"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ql.factors.compute_many(big, ["sma", "test_divide_by_zero"])
    assert np.isinf(out["test_divide_by_zero"]).all()
