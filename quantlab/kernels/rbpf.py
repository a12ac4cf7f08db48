"""Rao-Blackwellised particle filter (RBPF) kernels for jump Markov linear systems.

Each particle carries a regime and the Kalman posterior conditioned on that particle's
regime path; the continuous state is integrated out exactly (Rao-Blackwellisation), so only
the discrete regime is sampled. The proposal is the fully adapted one of Doucet, Gordon &
Krishnamurthy (2001): every candidate regime ``k`` is run through a Kalman step and the new
regime is drawn with probability proportional to ``P(s -> k) p(z_t | k, particle)``; the
particle weight is multiplied by the sum of those terms. Resampling is systematic, when the
effective sample size drops below ``threshold * N``. Weights are kept in log space.

Randomness comes from a splitmix64 generator whose 64-bit state is part of the filter state,
so a seeded run is reproducible and batch and streaming runs agree draw for draw.

Tests compare with exact enumeration of all regime paths (error falls like 1/sqrt(N)) and,
with one regime, with :func:`quantlab.kernels.kalman.kalman_filter_nb`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantlab.kernels.imm import imm_combine_nb, logsumexp_nb
from quantlab.kernels.kalman import is_missing_nb, kalman_step_at_nb, kalman_workspace_nb

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True)
def splitmix64_uniform_nb(rng):
    """Advance the splitmix64 state ``rng[0]`` (uint64) and return a uniform in [0, 1)."""
    s = rng[0] + _GOLDEN
    rng[0] = s
    z = (s ^ (s >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _INV53


@njit(cache=True)
def rbpf_workspace_nb(n_particles, n_models, dim_x, dim_z):
    """Allocate the work buffers used by :func:`rbpf_step_nb`."""
    kf_work = kalman_workspace_nb(dim_x, dim_z)
    cand_x = np.empty((n_models, dim_x))
    cand_P = np.empty((n_models, dim_x, dim_x))
    lk = np.empty(n_models)
    reg_tmp = np.empty(n_particles, dtype=np.int64)
    x_tmp = np.empty((n_particles, dim_x))
    P_tmp = np.empty((n_particles, dim_x, dim_x))
    idx = np.empty(n_particles, dtype=np.int64)
    return kf_work, cand_x, cand_P, lk, reg_tmp, x_tmp, P_tmp, idx


@njit(cache=True)
def rbpf_init_nb(n_particles, x0s, P0s, log_mu0, rng):
    """Draw the initial particle regimes from ``exp(log_mu0)`` and set their priors.

    Returns
    -------
    regimes : ndarray of int64, shape (N,)
    xs : ndarray, shape (N, dim_x)
    Ps : ndarray, shape (N, dim_x, dim_x)
    log_w : ndarray, shape (N,)
        Equal normalised log weights.
    """
    n_models, dim_x = x0s.shape
    regimes = np.empty(n_particles, dtype=np.int64)
    xs = np.empty((n_particles, dim_x))
    Ps = np.empty((n_particles, dim_x, dim_x))
    log_w = np.full(n_particles, -math.log(n_particles))
    for p in range(n_particles):
        u = splitmix64_uniform_nb(rng)
        c = 0.0
        k = n_models - 1
        for j in range(n_models):
            c += math.exp(log_mu0[j])
            if u < c:
                k = j
                break
        regimes[p] = k
        xs[p] = x0s[k]
        Ps[p] = P0s[k]
    return regimes, xs, Ps, log_w


@njit(cache=True)
def rbpf_step_nb(
    regimes, xs, Ps, log_w, rng, z, Fs, Hs, Qs, Rs, log_trans, threshold, x, P, mu, work
):
    """Advance the particle system in place by one step.

    Parameters
    ----------
    regimes : ndarray of int64, shape (N,)
        Particle regimes; overwritten.
    xs, Ps : ndarray
        Particle-conditioned Kalman posteriors, shapes (N, dim_x) and (N, dim_x, dim_x).
    log_w : ndarray, shape (N,)
        Normalised log weights; overwritten.
    rng : ndarray of uint64, shape (1,)
        splitmix64 state; advanced.
    z : ndarray, shape (dim_z,)
        Observation; any non-finite entry marks it missing (the regimes move by the
        transition alone and the weights do not change).
    Fs, Hs, Qs, Rs : ndarray
        Per-regime matrices stacked on the first axis.
    log_trans : ndarray, shape (n_models, n_models)
        ``log P(regime i -> regime j)``.
    threshold : float
        Resample when the effective sample size is below ``threshold * N`` (0: never,
        1: every step).
    x, P, mu : ndarray
        Receive the weighted posterior mean, covariance and regime probabilities.
    work : tuple
        Buffers from :func:`rbpf_workspace_nb`.

    Returns
    -------
    regimes, xs, Ps, log_w : ndarray
        The updated state (the arrays passed in).
    loglik : float
        Estimate of ``log p(z_t | z_1..t-1)`` (its exponential is unbiased); 0 when ``z`` is
        missing, NaN when an innovation covariance is not positive definite.
    ess : float
        Effective sample size after reweighting, before any resampling.
    """
    kf_work, cand_x, cand_P, lk, reg_tmp, x_tmp, P_tmp, idx = work
    n_p, dim_x = xs.shape
    n_models = log_trans.shape[0]
    bad = False
    missing = is_missing_nb(z)
    for p in range(n_p):
        s = regimes[p]
        for k in range(n_models):
            if log_trans[s, k] == -np.inf:
                lk[k] = -np.inf
                continue
            ll = kalman_step_at_nb(xs, Ps, p, z, Fs, Hs, Qs, Rs, k, cand_x, cand_P, k, kf_work)
            if np.isnan(ll):
                bad = True
                ll = -np.inf
            lk[k] = log_trans[s, k] + ll
        lse = logsumexp_nb(lk)
        u = splitmix64_uniform_nb(rng)
        c = 0.0
        kk = -1
        for k in range(n_models):
            if lk[k] == -np.inf:
                continue
            kk = k
            c += math.exp(lk[k] - lse)
            if u < c:
                break
        if kk < 0:
            bad = True
            kk = s
            lse = -np.inf
        regimes[p] = kk
        for a in range(dim_x):
            xs[p, a] = cand_x[kk, a]
            for b in range(dim_x):
                Ps[p, a, b] = cand_P[kk, a, b]
        if not missing:
            log_w[p] += lse
    if missing:
        loglik = 0.0
    else:
        loglik = logsumexp_nb(log_w)
        if bad or loglik == -np.inf:
            loglik = np.nan
            for p in range(n_p):
                log_w[p] = -math.log(n_p)
        else:
            for p in range(n_p):
                log_w[p] -= loglik
    # weighted outputs
    for k in range(mu.shape[0]):
        mu[k] = 0.0
    sw2 = 0.0
    for p in range(n_p):
        w = math.exp(log_w[p])
        sw2 += w * w
        mu[regimes[p]] += w
    imm_combine_nb(xs, Ps, log_w, x, P)
    ess = 1.0 / sw2
    if ess < threshold * n_p:
        # systematic resampling
        u0 = splitmix64_uniform_nb(rng) / n_p
        c = math.exp(log_w[0])
        j = 0
        for p in range(n_p):
            up = u0 + p / n_p
            while up > c and j < n_p - 1:
                j += 1
                c += math.exp(log_w[j])
            idx[p] = j
        for p in range(n_p):
            q = idx[p]
            reg_tmp[p] = regimes[q]
            for a in range(dim_x):
                x_tmp[p, a] = xs[q, a]
                for b in range(dim_x):
                    P_tmp[p, a, b] = Ps[q, a, b]
        lw = -math.log(n_p)
        for p in range(n_p):
            regimes[p] = reg_tmp[p]
            log_w[p] = lw
            for a in range(dim_x):
                xs[p, a] = x_tmp[p, a]
                for b in range(dim_x):
                    Ps[p, a, b] = P_tmp[p, a, b]
    return regimes, xs, Ps, log_w, loglik, ess


@njit(cache=True)
def rbpf_filter_nb(z, Fs, Hs, Qs, Rs, log_trans, regimes, xs, Ps, log_w, rng, threshold):
    """Run the RBPF over ``z`` (n, dim_z); loops :func:`rbpf_step_nb`.

    The particle state ``(regimes, xs, Ps, log_w)`` (from :func:`rbpf_init_nb`) and the
    splitmix64 state ``rng`` (uint64, shape (1,)) are advanced in place.

    Returns
    -------
    x : ndarray, shape (n, dim_x)
    P : ndarray, shape (n, dim_x, dim_x)
    mu : ndarray, shape (n, n_models)
    loglik_t : ndarray, shape (n,)
    ess : ndarray, shape (n,)
    """
    n = z.shape[0]
    n_models = log_trans.shape[0]
    n_particles, dim_x = xs.shape
    dim_z = z.shape[1]
    x_out = np.empty((n, dim_x))
    P_out = np.empty((n, dim_x, dim_x))
    mu_out = np.empty((n, n_models))
    ll_out = np.empty(n)
    ess_out = np.empty(n)
    work = rbpf_workspace_nb(n_particles, n_models, dim_x, dim_z)
    for t in range(n):
        regimes, xs, Ps, log_w, ll_out[t], ess_out[t] = rbpf_step_nb(
            regimes,
            xs,
            Ps,
            log_w,
            rng,
            z[t],
            Fs,
            Hs,
            Qs,
            Rs,
            log_trans,
            threshold,
            x_out[t],
            P_out[t],
            mu_out[t],
            work,
        )
    return x_out, P_out, mu_out, ll_out, ess_out
