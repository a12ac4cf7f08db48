"""Classic technical-analysis kernels that reproduce TA-Lib bit for bit.

Pure numba: float64 numpy arrays in, a float64 array of the same length out, NaN over the
warm-up (TA-Lib's *lookback*, with TA-Lib's default unstable period of 0). Each kernel
follows the arithmetic of the TA-Lib C function it names (same seeds, same running sums,
same order of operations, same small-value guards), so the results agree with TA-Lib to
the last bit in practice; the tests compare with ``talib`` at relative 1e-9.

Recursive indicators have a step kernel ``name_step_nb(state, x, ...) -> (state, y)``
that the batch kernel ``name_nb`` loops over, so streaming and batch agree by
construction; ``name_init_nb()`` returns the initial state. ``y`` is NaN until the
warm-up is over.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# TA-Lib builds EMA/ATR/NATR/MACD/KAMA in an FMA flavour picked at run time on CPUs that
# have FMA; letting LLVM fuse a*b+c there ("contract", the only fast-math flag used: no
# reassociation, NaN/inf semantics kept) reproduces it. Other kernels stay unfused, like
# their TA-Lib counterparts.
_CONTRACT = {"contract"}

# Relative size under which a window's spread counts as zero (a flat window): the variance
# of STDDEV/BBANDS below REL_FLAT * mean(x^2), CCI's deviation below REL_FLAT * |mean|.
# Like TA-Lib 0.6+, no absolute epsilon: every kernel is scale-free (1e-9 prices work).
REL_FLAT = 1e-12
# KAMA's fastest (2 bars) and slowest (30 bars) smoothing constants.
_KAMA_CONST_MAX = 2.0 / (30.0 + 1.0)
_KAMA_CONST_DIFF = 2.0 / (2.0 + 1.0) - _KAMA_CONST_MAX


@njit(cache=True, nogil=True)
def true_range_nb(high: float, low: float, prev_close: float) -> float:
    """Return the true range of one bar (TA-Lib ``TRANGE``'s arithmetic).

    Notes
    -----
    :math:`TR_t = \\max(h_t - l_t, |c_{t-1} - h_t|, |c_{t-1} - l_t|)`.
    """
    greatest = high - low
    v = abs(prev_close - high)
    if v > greatest:
        greatest = v
    v = abs(prev_close - low)
    if v > greatest:
        greatest = v
    return greatest


# --------------------------------------------------------------------------------------
# moving averages


@njit(cache=True, nogil=True)
def sma_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return the simple moving average; equals ``talib.SMA(x, window)``.

    Notes
    -----
    A running total, as TA-Lib's ``INT_SMA``: add the newest value, take the mean, drop
    the oldest. The first ``window - 1`` values are NaN.
    """
    n = x.shape[0]
    out = np.empty(n)
    total = 0.0
    for i in range(n):
        total += x[i]
        if i < window - 1:
            out[i] = np.nan
            continue
        out[i] = total / window
        total -= x[i - window + 1]
    return out


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def ema_init_nb() -> tuple[int, float]:
    """Return the initial state ``(count, value)`` of :func:`ema_step_nb`."""
    return (0, 0.0)


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def ema_step_nb(state: tuple[int, float], x: float, window: int) -> tuple[tuple[int, float], float]:
    """Advance the EMA by one value; equals ``talib.EMA`` when looped from the start.

    Notes
    -----
    TA-Lib's seed: the first output (bar ``window - 1``) is the simple mean of the first
    ``window`` values; after that :math:`e_t = (x_t - e_{t-1}) k + e_{t-1}` with
    :math:`k = 2 / (window + 1)`.
    """
    count, value = state
    count += 1
    if count < window:
        return (count, value + x), np.nan
    if count == window:
        value = (value + x) / window
        return (count, value), value
    value = ((x - value) * (2.0 / (window + 1))) + value
    return (count, value), value


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def ema_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return the exponential moving average; equals ``talib.EMA(x, window)``.

    Notes
    -----
    Loops :func:`ema_step_nb`; NaN over the first ``window - 1`` bars.
    """
    n = x.shape[0]
    out = np.empty(n)
    state = ema_init_nb()
    for i in range(n):
        state, out[i] = ema_step_nb(state, x[i], window)
    return out


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def kama_init_nb() -> tuple[int, float, float, float, float]:
    """Return the initial state ``(count, prev, trailing, sum_roc, kama)`` of KAMA."""
    return (0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def kama_step_nb(
    state: tuple[int, float, float, float, float], x: float, x_lag: float, window: int
) -> tuple[tuple[int, float, float, float, float], float]:
    """Advance Kaufman's adaptive moving average by one value (TA-Lib ``KAMA``).

    Parameters
    ----------
    state
        From :func:`kama_init_nb` or the previous step.
    x
        The new value :math:`x_t`.
    x_lag
        :math:`x_{t - window}` (ignored, may be NaN, while :math:`t < window`).
    window
        Efficiency-ratio window.

    Notes
    -----
    Efficiency ratio :math:`ER = |x_t - x_{t-n}| / \\sum_{k=t-n+1}^{t} |x_k - x_{k-1}|`
    (1 when the sum is 0 or not above the signed change, as TA-Lib), smoothing
    :math:`sc = (ER (2/3 - 2/31) + 2/31)^2` and
    :math:`K_t = (x_t - K_{t-1}) sc + K_{t-1}` seeded with :math:`K_{n-1} = x_{n-1}`.
    The first output is at bar ``window``.
    """
    count, prev, trailing, sum_roc, kama = state
    t = count
    count += 1
    if t == 0:
        return (count, x, trailing, sum_roc, kama), np.nan
    if t < window:
        sum_roc += abs(prev - x)
        return (count, x, trailing, sum_roc, kama), np.nan
    period_roc = x - x_lag
    if t == window:
        sum_roc += abs(prev - x)
        kama = prev
    else:
        sum_roc -= abs(trailing - x_lag)
        sum_roc += abs(x - prev)
    trailing = x_lag
    er = 1.0 if sum_roc <= period_roc or sum_roc == 0.0 else abs(period_roc / sum_roc)
    sc = (er * _KAMA_CONST_DIFF) + _KAMA_CONST_MAX
    sc *= sc
    kama = ((x - kama) * sc) + kama
    return (count, x, trailing, sum_roc, kama), kama


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def kama_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return Kaufman's adaptive moving average; equals ``talib.KAMA(x, window)``.

    Notes
    -----
    Loops :func:`kama_step_nb`; NaN over the first ``window`` bars.
    """
    n = x.shape[0]
    out = np.empty(n)
    state = kama_init_nb()
    for i in range(n):
        lag = x[i - window] if i >= window else np.nan
        state, out[i] = kama_step_nb(state, x[i], lag, window)
    return out


# --------------------------------------------------------------------------------------
# dispersion


@njit(cache=True, nogil=True)
def _rolling_var_nb(x: np.ndarray, window: int, take_sqrt: bool) -> np.ndarray:
    n = x.shape[0]
    out = np.empty(n)
    for i in range(min(n, window - 1)):
        out[i] = np.nan
    if n < window:
        return out
    inv = 1.0 / window
    k = x[0]
    s1 = 0.0
    s2 = 0.0
    for j in range(window - 1):
        d = x[j] - k
        s1 += d
        s2 += d * d
    refresh = 32 * window
    countdown = refresh
    for i in range(window - 1, n):
        d = x[i] - k
        s1 += d
        s2 += d * d
        mean = inv * s1
        var = inv * s2 - mean * mean
        lo = i - window + 1
        d_old = x[lo] - k
        sq_old = d_old * d_old
        s2 -= sq_old
        rebase = (inv * s2) * 1e-6 > var
        if not rebase:
            rebase = sq_old > s2 * 1e6
            if not rebase:
                countdown -= 1
                rebase = countdown == 0
        if rebase:
            acc = 0.0
            for j in range(lo, i + 1):
                acc += x[j]
            k = acc * inv
            s1 = 0.0
            s2 = 0.0
            for j in range(lo, i + 1):
                d = x[j] - k
                s1 += d
                s2 += d * d
            mean = inv * s1
            m2 = inv * s2
            var = m2 - mean * mean
            if not var >= m2 * 1e-12:
                var = 0.0
            d_old = x[lo] - k
            s1 -= d_old
            s2 -= d_old * d_old
            countdown = refresh
        else:
            s1 -= d_old
        if take_sqrt:
            out[i] = math.sqrt(var) if var > 0.0 else 0.0
        else:
            out[i] = var
    return out


@njit(cache=True, nogil=True)
def var_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return the rolling population variance; equals ``talib.VAR(x, window, 1)``.

    Notes
    -----
    TA-Lib 0.6+'s numerically careful ``INT_VAR``: running sums of the shifted values
    :math:`d = x - K` give :math:`\\sigma^2 = \\overline{d^2} - \\bar d^2`. The shift
    :math:`K` starts at the first value and is re-anchored to the window mean (sums
    recomputed from the window) whenever cancellation threatens (the variance falls
    below 1e-6 of :math:`\\overline{d^2}`, or a leaving term dwarfs the sum by 1e6) and
    at least every ``32 window`` bars, so rounding error stays near machine precision
    relative to the variance and cannot drift. After a re-anchor a variance under
    1e-12 of :math:`\\overline{d^2}` is a flat window: 0. NaN over the first
    ``window - 1`` bars.
    """
    return _rolling_var_nb(x, window, False)


@njit(cache=True, nogil=True)
def stddev_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return the rolling population standard deviation; equals ``talib.STDDEV(x, window, 1)``.

    Notes
    -----
    :math:`\\sqrt{\\sigma^2}` of :func:`var_nb` (0 for a flat window). Scale-free: no
    absolute epsilon. NaN over the first ``window - 1`` bars.
    """
    return _rolling_var_nb(x, window, True)


@njit(cache=True, nogil=True)
def bb_z_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return the Bollinger z-score ``(x - middle) / sigma`` of TA-Lib ``BBANDS``.

    Equals ``(x - m) / s`` with ``m = talib.SMA(x, window)`` (the middle band) and
    ``s = talib.STDDEV(x, window, 1)`` (``upper - middle`` of
    ``talib.BBANDS(x, window, 1, 1, 0)``), and 0 where ``s`` is 0.

    Notes
    -----
    :math:`z_t = (x_t - m_t)/\\sigma_t`, the position of the close inside the bands in
    units of the band's standard deviation (:math:`\\pm 2` are the usual bands). A flat
    window (:math:`\\sigma = 0`) gives 0. NaN over the first ``window - 1`` bars.
    """
    out = _rolling_var_nb(x, window, True)
    total = 0.0  # the running total of sma_nb, inlined
    for i in range(x.shape[0]):
        total += x[i]
        if i < window - 1:
            continue
        mid = total / window
        total -= x[i - window + 1]
        sd = out[i]
        z = (x[i] - mid) / (sd if sd > 0.0 else 1.0)  # selects, not branches
        out[i] = z if sd > 0.0 else 0.0
    return out


# --------------------------------------------------------------------------------------
# oscillators


@njit(cache=True, nogil=True)
def rsi_init_nb() -> tuple[int, float, float, float]:
    """Return the initial state ``(count, prev, avg_gain, avg_loss)`` of RSI."""
    return (0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def _rsi_value(gain: float, loss: float) -> float:
    s = gain + loss
    if s == 0.0:
        return 0.0
    return 100.0 * (gain / s)


@njit(cache=True, nogil=True)
def rsi_step_nb(
    state: tuple[int, float, float, float], x: float, window: int
) -> tuple[tuple[int, float, float, float], float]:
    """Advance Wilder's RSI by one value (TA-Lib ``RSI``).

    Notes
    -----
    Average gain :math:`G` and loss :math:`L` are the means of the first ``window``
    changes, then Wilder-smoothed: :math:`G_t = (G_{t-1}(n-1) + g_t)/n`, multiplying by
    :math:`1/n` as TA-Lib's build does (no division on the recursive path).
    :math:`RSI = 100\\, G / (G + L)`, 0 when :math:`G + L = 0` (a flat start).
    The first output is at bar ``window``.
    """
    count, prev, gain, loss = state
    count += 1
    if count == 1:
        return (count, x, gain, loss), np.nan
    d = x - prev
    up = d if d > 0.0 else 0.0
    down = up - d
    inv = 1.0 / window
    if count <= window + 1:
        gain += up
        loss += down
        if count <= window:
            return (count, x, gain, loss), np.nan
        gain *= inv
        loss *= inv
        return (count, x, gain, loss), _rsi_value(gain, loss)
    gain = (gain * (window - 1) + up) * inv
    loss = (down + loss * (window - 1)) * inv
    return (count, x, gain, loss), _rsi_value(gain, loss)


@njit(cache=True, nogil=True)
def rsi_nb(x: np.ndarray, window: int) -> np.ndarray:
    """Return Wilder's relative strength index; equals ``talib.RSI(x, window)``.

    Notes
    -----
    Loops :func:`rsi_step_nb`; NaN over the first ``window`` bars.
    """
    n = x.shape[0]
    out = np.empty(n)
    state = rsi_init_nb()
    for i in range(n):
        state, out[i] = rsi_step_nb(state, x[i], window)
    return out


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def macd_init_nb() -> tuple[int, float, float, float]:
    """Return the initial state ``(count, fast_ema, slow_ema, signal_ema)`` of MACD."""
    return (0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def macd_step_nb(
    state: tuple[int, float, float, float], x: float, fast: int, slow: int, signal: int
) -> tuple[tuple[int, float, float, float], float]:
    """Advance MACD by one value; ``y`` is the histogram (TA-Lib ``MACD``, ``fast < slow``).

    Notes
    -----
    TA-Lib starts both EMAs at bar ``slow - 1``: the slow EMA is seeded with the mean of
    the first ``slow`` values and the fast EMA with the mean of the ``fast`` values
    ending at bar ``slow - 1`` (not the first ``fast``). ``macd = fast_ema - slow_ema``;
    the signal is TA-Lib's EMA of the macd line (seeded with its first ``signal``
    values); ``hist = macd - signal``. The first output is at bar
    ``slow + signal - 2``.
    """
    count, fe, se, sg = state
    count += 1
    # slow EMA over every value
    if count < slow:
        se += x
    elif count == slow:
        se = (se + x) / slow
    else:
        se = ((x - se) * (2.0 / (slow + 1))) + se
    # fast EMA over the values from bar slow - fast on
    j = count - (slow - fast)
    if j >= 1:
        if j < fast:
            fe += x
        elif j == fast:
            fe = (fe + x) / fast
        else:
            fe = ((x - fe) * (2.0 / (fast + 1))) + fe
    if count < slow:
        return (count, fe, se, sg), np.nan
    macd = fe - se
    m = count - slow + 1
    if m < signal:
        return (count, fe, se, sg + macd), np.nan
    sg = (sg + macd) / signal if m == signal else (macd - sg) * (2.0 / (signal + 1)) + sg
    return (count, fe, se, sg), macd - sg


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def macd_hist_nb(x: np.ndarray, fast: int, slow: int, signal: int) -> np.ndarray:
    """Return the MACD histogram; equals ``talib.MACD(x, fast, slow, signal)[2]``.

    Notes
    -----
    Loops :func:`macd_step_nb` (requires ``fast < slow``); NaN over the first
    ``slow + signal - 2`` bars.
    """
    n = x.shape[0]
    out = np.empty(n)
    state = macd_init_nb()
    for i in range(n):
        state, out[i] = macd_step_nb(state, x[i], fast, slow, signal)
    return out


@njit(cache=True, nogil=True)
def cci_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Return the commodity channel index; equals ``talib.CCI(high, low, close, window)``.

    Notes
    -----
    Typical price :math:`p = (h + l + c) / 3`;
    :math:`CCI = (p_t - \\bar p) / (0.015 \\cdot \\mathrm{MAD})` over the window, 0 when the
    numerator or the mean absolute deviation is at most ``REL_FLAT`` times
    :math:`|\\bar p|` (a flat window). Sums run over TA-Lib's circular buffer
    in slot order (slot of bar ``i`` is ``i % window``), as TA-Lib does. NaN over the first
    ``window - 1`` bars.

    Both sums of a bar are sequential chains of additions (their order fixes the last bit),
    so their speed is the latency of one addition per slot. The loop over the slots runs
    two independent chains at once, bar ``i``'s deviation sum and bar ``i + 1``'s price
    sum (the same buffer, but bar ``i + 1``'s new price in its slot), which halves the time
    while every sum keeps TA-Lib's order: the output is the same to the bit.
    """
    n = close.shape[0]
    out = np.empty(n)
    w = window
    buf = np.zeros(w)
    warm = min(n, w - 1)
    for i in range(warm):  # slot i % w == i here
        buf[i] = (high[i] + low[i] + close[i]) / 3
        out[i] = np.nan
    if n < w:
        return out
    i = w - 1
    buf[i] = (high[i] + low[i] + close[i]) / 3
    total = 0.0
    for j in range(w):
        total += buf[j]
    while True:
        avg = total / w
        d = buf[i % w] - avg
        mad = 0.0
        nxt = i + 1
        if nxt < n:
            tp_next = (high[nxt] + low[nxt] + close[nxt]) / 3
            slot = nxt % w
            total = 0.0
            for j in range(slot):
                v = buf[j]
                mad += abs(v - avg)
                total += v
            mad += abs(buf[slot] - avg)
            total += tp_next
            for j in range(slot + 1, w):
                v = buf[j]
                mad += abs(v - avg)
                total += v
            buf[slot] = tp_next
        else:
            for j in range(w):
                mad += abs(buf[j] - avg)
        tol = REL_FLAT * abs(avg)
        if abs(d) > tol and mad > tol * w:
            out[i] = d / (0.015 * (mad / w))
        else:
            out[i] = 0.0
        if nxt >= n:
            return out
        i = nxt


@njit(cache=True, nogil=True)
def mfi_nb(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, window: int
) -> np.ndarray:
    """Return the money flow index; equals ``talib.MFI(high, low, close, volume, window)``.

    Notes
    -----
    Raw money flow :math:`p_t v_t` with typical price :math:`p = (h + l + c)/3`, counted
    as positive when :math:`p_t > p_{t-1}`, negative when lower, none when the change is
    within 1e-14 of :math:`|p_t| + |p_{t-1}|` (TA-Lib 0.6+'s relative tie); running window
    sums :math:`P, N` over a circular buffer, reset to exactly 0 when the window holds no
    flow (so rounding cannot leave a ghost flow); :math:`MFI = 100 P / (P + N)` with
    :math:`P` clipped to :math:`[0, P + N]`, and 0 when :math:`P + N \\le 0`. NaN over
    the first ``window`` bars.
    """
    n = close.shape[0]
    out = np.empty(n)
    pos_buf = np.zeros(window)
    neg_buf = np.zeros(window)
    pos = 0.0
    neg = 0.0
    prev = 0.0
    flows = 0  # bars of the window that carry a nonzero flow
    for i in range(n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        if i == 0:
            prev = tp
            out[i] = np.nan
            continue
        slot = (i - 1) % window
        if i > window:
            pos -= pos_buf[slot]
            neg -= neg_buf[slot]
            if pos_buf[slot] != 0.0 or neg_buf[slot] != 0.0:
                flows -= 1
        d = tp - prev
        tie = abs(d) <= 1e-14 * (abs(tp) + abs(prev))
        prev = tp
        mf = tp * volume[i]
        pos_buf[slot] = 0.0
        neg_buf[slot] = 0.0
        if not tie and mf != 0.0:
            flows += 1
            if d < 0:
                neg_buf[slot] = mf
                neg += mf
            else:
                pos_buf[slot] = mf
                pos += mf
        if flows == 0:
            pos = 0.0
            neg = 0.0
        if i < window:
            out[i] = np.nan
            continue
        total = pos + neg
        if total > 0.0:
            p = pos if pos > 0.0 else 0.0
            if p > total:
                p = total
            out[i] = 100.0 * (p / total)
        else:
            out[i] = 0.0
    return out


# --------------------------------------------------------------------------------------
# volatility and trend strength


@njit(cache=True, nogil=True)
def _first_nonfinite_nb(first: int, i: int, h: float, lo: float, c: float) -> int:
    """Return ``i`` if ``first`` is unset (-1) and ``h``, ``lo`` or ``c`` is NaN or +-inf."""
    d = (h - h) + (lo - lo) + (c - c)  # 0 when all three are finite, else NaN
    return i if first < 0 and d != d else first


@njit(cache=True, nogil=True)
def _natr_value_nb(atr: float, c: float) -> float:
    """Return NATR from ATR: ``100 atr / c``, 0 where ``c`` is 0 (NaN stays NaN)."""
    q = (atr / (c if c != 0.0 else 1.0)) * 100.0  # selects only: no division by 0
    return q if c != 0.0 else 0.0


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def atr_init_nb() -> tuple[int, float, float]:
    """Return the initial state ``(count, prev_close, atr)`` of ATR."""
    return (0, 0.0, 0.0)


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def atr_step_nb(
    state: tuple[int, float, float], high: float, low: float, close: float, window: int
) -> tuple[tuple[int, float, float], float]:
    """Advance Wilder's average true range by one bar (TA-Lib ``ATR``).

    Notes
    -----
    :math:`ATR` starts as the mean of the first ``window`` true ranges (bars 1..window),
    then :math:`ATR_t = ATR_{t-1} a + TR_t (1 - a)` with :math:`a = (n-1)/n`, the form
    TA-Lib's build evaluates (one FMA, no division on the recursive path). The first
    output is at bar ``window``.
    """
    count, prev_close, atr = state
    count += 1
    if count == 1:
        return (count, close, atr), np.nan
    tr = true_range_nb(high, low, prev_close)
    m = count - 1
    if m < window:
        return (count, close, atr + tr), np.nan
    if m == window:
        atr = (atr + tr) / window
    else:
        keep = (window - 1) / window
        atr = atr * keep + tr * (1.0 - keep)
    return (count, close, atr), atr


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def atr_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Return the average true range; equals ``talib.ATR(high, low, close, window)``.

    Notes
    -----
    Loops :func:`atr_step_nb`; NaN over the first ``window`` bars.
    """
    n = close.shape[0]
    out = np.empty(n)
    state = atr_init_nb()
    for i in range(n):
        state, out[i] = atr_step_nb(state, high[i], low[i], close[i], window)
    return out


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def natr_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Return the ATR in percent of close; equals ``talib.NATR(high, low, close, window)``.

    Notes
    -----
    :math:`100\\, ATR_t / c_t` (0 when :math:`c_t = 0`), with
    :func:`atr_step_nb`. NaN over the first ``window`` bars.
    """
    n = close.shape[0]
    out = np.empty(n)
    state = atr_init_nb()
    for i in range(n):
        state, atr = atr_step_nb(state, high[i], low[i], close[i], window)
        out[i] = _natr_value_nb(atr, close[i])  # NaN in the warm-up
    return out


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def atr_checked_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int):
    """Return ``(atr_nb(high, low, close, window), first)`` in one pass over the inputs.

    ``first`` is the first row where ``high``, ``low`` or ``close`` is NaN or +-inf (-1 when
    all are finite): the input check of ``ql.factors.compute`` fused into the kernel, so
    the columns are read once. The output is bit-identical to :func:`atr_nb`.
    """
    n = close.shape[0]
    out = np.empty(n)
    state = atr_init_nb()
    first = -1
    for i in range(n):
        h, lo, c = high[i], low[i], close[i]
        first = _first_nonfinite_nb(first, i, h, lo, c)
        state, out[i] = atr_step_nb(state, h, lo, c, window)
    return out, first


@njit(cache=True, nogil=True, fastmath=_CONTRACT)
def natr_checked_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int):
    """Return ``(natr_nb(high, low, close, window), first)``; see :func:`atr_checked_nb`."""
    n = close.shape[0]
    out = np.empty(n)
    state = atr_init_nb()
    first = -1
    for i in range(n):
        h, lo, c = high[i], low[i], close[i]
        first = _first_nonfinite_nb(first, i, h, lo, c)
        state, atr = atr_step_nb(state, h, lo, c, window)
        out[i] = _natr_value_nb(atr, c)
    return out, first


@njit(cache=True, nogil=True)
def _dm_add_nb(pdm: float, mdm: float, diff_p: float, diff_m: float) -> tuple[float, float]:
    """Add a bar's directional movement to ``(+DM, -DM)``: the larger positive move only."""
    if diff_m > 0 and diff_p < diff_m:
        mdm += diff_m
    elif diff_p > 0 and diff_p > diff_m:
        pdm += diff_p
    return pdm, mdm


@njit(cache=True, nogil=True)
def _adx_dx_nb(
    pdm: float, mdm: float, tr_s: float, diff_p: float, diff_m: float, tr: float, window: int
) -> tuple[float, float, float, float]:
    """Wilder-smooth ``+DM, -DM, TR`` by one bar; return them and the bar's DX (NaN: none)."""
    mdm -= mdm / window
    pdm -= pdm / window
    pdm, mdm = _dm_add_nb(pdm, mdm, diff_p, diff_m)
    tr_s = tr_s - (tr_s / window) + tr
    dx = np.nan
    if tr_s != 0.0:
        minus_di = 100.0 * (mdm / tr_s)
        plus_di = 100.0 * (pdm / tr_s)
        s = minus_di + plus_di
        if s != 0.0:
            dx = 100.0 * (abs(minus_di - plus_di) / s)
    return pdm, mdm, tr_s, dx


@njit(cache=True, nogil=True)
def _adx_average_nb(
    m: int, window: int, dx: float, sum_dx: float, adx: float
) -> tuple[float, float, float]:
    """Fold change ``m``'s DX into ADX; return ``(sum_dx, adx, output)`` (NaN in warm-up)."""
    if m < 2 * window - 1:
        if not np.isnan(dx):
            sum_dx += dx
        return sum_dx, adx, np.nan
    if m == 2 * window - 1:
        if not np.isnan(dx):
            sum_dx += dx
        adx = sum_dx / window
    elif not np.isnan(dx):
        adx = ((adx * (window - 1)) + dx) / window
    return sum_dx, adx, adx


@njit(cache=True, nogil=True)
def adx_init_nb() -> tuple[int, float, float, float, float, float, float, float, float]:
    """Return the initial state of ADX.

    ``(count, prev_high, prev_low, prev_close, plus_dm, minus_dm, tr, sum_dx, adx)``.
    """
    return (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def adx_step_nb(
    state: tuple[int, float, float, float, float, float, float, float, float],
    high: float,
    low: float,
    close: float,
    window: int,
) -> tuple[tuple[int, float, float, float, float, float, float, float, float], float]:
    """Advance Wilder's average directional index by one bar (TA-Lib ``ADX``).

    Notes
    -----
    Directional movement :math:`+DM = h_t - h_{t-1}` when it is positive and larger than
    :math:`-DM = l_{t-1} - l_t` (and conversely). :math:`+DM, -DM, TR` are summed over the
    first ``window - 1`` changes, then Wilder-smoothed
    (:math:`S_t = S_{t-1} - S_{t-1}/n + v_t`); :math:`DI^\\pm = 100\\, DM^\\pm / TR`,
    :math:`DX = 100 |DI^+ - DI^-| / (DI^+ + DI^-)`. ADX is the mean of the first
    ``window`` DX values, then :math:`ADX_t = (ADX_{t-1}(n-1) + DX_t)/n`; a bar whose TR
    or DI sum is 0 leaves it unchanged. The first output is at bar ``2 window - 1``.
    """
    count, ph, pl, pc, pdm, mdm, tr_s, sum_dx, adx = state
    count += 1
    if count == 1:
        return (count, high, low, close, pdm, mdm, tr_s, sum_dx, adx), np.nan
    diff_p = high - ph
    diff_m = pl - low
    tr = true_range_nb(high, low, pc)
    m = count - 1  # number of this change (1-based)
    if m < window:
        pdm, mdm = _dm_add_nb(pdm, mdm, diff_p, diff_m)
        tr_s += tr
        return (count, high, low, close, pdm, mdm, tr_s, sum_dx, adx), np.nan
    pdm, mdm, tr_s, dx = _adx_dx_nb(pdm, mdm, tr_s, diff_p, diff_m, tr, window)
    sum_dx, adx, y = _adx_average_nb(m, window, dx, sum_dx, adx)
    return (count, high, low, close, pdm, mdm, tr_s, sum_dx, adx), y


@njit(cache=True, nogil=True)
def adx_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    """Return the average directional index; equals ``talib.ADX(high, low, close, window)``.

    Notes
    -----
    Loops :func:`adx_step_nb`; NaN over the first ``2 window - 1`` bars.
    """
    n = close.shape[0]
    out = np.empty(n)
    state = adx_init_nb()
    for i in range(n):
        state, out[i] = adx_step_nb(state, high[i], low[i], close[i], window)
    return out


@njit(cache=True, nogil=True)
def adx_checked_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int):
    """Return ``(adx_nb(high, low, close, window), first)``; see :func:`atr_checked_nb`.

    The same arithmetic as :func:`adx_step_nb` (the same inlined helpers, so bit-identical
    output), written as one loop over plain locals instead of a step function carrying a
    tuple, which lets the compiler keep the state in registers (faster than ``talib.ADX``
    here).
    """
    n = close.shape[0]
    out = np.empty(n)
    first = -1
    if n == 0:
        return out, first
    pdm = 0.0
    mdm = 0.0
    tr_s = 0.0
    sum_dx = 0.0
    adx = 0.0
    ph = high[0]
    pl = low[0]
    pc = close[0]
    first = _first_nonfinite_nb(first, 0, ph, pl, pc)
    out[0] = np.nan
    for i in range(1, n):  # i is the number of this change (m of adx_step_nb)
        h = high[i]
        lo = low[i]
        c = close[i]
        first = _first_nonfinite_nb(first, i, h, lo, c)
        diff_p = h - ph
        diff_m = pl - lo
        tr = true_range_nb(h, lo, pc)
        ph = h
        pl = lo
        pc = c
        if i < window:
            pdm, mdm = _dm_add_nb(pdm, mdm, diff_p, diff_m)
            tr_s += tr
            out[i] = np.nan
            continue
        pdm, mdm, tr_s, dx = _adx_dx_nb(pdm, mdm, tr_s, diff_p, diff_m, tr, window)
        sum_dx, adx, out[i] = _adx_average_nb(i, window, dx, sum_dx, adx)
    return out, first


# --------------------------------------------------------------------------------------
# volume


@njit(cache=True, nogil=True)
def obv_init_nb() -> tuple[int, float, float]:
    """Return the initial state ``(count, prev_close, obv)`` of OBV."""
    return (0, 0.0, 0.0)


@njit(cache=True, nogil=True)
def obv_step_nb(
    state: tuple[int, float, float], close: float, volume: float
) -> tuple[tuple[int, float, float], float]:
    """Advance on-balance volume by one bar (TA-Lib ``OBV``).

    Notes
    -----
    Seeded with the first bar's volume (TA-Lib's convention), then
    :math:`OBV_t = OBV_{t-1} \\pm v_t` as the close rises or falls (unchanged if equal).
    """
    count, prev, obv = state
    count += 1
    if count == 1:
        return (count, close, volume), volume
    if close > prev:
        obv += volume
    elif close < prev:
        obv -= volume
    return (count, close, obv), obv


@njit(cache=True, nogil=True)
def obv_nb(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """Return on-balance volume; equals ``talib.OBV(close, volume)``.

    Notes
    -----
    Loops :func:`obv_step_nb`; no warm-up.
    """
    n = close.shape[0]
    out = np.empty(n)
    state = obv_init_nb()
    for i in range(n):
        state, out[i] = obv_step_nb(state, close[i], volume[i])
    return out


@njit(cache=True, nogil=True)
def obv_checked_nb(close: np.ndarray, volume: np.ndarray):
    """Return ``(obv_nb(close, volume), first)``; see :func:`atr_checked_nb`."""
    n = close.shape[0]
    out = np.empty(n)
    state = obv_init_nb()
    first = -1
    for i in range(n):
        c, v = close[i], volume[i]
        d = (c - c) + (v - v)
        if first < 0 and d != d:
            first = i
        state, out[i] = obv_step_nb(state, c, v)
    return out, first
