"""Risk rules as scalar numba functions: sizing, stops, breakers and limits.

Pure numba, scalars in and scalars out, no allocation: the backtest engine
(:mod:`quantlab.kernels.backtest`) calls them bar by bar, and the typed Python API in
:mod:`quantlab.risk` wraps the very same functions for notebooks and the live runner, so a
rule cannot differ between research and trading.

Conventions: ``direction`` is ``+1`` for a long position and ``-1`` for a short one;
distances (``stop_frac``, ``tp_frac``, ``activation``, ``distance``) are fractions of the
entry price (``0.02`` = 2 %); a price level that does not apply is NaN. Each function's
docstring names its hand-computed reference (the tests in ``tests/risk``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# ------------------------------------------------------------------------------ sizing


@njit(cache=True)
def kelly_fraction_nb(win_rate, payoff, scale, min_fraction, max_fraction):
    """Return the fractional-Kelly fraction of equity, capped, or 0 without an edge.

    Notes
    -----
    Full Kelly for a bet that wins ``b`` times the stake with probability ``p`` and loses
    the stake otherwise is :math:`f^* = p - (1 - p) / b`. The rule returns 0 when
    :math:`f^* \\le 0` (no edge), else :math:`\\mathrm{clip}(\\lambda f^*, f_{min}, f_{max})`
    with ``scale`` :math:`= \\lambda`. Reference: p = 0.55, b = 1.5 gives
    f* = 0.55 - 0.45 / 1.5 = 0.25; half Kelly 0.125, capped to 0.05.
    """
    if not (payoff > 0.0) or not (win_rate >= 0.0) or not (win_rate <= 1.0):
        return 0.0
    full = win_rate - (1.0 - win_rate) / payoff
    if full <= 0.0:
        return 0.0
    f = scale * full
    if f < min_fraction:
        f = min_fraction
    if f > max_fraction:
        f = max_fraction
    return f


@njit(cache=True)
def fixed_fraction_nb(fraction):
    """Return the fixed fraction of equity to commit (identity, for symmetry)."""
    return fraction


@njit(cache=True)
def vol_target_fraction_nb(target_vol, realized_vol, max_fraction):
    """Return the fraction of equity that targets an annualised volatility.

    Notes
    -----
    :math:`f = \\min(\\sigma^* / \\hat\\sigma, f_{max})`; 0 when the estimate is missing or
    not positive. Reference: target 20 %, realised 80 % gives 0.25.
    """
    if not (realized_vol > 0.0) or not math.isfinite(realized_vol):
        return 0.0
    f = target_vol / realized_vol
    if f > max_fraction:
        f = max_fraction
    return f


@njit(cache=True)
def regime_scale_nb(fraction, regime_prob, floor):
    """Scale a fraction by the probability of the favourable regime.

    Notes
    -----
    :math:`f' = f \\, (\\phi + (1 - \\phi)\\, \\mathrm{clip}(\\pi, 0, 1))` with floor
    :math:`\\phi`: the full size when the regime is certain, :math:`\\phi f` when it is
    certainly absent. A NaN probability (regime unknown yet) gives the floor.
    Reference: f = 0.5, pi = 0.6, phi = 0.2 gives 0.5 * (0.2 + 0.8 * 0.6) = 0.34.
    """
    p = regime_prob
    if not (p >= 0.0):
        p = 0.0
    if p > 1.0:
        p = 1.0
    return fraction * (floor + (1.0 - floor) * p)


@njit(cache=True)
def cap_exposure_nb(fraction, max_leverage):
    """Clip a fraction of equity (position notional / equity) to ``[0, max_leverage]``."""
    if not (fraction > 0.0):
        return 0.0
    if fraction > max_leverage:
        return max_leverage
    return fraction


# ------------------------------------------------------------------------------- stops


@njit(cache=True)
def hard_stop_price_nb(entry_price, direction, stop_frac):
    """Return the fixed stop price ``entry * (1 - d * stop_frac)``, NaN when disabled.

    Reference: a long from 100 with a 2 % stop stops at 98; a short at 102.
    """
    if not (stop_frac > 0.0):
        return np.nan
    return entry_price * (1.0 - direction * stop_frac)


@njit(cache=True)
def atr_stop_price_nb(entry_price, direction, atr, multiple):
    """Return the ATR stop price ``entry - d * multiple * atr``, NaN when disabled.

    Reference: a long from 100 with ATR 1.5 and multiple 2 stops at 97.
    """
    if not (multiple > 0.0) or not (atr > 0.0):
        return np.nan
    return entry_price - direction * multiple * atr


@njit(cache=True)
def take_profit_price_nb(entry_price, direction, tp_frac):
    """Return the take-profit price ``entry * (1 + d * tp_frac)``, NaN when disabled."""
    if not (tp_frac > 0.0):
        return np.nan
    return entry_price * (1.0 + direction * tp_frac)


@njit(cache=True)
def trailing_stop_price_nb(entry_price, direction, extreme, activation, distance):
    """Return the trailing stop price, NaN until the trail is active or when disabled.

    Parameters
    ----------
    extreme : float
        Best price reached since entry (highest high for a long, lowest low for a short),
        as known at the start of the bar being checked.

    Notes
    -----
    The trail activates once the favourable excursion reaches ``activation``:
    :math:`d\\,(x - e) \\ge a\\,e`; it then sits at :math:`x (1 - d\\,\\delta)`.
    Reference: long from 100, activation 0.5 %, distance 2 %: inactive while the high is
    below 100.5; with a high of 110 the stop is 107.8.
    """
    if not (distance > 0.0):
        return np.nan
    act = activation if activation > 0.0 else 0.0
    if direction * (extreme - entry_price) < act * entry_price:
        return np.nan
    return extreme * (1.0 - direction * distance)


@njit(cache=True)
def tighter_stop_nb(a, b, direction):
    """Return the tighter of two stop prices (the higher for a long), ignoring NaN."""
    if np.isnan(a):
        return b
    if np.isnan(b):
        return a
    if direction > 0:
        return a if a > b else b
    return a if a < b else b


@njit(cache=True)
def stop_fill_price_nb(level, direction, open_, low, high):
    """Return the fill price of a protective stop in a bar, or NaN if not touched.

    Notes
    -----
    A long's stop below the market fills at the level when ``low <= level``, at the
    open when the bar opens at or below it (gap); a short's mirrors it with ``high``.
    This is vectorbt's ``get_stop_price_nb`` for ``StopExitPrice.StopLimit``.
    """
    if np.isnan(level):
        return np.nan
    if direction > 0:
        if open_ <= level:
            return open_
        if low <= level:
            return level
        return np.nan
    if open_ >= level:
        return open_
    if high >= level:
        return level
    return np.nan


@njit(cache=True)
def target_fill_price_nb(level, direction, open_, low, high):
    """Return the fill price of a take-profit in a bar, or NaN if not touched.

    A long's target above the market fills at the level when ``high >= level``, at the
    open when the bar opens at or above it; a short's mirrors it with ``low``.
    """
    if np.isnan(level):
        return np.nan
    if direction > 0:
        if open_ >= level:
            return open_
        if high >= level:
            return level
        return np.nan
    if open_ <= level:
        return open_
    if low <= level:
        return level
    return np.nan


@njit(cache=True)
def tp_sl_valid_nb(win_rate, tp_frac, sl_frac, cost_frac):
    """Tell whether a payoff ratio can pay for its win rate after costs.

    Notes
    -----
    The expected return per unit of entry price must be positive:
    :math:`p\\,TP - (1 - p)\\,SL - c > 0`. Reference: p = 0.4, TP 3 %, SL 2 %, costs
    0.1 %: 0.012 - 0.012 - 0.001 < 0, refused; TP 3.5 % gives 0.001 > 0, accepted.
    """
    return win_rate * tp_frac - (1.0 - win_rate) * sl_frac - cost_frac > 0.0


@njit(cache=True)
def liquidation_price_nb(cash, qty, maintenance_margin):
    """Return the price at which equity falls to the maintenance margin, NaN if never.

    Notes
    -----
    Equity is :math:`E(P) = C + qP` (``cash`` already holds minus the notional paid), and
    the maintenance requirement is :math:`m |q| P`. A long (q > 0) is liquidated when
    :math:`P \\le -C / (q (1 - m))` (only possible with borrowed cash, C < 0); a short when
    :math:`P \\ge C / (|q| (1 + m))`. Reference: 2x long of 1 unit at 100 from equity 50
    (C = -50), m = 0.5 %: liquidation at 50 / 0.995 = 50.2513.
    """
    if qty > 0.0:
        if cash >= 0.0:
            return np.nan
        return -cash / (qty * (1.0 - maintenance_margin))
    if qty < 0.0:
        if cash <= 0.0:
            return 0.0
        return cash / (-qty * (1.0 + maintenance_margin))
    return np.nan


# ---------------------------------------------------------------------- breakers/limits


@njit(cache=True)
def losing_streak_probability_nb(win_rate, streak):
    """Return the probability of ``streak`` consecutive losses, :math:`(1 - p)^k`.

    Reference: p = 0.6, k = 5 gives 0.4**5 = 0.01024.
    """
    if streak <= 0:
        return 1.0
    q = 1.0 - win_rate
    if q <= 0.0:
        return 0.0
    return math.exp(streak * math.log(q))


@njit(cache=True)
def breaker_tripped_nb(win_rate, streak, threshold):
    """Tell whether a losing streak is improbable under the win rate (pause trading).

    Notes
    -----
    Binomial circuit breaker: trip when :math:`P(k \\text{ losses in a row} \\mid p) =
    (1 - p)^k < \\text{threshold}`. Reference: p = 0.6, threshold 0.02: a streak of 4
    (0.0256) passes, 5 (0.01024) trips. A NaN win rate never trips.
    """
    if np.isnan(win_rate) or streak <= 0:
        return False
    return losing_streak_probability_nb(win_rate, streak) < threshold


@njit(cache=True)
def daily_loss_breached_nb(equity, day_start_equity, limit):
    """Tell whether the loss since the start of the day reached ``limit`` of equity.

    Reference: start 10 000, limit 5 %: 9 500 breaches, 9 501 does not.
    """
    if not (limit > 0.0):
        return False
    return equity <= day_start_equity * (1.0 - limit)


@njit(cache=True)
def drawdown_kill_nb(equity, peak_equity, max_drawdown):
    """Tell whether the peak-to-trough drawdown reached ``max_drawdown`` (kill switch).

    Reference: peak 12 000, limit 20 %: 9 600 kills, 9 601 does not.
    """
    if not (max_drawdown > 0.0):
        return False
    return equity <= peak_equity * (1.0 - max_drawdown)


@njit(cache=True)
def in_cooldown_nb(bar, last_stop_bar, cooldown_bars):
    """Tell whether ``bar`` is within ``cooldown_bars`` bars after a stop at ``last_stop_bar``.

    Reference: stop at bar 10, cooldown 3: bars 11-13 are blocked, bar 14 is free.
    """
    if cooldown_bars <= 0 or last_stop_bar < 0:
        return False
    return bar - last_stop_bar <= cooldown_bars
