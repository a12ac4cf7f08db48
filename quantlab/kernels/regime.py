"""Self-excitation and regime kernels: Hawkes intensity, variance ratio, Hurst exponent.

Pure numba, float64 arrays in and out, causal (output ``t`` uses bars ``<= t``); outputs
before the first full window are NaN. Windows are summed afresh, left to right, in blocks of
consecutive outputs (:func:`quantlab.kernels.rolling.block_sums_nb`: SIMD, and
bit-identical to one loop per window). The kernels release the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from quantlab.kernels.rolling import BLOCK, block_sq_dev_nb, block_sums_nb


@njit(cache=True, nogil=True)
def _log_returns(close, lag):
    """``log(close[i] / close[i - lag])`` (log of the ratio: no cancellation), NaN before."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    for i in range(lag, n):
        out[i] = np.log(close[i] / close[i - lag])
    return out


@njit(cache=True, nogil=True)
def large_move_events_nb(close, window, threshold):
    """Return 1.0 where a bar's log return is a large move, 0.0 elsewhere, NaN in warm-up.

    Oracle: an explicit loop over ``r = log(c).diff()`` with
    ``s = r.rolling(window).std(ddof=1).shift(1)``.

    Notes
    -----
    Bar ``t`` is an event when :math:`|r_t| > k\\,\\sigma_{t-1}`, with :math:`\\sigma_{t-1}`
    the sample standard deviation (ddof=1) of the ``window`` returns *before* ``t``
    (:math:`r_{t-w} .. r_{t-1}`), so a move never inflates its own threshold. The first
    value is at ``t = window + 1``.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    r = _log_returns(close, 1)
    acc = np.empty(BLOCK)
    m = np.empty(BLOCK)
    for t0 in range(window + 1, n, BLOCK):
        nb = min(BLOCK, n - t0)
        block_sums_nb(r, t0 - window, nb, window, acc)
        for j in range(nb):
            m[j] = acc[j] / window
        block_sq_dev_nb(r, t0 - window, nb, window, m, acc)
        for j in range(nb):
            sd = np.sqrt(acc[j] / (window - 1))
            out[t0 + j] = 1.0 if abs(r[t0 + j]) > threshold * sd else 0.0
    return out


@njit(cache=True, nogil=True)
def hawkes_intensity_step_nb(state, event, decay):
    """Advance the discrete exponential-kernel intensity by one bar; return ``(state, y)``.

    ``state`` is the intensity after the previous bar; ``event`` is the bar's event mark
    (0 or 1; NaN leaves the state unchanged and outputs NaN).

    Notes
    -----
    :math:`\\lambda_t = e^{-\\beta}\\lambda_{t-1} + \\beta\\,e_t`, i.e.
    :math:`\\lambda_t = \\beta \\sum_{i \\le t} e_i\\,e^{-\\beta (t - i)}`: the excitation
    part of a Hawkes intensity with kernel :math:`\\beta e^{-\\beta u}` (unit mass), in
    events per bar.
    """
    if np.isnan(event):
        return state, np.nan
    lam = np.exp(-decay) * state + decay * event
    return lam, lam


@njit(cache=True, nogil=True)
def hawkes_intensity_nb(events, decay):
    """Return the exponential-kernel intensity of an event series, looping the step kernel.

    Oracle: the explicit sum :math:`\\beta \\sum_{i \\le t} e_i e^{-\\beta (t-i)}` over the
    non-NaN marks (NaN marks give NaN and do not change the state).
    """
    n = events.shape[0]
    out = np.empty(n)
    state = 0.0
    for t in range(n):
        state, out[t] = hawkes_intensity_step_nb(state, events[t], decay)
    return out


@njit(cache=True, nogil=True)
def variance_ratio_nb(close, window, lag):
    """Return the rolling Lo-MacKinlay variance ratio of log returns.

    Oracle: an explicit per-window numpy computation in the tests.

    Notes
    -----
    In the window of the last ``w`` one-bar log returns :math:`r_{t-w+1..t}` with mean
    :math:`\\mu`, and the :math:`M = w - q + 1` overlapping ``q``-bar sums :math:`R_j`
    inside it:

    .. math:: VR_t(q) = \\frac{\\frac{1}{M}\\sum_j (R_j - q\\mu)^2}
                              {q\\,\\frac{1}{w}\\sum_i (r_i - \\mu)^2}

    (plain overlapping estimator, no small-sample bias correction). 1 for a random walk,
    above 1 when returns trend, below 1 when they mean-revert. A window of identical returns
    gives 1. The first value is at ``t = window`` (``window`` returns need ``window + 1``
    closes).
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    m_count = window - lag + 1
    r1 = _log_returns(close, 1)
    rq = _log_returns(close, lag)  # q-bar log return ending at j
    mu = np.empty(BLOCK)
    qmu = np.empty(BLOCK)
    v1 = np.empty(BLOCK)
    vq = np.empty(BLOCK)
    for t0 in range(window, n, BLOCK):
        nb = min(BLOCK, n - t0)
        start = t0 - window + 1
        block_sums_nb(r1, start, nb, window, mu)
        for j in range(nb):
            mu[j] /= window
            qmu[j] = lag * mu[j]
        block_sq_dev_nb(r1, start, nb, window, mu, v1)
        block_sq_dev_nb(rq, start + lag - 1, nb, m_count, qmu, vq)
        for j in range(nb):
            a = v1[j] / window
            b = vq[j] / m_count
            out[t0 + j] = b / (lag * a) if a > 0.0 else 1.0
    return out


@njit(cache=True, nogil=True)
def hurst_nb(close, window, max_lag):
    """Return the rolling Hurst exponent from the scaling of lagged log-price differences.

    Oracle: an explicit per-window numpy computation in the tests
    (``np.polyfit(log(lags), log([rms(p[lag:] - p[:-lag]) ...]), 1)[0]``).

    Notes
    -----
    In the window of the last ``w`` log prices :math:`p`, for each lag
    :math:`\\tau = 1..L` let :math:`s_\\tau` be the root mean square (not demeaned) of
    the :math:`w - \\tau` differences :math:`p_i - p_{i-\\tau}`. For a process with Hurst
    exponent ``H``, :math:`s_\\tau \\propto \\tau^H`; ``H`` is the OLS slope of
    :math:`\\log s_\\tau` on :math:`\\log\\tau`. In finite windows the estimate is biased
    slightly low (a Gaussian random walk reads about 0.48 at ``w = 128``; demeaning the
    differences would pull it to about 0.45, which is why they are not demeaned); a strong
    drift reads as persistence. 0.5 is a random walk, above trends, below
    mean-reverts. A window with a zero :math:`s_\\tau` (a straight line) gives 0.5. The first
    value is at ``t = window - 1``.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    # OLS x-values are fixed: log(1..L)
    mx = 0.0
    for k in range(1, max_lag + 1):
        mx += np.log(k)
    mx /= max_lag
    sxx = 0.0
    for k in range(1, max_lag + 1):
        dx = np.log(k) - mx
        sxx += dx * dx
    # H = sum_k (log k - mean log k) * log s_k / sxx (the mean of log s_k drops out), so
    # the lags are visited one at a time with O(n) memory whatever max_lag is.
    acc = np.zeros(n)
    flat = np.zeros(n, dtype=np.bool_)
    sq = np.zeros(n)
    ss = np.empty(BLOCK)
    for k in range(1, max_lag + 1):
        for i in range(k, n):
            d = np.log(close[i] / close[i - k])
            sq[i] = d * d
        wk = (np.log(k) - mx) / sxx
        cnt = window - k
        for t0 in range(window - 1, n, BLOCK):
            nb = min(BLOCK, n - t0)
            block_sums_nb(sq, t0 - window + 1 + k, nb, cnt, ss)
            for j in range(nb):
                t = t0 + j
                if ss[j] <= 0.0:
                    flat[t] = True
                else:
                    acc[t] += wk * 0.5 * np.log(ss[j] / cnt)
    for t in range(window - 1, n):
        out[t] = 0.5 if flat[t] else acc[t]
    return out
