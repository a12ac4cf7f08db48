"""Signal kernels of the built-in backtest strategies.

Pure numba, 1-D float64 arrays in and out. Every output at ``t`` uses inputs at indices
``<= t`` only (the prefix test). The indicators here are the few the built-in strategies
need: the position state machines that turn indicators into a target direction in
``{-1, 0, +1}`` (0 during warm-up).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def allowed_nb(direction, allow_long, allow_short):
    """Return ``direction``'s sign as a target if that side may trade, else 0."""
    if direction > 0 and allow_long:
        return 1.0
    if direction < 0 and allow_short:
        return -1.0
    return 0.0


@njit(cache=True)
def cross_step_nb(state, a0, b0, a1, b1):
    """Advance the moving-average cross state by one bar; return the new state.

    Up-cross (``a1 > b1`` and ``a0 <= b0``) gives +1, down-cross -1, otherwise the state is
    kept; a NaN among the four values keeps it too. :func:`cross_target_nb` loops it.
    """
    if np.isfinite(a0) and np.isfinite(b0) and np.isfinite(a1) and np.isfinite(b1):
        if a1 > b1 and a0 <= b0:
            return 1.0
        if a1 < b1 and a0 >= b0:
            return -1.0
    return state


@njit(cache=True)
def ema_trend_dir_nb(close, ema_fast, ema_slow, ema_gate):
    """Return one bar's gated trend direction: +1, -1 or 0 (:func:`ema_trend_target_nb`)."""
    if ema_fast > ema_slow and close > ema_gate:
        return 1.0
    if ema_fast < ema_slow and close < ema_gate:
        return -1.0
    return 0.0


@njit(cache=True)
def cross_target_nb(fast, slow, allow_long, allow_short):
    """Return the moving-average cross position: +1 after an up-cross, -1 after a down-cross.

    An up-cross at ``t`` is ``fast[t] > slow[t]`` and ``fast[t-1] <= slow[t-1]``; a
    down-cross mirrors it. Before the first cross the position is 0, so the strategy never
    enters a trend that was already running when the averages became defined. A direction
    that is not allowed maps to 0. Oracle: the pandas expression of the same crosses.
    """
    n = fast.shape[0]
    out = np.zeros(n)
    state = 0.0
    for t in range(1, n):
        state = cross_step_nb(state, fast[t - 1], slow[t - 1], fast[t], slow[t])
        out[t] = allowed_nb(state, allow_long, allow_short)
    return out


@njit(cache=True)
def ema_trend_target_nb(close, ema_fast, ema_slow, ema_gate, warmup, allow_long, allow_short):
    """Return the gated trend position: fast EMA over slow EMA, confirmed by the gate.

    Long when ``ema_fast > ema_slow`` and ``close > ema_gate``; short when both point
    down; flat otherwise and for ``t < warmup``.
    """
    n = close.shape[0]
    out = np.zeros(n)
    for t in range(warmup, n):
        d = ema_trend_dir_nb(close[t], ema_fast[t], ema_slow[t], ema_gate[t])
        out[t] = allowed_nb(d, allow_long, allow_short)
    return out


@njit(cache=True)
def mean_reversion_target_nb(
    close, mid, upper, lower, rsi, rsi_low, rsi_high, allow_long, allow_short
):
    """Return the Bollinger/RSI mean-reversion position.

    Flat -> long when ``close < lower`` and ``rsi < rsi_low``; flat -> short when
    ``close > upper`` and ``rsi > rsi_high``; a long exits when ``close >= mid``, a short
    when ``close <= mid``, and may enter the other side on the same bar. NaN inputs (warm-up)
    keep the position flat.
    """
    n = close.shape[0]
    out = np.zeros(n)
    state = 0.0
    for t in range(n):
        c = close[t]
        ok = np.isfinite(mid[t]) and np.isfinite(upper[t]) and np.isfinite(lower[t])
        ok = ok and np.isfinite(rsi[t])
        if not ok:
            state = 0.0
        else:
            if (state > 0 and c >= mid[t]) or (state < 0 and c <= mid[t]):
                state = 0.0
            if state == 0.0:
                if c < lower[t] and rsi[t] < rsi_low and allow_long:
                    state = 1.0
                elif c > upper[t] and rsi[t] > rsi_high and allow_short:
                    state = -1.0
        out[t] = state
    return out


@njit(cache=True)
def channel_nb(high, low, start, stop):
    """Return the highest high and the lowest low of bars ``start .. stop - 1``.

    ``(-inf, inf)`` for an empty range; NaNs are skipped (they never compare greater).
    """
    hi = -np.inf
    lo = np.inf
    for k in range(start, stop):
        if high[k] > hi:
            hi = high[k]
        if low[k] < lo:
            lo = low[k]
    return hi, lo


@njit(cache=True)
def donchian_target_nb(close, high, low, entry_window, exit_window, allow_long, allow_short):
    """Return the Donchian breakout position.

    Long when the close breaks above the highest high of the previous ``entry_window``
    bars, exit when it breaks below the lowest low of the previous ``exit_window`` bars;
    shorts mirror it. Channels exclude the current bar, so the first decision is at
    ``t = max(entry_window, exit_window)``. Oracle: ``high.rolling(n).max().shift(1)``.
    """
    n = close.shape[0]
    out = np.zeros(n)
    state = 0.0
    start = entry_window if entry_window > exit_window else exit_window
    for t in range(start, n):
        ent_hi, ent_lo = channel_nb(high, low, t - entry_window, t)
        ex_hi, ex_lo = channel_nb(high, low, t - exit_window, t)
        c = close[t]
        if (state > 0 and c < ex_lo) or (state < 0 and c > ex_hi):
            state = 0.0
        if state == 0.0:
            if c > ent_hi and allow_long:
                state = 1.0
            elif c < ent_lo and allow_short:
                state = -1.0
        out[t] = state
    return out


@njit(cache=True)
def threshold_target_nb(score, entry, exit_, allow_long, allow_short):
    """Return a hysteresis position from a score: enter beyond ``entry``, leave inside ``exit_``.

    Long when ``score > entry``, held while ``score > exit_``; short when
    ``score < -entry``, held while ``score < -exit_`` (``0 <= exit_ <= entry``). A NaN
    score keeps the position flat.
    """
    n = score.shape[0]
    out = np.zeros(n)
    state = 0.0
    for t in range(n):
        s = score[t]
        if not np.isfinite(s):
            state = 0.0
        else:
            if (state > 0 and s <= exit_) or (state < 0 and s >= -exit_):
                state = 0.0
            if state == 0.0:
                if s > entry and allow_long:
                    state = 1.0
                elif s < -entry and allow_short:
                    state = -1.0
        out[t] = state
    return out
