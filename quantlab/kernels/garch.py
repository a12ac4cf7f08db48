"""GARCH(p, q) conditional-variance recursion, as ``arch`` computes it.

With residuals ``e_t = y_t - mu`` (``mu = 0`` for a zero mean) and parameters
``omega, alpha_1..alpha_p, beta_1..beta_q``:

    sigma2_t = omega + sum_i alpha_i e_{t-i}^2 + sum_j beta_j sigma2_{t-j},

where a lag before the first row uses the *backcast* instead of ``e^2`` or ``sigma2``:
``arch``'s exponentially weighted mean of the first ``min(75, n)`` squared residuals
(weights ``0.94^k``, normalised). The one-step forecast made at ``t`` is ``sigma2_{t+1}``.

``arch`` also clamps each ``sigma2_t`` into loose bounds derived from the sample (between
about ``1e-6`` and ``1e6`` times an EWMA variance); those never bind on ordinary returns and
are not applied here. Oracle: ``arch_model(...).fix(params)`` (conditional volatility and
``forecast(horizon=1)``), to ~1e-12 relative (tests/kernels/test_garch_kernel.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

BACKCAST_TAU = 75
BACKCAST_DECAY = 0.94


@njit(cache=True, nogil=True)
def garch_backcast_nb(resid):
    """Return ``arch``'s backcast: EWMA (0.94) of the first ``min(75, n)`` squared residuals."""
    tau = min(BACKCAST_TAU, resid.shape[0])
    num = 0.0
    den = 0.0
    w = 1.0
    for k in range(tau):
        num += w * resid[k] * resid[k]
        den += w
        w *= BACKCAST_DECAY
    return num / den if den > 0.0 else 0.0


@njit(cache=True, nogil=True)
def garch_variance_nb(resid, omega, alpha, beta, backcast, sigma2):
    """Fill ``sigma2`` (length ``n + 1``) with the conditional variances of ``resid``.

    Parameters
    ----------
    resid : ndarray, shape (n,)
        Residuals ``e_t``.
    omega : float
        Constant of the recursion.
    alpha : ndarray, shape (p,)
        ARCH coefficients (lags of ``e^2``).
    beta : ndarray, shape (q,)
        GARCH coefficients (lags of ``sigma2``).
    backcast : float
        Value of ``e^2`` and ``sigma2`` before the first row.
    sigma2 : ndarray, shape (n + 1,)
        Output: ``sigma2[t]`` for ``t < n`` uses residuals before ``t``; ``sigma2[n]`` is
        the one-step forecast after the last residual.

    Returns
    -------
    ndarray
        ``sigma2``.
    """
    n = resid.shape[0]
    p = alpha.shape[0]
    q = beta.shape[0]
    for t in range(n + 1):
        s = omega
        for i in range(p):
            k = t - 1 - i
            s += alpha[i] * (resid[k] * resid[k] if k >= 0 else backcast)
        for j in range(q):
            k = t - 1 - j
            s += beta[j] * (sigma2[k] if k >= 0 else backcast)
        sigma2[t] = s
    return sigma2


@njit(cache=True, nogil=True)
def garch_step_nb(e2_lags, s2_lags, resid_t, omega, alpha, beta):
    """Advance the recursion by one residual; return the next one-step variance.

    ``e2_lags`` holds the last ``p`` squared residuals and ``s2_lags`` the last ``q``
    variances, most recent first (``s2_lags[0]`` is the forecast made before ``resid_t``);
    both are shifted in place.
    """
    p = alpha.shape[0]
    q = beta.shape[0]
    for i in range(p - 1, 0, -1):
        e2_lags[i] = e2_lags[i - 1]
    if p > 0:
        e2_lags[0] = resid_t * resid_t
    s = omega
    for i in range(p):
        s += alpha[i] * e2_lags[i]
    for j in range(q):
        s += beta[j] * s2_lags[j]
    for j in range(q - 1, 0, -1):
        s2_lags[j] = s2_lags[j - 1]
    if q > 0:
        s2_lags[0] = s
    return s


@njit(cache=True, nogil=True)
def garch_refit_path_nb(y, starts, ends, anchors, params, p, q, zero_mean, out):
    """Fill ``out`` with one-step volatilities between refits (``garch_vol``'s inner loop).

    For each segment ``k`` the parameters ``params[k] = (mu, omega, alpha_1..p,
    beta_1..q)`` were fitted on ``y[anchors[k]:starts[k] + 1]``; the recursion runs on
    ``y[anchors[k]:ends[k]]`` from ``arch``'s backcast of that sample and writes
    ``sqrt(sigma2_{t+1})`` into ``out[t]`` for ``starts[k] <= t < ends[k]``.
    """
    for k in range(starts.shape[0]):
        a = anchors[k]
        s = starts[k]
        e = ends[k]
        mu = 0.0 if zero_mean else params[k, 0]
        omega = params[k, 1]
        alpha = params[k, 2 : 2 + p]
        beta = params[k, 2 + p : 2 + p + q]
        resid = y[a:e] - mu
        backcast = garch_backcast_nb(resid)
        sigma2 = np.empty(resid.shape[0] + 1)
        garch_variance_nb(resid, omega, alpha, beta, backcast, sigma2)
        for t in range(s, e):
            out[t] = np.sqrt(sigma2[t - a + 1])
    return out
