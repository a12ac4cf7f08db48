"""Conformal prediction kernels: split threshold, adaptive conformal inference, PID tracker.

Oracles: the split threshold equals ``np.sort(scores)[k - 1]`` with
``k = ceil((n + 1)(1 - alpha))`` (``np.quantile(..., method="inverted_cdf")`` at level
``k / n``); ACI follows Gibbs & Candes (2021) and the authors' code of Zaffran et al. (2022)
(``alpha_{t+1} = alpha_t + gamma (alpha - err_t)``, whole line when ``alpha_t <= 0``, empty
set when ``alpha_t >= 1``); the PID tracker follows Angelopoulos, Candes & Tibshirani (2023).
Tests check the finite-sample long-run miscoverage bounds on adversarial sequences.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# (n + 1)(1 - alpha) is often an integer in exact arithmetic (n = 9, alpha = 0.1) but lands
# a few ulps above it in floating point; subtract a tolerance before ceil.
_CEIL_TOL = 1e-9


@njit(cache=True)
def conformal_rank_nb(n, alpha):
    """Return ``k = ceil((n + 1)(1 - alpha))``, the order statistic of the split threshold.

    ``k <= 0`` means the empty set (``alpha >= 1``), ``k > n`` an infinite threshold.
    """
    if alpha >= 1.0:
        return 0
    if alpha <= 0.0:
        return n + 1
    x = (n + 1.0) * (1.0 - alpha)
    return int(np.ceil(x - _CEIL_TOL * max(1.0, x)))


@njit(cache=True)
def conformal_threshold_sorted_nb(sorted_scores, n, alpha):
    """Return the split-conformal threshold from the first ``n`` entries of sorted scores.

    The ``ceil((n + 1)(1 - alpha))``-th smallest score; ``+inf`` when that rank exceeds
    ``n`` (too few scores, or ``alpha <= 0``); ``-inf`` when it is below 1 (``alpha >= 1``,
    the empty set).
    """
    k = conformal_rank_nb(n, alpha)
    if k <= 0:
        return -np.inf
    if k > n:
        return np.inf
    return sorted_scores[k - 1]


@njit(cache=True)
def _insert_sorted(buf, n, x):
    """Insert ``x`` into the sorted ``buf[:n]`` in place (``buf`` has room for n + 1)."""
    i = n
    while i > 0 and buf[i - 1] > x:
        buf[i] = buf[i - 1]
        i -= 1
    buf[i] = x


@njit(cache=True)
def _remove_sorted(buf, n, x):
    """Remove one occurrence of ``x`` from the sorted ``buf[:n]`` in place."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if buf[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    for i in range(lo, n - 1):
        buf[i] = buf[i + 1]


@njit(cache=True)
def _push_score(sorted_buf, ring, count, head, window, x):
    """Add ``x`` to the calibration set; drop the oldest score when the window is full."""
    if window > 0 and count == window:
        old = ring[head]
        _remove_sorted(sorted_buf, count, old)
        count -= 1
        ring[head] = x
        head = (head + 1) % window
    elif window > 0:
        ring[(head + count) % window] = x
    _insert_sorted(sorted_buf, count, x)
    return count + 1, head


@njit(cache=True)
def aci_level_step_nb(alpha_t, err, alpha, gamma):
    """Return ``alpha_{t+1} = alpha_t + gamma (alpha - err_t)`` (never clipped).

    ``err`` is 1.0 for a miss, 0.0 for a cover; NaN (not observed) leaves ``alpha_t`` as is.
    """
    if np.isnan(err):
        return alpha_t
    return alpha_t + gamma * (alpha - err)


@njit(cache=True)
def aci_levels_nb(errors, alpha, gamma, alpha_1):
    """Return the ACI levels ``alpha_t`` driven by externally observed miss indicators.

    Loops :func:`aci_level_step_nb`; ``out[t]`` uses ``errors[:t]`` only. For intervals
    built elsewhere (e.g. a model refitted each step, as in Zaffran et al. 2022).
    """
    n = errors.shape[0]
    out = np.empty(n)
    a = alpha_1
    for t in range(n):
        out[t] = a
        a = aci_level_step_nb(a, errors[t], alpha, gamma)
    return out


@njit(cache=True)
def aci_step_nb(state, score, alpha, gamma, window):
    """Take one step of adaptive conformal inference (Gibbs & Candes 2021).

    Parameters
    ----------
    state : tuple
        ``(alpha_t, sorted_buf, ring, count, head)``: the current level, the sorted past
        scores ``sorted_buf[:count]`` and a ring buffer of the last ``window`` scores in
        arrival order (unused when ``window == 0``). Arrays are updated in place.
    score : float
        The new non-conformity score; NaN means "outcome not observed": the threshold is
        still produced but nothing is updated.
    alpha : float
        Target miscoverage.
    gamma : float
        Step size (``gamma = 0`` gives the sequential split method).
    window : int
        Calibration window (0 = all past scores).

    Returns
    -------
    state : tuple
        Updated state.
    y : tuple of float
        ``(threshold, covered, alpha_t)``: the threshold computed from past scores at
        level ``alpha_t`` before seeing ``score``; 1.0/0.0 whether ``score <= threshold``
        (NaN if ``score`` is NaN); the level used.

    Notes
    -----
    ``threshold_t = Q_{1 - alpha_t}(past scores)`` (the finite-sample order statistic,
    ``+inf`` when ``alpha_t <= 0``, ``-inf`` when ``alpha_t >= 1``),
    ``err_t = 1{score_t > threshold_t}``, ``alpha_{t+1} = alpha_t + gamma (alpha - err_t)``.
    ``alpha_t`` is never clipped, hence it stays in ``[-gamma, 1 + gamma]`` and
    ``|mean(err) - alpha| <= (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T)``.
    """
    alpha_t, sorted_buf, ring, count, head = state
    thr = conformal_threshold_sorted_nb(sorted_buf, count, alpha_t)
    if np.isnan(score):
        return state, (thr, np.nan, alpha_t)
    err = 0.0 if score <= thr else 1.0
    count, head = _push_score(sorted_buf, ring, count, head, window, score)
    new_alpha = aci_level_step_nb(alpha_t, err, alpha, gamma)
    return (new_alpha, sorted_buf, ring, count, head), (thr, 1.0 - err, alpha_t)


@njit(cache=True)
def aci_nb(scores, alpha, gamma, alpha_1, window):
    """Run :func:`aci_step_nb` over ``scores``.

    Returns
    -------
    threshold, covered, alpha_t : numpy.ndarray
        Per step, from past scores only (see :func:`aci_step_nb`).
    state : tuple
        Final state, to continue streaming.
    """
    n = scores.shape[0]
    cap = n + 1 if window == 0 else window + 1
    state = (alpha_1, np.empty(cap), np.empty(max(window, 1)), 0, 0)
    thr = np.empty(n)
    cov = np.empty(n)
    lev = np.empty(n)
    for t in range(n):
        state, y = aci_step_nb(state, scores[t], alpha, gamma, window)
        thr[t] = y[0]
        cov[t] = y[1]
        lev[t] = y[2]
    return thr, cov, lev, state


@njit(cache=True)
def _saturated_tan(x):
    if x >= np.pi / 2:
        return np.inf
    if x <= -np.pi / 2:
        return -np.inf
    return np.tan(x)


@njit(cache=True)
def pid_step_nb(state, score, alpha, eta, ki, csat):
    """Take one step of the conformal PID quantile tracker (Angelopoulos et al. 2023).

    Parameters
    ----------
    state : tuple of float
        ``(p, integral, steps)``: the proportional (quantile-tracking) part, the running sum
        ``sum (err_s - alpha)`` and the number of observed steps.
    score : float
        New score; NaN = not observed (threshold produced, nothing updated).
    alpha, eta : float
        Target miscoverage and step size.
    ki, csat : float
        Integrator gain and saturation constant; ``ki = 0`` gives the plain quantile tracker.

    Returns
    -------
    state : tuple of float
    y : tuple of float
        ``(threshold, covered, p)`` with the threshold set before seeing ``score``.

    Notes
    -----
    ``q_t = p_t + r_t(S_{t-1})`` with ``S_{t-1} = sum_{s<t} (err_s - alpha)`` and the
    saturating integrator ``r_t(x) = K_I tan(x log(t) / (C_sat t))`` (``t`` counts steps from
    1; ``tan`` is +-inf beyond +-pi/2); ``err_t = 1{score_t > q_t}``;
    ``p_{t+1} = p_t + eta (err_t - alpha)``. With ``ki = 0`` and scores in ``[0, B]``,
    ``p_1`` in ``[0, B]``: ``|mean(err) - alpha| <= (B + eta) / (eta T)``.
    """
    p, integral, steps = state
    thr = p
    if ki != 0.0:
        t = steps + 1.0
        thr = p + ki * _saturated_tan(integral * np.log(t) / (csat * t))
    if np.isnan(score):
        return state, (thr, np.nan, p)
    err = 0.0 if score <= thr else 1.0
    return (p + eta * (err - alpha), integral + err - alpha, steps + 1.0), (thr, 1.0 - err, p)


@njit(cache=True)
def pid_nb(scores, alpha, eta, ki, csat, q0):
    """Run :func:`pid_step_nb` over ``scores``; returns threshold, covered, p and the state."""
    n = scores.shape[0]
    state = (q0, 0.0, 0.0)
    thr = np.empty(n)
    cov = np.empty(n)
    lev = np.empty(n)
    for t in range(n):
        state, y = pid_step_nb(state, scores[t], alpha, eta, ki, csat)
        thr[t] = y[0]
        cov[t] = y[1]
        lev[t] = y[2]
    return thr, cov, lev, state
