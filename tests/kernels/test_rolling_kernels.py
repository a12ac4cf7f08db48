"""Rolling, EWM, flow and regime kernels against pandas/numpy oracles, plus causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantlab.kernels import flow, regime, rolling

RTOL = 1e-9
ATOL = 1e-12


def _series(n: int = 300, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return offset + rng.normal(0.0, 1.0, n).cumsum()


def _close(n: int = 400, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))


@pytest.mark.parametrize("window", [1, 2, 7, 50])
def test_rolling_moments_match_pandas(window: int) -> None:
    x = _series()
    s = pd.Series(x)
    np.testing.assert_allclose(
        rolling.rolling_sum_nb(x, window), s.rolling(window).sum(), rtol=RTOL
    )
    np.testing.assert_allclose(
        rolling.rolling_mean_nb(x, window), s.rolling(window).mean(), rtol=RTOL
    )
    np.testing.assert_array_equal(rolling.rolling_max_nb(x, window), s.rolling(window).max())
    np.testing.assert_array_equal(rolling.rolling_min_nb(x, window), s.rolling(window).min())
    for ddof in (0, 1):
        if window - ddof <= 0:
            continue
        np.testing.assert_allclose(
            rolling.rolling_std_nb(x, window, ddof),
            s.rolling(window).std(ddof=ddof),
            rtol=RTOL,
        )


def test_rolling_std_is_exact_two_pass() -> None:
    """Each window equals np.std on it, even at a large offset where pandas' online
    add-and-remove variance loses about seven digits (a reason not to use running sums)."""
    x = _series(200, seed=3, offset=1e4)
    w = 30
    got = rolling.rolling_std_nb(x, w, 1)
    want = np.array([np.std(x[t - w + 1 : t + 1], ddof=1) for t in range(w - 1, len(x))])
    assert np.isnan(got[: w - 1]).all()
    np.testing.assert_allclose(got[w - 1 :], want, rtol=1e-12)


def test_rolling_nan_in_window_gives_nan() -> None:
    x = _series(50)
    x[20] = np.nan
    s = pd.Series(x)
    got = rolling.rolling_mean_nb(x, 5)
    np.testing.assert_allclose(got, s.rolling(5).mean(), rtol=RTOL)
    assert np.isnan(got[20:25]).all() and np.isfinite(got[25])
    np.testing.assert_allclose(rolling.rolling_std_nb(x, 5, 1), s.rolling(5).std(), rtol=RTOL)


def test_rolling_zscore_matches_pandas_and_flat_is_zero() -> None:
    x = _series(250, seed=5)
    s = pd.Series(x)
    w = 20
    want = (s - s.rolling(w).mean()) / s.rolling(w).std()
    np.testing.assert_allclose(rolling.rolling_zscore_nb(x, w, 1), want, rtol=RTOL)
    # 0.1 summed ten times in order and divided by ten misses 0.1 by an ulp: a flat window
    # must still have exactly zero dispersion (as in pandas), not a spurious z of about +-1
    flat = np.full(30, 0.1)
    assert sum(flat[:10].tolist()) / 10 != 0.1
    z = rolling.rolling_zscore_nb(flat, 10, 1)
    assert np.isnan(z[:9]).all() and (z[9:] == 0.0).all()
    assert (rolling.rolling_std_nb(flat, 10, 1)[9:] == 0.0).all()
    assert (pd.Series(flat).rolling(10).std()[9:] == 0.0).all()
    assert (rolling.rolling_slope_nb(_series(30), flat, 10)[9:] == 0.0).all()


def test_rolling_slope_matches_polyfit() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=120)
    y = 0.7 * x + rng.normal(size=120)
    w = 25
    got = rolling.rolling_slope_nb(y, x, w)
    want = [np.polyfit(x[t - w + 1 : t + 1], y[t - w + 1 : t + 1], 1)[0] for t in range(w - 1, 120)]
    np.testing.assert_allclose(got[w - 1 :], want, rtol=RTOL)
    sy, sx = pd.Series(y), pd.Series(x)
    np.testing.assert_allclose(got, sy.rolling(w).cov(sx) / sx.rolling(w).var(), rtol=RTOL)


@pytest.mark.parametrize("alpha", [2.0 / 13.0, 1.0 / 14.0, 1.0])
def test_ewm_mean_matches_pandas(alpha: float) -> None:
    x = _series(200, seed=6)
    x[[0, 1, 50, 51, 120]] = np.nan
    want = pd.Series(x).ewm(alpha=alpha, adjust=False, ignore_na=True).mean()
    np.testing.assert_allclose(rolling.ewm_mean_nb(x, alpha), want, rtol=RTOL)


def test_ewm_step_streaming_equals_batch() -> None:
    x = _series(100, seed=7)
    batch = rolling.ewm_mean_nb(x, 0.1)
    state = np.nan
    for t in range(len(x)):
        state, y = rolling.ewm_mean_step_nb(state, x[t], 0.1)
        assert y == batch[t]


def test_log_return_matches_pandas() -> None:
    c = _close(200)
    np.testing.assert_allclose(
        rolling.log_return_nb(c, 3), np.log(c / pd.Series(c).shift(3)), rtol=RTOL
    )


def _ohlcv(n: int = 300, seed: int = 2):
    rng = np.random.default_rng(seed)
    c = _close(n, seed)
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    v = rng.gamma(2.0, 10.0, n)
    return o, h, lo, c, v


def test_flow_kernels_match_pandas() -> None:
    o, h, lo, c, v = _ohlcv()
    v[10] = 0.0
    h[15] = lo[15] = o[15] = c[15]  # a doji with no range
    w = 24
    sv = flow.signed_volume_nb(o, h, lo, c, v)
    want_sv = np.where(h > lo, v * (c - o) / np.where(h > lo, h - lo, 1.0), 0.0)
    np.testing.assert_allclose(sv, want_sv, rtol=RTOL)
    sv_s, v_s = pd.Series(sv), pd.Series(v)
    np.testing.assert_allclose(
        flow.flow_imbalance_nb(o, h, lo, c, v, w),
        sv_s.rolling(w).sum() / v_s.rolling(w).sum(),
        rtol=RTOL,
        atol=ATOL,
    )
    tp = pd.Series((h + lo + c) / 3)
    vwap = (tp * v_s).rolling(w).sum() / v_s.rolling(w).sum()
    np.testing.assert_allclose(
        flow.vwap_deviation_nb(h, lo, c, v, w), np.log(c / vwap), rtol=1e-9, atol=ATOL
    )


def test_causality_prefix_all_kernels() -> None:
    o, h, lo, c, v = _ohlcv(260, seed=9)
    calls = [
        lambda k: rolling.rolling_std_nb(c[:k], 20, 1),
        lambda k: rolling.rolling_zscore_nb(c[:k], 20, 1),
        lambda k: rolling.rolling_slope_nb(c[:k], v[:k], 20),
        lambda k: rolling.ewm_mean_nb(c[:k], 0.2),
        lambda k: flow.flow_imbalance_nb(o[:k], h[:k], lo[:k], c[:k], v[:k], 10),
        lambda k: flow.kyle_lambda_nb(o[:k], h[:k], lo[:k], c[:k], v[:k], 10),
        lambda k: flow.amihud_illiquidity_nb(c[:k], v[:k], 10),
        lambda k: flow.vwap_deviation_nb(h[:k], lo[:k], c[:k], v[:k], 10),
        lambda k: regime.hawkes_intensity_nb(regime.large_move_events_nb(c[:k], 20, 1.5), 0.2),
        lambda k: regime.variance_ratio_nb(c[:k], 40, 4),
        lambda k: regime.hurst_nb(c[:k], 40, 8),
    ]
    for fn in calls:
        full = fn(len(c))
        for k in (1, 2, 11, 41, 150, 259):
            np.testing.assert_array_equal(fn(k), full[:k])


def test_hawkes_step_streaming_and_explicit_sum() -> None:
    rng = np.random.default_rng(10)
    events = (rng.random(200) < 0.1).astype(np.float64)
    events[:5] = np.nan
    beta = 0.15
    got = regime.hawkes_intensity_nb(events, beta)
    idx = np.arange(200)
    for t in range(5, 200):
        past = idx[5 : t + 1]
        want = beta * np.sum(events[past] * np.exp(-beta * (t - past)))
        assert got[t] == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert np.isnan(got[:5]).all()
    state = 0.0
    for t in range(200):
        state, y = regime.hawkes_intensity_step_nb(state, events[t], beta)
        np.testing.assert_array_equal(y, got[t])


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e6, 1e6, allow_subnormal=False)),
    st.integers(1, 12),
)
def test_rolling_std_property_matches_numpy(x: np.ndarray, window: int) -> None:
    got = rolling.rolling_std_nb(x, window, 0)
    assert np.isnan(got[: window - 1]).all()
    for t in range(window - 1, len(x)):
        want = np.std(x[t - window + 1 : t + 1])
        assert got[t] == pytest.approx(want, rel=1e-9, abs=1e-6)
        assert got[t] >= 0.0
