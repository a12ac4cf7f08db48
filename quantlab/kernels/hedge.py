"""Hedge (exponentially weighted aggregation of experts) in log space.

Oracle: the closed form ``w_{t,i} = softmax(-eta * sum_{s<t} l_{s,i} + log prior_i)`` (tested
with ``scipy.special.softmax``) and the regret bound ``ln N / eta + eta T / 8`` for losses in
[0, 1] (Freund & Schapire 1997; Cesa-Bianchi & Lugosi 2006, Thm 2.2).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def hedge_step_nb(log_w, loss, eta, w_out):
    """Write the current weights to ``w_out`` and then update ``log_w`` with ``loss``.

    Parameters
    ----------
    log_w : numpy.ndarray
        Unnormalised log-weights, shape ``(N,)``; updated in place.
    loss : numpy.ndarray
        Losses of the N experts at this step. A NaN entry leaves that expert's weight
        unchanged (no information); an all-NaN row changes nothing.
    eta : float
        Learning rate (>= 0).
    w_out : numpy.ndarray
        Shape ``(N,)``; receives the weights used at this step, i.e. built from losses
        strictly before it.

    Returns
    -------
    log_w : numpy.ndarray
        The updated log-weights, shifted so that their maximum is 0 (stays finite for any
        horizon).
    w_out : numpy.ndarray
        The weights used at this step (sum to 1).

    Notes
    -----
    ``w_i = exp(log_w_i - max log_w) / sum_j exp(log_w_j - max log_w)``;
    ``log_w_i <- log_w_i - eta l_i``, then ``log_w <- log_w - max(log_w)``.
    """
    n = log_w.shape[0]
    m = -np.inf
    for i in range(n):
        if log_w[i] > m:
            m = log_w[i]
    total = 0.0
    for i in range(n):
        w_out[i] = np.exp(log_w[i] - m)
        total += w_out[i]
    for i in range(n):
        w_out[i] /= total
    m = -np.inf
    for i in range(n):
        if not np.isnan(loss[i]):
            log_w[i] -= eta * loss[i]
        if log_w[i] > m:
            m = log_w[i]
    for i in range(n):
        log_w[i] -= m
    return log_w, w_out


@njit(cache=True)
def hedge_nb(losses, eta, log_w0):
    """Return the Hedge weights over time and the final log-weights.

    Loops :func:`hedge_step_nb`; row ``t`` of the weights uses ``losses[:t]`` only.

    Parameters
    ----------
    losses : numpy.ndarray
        Shape ``(T, N)``.
    eta : float
        Learning rate.
    log_w0 : numpy.ndarray
        Initial log-weights (log prior), shape ``(N,)``; not modified.

    Returns
    -------
    weights : numpy.ndarray
        Shape ``(T, N)``.
    log_w : numpy.ndarray
        Log-weights after the last update (the state for streaming).
    """
    t_len, n = losses.shape
    log_w = log_w0.copy()
    out = np.empty((t_len, n))
    for t in range(t_len):
        log_w, _ = hedge_step_nb(log_w, losses[t], eta, out[t])
    return out, log_w
