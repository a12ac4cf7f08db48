"""The fused parameter-sweep kernel: many accounts, one pass each, metrics as they stream.

Pure numba. :func:`sweep_nb` runs one account per parameter combination, in parallel over
combinations (``prange``). Each account reads the bars, builds its target direction bar by
bar from indicator rows computed once per distinct window (``sig``), advances with the
engine's own :func:`~quantlab.kernels.backtest.backtest_step_nb` and accumulates its
performance metrics on the fly: nothing of size (combinations x bars) is ever allocated.

Signal kinds
------------
``KIND_TARGETS``
    The target is read from ``sig[sig_idx[c, 0], t]`` (rows are precomputed targets of the
    distinct signal configurations; the generic path for any strategy).
``KIND_CROSS``
    Moving-average cross of ``sig[sig_idx[c, 0]]`` (fast) and ``sig[sig_idx[c, 1]]``
    (slow), the state machine of :func:`~quantlab.kernels.strategy_signals.cross_target_nb`
    (the same step, :func:`~quantlab.kernels.strategy_signals.cross_step_nb`).
``KIND_EMA_TREND``
    Fast/slow EMA trend gated by the close against a third EMA, from ``warmup[c]`` on, as
    :func:`~quantlab.kernels.strategy_signals.ema_trend_target_nb` (same `ema_trend_dir_nb`).

Auxiliary per-bar series (funding, ATR, realised volatility, regime, slippage volatility and
reference volume) are rows of ``aux`` addressed by ``aux_idx[c, A_*]``, so combinations
sharing a series share one row.

Each account's bar loop (:func:`_stream_account`) runs the inlined engine step on
:func:`~quantlab.kernels.backtest.borrow_nb` views of its state, parameter row and trade
buffer, so no reference is counted per bar (see "Cost of a step" in
:mod:`quantlab.kernels.backtest`). The rows it reads (its signal and auxiliary rows, the
bars) are borrowed 1-D views too, indexed by an unsigned bar number: no 2-D address
arithmetic or negative-index wraparound per bar. The step is
:func:`~quantlab.kernels.backtest.backtest_step_nb` with its two paths spelled out (an idle
bar, :func:`~quantlab.kernels.backtest.is_idle_nb`, goes through
:func:`~quantlab.kernels.backtest.idle_step_nb`, any other through
:func:`~quantlab.kernels.backtest.backtest_step_full_nb`), so an idle bar loads only the
values it uses.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from quantlab.kernels.backtest import (
    N_TRADE_FIELDS,
    P_INIT_CASH,
    S_AMBIGUOUS,
    S_ENTRY_FEE,
    S_ENTRY_PRICE,
    S_FEES,
    S_FUNDING,
    S_N_CLOSED,
    S_N_WINS,
    S_QTY,
    S_SLIPPAGE,
    S_SUM_LOSS,
    S_SUM_WIN,
    S_TRADE_FUNDING,
    S_TURNOVER,
    backtest_step_full_nb,
    borrow_nb,
    idle_step_nb,
    init_state_nb,
    is_idle_nb,
)
from quantlab.kernels.rolling import ewm_mean_nb, rolling_mean_nb
from quantlab.kernels.strategy_signals import allowed_nb, cross_step_nb, ema_trend_dir_nb

# ------------------------------------------------------------------------ signal kinds

KIND_TARGETS = 0
KIND_CROSS = 1
KIND_EMA_TREND = 2

# ------------------------------------------------------------------ auxiliary series rows

A_FUNDING = 0
A_ATR = 1
A_REALIZED_VOL = 2
A_REGIME = 3
A_BAR_VOL = 4
A_VOLUME_REF = 5
N_AUX = 6

# ------------------------------------------------------------------- metrics layout

M_END_VALUE = 0
M_N_BARS = 1
M_SUM_R = 2  # sum of per-bar returns (compensated)
M_SUM_R2 = 3  # sum of squared returns
M_SUM_DOWN2 = 4  # sum of min(r, 0)^2
M_MAX_DD = 5
M_SUM_EQUITY = 6
M_BARS_IN_MKT = 7  # bars closing with a position
M_N_TRADES = 8  # closed trades plus a position open at the end
M_N_WINS = 9
M_SUM_WIN = 10
M_SUM_LOSS = 11  # positive: minus the sum of non-positive P&L
M_FEES = 12
M_FUNDING = 13
M_SLIPPAGE = 14
M_TURNOVER = 15  # traded notional
M_AMBIGUOUS = 16
N_METRICS = 17


@njit(cache=True)
def _neumaier(total, comp, x):
    """Add ``x`` to a Neumaier-compensated sum; return ``(total, compensation)``."""
    t = total + x
    if abs(total) >= abs(x):
        comp += (total - t) + x
    else:
        comp += (x - t) + total
    return t, comp


@njit(cache=True)
def _run_account(
    c,
    open_,
    high,
    low,
    close,
    day,
    kind,
    sig,
    sig_idx,
    warmup,
    allow,
    aux,
    aux_idx,
    params,
    out,
):
    """Run combination ``c`` over all bars and write its metrics into ``out[c]``."""
    p = params[c]
    _stream_account(
        init_state_nb(p),
        p,
        np.empty((0, N_TRADE_FIELDS)),
        c,
        open_,
        high,
        low,
        close,
        day,
        kind,
        sig,
        sig_idx,
        warmup,
        allow,
        aux,
        aux_idx,
        out[c],
    )


@njit(cache=True)
def _stream_account(
    state_arg,
    p_arg,
    trades_arg,
    c,
    open_,
    high,
    low,
    close,
    day,
    kind,
    sig,
    sig_idx,
    warmup,
    allow,
    aux,
    aux_idx,
    o,
):
    """Loop the engine step of combination ``c`` over the bars; write its metrics into ``o``."""
    # the caller holds the three arrays for the whole call: borrow them for the loop
    state = borrow_nb(state_arg)
    p = borrow_nb(p_arg)
    trades = borrow_nb(trades_arg)
    n = close.shape[0]
    along = allow[c, 0] > 0.0
    ashort = allow[c, 1] > 0.0
    w = warmup[c]
    # this combination's rows as borrowed 1-D views, indexed in the loop by an unsigned bar
    # number: no 2-D address arithmetic, no negative-index wraparound
    s0 = borrow_nb(sig[sig_idx[c, 0]])
    s1 = borrow_nb(sig[sig_idx[c, 1]])
    s2 = borrow_nb(sig[sig_idx[c, 2]])
    f_row = borrow_nb(aux[aux_idx[c, A_FUNDING]])
    atr_row = borrow_nb(aux[aux_idx[c, A_ATR]])
    rv_row = borrow_nb(aux[aux_idx[c, A_REALIZED_VOL]])
    reg_row = borrow_nb(aux[aux_idx[c, A_REGIME]])
    bv_row = borrow_nb(aux[aux_idx[c, A_BAR_VOL]])
    vr_row = borrow_nb(aux[aux_idx[c, A_VOLUME_REF]])
    op = borrow_nb(open_)
    hi = borrow_nb(high)
    lo = borrow_nb(low)
    cl = borrow_nb(close)
    dy = borrow_nb(day)
    init_cash = p[P_INIT_CASH]
    prev = init_cash
    peak = init_cash
    max_dd = -np.inf
    s_r = 0.0
    c_r = 0.0
    s_r2 = 0.0
    s_d2 = 0.0
    s_eq = 0.0
    in_mkt = 0.0
    cross = 0.0
    a_prev = 0.0
    b_prev = 0.0
    for t in range(n):
        u = np.uint64(t)
        if kind == KIND_CROSS:
            a_t = s0[u]
            b_t = s1[u]
            if t > 0:
                cross = cross_step_nb(cross, a_prev, b_prev, a_t, b_t)
                target = allowed_nb(cross, along, ashort)
            else:
                target = 0.0
            a_prev = a_t
            b_prev = b_t
        elif kind == KIND_EMA_TREND:
            target = 0.0
            if t >= w:
                d = ema_trend_dir_nb(cl[u], s0[u], s1[u], s2[u])
                target = allowed_nb(d, along, ashort)
        else:
            target = s0[u]
        # backtest_step_nb with its two paths spelled out: an idle bar loads only what it uses
        if is_idle_nb(state, target):
            eq = idle_step_nb(state, p, cl[u], dy[u], atr_row[u])
        else:
            state, eq = backtest_step_full_nb(
                state,
                p,
                t,
                op[u],
                hi[u],
                lo[u],
                cl[u],
                f_row[u],
                dy[u],
                target,
                atr_row[u],
                rv_row[u],
                reg_row[u],
                bv_row[u],
                vr_row[u],
                trades,
            )
        r = eq / prev - 1.0
        prev = eq
        s_r, c_r = _neumaier(s_r, c_r, r)
        r2 = r * r
        s_r2 += r2
        if r < 0.0:
            s_d2 += r2
        s_eq += eq
        if eq > peak:
            peak = eq
        dd = 1.0 - eq / peak
        if dd > max_dd:
            max_dd = dd
        if state[S_QTY] != 0.0:
            in_mkt += 1.0
    n_trades = state[S_N_CLOSED]
    n_wins = state[S_N_WINS]
    sum_win = state[S_SUM_WIN]
    sum_loss = state[S_SUM_LOSS]
    qty = state[S_QTY]
    if qty != 0.0 and n > 0:
        # the open position, marked to the last close (as finalize_nb records it)
        pnl = (
            qty * (close[n - 1] - state[S_ENTRY_PRICE])
            - state[S_ENTRY_FEE]
            - state[S_TRADE_FUNDING]
        )
        n_trades += 1.0
        if pnl > 0.0:
            n_wins += 1.0
            sum_win += pnl
        else:
            sum_loss -= pnl
    o[M_END_VALUE] = prev
    o[M_N_BARS] = n
    o[M_SUM_R] = s_r + c_r
    o[M_SUM_R2] = s_r2
    o[M_SUM_DOWN2] = s_d2
    o[M_MAX_DD] = max_dd if n > 0 else np.nan
    o[M_SUM_EQUITY] = s_eq
    o[M_BARS_IN_MKT] = in_mkt
    o[M_N_TRADES] = n_trades
    o[M_N_WINS] = n_wins
    o[M_SUM_WIN] = sum_win
    o[M_SUM_LOSS] = sum_loss
    o[M_FEES] = state[S_FEES]
    o[M_FUNDING] = state[S_FUNDING]
    o[M_SLIPPAGE] = state[S_SLIPPAGE]
    o[M_TURNOVER] = state[S_TURNOVER]
    o[M_AMBIGUOUS] = state[S_AMBIGUOUS]


@njit(cache=True, parallel=True)
def indicator_rows_nb(close, windows, kind):
    """Return one indicator row per window, in parallel over windows.

    ``kind == KIND_CROSS``: :func:`~quantlab.kernels.rolling.rolling_mean_nb` (the SMAs of
    ``ma_cross``); ``KIND_EMA_TREND``: :func:`~quantlab.kernels.rolling.ewm_mean_nb` with
    ``alpha = 2 / (w + 1)``. Each row equals the single-window kernel bit for bit.
    """
    k = windows.shape[0]
    out = np.empty((k, close.shape[0]))
    for i in prange(k):
        if kind == KIND_CROSS:
            out[i] = rolling_mean_nb(close, windows[i])
        else:
            out[i] = ewm_mean_nb(close, 2.0 / (windows[i] + 1.0))
    return out


@njit(cache=True, parallel=True)
def sweep_nb(
    open_,
    high,
    low,
    close,
    day,
    kind,
    sig,
    sig_idx,
    warmup,
    allow,
    aux,
    aux_idx,
    params,
):
    """Backtest every parameter row on the same bars; return their streamed metrics.

    Parameters
    ----------
    open_, high, low, close : ndarray
        The bars, shape ``(n,)``.
    day : ndarray of int64
        UTC day number of each bar.
    kind : int
        ``KIND_TARGETS``, ``KIND_CROSS`` or ``KIND_EMA_TREND`` (the same for every row).
    sig : ndarray
        ``(k, n)`` signal rows: targets, moving averages or EMAs, one per distinct value.
    sig_idx : ndarray of int64
        ``(m, 3)`` rows of ``sig`` each combination reads (unused columns ignored).
    warmup : ndarray of int64
        ``(m,)`` first bar with a target (``KIND_EMA_TREND``).
    allow : ndarray
        ``(m, 2)``: long allowed, short allowed (1.0 / 0.0).
    aux : ndarray
        ``(q, n)`` auxiliary series rows; ``aux_idx`` ``(m, N_AUX)`` picks them.
    params : ndarray
        ``(m, N_PARAMS)`` engine parameter rows.

    Returns
    -------
    ndarray
        ``(m, N_METRICS)`` metrics (``M_*`` layout).

    Notes
    -----
    Oracle: row ``c`` equals :func:`~quantlab.kernels.backtest.backtest_nb` run with
    ``params[c]`` and the same target and series, followed by
    ``quantlab.backtest.stats.compute_stats`` (the tests compare every statistic to
    1e-9). The sum of returns (mixed signs) is Neumaier-compensated, so its error does not
    grow with the number of bars; sums of non-negative terms (squares, equity) have a
    relative error of at most ``n`` ulps.
    """
    m = params.shape[0]
    out = np.empty((m, N_METRICS))
    for c in prange(m):
        _run_account(
            c,
            open_,
            high,
            low,
            close,
            day,
            kind,
            sig,
            sig_idx,
            warmup,
            allow,
            aux,
            aux_idx,
            params,
            out,
        )
    return out
