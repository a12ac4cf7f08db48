"""On-chain flow kernels: swaps aggregated to bars, herd counts, flow factors, AMM maths.

Pure numba, arrays in and out. Swap arrays are sorted by time; bar outputs are causal
(bar ``b`` uses swaps before its end only; factor output ``t`` uses bars ``<= t``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantlab.kernels.rolling import rolling_sum_nb


@njit(cache=True, nogil=True)
def flow_aggregate_nb(bar, side, sol, qty, price, smart, n_bars):
    """Aggregate swaps into bars.

    Parameters
    ----------
    bar : int64 array
        Bar index of each swap (non-decreasing, ``0 <= bar < n_bars``).
    side : int8 array
        +1 buy (SOL -> token), -1 sell, 0 neither (ignored).
    sol, qty, price : float64 arrays
        SOL leg, token leg and price (SOL per token) of each swap.
    smart : bool array
        Whether the swap's wallet is in the smart-money set.
    n_bars : int
        Number of bars.

    Returns
    -------
    out : float64 array, shape (11, n_bars)
        Rows ``open high low close volume trades buy_flow sell_flow sm_buy_flow
        sm_sell_flow sm_buys``. A bar without a swap repeats the previous close as its
        open, high, low and close (NaN before the first swap) with zero flows.

    Notes
    -----
    Oracle: a pandas ``groupby(bar)`` of first/max/min/last price and summed flows.
    """
    out = np.zeros((11, n_bars))
    last = np.nan
    seen = np.zeros(n_bars, dtype=np.bool_)
    for i in range(bar.shape[0]):
        s = side[i]
        if s == 0:
            continue
        b = bar[i]
        p = price[i]
        if not seen[b]:
            seen[b] = True
            out[0, b] = p
            out[1, b] = p
            out[2, b] = p
        else:
            if p > out[1, b]:
                out[1, b] = p
            if p < out[2, b]:
                out[2, b] = p
        out[3, b] = p
        out[4, b] += qty[i]
        out[5, b] += 1.0
        if s > 0:
            out[6, b] += sol[i]
            if smart[i]:
                out[8, b] += sol[i]
                out[10, b] += 1.0
        else:
            out[7, b] += sol[i]
            if smart[i]:
                out[9, b] += sol[i]
    for b in range(n_bars):
        if seen[b]:
            last = out[3, b]
        else:
            out[0, b] = last
            out[1, b] = last
            out[2, b] = last
            out[3, b] = last
    return out


@njit(cache=True, nogil=True)
def herd_buyers_nb(t, wallet, cluster, buy, bar_end, window, n_wallets, n_clusters):
    """Return, per bar, the most wallets of one cluster that bought within ``window``.

    Parameters
    ----------
    t : int64 array
        Swap times (ns), sorted.
    wallet, cluster : int64 arrays
        Wallet code and cluster code (``-1``: no cluster; such swaps are skipped).
    buy : bool array
        Whether the swap bought.
    bar_end : int64 array
        End time (ns, exclusive) of each bar, increasing.
    window : int
        Look-back in ns: a buy counts at bar ``b`` if ``bar_end[b] - window <= t <
        bar_end[b]``.
    n_wallets, n_clusters : int
        Code ranges.

    Returns
    -------
    float64 array
        ``max_c |{w in c : w bought in [end - window, end)}|`` per bar.

    Notes
    -----
    Two pointers over the buys with a count per wallet and a distinct count per cluster:
    O(swaps + bars * clusters). Oracle: a brute-force set count per bar.
    """
    n_bars = bar_end.shape[0]
    out = np.zeros(n_bars)
    cnt = np.zeros(n_wallets, dtype=np.int64)
    distinct = np.zeros(max(n_clusters, 1), dtype=np.int64)
    n = t.shape[0]
    hi = 0
    lo = 0
    for b in range(n_bars):
        end = bar_end[b]
        while hi < n and t[hi] < end:
            if buy[hi] and cluster[hi] >= 0:
                w = wallet[hi]
                if cnt[w] == 0:
                    distinct[cluster[hi]] += 1
                cnt[w] += 1
            hi += 1
        start = end - window
        while lo < hi and t[lo] < start:
            if buy[lo] and cluster[lo] >= 0:
                w = wallet[lo]
                cnt[w] -= 1
                if cnt[w] == 0:
                    distinct[cluster[lo]] -= 1
            lo += 1
        best = 0
        for c in range(n_clusters):
            if distinct[c] > best:
                best = distinct[c]
        out[b] = best
    return out


@njit(cache=True, nogil=True)
def net_flow_nb(buy, sell, window):
    """Return the rolling sum of ``buy - sell`` over ``window`` bars.

    Oracle: ``(pd.Series(buy) - pd.Series(sell)).rolling(window).sum()``.
    """
    return rolling_sum_nb(buy - sell, window)


@njit(cache=True, nogil=True)
def flow_share_nb(buy, sell, window):
    """Return ``(sum buy - sum sell) / (sum buy + sum sell)`` over ``window`` bars, 0 if none.

    Oracle: the pandas rolling sums of both sides.
    """
    b = rolling_sum_nb(buy, window)
    s = rolling_sum_nb(sell, window)
    out = np.full(b.shape[0], np.nan)
    for i in range(b.shape[0]):
        if not np.isnan(b[i]):
            tot = b[i] + s[i]
            out[i] = (b[i] - s[i]) / tot if tot > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def swap_momentum_nb(buy, sell, fast, slow):
    """Return (mean net flow over ``fast`` - over ``slow``) / mean gross flow over ``slow``.

    0 when the slow window traded nothing; NaN for the first ``slow - 1`` bars.
    Oracle: pandas rolling means.
    """
    net = buy - sell
    gross = buy + sell
    nf = rolling_sum_nb(net, fast)
    ns = rolling_sum_nb(net, slow)
    gs = rolling_sum_nb(gross, slow)
    out = np.full(net.shape[0], np.nan)
    for i in range(slow - 1, net.shape[0]):
        g = gs[i] / slow
        out[i] = (nf[i] / fast - ns[i] / slow) / g if g > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def excitation_step_nb(state, n, decay):
    """Advance the discrete Hawkes excitation by one bar; return ``(state, state)``.

    ``S_t = exp(-decay) * S_{t-1} + n_t`` with ``S_{-1} = 0``.
    """
    s = math.exp(-decay) * state + n
    return s, s


@njit(cache=True, nogil=True)
def excitation_nb(n, decay):
    """Return ``S_t = sum_{s <= t} exp(-decay (t - s)) n_s`` by looping the step kernel.

    Oracle: the direct double sum.
    """
    out = np.empty(n.shape[0])
    s = 0.0
    for t in range(n.shape[0]):
        s, out[t] = excitation_step_nb(s, n[t], decay)
    return out


@njit(cache=True, nogil=True)
def cpmm_impact_nb(reserve_quote, size, fee):
    """Return the price impact of buying with ``size`` quote on a constant-product pool.

    ``(R + (1 - f) dx) / ((1 - f) R) - 1``: the average execution price over the pool's
    marginal price, minus one (fee included). Oracle: the swap done step by step.
    """
    n = reserve_quote.shape[0]
    out = np.empty(n)
    g = 1.0 - fee
    for i in range(n):
        r = reserve_quote[i]
        out[i] = (r + g * size) / (g * r) - 1.0 if r > 0.0 else np.inf
    return out


@njit(cache=True, nogil=True)
def cpmm_depth_nb(reserve_quote, move):
    """Return the quote to add to a constant-product pool to move its price by ``move``.

    Price ``R_q / R_b`` with ``R_q R_b = k``: to multiply it by ``1 + move`` the quote
    reserve grows by ``sqrt(1 + move)``, so the depth is ``R_q (sqrt(1 + move) - 1)``
    (fee ignored). Oracle: solving the invariant numerically.
    """
    n = reserve_quote.shape[0]
    out = np.empty(n)
    k = math.sqrt(1.0 + move) - 1.0
    for i in range(n):
        out[i] = reserve_quote[i] * k
    return out


@njit(cache=True, nogil=True)
def liquidity_change_nb(reserve_quote, reserve_base, window):
    """Return ``0.5 * log(k_t / k_{t - window})`` with ``k = R_q R_b``; NaN for ``t < window``.

    Oracle: ``0.5 * np.log(k).diff(window)`` in pandas.
    """
    n = reserve_quote.shape[0]
    out = np.full(n, np.nan)
    for i in range(window, n):
        out[i] = 0.5 * (
            math.log(reserve_quote[i] * reserve_base[i])
            - math.log(reserve_quote[i - window] * reserve_base[i - window])
        )
    return out
