"""Pure numba kernels of the synthetic market (regimes, Hawkes flow, impact, perp funding).

The market lives on a fine grid of *sub-steps* (one minute for every interval that is a
whole number of minutes); bars are aggregates of consecutive sub-steps. All randomness
comes in as arrays (standard normals and uniforms drawn by the caller with
``numpy.random.default_rng``), and every discrete draw (regime switch, Poisson trade
count) is made here by inversion, so the jitted kernel and the plain-Python one
(``NUMBA_DISABLE_JIT=1``) produce the same path from the same arrays.

One sub-step (:func:`market_step_nb`), in order:

1. Regime. ``regime < 0`` (fresh state): draw it from the stationary distribution
   ``init_cum``; else at every ``regime_steps``-th sub-step (UTC hour boundaries) move
   along the Markov chain row ``trans_cum[regime]``. On every draw the mean-reversion
   anchor is reset to the current log-price; on the first draw the Hawkes excitation
   starts at its stationary mean.
2. Order flow. Buys and sells are two discretised Hawkes processes. The expected count
   in the sub-step is ``m = base[regime] + y`` where ``y`` is the excitation left by
   past trades; the count is Poisson(m), drawn by inversion from ``u = Phi(z)``; then
   ``y <- y * exp(-beta h) + n (1 - exp(-beta h)) * count``.
3. Price. ``x <- a + (x - a) exp(-kappa h) + mu h + impact * (s - (y_buy - y_sell))
   + sigma sqrt(h) z`` with ``s`` = buys - sells. Only the part of the signed flow that
   the Hawkes echo did not predict moves the price, so returns are martingale
   differences around the regime drift whatever the bar interval.
4. High and low of the sub-step: the maximum and minimum of a Brownian bridge from the
   start to the end log-price with the sub-step's variance, by inversion.
5. Premium (perp mark vs index) is an AR(1) pushed by the raw signed flow; the
   instantaneous per-hour funding is Hyperliquid's
   ``(P + clamp(r - P, -c, c)) / 8`` capped at ``cap``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# ---------------------------------------------------------------- parameter layouts

#: Columns of ``regime_params`` (one row per regime), all per sub-step.
RP_DRIFT = 0  # log drift per sub-step, mu * h
RP_VOL = 1  # diffusive log-return sd per sub-step, sigma * sqrt(h)
RP_MR_DECAY = 2  # exp(-kappa * h): how much of the distance to the anchor survives
RP_BASE_BUY = 3  # Hawkes baseline of buys, expected trades per sub-step
RP_BASE_SELL = 4  # Hawkes baseline of sells, expected trades per sub-step
N_REGIME_PARAMS = 5

#: Entries of ``scalars``.
SC_HAWKES_DECAY = 0  # exp(-beta * h)
SC_HAWKES_JUMP = 1  # n * (1 - exp(-beta * h)): excitation added per trade
SC_BRANCHING = 2  # n, the branching ratio
SC_IMPACT = 3  # log-price change per unexpected net trade
SC_TRADE_NOTIONAL = 4  # quote notional of one trade (volume = trades * notional / price)
SC_PREMIUM_MEAN = 5  # long-run premium
SC_PREMIUM_DECAY = 6  # AR(1) coefficient of the premium per sub-step
SC_PREMIUM_FLOW = 7  # premium added per net trade
SC_PREMIUM_NOISE = 8  # premium innovation sd per sub-step
SC_INTEREST = 9  # interest component of funding, per funding period (0.0001)
SC_CLAMP = 10  # clamp of (interest - premium), per funding period (0.0005)
SC_CAP = 11  # cap of the per-hour funding rate (0.04)
SC_PERIOD_HOURS = 12  # hours per funding period of the formula (8)
SC_REGIME_STEPS = 13  # sub-steps per regime step (60 on the minute grid)
N_SCALARS = 14

#: Entries of the state vector handed to / returned by :func:`simulate_market_nb`.
ST_STEP = 0  # global sub-step counter (regime steps where it is a multiple of regime_steps)
ST_REGIME = 1  # current regime code, -1 before the first draw
ST_LOG_PRICE = 2
ST_ANCHOR = 3  # log-price the mean reversion pulls towards (price at regime entry)
ST_Y_BUY = 4  # Hawkes excitation of buys, expected trades per sub-step
ST_Y_SELL = 5
ST_PREMIUM = 6
N_STATE = 7

#: Above this expected count a Poisson draw uses the normal approximation.
POISSON_NORMAL_THRESHOLD = 500.0

#: Columns of the per-substep shock arrays.
Z_BUY, Z_SELL, Z_PRICE, Z_PREMIUM = 0, 1, 2, 3
N_NORMALS = 4
U_REGIME, U_HIGH, U_LOW = 0, 1, 2
N_UNIFORMS = 3

_SQRT1_2 = 0.7071067811865476


@njit(cache=True)
def normal_cdf_nb(z: float) -> float:
    """Return the standard normal CDF ``Phi(z)``.

    Equals ``scipy.stats.norm.cdf`` (computed as ``erfc(-z / sqrt(2)) / 2``, accurate in
    the lower tail).
    """
    return 0.5 * math.erfc(-z * _SQRT1_2)


@njit(cache=True)
def poisson_from_normal_nb(z: float, mean: float) -> int:
    """Return the Poisson(``mean``) count whose CDF first reaches ``Phi(z)``.

    Equals ``scipy.stats.poisson.ppf(norm.cdf(z), mean)`` (inversion: the smallest ``k``
    with ``F(k) >= u``) for ``mean <= POISSON_NORMAL_THRESHOLD``.

    Notes
    -----
    The CDF is summed upwards from ``P(0) = exp(-mean)``. Above the threshold the count
    is the normal approximation ``max(0, floor(mean + sqrt(mean) z + 1/2))``, whose
    error in mean and variance is O(1) relative to O(mean). Driving the draw by a
    normal (a Gaussian copula) lets correlated normals give correlated counts.
    """
    if mean <= 0.0:
        return 0
    if mean > POISSON_NORMAL_THRESHOLD:
        k = math.floor(mean + math.sqrt(mean) * z + 0.5)
        return int(k) if k > 0.0 else 0
    u = normal_cdf_nb(z)
    p = math.exp(-mean)
    cdf = p
    k = 0
    limit = mean + 40.0 * math.sqrt(mean) + 40.0  # guards F(k) saturating below u
    while u > cdf and k < limit:
        k += 1
        p *= mean / k
        cdf += p
    return k


@njit(cache=True)
def categorical_from_uniform_nb(u: float, cum: np.ndarray) -> int:
    """Return the first index ``i`` with ``u < cum[i]`` (inversion of a discrete CDF).

    Equals ``numpy.searchsorted(cum, u, side="right")`` clipped to ``len(cum) - 1``.
    """
    n = cum.shape[0]
    for i in range(n - 1):
        if u < cum[i]:
            return i
    return n - 1


@njit(cache=True)
def bridge_extreme_nb(a: float, b: float, var: float, u: float, upper: bool) -> float:
    """Return the maximum (``upper``) or minimum of a Brownian bridge from ``a`` to ``b``.

    ``var`` is the bridge's total variance, ``u`` a uniform in ``[0, 1)``.

    Notes
    -----
    By the reflection principle ``P(max > m) = exp(-2 (m - a)(m - b) / var)`` for
    ``m >= max(a, b)``. Setting it to ``1 - u`` and solving gives
    ``m = (a + b + sqrt((b - a)^2 - 2 var log(1 - u))) / 2`` (the minimum mirrors it).
    The result is clamped to ``[max(a, b), ...)`` against rounding.
    """
    root = math.sqrt((b - a) * (b - a) - 2.0 * var * math.log1p(-u))
    if upper:
        m = 0.5 * (a + b + root)
        return max(m, a, b)
    m = 0.5 * (a + b - root)
    return min(m, a, b)


@njit(cache=True)
def funding_rate_nb(premium: float, interest: float, clamp: float, cap: float, hours: float):
    """Return Hyperliquid's per-hour funding rate for a premium index ``premium``.

    Equals ``clip((P + clip(r - P, -c, c)) / hours, -cap, cap)`` with Hyperliquid's
    ``r = 0.0001`` and ``c = 0.0005`` per 8-hour period, ``hours = 8`` and ``cap = 0.04``
    (the rate is computed per 8 hours and paid hourly at one eighth).
    """
    diff = interest - premium
    if diff > clamp:
        diff = clamp
    elif diff < -clamp:
        diff = -clamp
    rate = (premium + diff) / hours
    if rate > cap:
        rate = cap
    elif rate < -cap:
        rate = -cap
    return rate


@njit(cache=True)
def market_step_nb(
    state,
    z_buy,
    z_sell,
    z_price,
    z_premium,
    u_regime,
    u_high,
    u_low,
    regime_params,
    trans_cum,
    init_cum,
    scalars,
):
    """Advance the market by one sub-step.

    Parameters
    ----------
    state : tuple
        ``(step, regime, log_price, anchor, y_buy, y_sell, premium)`` (``step`` and
        ``regime`` integers; ``regime = -1`` before the first draw).
    z_buy, z_sell, z_price, z_premium : float
        Standard normal shocks (trade counts, diffusion, premium).
    u_regime, u_high, u_low : float
        Uniforms in ``[0, 1)`` (regime draw, bridge maximum, bridge minimum).
    regime_params : ndarray, shape (n_regimes, N_REGIME_PARAMS)
        Per-regime parameters per sub-step (``RP_*`` columns).
    trans_cum : ndarray, shape (n_regimes, n_regimes)
        Row-wise cumulative regime transition matrix (one regime step).
    init_cum : ndarray, shape (n_regimes,)
        Cumulative distribution of the first regime.
    scalars : ndarray, shape (N_SCALARS,)
        Scalar parameters (``SC_*`` entries).

    Returns
    -------
    state : tuple
        The state after the sub-step.
    out : tuple
        ``(regime, buys, sells, log_open, log_close, log_high, log_low, premium,
        funding, volume)`` for the sub-step.

    Notes
    -----
    See the module docstring. The reference the tests compare with: counts equal
    ``scipy.stats.poisson.ppf(norm.cdf(z), m)``; the bridge extremes follow
    ``exp(-2 (m - a)(m - b) / var)``; long-run counts match the Hawkes moments
    ``E N_T = mu T / (1 - n)`` and ``Var N_T -> mu T / (1 - n)^3``.
    """
    step, regime, x, anchor, y_buy, y_sell, premium = state
    # 1. regime
    if regime < 0:
        regime = categorical_from_uniform_nb(u_regime, init_cum)
        anchor = x
        n = scalars[SC_BRANCHING]
        y_buy = regime_params[regime, RP_BASE_BUY] * n / (1.0 - n)
        y_sell = regime_params[regime, RP_BASE_SELL] * n / (1.0 - n)
    elif step % int(scalars[SC_REGIME_STEPS]) == 0:
        new = categorical_from_uniform_nb(u_regime, trans_cum[regime])
        if new != regime:
            anchor = x
        regime = new
    # 2. order flow
    mean_buy = regime_params[regime, RP_BASE_BUY] + y_buy
    mean_sell = regime_params[regime, RP_BASE_SELL] + y_sell
    buys = float(poisson_from_normal_nb(z_buy, mean_buy))
    sells = float(poisson_from_normal_nb(z_sell, mean_sell))
    signed = buys - sells
    expected_echo = y_buy - y_sell
    decay = scalars[SC_HAWKES_DECAY]
    jump = scalars[SC_HAWKES_JUMP]
    y_buy = decay * y_buy + jump * buys
    y_sell = decay * y_sell + jump * sells
    # 3. price
    impact = scalars[SC_IMPACT]
    vol = regime_params[regime, RP_VOL]
    x_new = (
        anchor
        + (x - anchor) * regime_params[regime, RP_MR_DECAY]
        + regime_params[regime, RP_DRIFT]
        + impact * (signed - expected_echo)
        + vol * z_price
    )
    # 4. bridge extremes
    var = vol * vol + impact * impact * (buys + sells)
    high = bridge_extreme_nb(x, x_new, var, u_high, True)
    low = bridge_extreme_nb(x, x_new, var, u_low, False)
    # 5. premium and funding
    pm = scalars[SC_PREMIUM_MEAN]
    premium = (
        pm
        + (premium - pm) * scalars[SC_PREMIUM_DECAY]
        + scalars[SC_PREMIUM_FLOW] * signed
        + scalars[SC_PREMIUM_NOISE] * z_premium
    )
    funding = funding_rate_nb(
        premium,
        scalars[SC_INTEREST],
        scalars[SC_CLAMP],
        scalars[SC_CAP],
        scalars[SC_PERIOD_HOURS],
    )
    volume = (buys + sells) * scalars[SC_TRADE_NOTIONAL] / math.exp(0.5 * (x + x_new))
    state = (step + 1, regime, x_new, anchor, y_buy, y_sell, premium)
    out = (regime, buys, sells, x, x_new, high, low, premium, funding, volume)
    return state, out


@njit(cache=True)
def simulate_market_nb(
    normals, uniforms, bar_substeps, state0, regime_params, trans_cum, init_cum, scalars
):
    """Simulate consecutive bars by looping :func:`market_step_nb` over the sub-steps.

    Parameters
    ----------
    normals : ndarray, shape (n_bars * bar_substeps, N_NORMALS)
        Standard normals per sub-step (columns ``Z_BUY, Z_SELL, Z_PRICE, Z_PREMIUM``).
    uniforms : ndarray, shape (n_bars * bar_substeps, N_UNIFORMS)
        Uniforms in ``[0, 1)`` per sub-step (``U_REGIME, U_HIGH, U_LOW``).
    bar_substeps : int
        Sub-steps per bar.
    state0 : ndarray, shape (N_STATE,)
        Start state (``ST_*`` entries; ``ST_REGIME = -1`` for a fresh market).
    regime_params, trans_cum, init_cum, scalars : ndarray
        As in :func:`market_step_nb`.

    Returns
    -------
    open, high, low, close, volume, trades, funding, buys, sells, premium : ndarray
        Per bar (float64): prices; volume (base units); trade count; the time-average of
        the per-hour funding rate; buy and sell counts; the time-average premium.
    regime : ndarray of int8
        Regime of each bar: the one in force for most of its sub-steps (a tie goes to the
        regime at the bar's close).
    state : ndarray, shape (N_STATE,)
        The state after the last sub-step; passing it back as ``state0`` with the next
        shocks continues the path exactly (chunked simulation equals one call).

    Notes
    -----
    Bars aggregate sub-steps exactly as ``DataFrame.resample`` would (first open, max
    high, min low, last close, sums, means), so bars of ``k`` sub-steps equal the
    resample of single-sub-step bars; that is the reference the tests use.
    """
    n_sub = normals.shape[0]
    n_bars = n_sub // bar_substeps
    n_regimes = regime_params.shape[0]
    open_ = np.empty(n_bars)
    high = np.empty(n_bars)
    low = np.empty(n_bars)
    close = np.empty(n_bars)
    volume = np.empty(n_bars)
    trades = np.empty(n_bars)
    funding = np.empty(n_bars)
    buys = np.empty(n_bars)
    sells = np.empty(n_bars)
    premium = np.empty(n_bars)
    regime = np.empty(n_bars, dtype=np.int8)
    counts = np.zeros(n_regimes, dtype=np.int64)
    state = (
        int(state0[ST_STEP]),
        int(state0[ST_REGIME]),
        state0[ST_LOG_PRICE],
        state0[ST_ANCHOR],
        state0[ST_Y_BUY],
        state0[ST_Y_SELL],
        state0[ST_PREMIUM],
    )
    k = 0
    for i in range(n_bars):
        hi = -np.inf
        lo = np.inf
        x_open = 0.0
        x_close = 0.0
        vol_sum = 0.0
        buy_sum = 0.0
        sell_sum = 0.0
        fund_sum = 0.0
        prem_sum = 0.0
        last = 0
        counts[:] = 0
        for j in range(bar_substeps):
            state, out = market_step_nb(
                state,
                normals[k, Z_BUY],
                normals[k, Z_SELL],
                normals[k, Z_PRICE],
                normals[k, Z_PREMIUM],
                uniforms[k, U_REGIME],
                uniforms[k, U_HIGH],
                uniforms[k, U_LOW],
                regime_params,
                trans_cum,
                init_cum,
                scalars,
            )
            k += 1
            r, b, s, xa, xb, xh, xl, p, f, v = out
            if j == 0:
                x_open = xa
            x_close = xb
            hi = max(hi, xh)
            lo = min(lo, xl)
            buy_sum += b
            sell_sum += s
            vol_sum += v
            fund_sum += f
            prem_sum += p
            counts[r] += 1
            last = r
        o = math.exp(x_open)
        c = math.exp(x_close)
        open_[i] = o
        close[i] = c
        high[i] = max(math.exp(hi), o, c)
        low[i] = min(math.exp(lo), o, c)
        volume[i] = vol_sum
        buys[i] = buy_sum
        sells[i] = sell_sum
        trades[i] = buy_sum + sell_sum
        funding[i] = fund_sum / bar_substeps
        premium[i] = prem_sum / bar_substeps
        best = last
        for r in range(n_regimes):
            if counts[r] > counts[best]:
                best = r
        regime[i] = best
    state_out = np.empty(N_STATE)
    state_out[ST_STEP] = state[0]
    state_out[ST_REGIME] = state[1]
    state_out[ST_LOG_PRICE] = state[2]
    state_out[ST_ANCHOR] = state[3]
    state_out[ST_Y_BUY] = state[4]
    state_out[ST_Y_SELL] = state[5]
    state_out[ST_PREMIUM] = state[6]
    return (
        open_,
        high,
        low,
        close,
        volume,
        trades,
        funding,
        buys,
        sells,
        premium,
        regime,
        state_out,
    )
