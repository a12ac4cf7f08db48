"""RBPF: exactness with one regime, Monte Carlo convergence to exact enumeration, streaming."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from filter_checks import (
    assert_prefix,
    assert_streaming_matches_batch,
    assert_update_continues_filter,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlab.errors import ConfigError
from quantlab.kernels.rbpf import splitmix64_uniform_nb
from quantlab.models.imm import IMM
from quantlab.models.kalman import KalmanFilter
from quantlab.models.rbpf import RBPF

X0 = np.array([0.0, 0.0])
P0 = np.eye(2)
TRANSITION = np.array([[0.85, 0.15], [0.25, 0.75]])
MU0 = np.array([0.6, 0.4])


def two_regimes() -> list[dict]:
    """Calm trend-follower vs. turbulent mean-reverting flow (dim_x = 2, dim_z = 1)."""
    calm = {
        "F": np.array([[1.0, 1.0], [0.0, 1.0]]),
        "H": np.array([[1.0, 0.0]]),
        "Q": np.array([[0.02, 0.01], [0.01, 0.02]]),
        "R": np.array([[0.3]]),
        "x0": X0,
        "P0": P0,
    }
    wild = {
        "F": np.array([[1.0, 0.5], [0.0, 0.3]]),
        "H": np.array([[1.0, 0.0]]),
        "Q": np.array([[1.5, 0.0], [0.0, 0.8]]),
        "R": np.array([[0.3]]),
        "x0": X0,
        "P0": P0,
    }
    return [calm, wild]


def models() -> list[KalmanFilter]:
    return [KalmanFilter(**s) for s in two_regimes()]


def observations(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    systems = two_regimes()
    s = rng.choice(2, p=MU0)
    x = X0.copy()
    z = np.empty(n)
    for t in range(n):
        s = rng.choice(2, p=TRANSITION[s])
        sysm = systems[s]
        x = sysm["F"] @ x + np.linalg.cholesky(sysm["Q"]) @ rng.normal(size=2)
        z[t] = x[0] + np.sqrt(sysm["R"][0, 0]) * rng.normal()
    return z


def exact_enumeration(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact filtered means and cumulative log-evidence by summing over all regime paths.

    A plain numpy Kalman filter runs along every path s_1..s_t (prior
    p(s_1..s_t) = sum_s0 mu0[s0] prod transition), for every t: an oracle independent of
    the numba kernels.
    """
    systems = two_regimes()
    n = z.size
    means = np.empty((n, 2))
    evidence = np.empty(n)
    p1 = MU0 @ TRANSITION
    for t in range(1, n + 1):
        log_w, xs = [], []
        for path in itertools.product(range(2), repeat=t):
            x, P = X0.copy(), P0.copy()
            lw = np.log(p1[path[0]]) + sum(
                np.log(TRANSITION[a, b]) for a, b in itertools.pairwise(path)
            )
            for tau, s in enumerate(path):
                m = systems[s]
                x = m["F"] @ x
                P = m["F"] @ P @ m["F"].T + m["Q"]
                S = m["H"] @ P @ m["H"].T + m["R"]
                y = z[tau] - m["H"] @ x
                K = P @ m["H"].T / S[0, 0]
                x = x + K[:, 0] * y[0]
                P = P - K @ S @ K.T
                lw += -0.5 * (np.log(2 * np.pi * S[0, 0]) + y[0] ** 2 / S[0, 0])
            log_w.append(lw)
            xs.append(x)
        log_w = np.array(log_w)
        evidence[t - 1] = np.logaddexp.reduce(log_w)
        w = np.exp(log_w - evidence[t - 1])
        means[t - 1] = w @ np.array(xs)
    return means, evidence


def test_one_regime_equals_kalman_filter() -> None:
    (s,) = two_regimes()[:1]
    z = observations(60, 1)
    z[[3, 20]] = np.nan
    kf = KalmanFilter(**s).filter(z)
    res = RBPF([KalmanFilter(**s)], [[1.0]], n_particles=64, seed=3).filter(z)
    # every particle is the same Kalman filter; only the weighted average's rounding differs
    np.testing.assert_allclose(res.x, kf.x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.P, kf.P, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.loglik_t, kf.loglik_t, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.mu, 1.0, rtol=1e-12)
    np.testing.assert_allclose(res.ess, 64.0, rtol=1e-12)


def test_error_against_exact_enumeration_falls_like_inverse_sqrt_n() -> None:
    """RMSE(N) over seeds: quadrupling N halves it.

    The tolerance: each RMSE comes from 64 independent seeded runs (8 steps x 2 states
    each). Run-level mean squared errors have a coefficient of variation of about 1, so each
    RMSE carries a relative standard error of about 1/(2 sqrt(64)) = 6 %, and a ratio of two
    of them about 9 %. Accepting a ratio in [1.5, 2.67] (log-ratio within +-0.29 of log 2)
    is about 3 standard errors, while a 1/N rate (ratio 4) or no convergence (ratio 1) is
    far outside it. The log-log slope over the three sizes must be -0.5 +- 0.1.
    """
    z = observations(8, 42)
    exact, evidence = exact_enumeration(z)
    sizes = (100, 400, 1600)
    rmse = []
    for n_particles in sizes:
        sq = [
            (
                RBPF(models(), TRANSITION, MU0, n_particles=n_particles, seed=seed).filter(z).x
                - exact
            )
            ** 2
            for seed in range(64)
        ]
        rmse.append(float(np.sqrt(np.mean(sq))))
    r1, r2 = rmse[0] / rmse[1], rmse[1] / rmse[2]
    assert 1.5 < r1 < 2.67, (rmse, r1)
    assert 1.5 < r2 < 2.67, (rmse, r2)
    slope = np.polyfit(np.log(sizes), np.log(rmse), 1)[0]
    assert -0.6 < slope < -0.4, slope
    # unlike the IMM, which collapses the regime mixture each step, the RBPF tends to exact
    imm = IMM(models(), TRANSITION, MU0).filter(z)
    assert rmse[-1] < 0.5 * float(np.sqrt(np.mean((imm.x - exact) ** 2)))
    # the likelihood estimate converges to the exact evidence too
    big = RBPF(models(), TRANSITION, MU0, n_particles=4000, seed=1).filter(z)
    assert np.cumsum(big.loglik_t)[-1] == pytest.approx(evidence[-1], abs=0.02)


def test_seeded_and_reproducible() -> None:
    z = observations(30, 5)
    a = RBPF(models(), TRANSITION, MU0, n_particles=200, seed=7).filter(z)
    b = RBPF(models(), TRANSITION, MU0, n_particles=200, seed=7).filter(z)
    c = RBPF(models(), TRANSITION, MU0, n_particles=200, seed=8).filter(z)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.mu, b.mu)
    assert not np.array_equal(a.x, c.x)
    np.testing.assert_allclose(a.mu.sum(axis=1), 1.0, rtol=1e-12)


def test_splitmix64_reference_sequence() -> None:
    """Vigna's splitmix64 from state 0 outputs e220a8397b1dcdaf, 6e789e6aa1b965f4, ..."""
    rng = np.array([0], dtype=np.uint64)
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    for value in expected:
        assert splitmix64_uniform_nb(rng) == (value >> 11) * 2.0**-53


def test_batch_and_streaming_agree_exactly() -> None:
    z = observations(40, 6)
    z[9] = np.nan
    pf = RBPF(models(), TRANSITION, MU0, n_particles=150, seed=11, resample_threshold=0.7)
    res = pf.filter(z)
    live = RBPF(models(), TRANSITION, MU0, n_particles=150, seed=11, resample_threshold=0.7)
    assert_streaming_matches_batch(live, res, z)
    assert_update_continues_filter(pf, res, z, 20)
    np.testing.assert_array_equal(pf.mu_, res.mu[-1])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 25), cut=st.integers(0, 25))
def test_prefix_property(seed: int, n: int, cut: int) -> None:
    z = observations(n, seed)
    pf = RBPF(models(), TRANSITION, MU0, n_particles=50, seed=seed)
    full = pf.filter(z)
    t = min(cut, n)
    assert_prefix(pf.filter(z[:t]), full, t)


def test_missing_observation_keeps_weights() -> None:
    z = observations(12, 2)
    z[5] = np.nan
    res = RBPF(models(), TRANSITION, MU0, n_particles=300, seed=0, resample_threshold=0.0).filter(z)
    assert res.loglik_t[5] == 0.0
    assert res.ess[5] == pytest.approx(res.ess[4], rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_particles": 0}, "n_particles: must be >= 1"),
        ({"n_particles": 10.5}, "n_particles: must be an integer"),
        ({"resample_threshold": 1.5}, "resample_threshold"),
        ({"seed": -1}, "seed"),
        ({"transition": [[0.5, 0.4], [0.5, 0.5]]}, "transition: row 0"),
    ],
)
def test_bad_configuration(kwargs: dict, pattern: str) -> None:
    args = {"filters": models(), "transition": TRANSITION, **kwargs}
    with pytest.raises(ConfigError, match=pattern):
        RBPF(**args).filter(np.zeros(3))
