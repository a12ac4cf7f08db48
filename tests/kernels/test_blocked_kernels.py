"""The blocked rolling kernels against the plain per-window loops they replaced, bit for bit.

quantlab.kernels.rolling/flow/regime evaluate the windows of ``BLOCK`` consecutive outputs
together (SIMD across outputs) but keep each window's arithmetic: the sum starts at 0.0 and
adds left to right, the dispersion is two-pass around the window mean (exactly the first
value on a flat window). The references below are those per-window loops in plain Python
floats (``math.log`` is the libm ``log`` numba calls), so the kernels must equal them
exactly (``assert_array_equal``), not to a tolerance: across block boundaries, for windows
longer than a block, with NaN/inf/flat/signed-zero values and on series offset by 1e4,
where add-and-remove running sums lose about seven digits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlab.kernels import flow, regime, rolling

B = rolling.BLOCK
LENGTHS = [1, B - 1, B, B + 1, 2 * B + 37]
WINDOWS = [1, 2, 3, 5, B - 1, B, B + 1, 300]


def _walk(n: int, seed: int, offset: float = 1e4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return offset + rng.normal(0.0, 1.0, n).cumsum()


def _awkward(n: int, seed: int) -> np.ndarray:
    """A 1e4-offset walk with a NaN, +-inf, flat runs, signed zeros and repeated values."""
    x = _walk(n, seed)
    if n > 40:
        x[5:25] = 0.1  # a flat run longer than the small windows
        x[25:28] = [0.0, -0.0, 0.0]
        x[30] = np.nan
        x[n // 2] = np.inf
        x[n // 2 + 3] = -np.inf
        x[-12:] = x[-13]  # a flat tail
    return x


def _prices(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = 1e4 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    c[40:90] = c[39]  # flat prices: zero returns, zero dispersion
    return c


def _bars(n: int, seed: int):
    rng = np.random.default_rng(seed + 1)
    c = _prices(n, seed)
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    h[40:90] = lo[40:90] = c[40:90]  # zero-range bars
    v = rng.gamma(2.0, 10.0, n)
    v[::17] = 0.0
    v[60:75] = 3.0  # flat volume
    return o, h, lo, c, v


# --------------------------------------------------------------------------------------
# the per-window loops (plain Python floats, left to right from 0.0)


def _seq_sum(vals) -> float:
    s = 0.0
    for v in vals:
        s += v
    return s


def _mean(w: list[float]) -> float:
    first = w[0]
    if all(v == first for v in w):
        return first
    return _seq_sum(w) / len(w)


def ref_sum(x, window):
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        w = x[t - window + 1 : t + 1].tolist()
        if not any(math.isnan(v) for v in w):
            out[t] = _seq_sum(w)
    return out


def ref_dispersion(x, window, ddof, zscore):
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        w = x[t - window + 1 : t + 1].tolist()
        if any(math.isnan(v) for v in w):
            continue
        m = _mean(w)
        sd = np.sqrt(_seq_sum((v - m) * (v - m) for v in w) / (window - ddof))
        out[t] = ((x[t] - m) / sd if sd > 0.0 else 0.0) if zscore else sd
    return out


def ref_extreme(x, window, is_max):
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        w = x[t - window + 1 : t + 1].tolist()
        if any(math.isnan(v) for v in w):
            continue
        best = -math.inf if is_max else math.inf
        for v in w:
            if (v > best) if is_max else (v < best):
                best = v
        out[t] = best
    return out


def ref_slope(y, x, window):
    out = np.full(len(y), np.nan)
    for t in range(window - 1, len(y)):
        wx = x[t - window + 1 : t + 1].tolist()
        wy = y[t - window + 1 : t + 1].tolist()
        if any(math.isnan(v) for v in wx + wy):
            continue
        mx, my = _mean(wx), _mean(wy)
        sxx = sxy = 0.0
        for a, b in zip(wx, wy, strict=True):
            dx = a - mx
            sxx += dx * dx
            sxy += dx * (b - my)
        out[t] = sxy / sxx if sxx > 0.0 else 0.0
    return out


def _logret(c, lag):
    r = np.full(len(c), np.nan)
    for i in range(lag, len(c)):
        r[i] = math.log(c[i] / c[i - lag])
    return r


def _log1p(v):
    return np.array([math.log1p(a) for a in v.tolist()])


def ref_flow_imbalance(o, h, lo, c, v, window):
    sv = flow.signed_volume_nb(o, h, lo, c, v)
    out = np.full(len(c), np.nan)
    for t in range(window - 1, len(c)):
        s = _seq_sum(sv[t - window + 1 : t + 1].tolist())
        vol = _seq_sum(v[t - window + 1 : t + 1].tolist())
        out[t] = s / vol if vol > 0.0 else 0.0
    return out


def ref_amihud(c, v, window):
    out = np.full(len(c), np.nan)
    for t in range(window, len(c)):
        s, k = 0.0, 0
        for i in range(t - window + 1, t + 1):
            dv = c[i] * v[i]
            if dv > 0.0:
                s += abs(math.log(c[i] / c[i - 1])) / dv
                k += 1
        out[t] = s / k if k > 0 else 0.0
    return out


def ref_vwap_deviation(h, lo, c, v, window):
    out = np.full(len(c), np.nan)
    for t in range(window - 1, len(c)):
        pv = vol = 0.0
        for i in range(t - window + 1, t + 1):
            pv += (h[i] + lo[i] + c[i]) / 3.0 * v[i]
            vol += v[i]
        out[t] = math.log(c[t] * vol / pv) if vol > 0.0 else 0.0
    return out


def ref_large_moves(c, window, threshold):
    r = _logret(c, 1)
    out = np.full(len(c), np.nan)
    for t in range(window + 1, len(c)):
        w = r[t - window : t].tolist()
        m = _seq_sum(w) / window
        sd = np.sqrt(_seq_sum((v - m) * (v - m) for v in w) / (window - 1))
        out[t] = 1.0 if abs(r[t]) > threshold * sd else 0.0
    return out


def ref_variance_ratio(c, window, lag):
    r1, rq = _logret(c, 1), _logret(c, lag)
    out = np.full(len(c), np.nan)
    for t in range(window, len(c)):
        start = t - window + 1
        w = r1[start : t + 1].tolist()
        mu = _seq_sum(w) / window
        v1 = _seq_sum((v - mu) * (v - mu) for v in w) / window
        vq = _seq_sum((q - lag * mu) * (q - lag * mu) for q in rq[start + lag - 1 : t + 1].tolist())
        vq /= window - lag + 1
        out[t] = vq / (lag * v1) if v1 > 0.0 else 1.0
    return out


def ref_hurst(c, window, max_lag):
    n = len(c)
    mx = _seq_sum(math.log(k) for k in range(1, max_lag + 1)) / max_lag
    sxx = _seq_sum((math.log(k) - mx) * (math.log(k) - mx) for k in range(1, max_lag + 1))
    acc, flat = np.zeros(n), np.zeros(n, dtype=bool)
    for k in range(1, max_lag + 1):
        sq = [0.0] * n
        for i in range(k, n):
            d = math.log(c[i] / c[i - k])
            sq[i] = d * d
        wk = (math.log(k) - mx) / sxx
        for t in range(window - 1, n):
            ss = _seq_sum(sq[t - window + 1 + k : t + 1])
            if ss <= 0.0:
                flat[t] = True
            else:
                acc[t] += wk * 0.5 * math.log(ss / (window - k))
    out = np.full(n, np.nan)
    out[window - 1 :] = np.where(flat, 0.5, acc)[window - 1 :]
    return out


# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", LENGTHS)
def test_rolling_kernels_equal_the_per_window_loops(n: int) -> None:
    x = _awkward(n, seed=n)
    y = _walk(n, seed=n + 1, offset=-3e3)
    with np.errstate(invalid="ignore"):
        for w in WINDOWS:
            np.testing.assert_array_equal(rolling.rolling_sum_nb(x, w), ref_sum(x, w))
            np.testing.assert_array_equal(rolling.rolling_mean_nb(x, w), ref_sum(x, w) / w)
            np.testing.assert_array_equal(rolling.rolling_max_nb(x, w), ref_extreme(x, w, True))
            np.testing.assert_array_equal(rolling.rolling_min_nb(x, w), ref_extreme(x, w, False))
            for ddof in (0, 1):
                if w - ddof > 0:
                    np.testing.assert_array_equal(
                        rolling.rolling_std_nb(x, w, ddof), ref_dispersion(x, w, ddof, False)
                    )
                    np.testing.assert_array_equal(
                        rolling.rolling_zscore_nb(x, w, ddof), ref_dispersion(x, w, ddof, True)
                    )
            np.testing.assert_array_equal(rolling.rolling_slope_nb(y, x, w), ref_slope(y, x, w))
            np.testing.assert_array_equal(rolling.rolling_slope_nb(x, y, w), ref_slope(x, y, w))


def test_signed_zero_extremes_keep_the_first() -> None:
    x = np.array([0.0, -0.0, 0.0, -0.0, 1.0])
    for w in (1, 2, 3):
        np.testing.assert_array_equal(
            np.signbit(rolling.rolling_max_nb(x, w)[w - 1 :]),
            np.signbit(ref_extreme(x, w, True)[w - 1 :]),
        )
        np.testing.assert_array_equal(
            np.signbit(rolling.rolling_min_nb(x, w)[w - 1 :]),
            np.signbit(ref_extreme(x, w, False)[w - 1 :]),
        )


def test_std_exact_on_1e4_offset_across_blocks() -> None:
    """A 1e4-offset walk over many blocks, window longer than a block: every window equals
    np.std on it to 1e-12 (two-pass), where add-and-remove running sums drift."""
    x = _walk(3 * B + 50, seed=3)
    for w in (30, B + 44):
        got = rolling.rolling_std_nb(x, w, 1)
        want = np.array([np.std(x[t - w + 1 : t + 1], ddof=1) for t in range(w - 1, len(x))])
        np.testing.assert_allclose(got[w - 1 :], want, rtol=1e-12)
        running = _running_std(x, w)  # what a running-sum kernel would give
        assert np.max(np.abs(running[w - 1 :] / want - 1.0)) > 1e-12


def _running_std(x, w):
    out = np.full(len(x), np.nan)
    s = sum(x[:w].tolist())
    s2 = sum((x[:w] ** 2).tolist())
    for t in range(w - 1, len(x)):
        if t >= w:
            s += x[t] - x[t - w]
            s2 += x[t] ** 2 - x[t - w] ** 2
        out[t] = math.sqrt(max(s2 - s * s / w, 0.0) / (w - 1))
    return out


@pytest.mark.parametrize("n", [B - 1, B + 1, 2 * B + 37])
def test_flow_and_regime_kernels_equal_the_per_window_loops(n: int) -> None:
    o, h, lo, c, v = _bars(n, seed=n)
    for w in (1, 2, 24, B + 3):
        np.testing.assert_array_equal(
            flow.flow_imbalance_nb(o, h, lo, c, v, w), ref_flow_imbalance(o, h, lo, c, v, w)
        )
        np.testing.assert_array_equal(flow.amihud_illiquidity_nb(c, v, w), ref_amihud(c, v, w))
        np.testing.assert_array_equal(
            flow.vwap_deviation_nb(h, lo, c, v, w), ref_vwap_deviation(h, lo, c, v, w)
        )
        if w >= 2:
            sv = flow.signed_volume_nb(o, h, lo, c, v)
            np.testing.assert_array_equal(
                flow.kyle_lambda_nb(o, h, lo, c, v, w), ref_slope(_logret(c, 1), sv, w)
            )
            np.testing.assert_array_equal(
                flow.volume_z_nb(v, w), ref_dispersion(_log1p(v), w, 1, True)
            )
            np.testing.assert_array_equal(
                regime.large_move_events_nb(c, w, 1.5), ref_large_moves(c, w, 1.5)
            )
    for w, q in ((3, 2), (24, 4), (B + 3, 5)):
        np.testing.assert_array_equal(
            regime.variance_ratio_nb(c, w, q), ref_variance_ratio(c, w, q)
        )
    for w, lags in ((4, 2), (64, 8)):
        np.testing.assert_array_equal(regime.hurst_nb(c, w, lags), ref_hurst(c, w, lags))


def test_prefix_across_block_boundaries() -> None:
    _, h, lo, c, v = _bars(2 * B + 40, seed=5)
    x = _awkward(2 * B + 40, seed=6)
    calls = [
        lambda k: rolling.rolling_sum_nb(x[:k], 7),
        lambda k: rolling.rolling_std_nb(x[:k], B + 1, 1),
        lambda k: rolling.rolling_zscore_nb(x[:k], 20, 1),
        lambda k: rolling.rolling_max_nb(x[:k], 9),
        lambda k: rolling.rolling_slope_nb(c[:k], v[:k], 30),
        lambda k: flow.amihud_illiquidity_nb(c[:k], v[:k], 10),
        lambda k: flow.vwap_deviation_nb(h[:k], lo[:k], c[:k], v[:k], 10),
        lambda k: regime.variance_ratio_nb(c[:k], 40, 4),
        lambda k: regime.hurst_nb(c[:k], 40, 8),
    ]
    for fn in calls:
        full = fn(len(c))
        for k in (B - 1, B, B + 1, B + 30, 2 * B + 1):
            np.testing.assert_array_equal(fn(k), full[:k])
