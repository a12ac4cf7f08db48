"""The TA kernels as numba functions: streaming = batch, numerics, edge cases.

TA-Lib parity of every kernel is in tests/factors/test_talib_parity.py; here: the step
kernels looped one value at a time (inside numba and from Python) reproduce the batch
kernels bit for bit; the variance is accurate against an exact rational oracle; short
and flat inputs; scale invariance.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from numba import njit

from quantlab.kernels import ta


def _ohlcv(n: int = 800, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    o = np.concatenate([[100.0], c[:-1]])
    sp = np.abs(rng.normal(0.0, 0.004, n)) * c
    return np.maximum(o, c) + sp, np.minimum(o, c) - sp, c, rng.gamma(2.0, 50.0, n)


H, L, C, V = _ohlcv()


@njit
def _stream_ema(x, w):
    out = np.empty(x.shape[0])
    s = ta.ema_init_nb()
    for i in range(x.shape[0]):
        s, out[i] = ta.ema_step_nb(s, x[i], w)
    return out


@njit
def _stream_adx(h, l, c, w):
    out = np.empty(c.shape[0])
    s = ta.adx_init_nb()
    for i in range(c.shape[0]):
        s, out[i] = ta.adx_step_nb(s, h[i], l[i], c[i], w)
    return out


def _py_loop(step, init, n, args):
    out = np.empty(n)
    s = init()
    for i in range(n):
        s, out[i] = step(s, *args(i))
    return out


@pytest.mark.parametrize("w", [1, 2, 9, 30])
def test_streaming_equals_batch(w):
    n = len(C)
    same = lambda a, b: np.testing.assert_array_equal(a, b)  # noqa: E731  (bitwise, NaN too)
    same(_stream_ema(C, w), ta.ema_nb(C, w))
    same(_py_loop(ta.ema_step_nb, ta.ema_init_nb, n, lambda i: (C[i], w)), ta.ema_nb(C, w))
    same(
        _py_loop(ta.atr_step_nb, ta.atr_init_nb, n, lambda i: (H[i], L[i], C[i], w)),
        ta.atr_nb(H, L, C, w),
    )
    same(_py_loop(ta.obv_step_nb, ta.obv_init_nb, n, lambda i: (C[i], V[i])), ta.obv_nb(C, V))
    if w >= 2:
        same(_stream_adx(H, L, C, w), ta.adx_nb(H, L, C, w))
        same(_py_loop(ta.rsi_step_nb, ta.rsi_init_nb, n, lambda i: (C[i], w)), ta.rsi_nb(C, w))
        same(
            _py_loop(
                ta.kama_step_nb,
                ta.kama_init_nb,
                n,
                lambda i: (C[i], C[i - w] if i >= w else np.nan, w),
            ),
            ta.kama_nb(C, w),
        )
        same(
            _py_loop(ta.macd_step_nb, ta.macd_init_nb, n, lambda i: (C[i], w, w + 5, 4)),
            ta.macd_hist_nb(C, w, w + 5, 4),
        )


def test_warmup_lengths_and_short_inputs():
    w = 10
    lead = {
        "sma": (ta.sma_nb(C, w), w - 1),
        "ema": (ta.ema_nb(C, w), w - 1),
        "kama": (ta.kama_nb(C, w), w),
        "var": (ta.var_nb(C, w), w - 1),
        "stddev": (ta.stddev_nb(C, w), w - 1),
        "bb_z": (ta.bb_z_nb(C, w), w - 1),
        "rsi": (ta.rsi_nb(C, w), w),
        "macd": (ta.macd_hist_nb(C, 4, w, 3), w + 1),
        "cci": (ta.cci_nb(H, L, C, w), w - 1),
        "mfi": (ta.mfi_nb(H, L, C, V, w), w),
        "atr": (ta.atr_nb(H, L, C, w), w),
        "natr": (ta.natr_nb(H, L, C, w), w),
        "adx": (ta.adx_nb(H, L, C, w), 2 * w - 1),
        "obv": (ta.obv_nb(C, V), 0),
    }
    for name, (out, k) in lead.items():
        assert np.isnan(out[:k]).all() and np.isfinite(out[k:]).all(), name
    for n in (0, 1, 5):
        assert np.isnan(ta.adx_nb(H[:n], L[:n], C[:n], w)).all()
        assert np.isnan(ta.stddev_nb(C[:n], w)).all()
        assert ta.mfi_nb(H[:n], L[:n], C[:n], V[:n], w).shape == (n,)


def _exact_var(x) -> float:
    xs = [Fraction(float(v)) for v in x]
    mu = sum(xs) / len(xs)
    return float(sum((v - mu) ** 2 for v in xs) / len(xs))


@pytest.mark.parametrize("level", [1e-9, 1.0, 5e4])
def test_variance_is_accurate_and_does_not_drift(level):
    rng = np.random.default_rng(4)
    # a level far above the spread: the case where E[x^2] - E[x]^2 cancels
    x = level * (1.0 + 1e-4 * np.cumsum(rng.normal(size=20_000)))
    w = 20
    out = ta.var_nb(x, w)
    for i in list(range(w - 1, w + 40)) + list(range(len(x) - 40, len(x))):
        want = _exact_var(x[i - w + 1 : i + 1])
        assert out[i] == pytest.approx(want, rel=1e-9, abs=0), i


def test_flat_windows_give_zero_spread():
    x = np.concatenate([C[:50], np.full(30, C[49]), C[50:80]])
    w = 5
    sl = slice(49 + w, 79)
    assert (ta.var_nb(x, w)[sl] == 0.0).all()
    assert (ta.stddev_nb(x, w)[sl] == 0.0).all()
    assert (ta.bb_z_nb(x, w)[sl] == 0.0).all()
    assert (ta.cci_nb(x, x, x, w)[sl] == 0.0).all()
    assert (ta.mfi_nb(x, x, x, V[: len(x)], w)[sl] == 0.0).all()


@pytest.mark.parametrize("scale", [1e-9, 1e6])
def test_kernels_are_scale_free(scale):
    h, l, c = H * scale, L * scale, C * scale
    w = 14
    for f in (ta.rsi_nb, lambda x, w: ta.bb_z_nb(x, w)):
        np.testing.assert_allclose(f(c, w), f(C, w), rtol=1e-9, atol=1e-9)
    for f in (ta.adx_nb, ta.cci_nb, ta.natr_nb):
        np.testing.assert_allclose(f(h, l, c, w), f(H, L, C, w), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ta.mfi_nb(h, l, c, V, w), ta.mfi_nb(H, L, C, V, w), atol=1e-9)
    np.testing.assert_allclose(ta.kama_nb(c, w) / scale, ta.kama_nb(C, w), rtol=1e-12)
    np.testing.assert_allclose(ta.stddev_nb(c, w) / scale, ta.stddev_nb(C, w), rtol=1e-9)


def test_bounded_oscillators_stay_in_range():
    w = 7
    for out in (ta.rsi_nb(C, w), ta.mfi_nb(H, L, C, V, w), ta.adx_nb(H, L, C, w)):
        v = out[~np.isnan(out)]
        assert (v >= 0.0).all() and (v <= 100.0).all()


def test_true_range():
    assert ta.true_range_nb(10.0, 8.0, 9.0) == 2.0
    assert ta.true_range_nb(10.0, 8.0, 5.0) == 5.0  # gap up
    assert ta.true_range_nb(10.0, 8.0, 13.0) == 5.0  # gap down


def _cci_one_window_at_a_time(high, low, close, window):
    """TA-Lib's CCI loop as written in ta_CCI.c: both sums over the buffer in slot order."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    buf = np.zeros(window)
    for i in range(n):
        tp = (high[i] + low[i] + close[i]) / 3
        buf[i % window] = tp
        if i < window - 1:
            continue
        avg = 0.0
        for v in buf:
            avg += v
        avg /= window
        mad = 0.0
        for v in buf:
            mad += abs(v - avg)
        d = tp - avg
        tol = ta.REL_FLAT * abs(avg)
        out[i] = d / (0.015 * (mad / window)) if abs(d) > tol and mad > tol * window else 0.0
    return out


@pytest.mark.parametrize("window", [1, 2, 3, 14, 40])
@pytest.mark.parametrize("n", [0, 1, 13, 14, 15, 41, 300])
def test_cci_two_chain_loop_is_bit_identical_to_one_window_at_a_time(window, n):
    # the kernel interleaves bar i's deviation sum with bar i+1's price sum; every sum
    # must keep the slot order, so the output equals the plain loop to the last bit
    h, lo, c = H[:n].copy(), L[:n].copy(), np.round(C[:n], 1)  # ties, flat stretches
    if n > 40:
        c[20:32] = c[20]
        h[35] = np.nan
    ref = _cci_one_window_at_a_time(h, lo, c, window)
    assert ta.cci_nb(h, lo, c, window).tobytes() == ref.tobytes()
