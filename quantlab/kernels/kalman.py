"""Linear Gaussian Kalman filter kernels (pure numba).

The step kernel reads like filterpy's ``KalmanFilter.predict(); KalmanFilter.update(z)``
pair and is checked against it (``tests/models/test_kalman.py``: equal to filterpy's
``KalmanFilter`` within 1e-8 on random stable systems). The step body is
:func:`kalman_step_at_nb`, which addresses stacked arrays by index; the streaming step
:func:`kalman_step_nb` wraps it and the batch kernel, the IMM and the RBPF loop over it, so
batch and streaming results agree by construction.

Small matrices are handled with explicit loops; the innovation covariance ``S`` is inverted
in closed form when ``dim_z`` is 1 or 2 and through a Cholesky factorisation otherwise. The
step allocates nothing and creates no array views: every temporary lives in one work array
made once by :func:`kalman_workspace_nb` (a view costs two atomic reference-count updates,
which would dominate the ~100 floating-point operations of a small filter's step).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LOG_2PI = math.log(2.0 * math.pi)


# Work-buffer layout: one (N_BUF, d, d) array, d = max(dim_x, dim_z), indexed in place so
# the step allocates nothing and creates no array views (each view costs reference-count
# updates that dominate a small filter's step).
_XP, _PP, _T1, _PHT, _S, _SI, _K, _VEC, _IKH, _T2 = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
N_BUF = 10


@njit(cache=True)
def kalman_workspace_nb(dim_x, dim_z):
    """Allocate the work buffer used by :func:`kalman_step_nb` (opaque to callers)."""
    d = max(dim_x, dim_z, 2)
    return np.empty((N_BUF, d, d))


@njit(cache=True)
def is_missing_nb(z):
    """Return whether the observation ``z`` has a non-finite entry (missing)."""
    for k in range(z.shape[0]):  # noqa: SIM110 (explicit loop for numba)
        if not np.isfinite(z[k]):
            return True
    return False


@njit(cache=True)
def _inv_logdet_nb(W, m):
    """Invert S = W[_S, :m, :m] into W[_SI] and return log|S| (NaN when S is not PD)."""
    if m == 1:
        s = W[_S, 0, 0]
        if not s > 0.0:
            return np.nan
        W[_SI, 0, 0] = 1.0 / s
        return math.log(s)
    if m == 2:
        a = W[_S, 0, 0]
        b = 0.5 * (W[_S, 0, 1] + W[_S, 1, 0])
        d = W[_S, 1, 1]
        det = a * d - b * b
        if not (a > 0.0 and det > 0.0):
            return np.nan
        W[_SI, 0, 0] = d / det
        W[_SI, 1, 1] = a / det
        W[_SI, 0, 1] = -b / det
        W[_SI, 1, 0] = -b / det
        return math.log(det)
    # generic: Cholesky S = L L' with L in the lower triangle of W[_SI]
    logdet = 0.0
    for j in range(m):
        s = W[_S, j, j]
        for k in range(j):
            s -= W[_SI, j, k] * W[_SI, j, k]
        if not s > 0.0:
            return np.nan
        ljj = math.sqrt(s)
        W[_SI, j, j] = ljj
        logdet += 2.0 * math.log(ljj)
        for i in range(j + 1, m):
            s = 0.5 * (W[_S, i, j] + W[_S, j, i])
            for k in range(j):
                s -= W[_SI, i, k] * W[_SI, j, k]
            W[_SI, i, j] = s / ljj
    # invert L in place (lower triangle), column by column
    for j in range(m):
        W[_SI, j, j] = 1.0 / W[_SI, j, j]
        for i in range(j + 1, m):
            s = 0.0
            for k in range(j, i):
                s -= W[_SI, i, k] * W[_SI, k, j]
            W[_SI, i, j] = s / W[_SI, i, i]
    # S^-1 = L^-T L^-1: diagonal into W[_VEC, 1], upper triangle in place, then mirror
    for i in range(m):
        s = 0.0
        for k in range(i, m):
            s += W[_SI, k, i] * W[_SI, k, i]
        W[_VEC, 1, i] = s
    for i in range(m):
        for j in range(i + 1, m):
            s = 0.0
            for k in range(j, m):
                s += W[_SI, k, i] * W[_SI, k, j]
            W[_SI, i, j] = s
    for i in range(m):
        W[_SI, i, i] = W[_VEC, 1, i]
        for j in range(i + 1, m):
            W[_SI, j, i] = W[_SI, i, j]
    return logdet


@njit(cache=True)
def kalman_step_at_nb(xs, Ps, i, z, Fs, Hs, Qs, Rs, k, xo, Po, o, W):
    """One predict + update step on stacked arrays, addressed by index (no views).

    Reads the posterior ``(xs[i], Ps[i])``, applies model ``k`` of the stacked matrices
    ``Fs, Hs, Qs, Rs`` (shapes (K, dim_x, dim_x), (K, dim_z, dim_x), ...) and writes the new
    posterior into ``(xo[o], Po[o])`` (which may be ``(xs[i], Ps[i])`` itself). This is the
    body of :func:`kalman_step_nb`, which the batch, IMM and RBPF kernels share; it equals
    filterpy ``KalmanFilter``: ``predict(); update(z)`` (Joseph-form covariance).

    Returns the log-likelihood ``log N(z; H x_prior, S)``: 0 when ``z`` has a non-finite
    entry (missing: the posterior is the prior), NaN when ``S`` is not positive definite.
    """
    n = xs.shape[1]
    m = z.shape[0]
    # predict: xp = F x, Pp = F P F' + Q
    for a in range(n):
        s = 0.0
        for c in range(n):
            s += Fs[k, a, c] * xs[i, c]
        W[_XP, 0, a] = s
    for a in range(n):
        for b in range(n):
            s = 0.0
            for c in range(n):
                s += Fs[k, a, c] * Ps[i, c, b]
            W[_T1, a, b] = s
    for a in range(n):
        for b in range(n):
            s = Qs[k, a, b]
            for c in range(n):
                s += W[_T1, a, c] * Fs[k, b, c]
            W[_PP, a, b] = s
    if is_missing_nb(z):
        for a in range(n):
            xo[o, a] = W[_XP, 0, a]
            for b in range(n):
                Po[o, a, b] = W[_PP, a, b]
        return 0.0
    # y = z - H xp (in W[_VEC, 0])
    for a in range(m):
        s = z[a]
        for c in range(n):
            s -= Hs[k, a, c] * W[_XP, 0, c]
        W[_VEC, 0, a] = s
    # PHT = Pp H'
    for a in range(n):
        for b in range(m):
            s = 0.0
            for c in range(n):
                s += W[_PP, a, c] * Hs[k, b, c]
            W[_PHT, a, b] = s
    # S = H PHT + R
    for a in range(m):
        for b in range(m):
            s = Rs[k, a, b]
            for c in range(n):
                s += Hs[k, a, c] * W[_PHT, c, b]
            W[_S, a, b] = s
    logdet = _inv_logdet_nb(W, m)
    if np.isnan(logdet):
        for a in range(n):
            xo[o, a] = W[_XP, 0, a]
            for b in range(n):
                Po[o, a, b] = W[_PP, a, b]
        return np.nan
    # K = PHT S^-1
    for a in range(n):
        for b in range(m):
            s = 0.0
            for c in range(m):
                s += W[_PHT, a, c] * W[_SI, c, b]
            W[_K, a, b] = s
    # Mahalanobis distance y' S^-1 y
    maha = 0.0
    for a in range(m):
        s = 0.0
        for c in range(m):
            s += W[_SI, a, c] * W[_VEC, 0, c]
        maha += W[_VEC, 0, a] * s
    # x = xp + K y
    for a in range(n):
        s = W[_XP, 0, a]
        for c in range(m):
            s += W[_K, a, c] * W[_VEC, 0, c]
        xo[o, a] = s
    # Joseph form: P = (I - K H) Pp (I - K H)' + K R K', symmetrised
    for a in range(n):
        for b in range(n):
            s = 1.0 if a == b else 0.0
            for c in range(m):
                s -= W[_K, a, c] * Hs[k, c, b]
            W[_IKH, a, b] = s
    for a in range(n):
        for b in range(n):
            s = 0.0
            for c in range(n):
                s += W[_IKH, a, c] * W[_PP, c, b]
            W[_T1, a, b] = s
    for a in range(n):
        for b in range(m):
            s = 0.0
            for c in range(m):
                s += W[_K, a, c] * Rs[k, c, b]
            W[_T2, a, b] = s
    for a in range(n):
        for b in range(a, n):
            s1 = 0.0
            s2 = 0.0
            for c in range(n):
                s1 += W[_T1, a, c] * W[_IKH, b, c]
                s2 += W[_T1, b, c] * W[_IKH, a, c]
            for c in range(m):
                s1 += W[_T2, a, c] * W[_K, b, c]
                s2 += W[_T2, b, c] * W[_K, a, c]
            v = 0.5 * (s1 + s2)
            Po[o, a, b] = v
            Po[o, b, a] = v
    return -0.5 * (m * LOG_2PI + logdet + maha)


@njit(cache=True)
def kalman_step_nb(x, P, z, F, H, Q, R, work):
    """Advance the state ``(x, P)`` in place by one predict + update step.

    Equals filterpy ``KalmanFilter``: ``kf.predict(); kf.update(z)``.

    Parameters
    ----------
    x : ndarray, shape (dim_x,)
        Posterior mean at t-1; overwritten with the posterior mean at t.
    P : ndarray, shape (dim_x, dim_x)
        Posterior covariance at t-1; overwritten with the posterior covariance at t.
    z : ndarray, shape (dim_z,)
        Observation at t; any non-finite entry marks it missing (predict only).
    F, H, Q, R : ndarray
        Transition, observation, process-noise and observation-noise matrices.
    work : ndarray
        Buffer from :func:`kalman_workspace_nb`.

    Returns
    -------
    x, P : ndarray
        The updated state (the same arrays as passed in).
    loglik : float
        ``log N(z; H x_prior, S)``; 0 for a missing observation, NaN when the innovation
        covariance ``S`` is not positive definite.

    Notes
    -----
    A thin wrapper over :func:`kalman_step_at_nb`, the body the batch kernel loops over.
    """
    n = x.shape[0]
    xs = x.reshape((1, n))
    Ps = P.reshape((1, n, n))
    ll = kalman_step_at_nb(
        xs,
        Ps,
        0,
        z,
        F.reshape((1, F.shape[0], F.shape[1])),
        H.reshape((1, H.shape[0], H.shape[1])),
        Q.reshape((1, Q.shape[0], Q.shape[1])),
        R.reshape((1, R.shape[0], R.shape[1])),
        0,
        xs,
        Ps,
        0,
        work,
    )
    return x, P, ll


@njit(cache=True)
def kalman_filter_nb(z, F, H, Q, R, x0, P0):
    """Filter the observations ``z`` (n, dim_z) from the prior ``(x0, P0)``.

    Loops :func:`kalman_step_at_nb` (the body of :func:`kalman_step_nb`); equals filterpy
    ``KalmanFilter`` run as
    ``for z_t in z: kf.predict(); kf.update(z_t)``.

    Returns
    -------
    xs : ndarray, shape (n, dim_x)
        Posterior means.
    Ps : ndarray, shape (n, dim_x, dim_x)
        Posterior covariances.
    loglik_t : ndarray, shape (n,)
        Per-step log-likelihoods (0 where ``z`` is missing, NaN where ``S`` is not PD).
    """
    n = z.shape[0]
    dim_x = x0.shape[0]
    dim_z = z.shape[1]
    xs = np.empty((n, dim_x))
    Ps = np.empty((n, dim_x, dim_x))
    ll = np.empty(n)
    x_prev = x0.copy().reshape((1, dim_x))
    P_prev = P0.copy().reshape((1, dim_x, dim_x))
    Fs = F.copy().reshape((1, dim_x, dim_x))
    Hs = H.copy().reshape((1, dim_z, dim_x))
    Qs = Q.copy().reshape((1, dim_x, dim_x))
    Rs = R.copy().reshape((1, dim_z, dim_z))
    zt = np.empty(dim_z)
    work = kalman_workspace_nb(dim_x, dim_z)
    for t in range(n):
        for a in range(dim_z):
            zt[a] = z[t, a]
        if t == 0:
            ll[t] = kalman_step_at_nb(x_prev, P_prev, 0, zt, Fs, Hs, Qs, Rs, 0, xs, Ps, t, work)
        else:
            ll[t] = kalman_step_at_nb(xs, Ps, t - 1, zt, Fs, Hs, Qs, Rs, 0, xs, Ps, t, work)
    return xs, Ps, ll
