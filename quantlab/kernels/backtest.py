"""The perp-correct event backtest engine, one bar at a time.

Pure numba. :func:`backtest_step_nb` advances one account by one bar and is the only place
the trading logic lives; :func:`backtest_nb` loops it over a series, and a fused sweep
kernel can loop it over many parameter rows (``params`` is a flat float64 vector, one row
of a parameter matrix, laid out by the ``P_*`` indices; ``state`` a flat vector laid out by
the ``S_*`` indices, so nothing is allocated per bar). Pass a trade buffer with zero rows to
skip trade records: the running trade statistics stay in ``state``.

Timeline of bar ``i`` (bar open time ``t_i``)
--------------------------------------------
1. New UTC day: remember the equity at the previous close as the day's start equity.
2. Open (``fill = next_open``): execute the order decided at the previous close: exit at
   the open, then enter at the open (market orders: taker fee, slippage).
3. Intrabar: a position is checked against its protective level (the tightest of the hard
   stop, ATR stop, trailing stop and liquidation price) and its take-profit. A bar that
   opens beyond a level fills at the open; otherwise at the level. When both the stop and
   the target lie inside the bar, the path is unknown: the pessimistic ordering (stop first,
   the default) or the optimistic one (``P_OPTIMISTIC``) is taken and the bar is counted in
   ``S_AMBIGUOUS``. Stops are limit-priced at their level plus the slippage model (taker
   fee); a take-profit is a resting limit order (maker fee, no slippage). The trailing
   extreme is updated with the bar's high (low) *after* the check.
4. Funding: the position held through the bar pays ``qty * close * rate * hours`` at the
   end of the bar (longs pay a positive rate, shorts receive it).
5. Close: mark to market; update the peak; the drawdown kill switch and the daily loss
   limit are checked on the close equity. The target for the next bar is read; exits and
   gated entries are decided. ``fill = close`` executes them now at the close (the vectorbt
   ``from_signals`` convention: a stop exit in the bar blocks new orders in that bar);
   ``fill = next_open`` keeps them pending for the next open.

Accounting: ``equity = cash + qty * price``; ``cash`` already holds minus the notional of a
long (plus that of a short), fees and funding. An entry commits ``fraction`` of equity
*including* its fee: ``|qty| = f E / (P (1 + fee))``, which for ``f = 1`` is vectorbt's
all-cash buy. Liquidation happens when equity falls to ``maintenance_margin * |qty| * P``.

Cost of a step
--------------
A sweep runs the step billions of times, so these keep it cheap without changing a single
bit of its results:

- :func:`backtest_step_nb` is inlined (``inline="always"``) into the loops that call it
  (:func:`backtest_nb`, the sweep kernel), and so are the intrabar check it runs on every
  bar with a position and the order functions it calls on the bars that trade
  (:func:`_open_position`, :func:`_close_position`, :func:`_entry_allowed`,
  :func:`_entry_fraction`). A call left in the bar loop, however rarely taken, makes LLVM
  keep the loop's floating-point values (the sweep's running metrics) in memory rather
  than in registers, since a call may overwrite every vector register. Inlined, the sweep
  kernel is about 20 % faster per bar (see also the function alignment in
  :mod:`quantlab.kernels`); compiling it from a cold cache takes some seconds longer.
- Those loops run on :func:`borrow_nb` views of the state, parameter and trade arrays:
  numba otherwise counts references to every array handed to an inlined function with
  atomic instructions, which cost more than the trading logic itself.
- An *idle* bar (flat, no pending order, target 0) takes :func:`idle_step_nb`, which does
  only what such a bar can change (the UTC day, the peak, the kill switch and daily-loss
  flags, the re-arm reset and the pending-order fields); :func:`backtest_step_full_nb` is
  the same step without that shortcut, and the tests check they agree bit for bit.
- Updates that go either way at random from bar to bar (a new peak, a new trailing
  extreme) are selects rather than branches, so they cost no mispredictions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from quantlab.kernels.risk import (
    atr_stop_price_nb,
    breaker_tripped_nb,
    cap_exposure_nb,
    daily_loss_breached_nb,
    drawdown_kill_nb,
    hard_stop_price_nb,
    in_cooldown_nb,
    kelly_fraction_nb,
    liquidation_price_nb,
    regime_scale_nb,
    stop_fill_price_nb,
    take_profit_price_nb,
    target_fill_price_nb,
    tighter_stop_nb,
    tp_sl_valid_nb,
    trailing_stop_price_nb,
    vol_target_fraction_nb,
)

# ------------------------------------------------------------------- enumerations

FILL_NEXT_OPEN = 0
FILL_CLOSE = 1

SIZING_FIXED = 0
SIZING_KELLY = 1
SIZING_VOL_TARGET = 2

EXIT_SIGNAL = 0
EXIT_STOP = 1
EXIT_TRAILING = 2
EXIT_TAKE_PROFIT = 3
EXIT_BREAKER = 4
EXIT_KILL_SWITCH = 5
EXIT_DAILY_LOSS = 6
EXIT_LIQUIDATION = 7
EXIT_END = 8

EXIT_REASONS = (
    "signal",
    "stop",
    "trailing",
    "take_profit",
    "breaker",
    "kill_switch",
    "daily_loss",
    "liquidation",
    "end",
)

# ----------------------------------------------------------------- parameter layout

P_FILL = 0
P_MAKER_FEE = 1
P_TAKER_FEE = 2
P_SLIP_FIXED = 3  # fraction of price
P_SLIP_VOL = 4  # multiple of the per-bar volatility
P_SLIP_IMPACT = 5  # coefficient of sqrt(order size / bar volume)
P_SLIP_MAX = 6  # cap, fraction of price
P_MAX_LEVERAGE = 7
P_MMR = 8  # maintenance margin rate
P_SIZING = 9
P_FRACTION = 10  # fixed fraction; max fraction for vol targeting
P_KELLY_SCALE = 11
P_KELLY_MIN = 12
P_KELLY_MAX = 13
P_WIN_RATE = 14  # prior, NaN when none
P_PAYOFF = 15  # prior, NaN when none
P_MIN_TRADES = 16  # closed trades before the measured edge replaces the prior
P_TARGET_VOL = 17
P_REGIME_FLOOR = 18
P_STOP_FRAC = 19
P_ATR_MULT = 20
P_TRAIL_ACT = 21
P_TRAIL_DIST = 22
P_TP_FRAC = 23
P_VALIDATE_TPSL = 24
P_BREAKER_THRESHOLD = 25
P_BREAKER_PAUSE = 26
P_DAILY_LOSS = 27
P_MAX_DD = 28
P_COOLDOWN = 29
P_OPTIMISTIC = 30
P_REARM = 31
P_INIT_CASH = 32
P_BAR_HOURS = 33
N_PARAMS = 34

# --------------------------------------------------------------------- state layout

S_CASH = 0
S_QTY = 1
S_ENTRY_PRICE = 2
S_ENTRY_IDX = 3
S_ENTRY_FEE = 4
S_TRADE_FUNDING = 5
S_STOP = 6  # fixed protective level (hard and ATR stops), NaN if none
S_TP = 7
S_EXTREME = 8  # best price since entry (trailing stop)
S_PEND_EXIT = 9
S_PEND_ENTRY = 10  # direction of the pending entry, 0 if none
S_PEND_REASON = 11
S_PEND_FRAC = 12
S_PEND_ATR = 13
S_EQUITY = 14
S_PEAK = 15
S_DAY = 16
S_DAY_START = 17
S_DAY_HALT = 18
S_KILLED = 19
S_LAST_STOP = 20
S_PAUSE_UNTIL = 21
S_STREAK = 22
S_N_CLOSED = 23
S_N_WINS = 24
S_SUM_WIN = 25
S_SUM_LOSS = 26
S_FEES = 27
S_FUNDING = 28
S_REARM_DIR = 29
S_AMBIGUOUS = 30
S_STOPPED_BAR = 31  # bar index of the last protective exit
S_TURNOVER = 32  # traded notional
S_BARS_IN_MKT = 33
S_N_RECORDS = 34
S_ENTRY_SLIP = 35
S_SLIPPAGE = 36  # total slippage cost
N_STATE = 37

# ------------------------------------------------------------------- trade records

T_ENTRY_IDX = 0
T_EXIT_IDX = 1
T_SIZE = 2  # signed quantity
T_ENTRY_PRICE = 3
T_EXIT_PRICE = 4
T_ENTRY_FEE = 5
T_EXIT_FEE = 6
T_FUNDING = 7
T_PNL = 8
T_REASON = 9
T_SLIPPAGE = 10
N_TRADE_FIELDS = 11


@intrinsic
def _borrow_intrinsic(typingctx, arr):
    """Build the NULL-meminfo view of ``arr`` (the compiled body of :func:`borrow_nb`)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        src = context.make_array(arr)(context, builder, value=args[0])
        out = context.make_array(arr)(context, builder)
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        out.parent = cgutils.get_null_value(out.parent.type)
        out.nitems = src.nitems
        out.itemsize = src.itemsize
        out.data = src.data
        out.shape = src.shape
        out.strides = src.strides
        return out._getvalue()

    return arr(arr), codegen


def borrow_nb(arr):
    """Return a view of ``arr`` that holds no reference to it (no reference counting).

    The view shares the data, shape and strides of ``arr`` and has a NULL meminfo, so the
    reference counting numba emits when it is passed to, bound in or returned from an
    inlined function costs a null test instead of an atomic increment.

    Only borrow an array that outlives every use of the view: a function argument (its
    caller holds it for the whole call) used inside that function. Never return the view
    to Python or keep it after the function returns.

    In plain Python (``NUMBA_DISABLE_JIT=1``) there is no reference counting to avoid and
    the array itself is returned.
    """
    return arr


@overload(borrow_nb, inline="always")
def _borrow_overload(arr):
    if isinstance(arr, types.Array):
        return lambda arr: _borrow_intrinsic(arr)
    return None


@njit(cache=True)
def init_state_nb(params):
    """Return a fresh account state for one parameter row."""
    s = np.zeros(N_STATE)
    cash = params[P_INIT_CASH]
    s[S_CASH] = cash
    s[S_EQUITY] = cash
    s[S_PEAK] = cash
    s[S_DAY_START] = cash
    s[S_DAY] = -1.0
    s[S_ENTRY_IDX] = -1.0
    s[S_STOP] = np.nan
    s[S_TP] = np.nan
    s[S_EXTREME] = np.nan
    s[S_LAST_STOP] = -1.0
    s[S_PAUSE_UNTIL] = -1.0
    s[S_STOPPED_BAR] = -1.0
    s[S_PEND_ATR] = np.nan
    return s


@njit(cache=True)
def slippage_frac_nb(params, participation, bar_vol):
    """Return the slippage of a market order as a fraction of price.

    Notes
    -----
    :math:`s = s_0 + k_\\sigma \\sigma + k_v \\sqrt{q / V}`, capped at ``P_SLIP_MAX``;
    :math:`\\sigma` is the per-bar volatility known before the fill, :math:`q / V` the
    order size over the reference bar volume (a square-root impact law). Missing inputs
    (NaN) drop their term; an order against zero volume pays the cap.
    """
    s = params[P_SLIP_FIXED]
    if params[P_SLIP_VOL] > 0.0 and bar_vol > 0.0:
        s += params[P_SLIP_VOL] * bar_vol
    if params[P_SLIP_IMPACT] > 0.0 and not np.isnan(participation):
        if math.isinf(participation):
            s = params[P_SLIP_MAX]
        elif participation > 0.0:
            s += params[P_SLIP_IMPACT] * math.sqrt(participation)
    if s > params[P_SLIP_MAX]:
        s = params[P_SLIP_MAX]
    return s


@njit(cache=True)
def _participation(qty_abs, volume_ref):
    if np.isnan(volume_ref):
        return np.nan
    if volume_ref <= 0.0:
        return np.inf
    return qty_abs / volume_ref


@njit(cache=True)
def _fill(state, dq, price, fee_rate, ref_price):
    """Trade ``dq`` (signed) at ``price``; return the fee paid."""
    fee = abs(dq) * price * fee_rate
    state[S_CASH] = state[S_CASH] - (dq * price + fee)
    state[S_QTY] = state[S_QTY] + dq
    state[S_FEES] += fee
    state[S_TURNOVER] += abs(dq) * price
    state[S_SLIPPAGE] += dq * (price - ref_price)
    return fee


@njit(cache=True)
def _measured_edge(state, params):
    """Return (win rate, payoff) measured on closed trades, else the priors."""
    n = state[S_N_CLOSED]
    if n >= params[P_MIN_TRADES] and n > 0:
        p = state[S_N_WINS] / n
        n_loss = n - state[S_N_WINS]
        if state[S_N_WINS] > 0 and n_loss > 0 and state[S_SUM_LOSS] > 0:
            b = (state[S_SUM_WIN] / state[S_N_WINS]) / (state[S_SUM_LOSS] / n_loss)
        elif n_loss == 0:
            b = np.inf
        else:
            b = 0.0
        return p, b
    return params[P_WIN_RATE], params[P_PAYOFF]


@njit(cache=True, inline="always")
def _open_position(state, params, i, direction, ref_price, frac, atr, bar_vol, volume_ref):
    equity = state[S_CASH] + state[S_QTY] * ref_price
    if not (equity > 0.0) or not (frac > 0.0):
        return
    fee_rate = params[P_TAKER_FEE]
    notional = frac * equity
    s = slippage_frac_nb(params, _participation(notional / ref_price, volume_ref), bar_vol)
    price = ref_price * (1.0 + direction * s)
    qty = direction * notional / (price * (1.0 + fee_rate))
    if qty == 0.0:
        return
    fee = _fill(state, qty, price, fee_rate, ref_price)
    state[S_ENTRY_PRICE] = price
    state[S_ENTRY_IDX] = i
    state[S_ENTRY_FEE] = fee
    state[S_ENTRY_SLIP] = qty * (price - ref_price)
    state[S_TRADE_FUNDING] = 0.0
    state[S_EXTREME] = price
    state[S_STOP] = tighter_stop_nb(
        hard_stop_price_nb(price, direction, params[P_STOP_FRAC]),
        atr_stop_price_nb(price, direction, atr, params[P_ATR_MULT]),
        direction,
    )
    state[S_TP] = take_profit_price_nb(price, direction, params[P_TP_FRAC])


@njit(cache=True)
def _record(state, trades, i, exit_price, exit_fee, reason, slip):
    qty = state[S_QTY]
    pnl = (
        qty * (exit_price - state[S_ENTRY_PRICE])
        - state[S_ENTRY_FEE]
        - exit_fee
        - state[S_TRADE_FUNDING]
    )
    k = int(state[S_N_RECORDS])
    if k < trades.shape[0]:
        trades[k, T_ENTRY_IDX] = state[S_ENTRY_IDX]
        trades[k, T_EXIT_IDX] = i
        trades[k, T_SIZE] = qty
        trades[k, T_ENTRY_PRICE] = state[S_ENTRY_PRICE]
        trades[k, T_EXIT_PRICE] = exit_price
        trades[k, T_ENTRY_FEE] = state[S_ENTRY_FEE]
        trades[k, T_EXIT_FEE] = exit_fee
        trades[k, T_FUNDING] = state[S_TRADE_FUNDING]
        trades[k, T_PNL] = pnl
        trades[k, T_REASON] = reason
        trades[k, T_SLIPPAGE] = state[S_ENTRY_SLIP] + slip
    state[S_N_RECORDS] = k + 1
    return pnl


@njit(cache=True, inline="always")
def _close_position(state, params, trades, i, ref_price, reason, maker, bar_vol, volume_ref):
    qty = state[S_QTY]
    direction = 1.0 if qty > 0 else -1.0
    if maker:
        fee_rate = params[P_MAKER_FEE]
        price = ref_price
    else:
        fee_rate = params[P_TAKER_FEE]
        s = slippage_frac_nb(params, _participation(abs(qty), volume_ref), bar_vol)
        price = ref_price * (1.0 - direction * s)
    slip = -qty * (price - ref_price)
    exit_fee = abs(qty) * price * fee_rate
    pnl = _record(state, trades, i, price, exit_fee, reason, slip)
    _fill(state, -qty, price, fee_rate, ref_price)
    state[S_QTY] = 0.0  # exact flat, whatever the rounding
    # running trade statistics (Kelly, TP:SL validation, breaker, sweeps)
    state[S_N_CLOSED] += 1.0
    if pnl > 0.0:
        state[S_N_WINS] += 1.0
        state[S_SUM_WIN] += pnl
        state[S_STREAK] = 0.0
    else:
        state[S_SUM_LOSS] -= pnl
        state[S_STREAK] += 1.0
    if params[P_BREAKER_THRESHOLD] > 0.0:
        p, _ = _measured_edge(state, params)
        if breaker_tripped_nb(p, state[S_STREAK], params[P_BREAKER_THRESHOLD]):
            state[S_PAUSE_UNTIL] = i + params[P_BREAKER_PAUSE]
            state[S_STREAK] = 0.0
    if reason != EXIT_SIGNAL:
        state[S_STOPPED_BAR] = i
        if params[P_REARM] > 0.0:
            state[S_REARM_DIR] = direction
    if reason in (EXIT_STOP, EXIT_TRAILING, EXIT_LIQUIDATION):
        state[S_LAST_STOP] = i
    state[S_ENTRY_IDX] = -1.0
    state[S_STOP] = np.nan
    state[S_TP] = np.nan
    state[S_EXTREME] = np.nan


@njit(cache=True, inline="always")
def _intrabar_exit(state, params, trades, i, open_, high, low, bar_vol, volume_ref):
    """Check the protective level and the target of an open position inside bar ``i``."""
    qty = state[S_QTY]
    d = 1.0 if qty > 0 else -1.0
    entry = state[S_ENTRY_PRICE]
    stop = state[S_STOP]
    trail = trailing_stop_price_nb(
        entry, d, state[S_EXTREME], params[P_TRAIL_ACT], params[P_TRAIL_DIST]
    )
    level = tighter_stop_nb(stop, trail, d)
    reason = EXIT_STOP
    if not np.isnan(trail) and level == trail and (np.isnan(stop) or trail != stop):
        reason = EXIT_TRAILING
    liq = liquidation_price_nb(state[S_CASH], qty, params[P_MMR])
    if not np.isnan(liq):
        tighter = tighter_stop_nb(level, liq, d)
        if np.isnan(level) or (tighter == liq and liq != level):
            level = liq
            reason = EXIT_LIQUIDATION
    sl_px = stop_fill_price_nb(level, d, open_, low, high)
    tp_px = target_fill_price_nb(state[S_TP], d, open_, low, high)
    take_tp = False
    if not np.isnan(sl_px) and not np.isnan(tp_px):
        if sl_px == open_:
            take_tp = False
        elif tp_px == open_:
            take_tp = True
        else:
            state[S_AMBIGUOUS] += 1.0
            take_tp = params[P_OPTIMISTIC] > 0.0
    elif not np.isnan(tp_px):
        take_tp = True
    elif np.isnan(sl_px):
        # untouched: move the trailing extreme with this bar (after the check)
        # (a select, not a branch: whether a bar makes a new extreme is a coin toss)
        ext = state[S_EXTREME]
        if d > 0:
            state[S_EXTREME] = high if high > ext else ext
        else:
            state[S_EXTREME] = low if low < ext else ext
        return False
    if take_tp:
        _close_position(
            state, params, trades, i, tp_px, EXIT_TAKE_PROFIT, True, bar_vol, volume_ref
        )
    else:
        _close_position(state, params, trades, i, sl_px, reason, False, bar_vol, volume_ref)
    return True


@njit(cache=True, inline="always")
def _entry_fraction(state, params, realized_vol, regime):
    """Return the fraction of equity for a new position (0 when the rule says no)."""
    mode = params[P_SIZING]
    if mode == SIZING_KELLY:
        p, b = _measured_edge(state, params)
        f = kelly_fraction_nb(p, b, params[P_KELLY_SCALE], params[P_KELLY_MIN], params[P_KELLY_MAX])
    elif mode == SIZING_VOL_TARGET:
        f = vol_target_fraction_nb(params[P_TARGET_VOL], realized_vol, params[P_FRACTION])
    else:
        f = params[P_FRACTION]
    if not np.isnan(regime):
        f = regime_scale_nb(f, regime, params[P_REGIME_FLOOR])
    return cap_exposure_nb(f, params[P_MAX_LEVERAGE])


@njit(cache=True, inline="always")
def _entry_allowed(state, params, i, direction, close, atr):
    if state[S_KILLED] > 0.0 or state[S_DAY_HALT] > 0.0:
        return False
    if state[S_REARM_DIR] == direction:
        return False
    if in_cooldown_nb(i, int(state[S_LAST_STOP]), int(params[P_COOLDOWN])):
        return False
    if i < state[S_PAUSE_UNTIL]:
        return False
    if params[P_VALIDATE_TPSL] > 0.0 and params[P_TP_FRAC] > 0.0:
        sl = np.inf
        if params[P_STOP_FRAC] > 0.0:
            sl = params[P_STOP_FRAC]
        if params[P_ATR_MULT] > 0.0 and atr > 0.0:
            a = params[P_ATR_MULT] * atr / close
            if a < sl:
                sl = a
        p, _ = _measured_edge(state, params)
        if not math.isinf(sl) and not np.isnan(p):
            cost = params[P_TAKER_FEE] + params[P_MAKER_FEE] + 2.0 * params[P_SLIP_FIXED]
            if not tp_sl_valid_nb(p, params[P_TP_FRAC], sl, cost):
                return False
    return True


@njit(cache=True, inline="always")
def is_idle_nb(state, target):
    """Tell whether an account is idle on a bar: flat, no pending order, target 0 (or NaN).

    Nothing is filled, stopped, charged or decided on an idle bar; :func:`idle_step_nb`
    applies what it still changes.
    """
    return (
        state[S_QTY] == 0.0
        and state[S_PEND_EXIT] == 0.0
        and state[S_PEND_ENTRY] == 0.0
        and not (target > 0.0)
        and not (target < 0.0)
    )


@njit(cache=True, inline="always")
def idle_step_nb(state, params, close, day, atr):
    """Advance an idle account (:func:`is_idle_nb`) by one bar; return the equity at the close.

    Exactly the updates :func:`backtest_step_full_nb` makes on such a bar, in the same
    order: the new UTC day (start equity, daily halt reset), the peak, the kill switch and
    the daily-loss flag on the close equity, the re-arm reset (the target is 0), the pending
    order fields (``fill = next_open``) and the equity. Without a position there are no
    fills, stops, funding or bars in the market; cooldowns and breaker pauses are bar
    indices, so they run out by themselves.
    """
    # 1. new UTC day
    if day != state[S_DAY]:
        state[S_DAY] = day
        state[S_DAY_START] = state[S_EQUITY]
        state[S_DAY_HALT] = 0.0
    # 5. close: risk limits on the (unchanged) equity, then the empty decision
    equity = state[S_CASH] + state[S_QTY] * close
    peak = state[S_PEAK]
    state[S_PEAK] = equity if equity > peak else peak  # a select: new peaks are unpredictable
    if drawdown_kill_nb(equity, state[S_PEAK], params[P_MAX_DD]):
        state[S_KILLED] = 1.0
    if daily_loss_breached_nb(equity, state[S_DAY_START], params[P_DAILY_LOSS]):
        state[S_DAY_HALT] = 1.0
    if state[S_REARM_DIR] != 0.0:
        state[S_REARM_DIR] = 0.0
    if params[P_FILL] != FILL_CLOSE:
        reason = EXIT_SIGNAL
        if state[S_KILLED] > 0.0:
            reason = EXIT_KILL_SWITCH
        elif state[S_DAY_HALT] > 0.0:
            reason = EXIT_DAILY_LOSS
        state[S_PEND_EXIT] = 0.0
        state[S_PEND_REASON] = reason
        state[S_PEND_ENTRY] = 0.0
        state[S_PEND_FRAC] = 0.0
        state[S_PEND_ATR] = atr
    state[S_EQUITY] = equity
    return equity


@njit(cache=True, inline="always")
def _full_step(
    state,
    params,
    i,
    open_,
    high,
    low,
    close,
    funding_rate,
    day,
    target,
    atr,
    realized_vol,
    regime,
    bar_vol,
    volume_ref,
    trades,
):
    hours = params[P_BAR_HOURS]
    # 1. new UTC day
    if day != state[S_DAY]:
        state[S_DAY] = day
        state[S_DAY_START] = state[S_EQUITY]
        state[S_DAY_HALT] = 0.0
    # 2. pending orders at the open
    if params[P_FILL] == FILL_NEXT_OPEN:
        if state[S_PEND_EXIT] > 0.0 and state[S_QTY] != 0.0:
            _close_position(
                state,
                params,
                trades,
                i,
                open_,
                int(state[S_PEND_REASON]),
                False,
                bar_vol,
                volume_ref,
            )
        if state[S_PEND_ENTRY] != 0.0 and state[S_QTY] == 0.0:
            _open_position(
                state,
                params,
                i,
                state[S_PEND_ENTRY],
                open_,
                state[S_PEND_FRAC],
                state[S_PEND_ATR],
                bar_vol,
                volume_ref,
            )
        state[S_PEND_EXIT] = 0.0
        state[S_PEND_ENTRY] = 0.0
    # 3. intrabar stops, targets and liquidation
    if state[S_QTY] != 0.0:
        _intrabar_exit(state, params, trades, i, open_, high, low, bar_vol, volume_ref)
    # 4. funding on the position held through the bar
    qty = state[S_QTY]
    if qty != 0.0:
        state[S_BARS_IN_MKT] += 1.0
        if funding_rate != 0.0 and not np.isnan(funding_rate):
            f = qty * close * funding_rate * hours
            state[S_CASH] -= f
            state[S_TRADE_FUNDING] += f
            state[S_FUNDING] += f
    # 5. close: risk limits, then decisions
    equity = state[S_CASH] + state[S_QTY] * close
    peak = state[S_PEAK]
    state[S_PEAK] = equity if equity > peak else peak  # a select: new peaks are unpredictable
    if drawdown_kill_nb(equity, state[S_PEAK], params[P_MAX_DD]):
        state[S_KILLED] = 1.0
    if daily_loss_breached_nb(equity, state[S_DAY_START], params[P_DAILY_LOSS]):
        state[S_DAY_HALT] = 1.0
    desired = 0.0
    if target > 0.0:
        desired = 1.0
    elif target < 0.0:
        desired = -1.0
    reason = EXIT_SIGNAL
    if state[S_KILLED] > 0.0:
        desired = 0.0
        reason = EXIT_KILL_SWITCH
    elif state[S_DAY_HALT] > 0.0:
        desired = 0.0
        reason = EXIT_DAILY_LOSS
    if state[S_REARM_DIR] != 0.0 and desired != state[S_REARM_DIR]:
        state[S_REARM_DIR] = 0.0
    pos_dir = 0.0
    if state[S_QTY] > 0.0:
        pos_dir = 1.0
    elif state[S_QTY] < 0.0:
        pos_dir = -1.0
    want_exit = pos_dir != 0.0 and desired != pos_dir
    entry_dir = 0.0
    frac = 0.0
    if (
        desired != 0.0
        and desired != pos_dir
        and _entry_allowed(state, params, i, desired, close, atr)
    ):
        frac = _entry_fraction(state, params, realized_vol, regime)
        if frac > 0.0:
            entry_dir = desired
    if params[P_FILL] == FILL_CLOSE:
        if state[S_STOPPED_BAR] != i:  # a protective exit in this bar blocks new orders
            if want_exit:
                _close_position(state, params, trades, i, close, reason, False, bar_vol, volume_ref)
            if entry_dir != 0.0 and state[S_QTY] == 0.0:
                _open_position(state, params, i, entry_dir, close, frac, atr, bar_vol, volume_ref)
    else:
        state[S_PEND_EXIT] = 1.0 if want_exit else 0.0
        state[S_PEND_REASON] = reason
        state[S_PEND_ENTRY] = entry_dir
        state[S_PEND_FRAC] = frac
        state[S_PEND_ATR] = atr
    equity = state[S_CASH] + state[S_QTY] * close
    state[S_EQUITY] = equity
    return equity


@njit(cache=True, inline="always")
def backtest_step_full_nb(
    state,
    params,
    i,
    open_,
    high,
    low,
    close,
    funding_rate,
    day,
    target,
    atr,
    realized_vol,
    regime,
    bar_vol,
    volume_ref,
    trades,
):
    """Advance one account by bar ``i`` through every rule, without the idle shortcut.

    Same arguments and result as :func:`backtest_step_nb`, which the tests compare with it
    bit for bit (state, equity and trade records after every bar).
    """
    equity = _full_step(
        state,
        params,
        i,
        open_,
        high,
        low,
        close,
        funding_rate,
        day,
        target,
        atr,
        realized_vol,
        regime,
        bar_vol,
        volume_ref,
        trades,
    )
    return state, equity


@njit(cache=True, inline="always")
def backtest_step_nb(
    state,
    params,
    i,
    open_,
    high,
    low,
    close,
    funding_rate,
    day,
    target,
    atr,
    realized_vol,
    regime,
    bar_vol,
    volume_ref,
    trades,
):
    """Advance one account by bar ``i``; return ``(state, equity at the close)``.

    Parameters
    ----------
    state : ndarray
        Account state (``S_*`` layout), updated in place and returned.
    params : ndarray
        One parameter row (``P_*`` layout).
    i : int
        Bar position (used for trade records, cooldowns and pauses).
    open_, high, low, close : float
        The bar.
    funding_rate : float
        Per-hour funding rate charged at the end of the bar (0 for spot).
    day : int
        UTC day number of the bar (daily loss limit).
    target : float
        Target direction decided at this bar's close: -1, 0 or +1 (NaN counts as 0).
    atr, realized_vol, regime : float
        Known at this bar's close: ATR (ATR stop), annualised volatility (volatility
        targeting), favourable-regime probability (NaN: no regime scaling).
    bar_vol, volume_ref : float
        Per-bar volatility and reference volume known before this bar, for slippage.
    trades : ndarray
        Trade record buffer (``T_*`` columns); rows beyond its length are counted, not
        written.

    Notes
    -----
    Oracle: with ``fill = close``, fraction 1, equal maker/taker fees, no slippage or
    funding, and a hard stop, the trades and equity equal vectorbt 1.2's
    ``Portfolio.from_signals(close, entries, exits, open=, high=, low=, fees=, sl_stop=)``.

    An idle bar (:func:`is_idle_nb`) goes through :func:`idle_step_nb`, every other bar
    through all the rules (:func:`backtest_step_full_nb`); both give the same state and
    equity bit for bit. The function is inlined into its callers: loop it over
    :func:`borrow_nb` views (see :func:`backtest_nb`) to keep reference counting out of the
    loop.
    """
    if is_idle_nb(state, target):
        return state, idle_step_nb(state, params, close, day, atr)
    equity = _full_step(
        state,
        params,
        i,
        open_,
        high,
        low,
        close,
        funding_rate,
        day,
        target,
        atr,
        realized_vol,
        regime,
        bar_vol,
        volume_ref,
        trades,
    )
    return state, equity


@njit(cache=True)
def finalize_nb(state, trades, last_i, last_close):
    """Record an open position as a trade marked to the last close (reason ``end``).

    No order is filled and no fee is charged: the equity curve keeps the position at the
    last close, as vectorbt reports an open trade.
    """
    if state[S_QTY] != 0.0:
        _record(state, trades, last_i, last_close, 0.0, EXIT_END, 0.0)
    return state


@njit(cache=True)
def _backtest_loop(
    state_arg,
    params_arg,
    trades_arg,
    open_,
    high,
    low,
    close,
    funding_rate,
    day,
    target,
    atr,
    realized_vol,
    regime,
    bar_vol,
    volume_ref,
    equity,
    cash,
    qty,
    fees,
    funding,
):
    """Loop :func:`backtest_step_nb` over the bars, writing the per-bar series."""
    # the caller holds the three arrays for the whole call: borrow them for the loop
    state = borrow_nb(state_arg)
    params = borrow_nb(params_arg)
    trades = borrow_nb(trades_arg)
    n = close.shape[0]
    for i in range(n):
        fees0 = state[S_FEES]
        funding0 = state[S_FUNDING]
        state, equity[i] = backtest_step_nb(
            state,
            params,
            i,
            open_[i],
            high[i],
            low[i],
            close[i],
            funding_rate[i],
            day[i],
            target[i],
            atr[i],
            realized_vol[i],
            regime[i],
            bar_vol[i],
            volume_ref[i],
            trades,
        )
        cash[i] = state[S_CASH]
        qty[i] = state[S_QTY]
        fees[i] = state[S_FEES] - fees0
        funding[i] = state[S_FUNDING] - funding0


@njit(cache=True)
def backtest_nb(
    open_,
    high,
    low,
    close,
    funding_rate,
    day,
    target,
    atr,
    realized_vol,
    regime,
    bar_vol,
    volume_ref,
    params,
):
    """Run one account over a series of bars.

    Loops :func:`backtest_step_nb` and records an open position at the end with
    :func:`finalize_nb`.

    Returns
    -------
    equity, cash, qty, fees, funding : ndarray
        Per bar, at the close: equity, cash, position (signed units) and the fees and
        funding paid in the bar.
    trades : ndarray
        ``(n_trades, N_TRADE_FIELDS)`` trade records.
    state : ndarray
        The final state (running totals: ``S_FEES``, ``S_FUNDING``, ``S_AMBIGUOUS``...).
    """
    n = close.shape[0]
    state = init_state_nb(params)
    trades = np.empty((2 * n + 2, N_TRADE_FIELDS))
    equity = np.empty(n)
    cash = np.empty(n)
    qty = np.empty(n)
    fees = np.empty(n)
    funding = np.empty(n)
    _backtest_loop(
        state,
        params,
        trades,
        open_,
        high,
        low,
        close,
        funding_rate,
        day,
        target,
        atr,
        realized_vol,
        regime,
        bar_vol,
        volume_ref,
        equity,
        cash,
        qty,
        fees,
        funding,
    )
    if n > 0:
        finalize_nb(state, trades, n - 1, close[n - 1])
    k = int(state[S_N_RECORDS])
    return equity, cash, qty, fees, funding, trades[:k].copy(), state


# Public names for the order functions that Python code outside the kernels calls (the live
# decision engine's preview, the slippage estimator): the same compiled functions the
# engine's step inlines, so a preview or an estimate can never drift from the engine.
participation_nb = _participation
open_position_nb = _open_position
close_position_nb = _close_position
