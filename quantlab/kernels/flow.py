"""Order-flow and liquidity kernels computed from OHLCV bars.

Pure numba, float64 arrays in and out, causal (output ``t`` uses bars ``<= t``). Rolling
windows end at ``t`` and hold ``window`` bars; outputs before the window is full are NaN.
Per-bar terms are computed once and the windows summed afresh, left to right, in blocks of
consecutive outputs (:func:`quantlab.kernels.rolling.block_sums_nb`: SIMD, and bit-identical
to one loop per window). The kernels release the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quantlab.kernels.rolling import (
    BLOCK,
    block_sums_nb,
    log_return_nb,
    rolling_slope_nb,
    rolling_zscore_nb,
)


@njit(cache=True, nogil=True)
def signed_volume_nb(open_, high, low, close, volume):
    """Return per-bar signed volume from bar direction and range.

    Oracle: ``volume * (close - open) / (high - low)`` with 0 where ``high == low``.

    Notes
    -----
    :math:`sv_t = V_t \\, (C_t - O_t) / (H_t - L_t)`, in ``[-V_t, V_t]``: a bar that closes
    at its high after opening at its low is all buying, a doji is balanced. This is the
    bar-level analogue of bulk volume classification.
    """
    n = close.shape[0]
    out = np.empty(n)
    for t in range(n):
        rng = high[t] - low[t]
        out[t] = volume[t] * (close[t] - open_[t]) / rng if rng > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def flow_imbalance_nb(open_, high, low, close, volume, window):
    """Return the rolling signed-volume share ``sum(sv) / sum(V)`` in ``[-1, 1]``.

    Oracle: ``sv.rolling(w).sum() / volume.rolling(w).sum()``, 0 where the volume sum is 0.
    """
    sv = signed_volume_nb(open_, high, low, close, volume)
    n = close.shape[0]
    out = np.full(n, np.nan)
    acc_s = np.empty(BLOCK)
    acc_v = np.empty(BLOCK)
    for t0 in range(window - 1, n, BLOCK):
        nb = min(BLOCK, n - t0)
        block_sums_nb(sv, t0 - window + 1, nb, window, acc_s)
        block_sums_nb(volume, t0 - window + 1, nb, window, acc_v)
        for j in range(nb):
            v = acc_v[j]
            out[t0 + j] = acc_s[j] / v if v > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def amihud_illiquidity_nb(close, volume, window):
    """Return Amihud's illiquidity: mean ``|log return| / dollar volume`` over the window.

    Oracle: ``(abs(log(c).diff()) / (c * v)).rolling(w).mean()`` where bars with zero dollar
    volume are left out of the mean (0 when the window kept no bar: no trade, no measured
    impact).

    Notes
    -----
    :math:`ILLIQ_t = \\frac{1}{|K|}\\sum_{i \\in K} |r_i| / (C_i V_i)` with :math:`K` the
    bars of the window ``t-w+1..t`` with :math:`C_i V_i > 0`. The first value needs one
    previous close, so the first ``window`` outputs are NaN.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    # per-bar terms once (0.0 for a left-out bar adds nothing: the sums are >= +0.0) and
    # the running count of kept bars
    term = np.zeros(n)
    kept = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n):
        dv = close[i] * volume[i]
        keep = dv > 0.0
        if keep:
            term[i] = abs(np.log(close[i] / close[i - 1])) / dv
        kept[i + 1] = kept[i] + keep
    acc = np.empty(BLOCK)
    for t0 in range(window, n, BLOCK):
        nb = min(BLOCK, n - t0)
        block_sums_nb(term, t0 - window + 1, nb, window, acc)
        for j in range(nb):
            t = t0 + j
            k = kept[t + 1] - kept[t - window + 1]
            out[t] = acc[j] / k if k > 0 else 0.0
    return out


@njit(cache=True, nogil=True)
def kyle_lambda_nb(open_, high, low, close, volume, window):
    """Return Kyle's lambda: the rolling OLS slope of log return on signed volume.

    Oracle: ``np.polyfit(sv[w], r[w], 1)[0]`` per window.

    Notes
    -----
    :math:`r_t = \\alpha + \\lambda \\, sv_t + \\varepsilon_t` fitted by OLS on the last
    ``window`` bars, with :math:`r_t = \\log(C_t / C_{t-1})` and :math:`sv_t` from
    :func:`signed_volume_nb`. Units: log return per unit of base-asset volume. The first
    ``window`` outputs are NaN; a window without signed-volume dispersion gives 0.
    """
    r = log_return_nb(close, 1)
    sv = signed_volume_nb(open_, high, low, close, volume)
    return rolling_slope_nb(r, sv, window)


@njit(cache=True, nogil=True)
def vwap_deviation_nb(high, low, close, volume, window):
    """Return ``log(close / VWAP)`` with the VWAP of the typical price over the window.

    Oracle: ``log(c / ((tp * v).rolling(w).sum() / v.rolling(w).sum()))`` with
    ``tp = (h + l + c) / 3``; 0 where the window's volume is 0.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    pv = np.empty(n)
    for i in range(n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        pv[i] = tp * volume[i]
    acc_pv = np.empty(BLOCK)
    acc_v = np.empty(BLOCK)
    for t0 in range(window - 1, n, BLOCK):
        nb = min(BLOCK, n - t0)
        block_sums_nb(pv, t0 - window + 1, nb, window, acc_pv)
        block_sums_nb(volume, t0 - window + 1, nb, window, acc_v)
        for j in range(nb):
            t = t0 + j
            v = acc_v[j]
            out[t] = np.log(close[t] * v / acc_pv[j]) if v > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def volume_z_nb(volume, window):
    """Return the rolling z-score of ``log(1 + volume)`` (ddof=1, 0 on a flat window).

    Oracle: ``(lv - lv.rolling(w).mean()) / lv.rolling(w).std()`` with ``lv = log1p(v)``.
    """
    return rolling_zscore_nb(np.log1p(volume), window, 1)
