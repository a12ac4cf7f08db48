"""Linear Gaussian Kalman filter kernels (pure numba).

The step kernel reads like filterpy's ``KalmanFilter.predict(); KalmanFilter.update(z)``
pair and is checked against it (``tests/models/test_kalman.py``: equal to filterpy's
``KalmanFilter`` within 1e-8 on random stable systems). The batch kernel loops over the step
kernel, so batch and streaming results agree by construction.

Small matrices are handled with explicit loops; the innovation covariance ``S`` is inverted
in closed form when ``dim_z`` is 1 or 2 and through a Cholesky factorisation otherwise. The
step kernel allocates nothing: every temporary lives in a workspace made once by
:func:`kalman_workspace_nb`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True)
def kalman_workspace_nb(dim_x, dim_z):
    """Allocate the work buffers used by :func:`kalman_step_nb`.

    Parameters
    ----------
    dim_x, dim_z : int
        State and observation dimensions.

    Returns
    -------
    tuple of ndarray
        ``(xp, Pp, T1, PHT, S, Si, K, y, IKH, T2, col)``, opaque to callers.
    """
    xp = np.empty(dim_x)
    Pp = np.empty((dim_x, dim_x))
    T1 = np.empty((dim_x, dim_x))
    PHT = np.empty((dim_x, dim_z))
    S = np.empty((dim_z, dim_z))
    Si = np.empty((dim_z, dim_z))
    K = np.empty((dim_x, dim_z))
    y = np.empty(dim_z)
    IKH = np.empty((dim_x, dim_x))
    T2 = np.empty((dim_x, dim_z))
    col = np.empty(dim_z)
    return (xp, Pp, T1, PHT, S, Si, K, y, IKH, T2, col)


@njit(cache=True)
def is_missing_nb(z):
    """Return whether the observation ``z`` has a non-finite entry (missing)."""
    for k in range(z.shape[0]):  # noqa: SIM110 (explicit loop for numba)
        if not np.isfinite(z[k]):
            return True
    return False


@njit(cache=True)
def _inv_logdet_nb(S, Si, col):
    """Invert the symmetric matrix S into Si and return log|S| (NaN when S is not PD)."""
    m = S.shape[0]
    if m == 1:
        s = S[0, 0]
        if not s > 0.0:
            return np.nan
        Si[0, 0] = 1.0 / s
        return math.log(s)
    if m == 2:
        a = S[0, 0]
        b = 0.5 * (S[0, 1] + S[1, 0])
        d = S[1, 1]
        det = a * d - b * b
        if not (a > 0.0 and det > 0.0):
            return np.nan
        Si[0, 0] = d / det
        Si[1, 1] = a / det
        Si[0, 1] = -b / det
        Si[1, 0] = -b / det
        return math.log(det)
    # generic: Cholesky S = L L' (L stored in the lower triangle of Si's scratch use below)
    # We factor into a temporary lower triangle held in Si, then invert column by column.
    L = Si
    logdet = 0.0
    for j in range(m):
        s = S[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            return np.nan
        ljj = math.sqrt(s)
        L[j, j] = ljj
        logdet += 2.0 * math.log(ljj)
        for i in range(j + 1, m):
            s = 0.5 * (S[i, j] + S[j, i])
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
    # inverse of L in place (lower triangular), then Si = L^-T L^-1
    for j in range(m):
        L[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, m):
            s = 0.0
            for k in range(j, i):
                s -= L[i, k] * L[k, j]
            L[i, j] = s / L[i, i]
    # Si[i, j] = sum_k Linv[k, i] Linv[k, j] for k >= max(i, j); compute upper part into
    # the upper triangle first (it does not overwrite Linv, which lives in the lower part),
    # using col as a buffer for the diagonal.
    for i in range(m):
        s = 0.0
        for k in range(i, m):
            s += L[k, i] * L[k, i]
        col[i] = s
    for i in range(m):
        for j in range(i + 1, m):
            s = 0.0
            for k in range(j, m):
                s += L[k, i] * L[k, j]
            L[i, j] = s
    for i in range(m):
        L[i, i] = col[i]
        for j in range(i + 1, m):
            L[j, i] = L[i, j]
    return logdet


@njit(cache=True)
def kalman_predict_nb(x, P, F, Q, xp, Pp, T1):
    """Write the prior ``xp = F x`` and ``Pp = F P F' + Q`` (equals filterpy ``predict``)."""
    n = x.shape[0]
    for i in range(n):
        s = 0.0
        for k in range(n):
            s += F[i, k] * x[k]
        xp[i] = s
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += F[i, k] * P[k, j]
            T1[i, j] = s
    for i in range(n):
        for j in range(n):
            s = Q[i, j]
            for k in range(n):
                s += T1[i, k] * F[j, k]
            Pp[i, j] = s


@njit(cache=True)
def kalman_update_nb(xp, Pp, z, H, R, x, P, work):
    """Update the prior ``(xp, Pp)`` with ``z`` into ``(x, P)``; return the log-likelihood.

    Equals filterpy ``KalmanFilter.update(z)`` (Joseph-form covariance). A ``z`` with any
    non-finite entry is a missing observation: ``x, P`` become the prior and the
    log-likelihood is 0. The log-likelihood is NaN when ``S`` is not positive definite.
    """
    _, _, T1, PHT, S, Si, K, y, IKH, T2, col = work
    n = xp.shape[0]
    m = z.shape[0]
    if is_missing_nb(z):
        for i in range(n):
            x[i] = xp[i]
            for j in range(n):
                P[i, j] = Pp[i, j]
        return 0.0
    # y = z - H xp
    for i in range(m):
        s = z[i]
        for k in range(n):
            s -= H[i, k] * xp[k]
        y[i] = s
    # PHT = Pp H'
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(n):
                s += Pp[i, k] * H[j, k]
            PHT[i, j] = s
    # S = H PHT + R
    for i in range(m):
        for j in range(m):
            s = R[i, j]
            for k in range(n):
                s += H[i, k] * PHT[k, j]
            S[i, j] = s
    logdet = _inv_logdet_nb(S, Si, col)
    if np.isnan(logdet):
        for i in range(n):
            x[i] = xp[i]
            for j in range(n):
                P[i, j] = Pp[i, j]
        return np.nan
    # K = PHT Si
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(m):
                s += PHT[i, k] * Si[k, j]
            K[i, j] = s
    # Mahalanobis distance y' Si y
    maha = 0.0
    for i in range(m):
        s = 0.0
        for k in range(m):
            s += Si[i, k] * y[k]
        maha += y[i] * s
    # x = xp + K y
    for i in range(n):
        s = xp[i]
        for k in range(m):
            s += K[i, k] * y[k]
        x[i] = s
    # Joseph form: P = (I - K H) Pp (I - K H)' + K R K'
    for i in range(n):
        for j in range(n):
            s = 1.0 if i == j else 0.0
            for k in range(m):
                s -= K[i, k] * H[k, j]
            IKH[i, j] = s
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += IKH[i, k] * Pp[k, j]
            T1[i, j] = s
    for i in range(n):
        for j in range(m):
            s = 0.0
            for k in range(m):
                s += K[i, k] * R[k, j]
            T2[i, j] = s
    for i in range(n):
        for j in range(i, n):
            s = 0.0
            for k in range(n):
                s += T1[i, k] * IKH[j, k]
            for k in range(m):
                s += T2[i, k] * K[j, k]
            if j == i:
                P[i, i] = s
            else:
                # store the upper value; symmetrised below
                P[i, j] = s
    for i in range(n):
        for j in range(i + 1, n):
            s = 0.0
            for k in range(n):
                s += T1[j, k] * IKH[i, k]
            for k in range(m):
                s += T2[j, k] * K[i, k]
            v = 0.5 * (P[i, j] + s)
            P[i, j] = v
            P[j, i] = v
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
    work : tuple of ndarray
        Buffers from :func:`kalman_workspace_nb`.

    Returns
    -------
    x, P : ndarray
        The updated state (the same arrays as passed in).
    loglik : float
        ``log N(z; H x_prior, S)``; 0 for a missing observation, NaN when the innovation
        covariance ``S`` is not positive definite.
    """
    xp, Pp, T1 = work[0], work[1], work[2]
    kalman_predict_nb(x, P, F, Q, xp, Pp, T1)
    ll = kalman_update_nb(xp, Pp, z, H, R, x, P, work)
    return x, P, ll


@njit(cache=True)
def kalman_filter_nb(z, F, H, Q, R, x0, P0):
    """Filter the observations ``z`` (n, dim_z) from the prior ``(x0, P0)``.

    Loops :func:`kalman_step_nb`; equals filterpy ``KalmanFilter`` run as
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
    x = x0.copy()
    P = P0.copy()
    work = kalman_workspace_nb(dim_x, dim_z)
    for t in range(n):
        x, P, ll[t] = kalman_step_nb(x, P, z[t], F, H, Q, R, work)
        xs[t] = x
        Ps[t] = P
    return xs, Ps, ll
