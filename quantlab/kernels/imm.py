"""Interacting Multiple Model (IMM) estimator kernels (pure numba).

One step mixes the model-conditioned posteriors with the Markov regime transition, runs a
Kalman predict + update per model (:func:`quantlab.kernels.kalman.kalman_step_at_nb`) and
reweights the regime probabilities by each model's likelihood. Probabilities are carried as
logs and combined with log-sum-exp, so a model whose likelihood underflows ``exp`` keeps a
finite log weight. Equals filterpy ``IMMEstimator`` (``imm.predict(); imm.update(z)``), with
``transition[i, j] = P(model i -> model j)`` (rows sum to 1).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantlab.kernels.kalman import is_missing_nb, kalman_step_at_nb, kalman_workspace_nb


@njit(cache=True)
def logsumexp_nb(a):
    """Return ``log(sum(exp(a)))`` computed stably (``-inf`` when every entry is ``-inf``)."""
    m = -np.inf
    for i in range(a.shape[0]):
        if a[i] > m:
            m = a[i]
    if m == -np.inf:
        return -np.inf
    s = 0.0
    for i in range(a.shape[0]):
        s += math.exp(a[i] - m)
    return m + math.log(s)


@njit(cache=True)
def imm_workspace_nb(n_models, dim_x, dim_z):
    """Allocate the work buffers used by :func:`imm_step_nb`."""
    kf_work = kalman_workspace_nb(dim_x, dim_z)
    xm = np.empty((n_models, dim_x))
    Pm = np.empty((n_models, dim_x, dim_x))
    log_cbar = np.empty(n_models)
    omega = np.empty((n_models, n_models))
    ll = np.empty(n_models)
    tmp = np.empty(n_models)
    return kf_work, xm, Pm, log_cbar, omega, ll, tmp


@njit(cache=True)
def imm_combine_nb(xs, Ps, log_mu, x, P):
    """Write the mixture mean and covariance of components weighted by ``exp(log_mu)`` into x, P.

    The components are the IMM's models or the RBPF's particles.
    """
    n_models, dim_x = xs.shape
    for i in range(dim_x):
        s = 0.0
        for j in range(n_models):
            s += math.exp(log_mu[j]) * xs[j, i]
        x[i] = s
    for a in range(dim_x):
        for b in range(dim_x):
            s = 0.0
            for j in range(n_models):
                s += math.exp(log_mu[j]) * (Ps[j, a, b] + (xs[j, a] - x[a]) * (xs[j, b] - x[b]))
            P[a, b] = s


@njit(cache=True)
def imm_step_nb(xs, Ps, log_mu, z, Fs, Hs, Qs, Rs, log_trans, x, P, mu, work):
    """Advance the IMM state ``(xs, Ps, log_mu)`` in place by one step.

    Equals filterpy ``IMMEstimator``: ``imm.predict(); imm.update(z)``.

    Parameters
    ----------
    xs : ndarray, shape (n_models, dim_x)
        Model-conditioned posterior means; overwritten.
    Ps : ndarray, shape (n_models, dim_x, dim_x)
        Model-conditioned posterior covariances; overwritten.
    log_mu : ndarray, shape (n_models,)
        Log regime probabilities; overwritten with the posterior at t.
    z : ndarray, shape (dim_z,)
        Observation; any non-finite entry marks it missing.
    Fs, Hs, Qs, Rs : ndarray
        Per-model matrices stacked on the first axis.
    log_trans : ndarray, shape (n_models, n_models)
        ``log P(model i -> model j)``.
    x, P, mu : ndarray
        Receive the combined (mixture) posterior mean and covariance and the regime
        probabilities ``exp(log_mu)``.
    work : tuple
        Buffers from :func:`imm_workspace_nb`.

    Returns
    -------
    xs, Ps, log_mu : ndarray
        The updated state (the arrays passed in).
    loglik : float
        ``log p(z_t | z_1..t-1)`` under the IMM approximation; 0 when ``z`` is missing, NaN
        when a model's innovation covariance is not positive definite.

    Notes
    -----
    With :math:`\\bar c_j = \\sum_i \\Pi_{ij} \\mu_i` and mixing weights
    :math:`\\omega_{ij} = \\Pi_{ij} \\mu_i / \\bar c_j`, model ``j`` starts from
    :math:`x^0_j = \\sum_i \\omega_{ij} x_i` and
    :math:`P^0_j = \\sum_i \\omega_{ij} (P_i + (x_i - x^0_j)(x_i - x^0_j)')`; after its
    Kalman step with likelihood :math:`L_j`,
    :math:`\\mu_j \\propto \\bar c_j L_j` and the step likelihood is
    :math:`\\sum_j \\bar c_j L_j`.
    """
    kf_work, xm, Pm, log_cbar, omega, ll, tmp = work
    n_models, dim_x = xs.shape
    # predicted regime probabilities and mixing weights (log space)
    for j in range(n_models):
        for i in range(n_models):
            tmp[i] = log_mu[i] + log_trans[i, j]
        log_cbar[j] = logsumexp_nb(tmp)
        for i in range(n_models):
            if log_cbar[j] == -np.inf:
                omega[i, j] = math.exp(log_mu[i])
            else:
                omega[i, j] = math.exp(tmp[i] - log_cbar[j])
    # mixed initial conditions
    for j in range(n_models):
        for a in range(dim_x):
            s = 0.0
            for i in range(n_models):
                s += omega[i, j] * xs[i, a]
            xm[j, a] = s
        for a in range(dim_x):
            for b in range(dim_x):
                s = 0.0
                for i in range(n_models):
                    s += omega[i, j] * (Ps[i, a, b] + (xs[i, a] - xm[j, a]) * (xs[i, b] - xm[j, b]))
                Pm[j, a, b] = s
    # model-matched Kalman steps from the mixed priors
    for j in range(n_models):
        ll[j] = kalman_step_at_nb(xm, Pm, j, z, Fs, Hs, Qs, Rs, j, xs, Ps, j, kf_work)
    # regime probabilities
    for j in range(n_models):
        tmp[j] = log_cbar[j] + ll[j]
    loglik = logsumexp_nb(tmp)
    if np.isnan(loglik) or is_missing_nb(z):
        loglik = np.nan if np.isnan(loglik) else 0.0
        for j in range(n_models):
            log_mu[j] = log_cbar[j]
    else:
        for j in range(n_models):
            log_mu[j] = tmp[j] - loglik
    for j in range(n_models):
        mu[j] = math.exp(log_mu[j])
    imm_combine_nb(xs, Ps, log_mu, x, P)
    return xs, Ps, log_mu, loglik


@njit(cache=True)
def imm_filter_nb(z, Fs, Hs, Qs, Rs, log_trans, xs, Ps, log_mu):
    """Run the IMM over ``z`` (n, dim_z); loops :func:`imm_step_nb`.

    Equals filterpy ``IMMEstimator`` run as ``for z_t in z: imm.predict(); imm.update(z_t)``.
    The state ``(xs, Ps, log_mu)`` (priors on entry) is advanced in place, so it holds the
    final state on return.

    Returns
    -------
    x : ndarray, shape (n, dim_x)
        Combined posterior means.
    P : ndarray, shape (n, dim_x, dim_x)
        Combined posterior covariances.
    mu : ndarray, shape (n, n_models)
        Posterior regime probabilities.
    x_models : ndarray, shape (n, n_models, dim_x)
        Model-conditioned posterior means.
    P_models : ndarray, shape (n, n_models, dim_x, dim_x)
        Model-conditioned posterior covariances.
    loglik_t : ndarray, shape (n,)
        Per-step log-likelihoods.
    """
    n = z.shape[0]
    n_models, dim_x = xs.shape
    dim_z = z.shape[1]
    x_out = np.empty((n, dim_x))
    P_out = np.empty((n, dim_x, dim_x))
    mu_out = np.empty((n, n_models))
    xm_out = np.empty((n, n_models, dim_x))
    Pm_out = np.empty((n, n_models, dim_x, dim_x))
    ll_out = np.empty(n)
    work = imm_workspace_nb(n_models, dim_x, dim_z)
    for t in range(n):
        xs, Ps, log_mu, ll_out[t] = imm_step_nb(
            xs, Ps, log_mu, z[t], Fs, Hs, Qs, Rs, log_trans, x_out[t], P_out[t], mu_out[t], work
        )
        xm_out[t] = xs
        Pm_out[t] = Ps
    return x_out, P_out, mu_out, xm_out, Pm_out, ll_out
