"""Exponential-kernel Hawkes process kernels (branching-ratio form).

The conditional intensity is

    lambda(t) = mu + alpha * theta * sum_{t_i < t} exp(-theta (t - t_i)),

so ``alpha`` is the branching ratio (expected number of children per event; the process
is stationary for ``0 <= alpha < 1``) and ``theta`` the decay rate. Every kernel runs in
O(n) through the recursion of the decayed event count

    S(t) = sum_{t_i <= t} exp(-theta (t - t_i)).

Oracles: published values (``events [3, 4, 6, 8.2, 9, 12], T = 15, (5, 0.2, 10) ->
-66.54322018860304``; no events, ``mu = 5, T = 2 -> -10``) and the hawkeslib TrueFX
fixture (``(5, 0.3, 10) -> -3628302.7661192594``); the direct O(n^2) double sum in the tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def hawkes_loglik_step_nb(state, t, mu, alpha, theta):
    """Advance the log-likelihood recursion by one event at time ``t``.

    Parameters
    ----------
    state : tuple of float
        ``(t_prev, s_prev)``: time of the previous event (0.0 at the start) and the decayed
        event count ``S`` just after it (0.0 at the start).
    t : float
        Event time, ``t >= t_prev``.
    mu, alpha, theta : float
        Baseline intensity, branching ratio and decay rate.

    Returns
    -------
    state : tuple of float
        ``(t, S(t))`` including the new event.
    y : float
        ``log lambda(t) - integral_{t_prev}^{t} lambda(u) du``.

    Notes
    -----
    With ``d = exp(-theta (t - t_prev))``: ``lambda(t) = mu + alpha theta s_prev d`` and the
    compensator increment is ``mu (t - t_prev) + alpha s_prev (1 - d)``.
    """
    t_prev, s_prev = state
    dt = t - t_prev
    decay = np.exp(-theta * dt)
    lam = mu + alpha * theta * s_prev * decay
    comp = mu * dt + alpha * s_prev * (1.0 - decay)
    return (t, s_prev * decay + 1.0), np.log(lam) - comp


@njit(cache=True)
def hawkes_loglik_nb(times, T, mu, alpha, theta):
    """Return the log-likelihood of sorted event ``times`` observed on ``[0, T]``.

    Loops :func:`hawkes_loglik_step_nb` and adds the compensator tail from the last event to
    ``T``. Equals the direct O(n^2) formula and the published values named in the module
    docstring (hawkeslib ``UnivariateExpHawkesProcess`` parameterisation).
    """
    state = (0.0, 0.0)
    total = 0.0
    for i in range(times.shape[0]):
        state, y = hawkes_loglik_step_nb(state, times[i], mu, alpha, theta)
        total += y
    t_last, s_last = state
    total -= mu * (T - t_last) + alpha * s_last * (1.0 - np.exp(-theta * (T - t_last)))
    return total


@njit(cache=True)
def hawkes_loglik_grad_nb(times, T, mu, alpha, theta):
    """Return the log-likelihood and its gradient in ``(mu, alpha, theta)``.

    Checked against central finite differences of :func:`hawkes_loglik_nb`.

    Notes
    -----
    With ``A_i = sum_{j<i} exp(-theta (t_i - t_j))``, ``B_i = sum_{j<i} (t_i - t_j)
    exp(-theta (t_i - t_j))`` (recursions ``A_i = d (1 + A_{i-1})`` and
    ``B_i = d (B_{i-1} + dt (1 + A_{i-1}))``) and ``lambda_i = mu + alpha theta A_i``:

    - d/dmu    = sum 1/lambda_i - T
    - d/dalpha = sum theta A_i / lambda_i - sum (1 - exp(-theta (T - t_i)))
    - d/dtheta = sum alpha (A_i - theta B_i) / lambda_i
      - alpha sum (T - t_i) exp(-theta (T - t_i))
    """
    n = times.shape[0]
    a = 0.0
    b = 0.0
    ll = 0.0
    g_mu = 0.0
    g_alpha = 0.0
    g_theta = 0.0
    comp_tail = 0.0
    comp_tail_theta = 0.0
    for i in range(n):
        if i > 0:
            dt = times[i] - times[i - 1]
            d = np.exp(-theta * dt)
            b = d * (b + dt * (1.0 + a))
            a = d * (1.0 + a)
        lam = mu + alpha * theta * a
        ll += np.log(lam)
        g_mu += 1.0 / lam
        g_alpha += theta * a / lam
        g_theta += alpha * (a - theta * b) / lam
        tail = T - times[i]
        e = np.exp(-theta * tail)
        comp_tail += 1.0 - e
        comp_tail_theta += tail * e
    ll -= mu * T + alpha * comp_tail
    g_mu -= T
    g_alpha -= comp_tail
    g_theta -= alpha * comp_tail_theta
    grad = np.empty(3)
    grad[0] = g_mu
    grad[1] = g_alpha
    grad[2] = g_theta
    return ll, grad


@njit(cache=True)
def hawkes_intensity_nb(times, at, mu, alpha, theta):
    """Return the causal intensity at sorted query times ``at``.

    The intensity at ``at[k]`` uses only events strictly before ``at[k]`` (the left limit
    ``lambda(at[k]-)``). Equals the direct sum ``mu + alpha theta sum_{t_i < s}
    exp(-theta (s - t_i))``.
    """
    m = at.shape[0]
    out = np.empty(m)
    j = 0
    n = times.shape[0]
    t_prev = 0.0
    s = 0.0
    for k in range(m):
        q = at[k]
        while j < n and times[j] < q:
            s = s * np.exp(-theta * (times[j] - t_prev)) + 1.0
            t_prev = times[j]
            j += 1
        if j == 0:
            out[k] = mu
        else:
            out[k] = mu + alpha * theta * s * np.exp(-theta * (q - t_prev))
    return out


@njit(cache=True)
def hawkes_compensator_nb(times, mu, alpha, theta):
    """Return the compensator increments ``Lambda(t_{i-1}, t_i]`` between events.

    Under the true parameters these are i.i.d. Exp(1) (time-rescaling theorem); the first
    increment runs from 0 to ``t_0``. Loops :func:`hawkes_loglik_step_nb`.
    """
    n = times.shape[0]
    out = np.empty(n)
    state = (0.0, 0.0)
    for i in range(n):
        t_prev, s_prev = state
        dt = times[i] - t_prev
        out[i] = mu * dt + alpha * s_prev * (1.0 - np.exp(-theta * dt))
        state, _ = hawkes_loglik_step_nb(state, times[i], mu, alpha, theta)
    return out


@njit(cache=True)
def hawkes_thinning_step_nb(state, u_wait, u_accept, mu, alpha, theta):
    """Take one Ogata thinning step.

    Parameters
    ----------
    state : tuple of float
        ``(t, s)``: current time and decayed event count ``S(t)`` (events at ``t`` included).
    u_wait, u_accept : float
        Independent uniforms on (0, 1].

    Returns
    -------
    state : tuple of float
        Advanced ``(t, s)``.
    y : float
        The candidate time if it was accepted as an event, else NaN.

    Notes
    -----
    Between events the intensity only decays, so ``lambda_bar = mu + alpha theta S(t)`` bounds
    it up to the next event: draw ``w = -log(u_wait) / lambda_bar``, decay ``S`` by
    ``exp(-theta w)`` and accept when ``u_accept lambda_bar <= lambda(t + w)`` (Ogata 1981).
    """
    t, s = state
    lam_bar = mu + alpha * theta * s
    w = -np.log(u_wait) / lam_bar
    t_new = t + w
    s_new = s * np.exp(-theta * w)
    lam = mu + alpha * theta * s_new
    if u_accept * lam_bar <= lam:
        return (t_new, s_new + 1.0), t_new
    return (t_new, s_new), np.nan


@njit(cache=True)
def hawkes_simulate_nb(state, uniforms, T, mu, alpha, theta, out):
    """Run Ogata thinning on ``[state[0], T]`` consuming pairs of ``uniforms``.

    Loops :func:`hawkes_thinning_step_nb` until the candidate time passes ``T``, the
    uniforms (shape ``(m, 2)``) run out, or ``out`` is full.

    Returns
    -------
    state : tuple of float
        Where the simulation stopped.
    n_events : int
        Events written to ``out[:n_events]``.
    n_used : int
        Rows of ``uniforms`` consumed.
    done : bool
        True when the horizon ``T`` was passed.
    """
    n_events = 0
    m = uniforms.shape[0]
    cap = out.shape[0]
    for k in range(m):
        if n_events >= cap:
            return state, n_events, k, False
        new_state, y = hawkes_thinning_step_nb(
            state, uniforms[k, 0], uniforms[k, 1], mu, alpha, theta
        )
        if new_state[0] > T:
            return state, n_events, k + 1, True
        state = new_state
        if not np.isnan(y):
            out[n_events] = y
            n_events += 1
    return state, n_events, m, False


@njit(cache=True, nogil=True)
def hawkes_event_step_nb(t_prev, s_prev, t, mu, alpha, theta):
    """Advance the intensity recursion by one event at ``t >= t_prev``.

    Returns ``(s, lam, comp)``: the decayed event count ``S(t)`` including the new event,
    the intensity just before it ``lambda(t-) = mu + alpha theta s_prev d`` and the
    compensator ``Lambda(t_prev, t] = mu (t - t_prev) + alpha s_prev (1 - d)``, with
    ``d = exp(-theta (t - t_prev))`` (the terms of :func:`hawkes_loglik_step_nb`).
    """
    dt = t - t_prev
    decay = np.exp(-theta * dt)
    lam = mu + alpha * theta * s_prev * decay
    comp = mu * dt + alpha * s_prev * (1.0 - decay)
    return s_prev * decay + 1.0, lam, comp


@njit(cache=True, nogil=True)
def hawkes_filter_nb(times, mu, alpha, theta, t_prev, s_prev, lam, comp):
    """Fill ``lam``/``comp`` per event by looping :func:`hawkes_event_step_nb`.

    Starts from ``(t_prev, s_prev)`` (``(0, 0)`` for a fresh process) and returns the
    state after the last event.
    """
    for i in range(times.shape[0]):
        s_prev, lam[i], comp[i] = hawkes_event_step_nb(t_prev, s_prev, times[i], mu, alpha, theta)
        t_prev = times[i]
    return t_prev, s_prev
