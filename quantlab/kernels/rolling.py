"""Rolling-window and exponentially weighted numba kernels.

Pure numba: 1-D float64 arrays in, 1-D float64 arrays out. Every output at index ``t`` uses
inputs at indices ``<= t`` only, so a kernel run on ``x[:t]`` equals the full run truncated
at ``t`` (the prefix test).

Conventions shared by the rolling kernels:

- the window ends at ``t`` and holds ``window`` values ``x[t-window+1 .. t]``;
- the first ``window - 1`` outputs are NaN (pandas ``rolling(window)`` with the default
  ``min_periods=window``), and so is any output whose window holds a NaN;
- each window is summed afresh (two-pass for dispersion), never by add-and-remove running
  sums, so there is no drift on long series and no catastrophic cancellation on prices.
  The cost is ``O(n * window)``, a few milliseconds for ``n = 1e5, window = 200``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _window_has_nan(x, start, stop):
    for i in range(start, stop):  # noqa: SIM110 (numba: no any() over a generator)
        if np.isnan(x[i]):
            return True
    return False


@njit(cache=True)
def _window_mean(x, start, stop):
    """Mean of x[start:stop]; exactly x[start] when the window is constant, so deviations
    from it are exactly zero (a summed mean can miss a constant by an ulp, which would turn
    a flat window into a spurious nonzero dispersion)."""
    first = x[start]
    m = 0.0
    constant = True
    for i in range(start, stop):
        m += x[i]
        if x[i] != first:
            constant = False
    if constant:
        return first
    return m / (stop - start)


@njit(cache=True)
def rolling_sum_nb(x, window):
    """Return the rolling sum over ``window`` values.

    Oracle: ``pd.Series(x).rolling(window).sum()``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        s = 0.0
        ok = True
        for i in range(t - window + 1, t + 1):
            v = x[i]
            if np.isnan(v):
                ok = False
                break
            s += v
        if ok:
            out[t] = s
    return out


@njit(cache=True)
def rolling_mean_nb(x, window):
    """Return the rolling mean over ``window`` values.

    Oracle: ``pd.Series(x).rolling(window).mean()``.
    """
    out = rolling_sum_nb(x, window)
    for t in range(out.shape[0]):
        out[t] = out[t] / window
    return out


@njit(cache=True)
def rolling_std_nb(x, window, ddof):
    """Return the rolling standard deviation over ``window`` values.

    Oracle: ``pd.Series(x).rolling(window).std(ddof=ddof)``.

    Notes
    -----
    Two-pass per window: :math:`m = \\frac{1}{w}\\sum x_i`,
    :math:`s = \\sqrt{\\sum (x_i - m)^2 / (w - \\mathrm{ddof})}`. A window of identical
    values gives exactly 0 (as pandas does). ``window - ddof`` must be positive (the
    caller checks).
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        start = t - window + 1
        if _window_has_nan(x, start, t + 1):
            continue
        m = _window_mean(x, start, t + 1)
        ss = 0.0
        for i in range(start, t + 1):
            d = x[i] - m
            ss += d * d
        out[t] = np.sqrt(ss / (window - ddof))
    return out


@njit(cache=True)
def rolling_zscore_nb(x, window, ddof):
    """Return the rolling z-score of the current value against its window.

    ``z[t] = (x[t] - mean(x[t-window+1..t])) / std(x[t-window+1..t], ddof)``; a window of
    identical values gives 0 (a flat window carries no deviation).

    Oracle: ``(s - s.rolling(w).mean()) / s.rolling(w).std(ddof=ddof)`` with ``0/0 -> 0``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        start = t - window + 1
        if _window_has_nan(x, start, t + 1):
            continue
        m = _window_mean(x, start, t + 1)
        ss = 0.0
        for i in range(start, t + 1):
            d = x[i] - m
            ss += d * d
        sd = np.sqrt(ss / (window - ddof))
        out[t] = (x[t] - m) / sd if sd > 0.0 else 0.0
    return out


@njit(cache=True)
def rolling_max_nb(x, window):
    """Return the rolling maximum over ``window`` values.

    Oracle: ``pd.Series(x).rolling(window).max()``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        best = -np.inf
        ok = True
        for i in range(t - window + 1, t + 1):
            v = x[i]
            if np.isnan(v):
                ok = False
                break
            if v > best:
                best = v
        if ok:
            out[t] = best
    return out


@njit(cache=True)
def rolling_min_nb(x, window):
    """Return the rolling minimum over ``window`` values.

    Oracle: ``pd.Series(x).rolling(window).min()``.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        best = np.inf
        ok = True
        for i in range(t - window + 1, t + 1):
            v = x[i]
            if np.isnan(v):
                ok = False
                break
            if v < best:
                best = v
        if ok:
            out[t] = best
    return out


@njit(cache=True)
def rolling_slope_nb(y, x, window):
    """Return the rolling OLS slope of ``y`` on ``x`` (with intercept).

    Oracle: ``np.polyfit(x[w], y[w], 1)[0]`` per window, equivalently
    ``y.rolling(w).cov(x) / x.rolling(w).var()``.

    Notes
    -----
    :math:`\\hat\\beta = \\sum (x_i - \\bar x)(y_i - \\bar y) / \\sum (x_i - \\bar x)^2`
    over the window; a window where ``x`` is constant gives 0 (no measurable sensitivity).
    """
    n = y.shape[0]
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        start = t - window + 1
        if _window_has_nan(x, start, t + 1) or _window_has_nan(y, start, t + 1):
            continue
        mx = _window_mean(x, start, t + 1)
        my = _window_mean(y, start, t + 1)
        sxx = 0.0
        sxy = 0.0
        for i in range(start, t + 1):
            dx = x[i] - mx
            sxx += dx * dx
            sxy += dx * (y[i] - my)
        out[t] = sxy / sxx if sxx > 0.0 else 0.0
    return out


@njit(cache=True)
def ewm_mean_step_nb(state, x, alpha):
    """Advance an exponentially weighted mean by one value; return ``(state, mean)``.

    ``state`` is the previous mean, NaN before the first finite value. The first finite
    value seeds the mean; afterwards ``m = m + alpha * (x - m)``. A NaN input leaves the
    mean unchanged and outputs it (NaN while unseeded).
    """
    if np.isnan(x):
        return state, state
    if np.isnan(state):
        return x, x
    m = state + alpha * (x - state)
    return m, m


@njit(cache=True)
def ewm_mean_nb(x, alpha):
    """Return the exponentially weighted mean of ``x`` with smoothing factor ``alpha``.

    Loops :func:`ewm_mean_step_nb`. Oracle:
    ``pd.Series(x).ewm(alpha=alpha, adjust=False, ignore_na=True).mean()`` (for a span
    ``n``, ``alpha = 2 / (n + 1)``; for Wilder smoothing, ``alpha = 1 / n``).
    """
    n = x.shape[0]
    out = np.empty(n)
    state = np.nan
    for t in range(n):
        state, out[t] = ewm_mean_step_nb(state, x[t], alpha)
    return out


@njit(cache=True)
def log_return_nb(close, lag):
    """Return ``log(close[t] / close[t - lag])``, NaN for the first ``lag`` values.

    Oracle: ``np.log(s).diff(lag)``.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    for t in range(lag, n):
        out[t] = np.log(close[t] / close[t - lag])
    return out
